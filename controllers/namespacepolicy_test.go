package controllers_test

import (
	"encoding/json"
	"time"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

const nsPolicy = ownership.NamespacePolicyName

// specsJSON is the rules of a policy, for comparing what was applied.
// specsJSON is a policy's specs as JSON, "" for no policy.
func specsJSON(p *cilium.CiliumNetworkPolicy) string {
	if p == nil {
		return ""
	}
	b, err := json.Marshal(p.Specs)
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

func readyCondition(ns string) func() (*corev1.NamespaceCondition, error) {
	return condition(ns, conditions.Ready)
}

func haveStatus(status corev1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

func waitReady(ns string) *cilium.CiliumNetworkPolicy {
	GinkgoHelper()
	Eventually(readyCondition(ns)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonPoliciesApplied))
	p := present(getCNP(ns, nsPolicy)())
	return p
}

func handWritten(ns, name string) *cilium.CiliumNetworkPolicy {
	p := &cilium.CiliumNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{"team": "platform"}},
		Spec: &api.Rule{
			EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
			Ingress: []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{FromEntities: api.EntitySlice{api.EntityCluster}},
				ToPorts: api.PortRules{{Ports: []api.PortProtocol{{Port: "5432", Protocol: api.ProtoTCP}}}}}},
		},
	}
	Expect(k8s.Create(ctx, p)).To(Succeed())
	return p
}

var _ = Describe("Namespace policies", func() {
	It("generates the profile's policy, owned and labelled, and says so on the Namespace", func() {
		ns := newNamespace("create", map[string]string{profileKey: "standard"})
		p := waitReady(ns.Name)

		Expect(p.Labels).To(HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue))
		Expect(p.Labels).To(HaveKeyWithValue(profileKey, "standard"))
		Expect(p.OwnerReferences).To(ConsistOf(And(HaveField("Kind", "Namespace"), HaveField("UID", ns.UID), HaveField("Controller", HaveValue(BeTrue())))))
		Expect(p.Specs).To(HaveLen(2), "same-namespace rule and the profile's rule")
		Expect(specsJSON(p)).To(ContainSubstring(`"toEntities":["world"]`))
		Expect(specsJSON(p)).To(ContainSubstring(`"gateway.networking.k8s.io/gateway-name":"external"`))
		// Created (never applied over what may already stand there), and written by netprofile alone.
		Expect(p.ManagedFields).To(And(Not(BeEmpty()), HaveEach(HaveField("Manager", "netprofile-namespace-policy"))))

		cond := present(readyCondition(ns.Name)())
		Expect(cond.Message).To(And(ContainSubstring(`profile "standard"`), ContainSubstring(nsPolicy)))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Normal PoliciesApplied")))
	})

	It("updates the policy in place when the profile changes", func() {
		ns := newNamespace("change", map[string]string{profileKey: "standard"})
		before := waitReady(ns.Name)

		setLabels(ns.Name, map[string]string{profileKey: "isolated"})
		Eventually(getCNP(ns.Name, nsPolicy)).Should(HaveField("Labels", HaveKeyWithValue(profileKey, "isolated")))
		after := present(getCNP(ns.Name, nsPolicy)())
		Expect(after.UID).To(Equal(before.UID), "same object: no delete+create window")
		Expect(after.Specs).To(HaveLen(1), "isolated has only the same-namespace rule")
		Eventually(readyCondition(ns.Name)).Should(HaveField("Message", ContainSubstring(`profile "isolated"`)))
	})

	It("deletes only its own policy when the labels are removed", func() {
		ns := newNamespace("remove", map[string]string{profileKey: "internal"})
		waitReady(ns.Name)
		mine := handWritten(ns.Name, "database-access")

		setLabels(ns.Name, nil, profileKey)
		Eventually(cnpGone(ns.Name, nsPolicy)).Should(BeTrue())
		Eventually(readyCondition(ns.Name)).Should(BeNil())
		Consistently(getCNP(ns.Name, mine.Name)).Should(HaveField("ResourceVersion", mine.ResourceVersion))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Normal PoliciesPruned")))
	})

	It("reverts an edit and recreates a deleted policy", func() {
		ns := newNamespace("drift", map[string]string{profileKey: "internal"})
		p := waitReady(ns.Name)
		want := specsJSON(p)

		// kubectl edit: open the namespace to the world.
		edited := p.DeepCopy()
		edited.Specs[0].Egress = append(edited.Specs[0].Egress, api.EgressRule{EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityAll}}})
		Expect(k8s.Update(ctx, edited)).To(Succeed())
		Eventually(func() string { p, _ := getCNP(ns.Name, nsPolicy)(); return specsJSON(p) }).Should(Equal(want))

		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() string { p, _ := getCNP(ns.Name, nsPolicy)(); return specsJSON(p) }).Should(Equal(want))
		recreated := present(getCNP(ns.Name, nsPolicy)())
		Expect(recreated.UID).NotTo(Equal(p.UID))
	})

	It("re-renders every namespace using a NetworkProfile when it changes", func() {
		profile := &v1alpha1.NetworkProfile{
			ObjectMeta: metav1.ObjectMeta{Name: "fanout"},
			Spec: v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{
				Entities: []v1alpha1.Entity{v1alpha1.EntityWorld}, Ports: []v1alpha1.PortProtocol{{Port: 443, Protocol: v1alpha1.ProtocolTCP}},
			}}},
		}
		Expect(k8s.Create(ctx, profile)).To(Succeed())
		var names []string
		for range 3 {
			ns := newNamespace("fanout", map[string]string{profileKey: "fanout"})
			waitReady(ns.Name)
			names = append(names, ns.Name)
		}

		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(profile), profile)).To(Succeed())
		profile.Spec.Egress[0].Ports = append(profile.Spec.Egress[0].Ports, v1alpha1.PortProtocol{Port: 8443, Protocol: v1alpha1.ProtocolTCP})
		Expect(k8s.Update(ctx, profile)).To(Succeed())
		for _, name := range names {
			Eventually(func() string { p, _ := getCNP(name, nsPolicy)(); return specsJSON(p) }).Should(ContainSubstring(`"port":"8443"`))
		}
	})

	It("writes nothing when nothing changed, across a forced resync", func() {
		// kube-api's provider is an entity: Ready without a provider namespace, so the grant is in effect.
		ns := newNamespace("steady", map[string]string{profileKey: "standard", accessKey + "kube-api": "true"})
		p := waitReady(ns.Name)
		live := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, live)).To(Succeed())

		reconciles := reconcileCount("namespace-policy")
		Consistently(func(g Gomega) {
			g.Expect(getCNP(ns.Name, nsPolicy)()).To(HaveField("ResourceVersion", p.ResourceVersion))
			now := &corev1.Namespace{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, now)).To(Succeed())
			g.Expect(now.ResourceVersion).To(Equal(live.ResourceVersion))
		}).WithTimeout(2*syncPeriod + time.Second).Should(Succeed())
		Expect(reconcileCount("namespace-policy")).To(BeNumerically(">", reconciles), "the resync must have reconciled")

		// A restarted manager relists everything and reconciles every namespace: still nothing to write.
		stopManager()
		startManager()
		Consistently(func(g Gomega) {
			g.Expect(getCNP(ns.Name, nsPolicy)()).To(HaveField("ResourceVersion", p.ResourceVersion))
			now := &corev1.Namespace{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, now)).To(Succeed())
			g.Expect(now.ResourceVersion).To(Equal(live.ResourceVersion))
		}).WithTimeout(2*syncPeriod + time.Second).Should(Succeed())
	})

	It("adopts namespaces labelled before it started without an Event each, but reports failures and later changes", func() {
		stopManager()
		adopted := newNamespace("adopted", map[string]string{profileKey: "standard"})
		broken := newNamespace("adopted-bad", map[string]string{profileKey: "no-such-profile"})
		// Adopted means created before the manager started; creation timestamps have whole seconds.
		Eventually(time.Now).Should(BeTemporally(">=", broken.CreationTimestamp.Add(time.Second)))
		startManager()

		waitReady(adopted.Name)
		Eventually(events(broken.Name)).Should(ContainElement(ContainSubstring("Warning ProfileNotFound")))
		Consistently(events(adopted.Name)).WithTimeout(2 * time.Second).ShouldNot(ContainElement(ContainSubstring("PoliciesApplied")))

		setLabels(adopted.Name, map[string]string{profileKey: "isolated"})
		Eventually(events(adopted.Name)).Should(ContainElement(And(ContainSubstring("Normal PoliciesApplied"), ContainSubstring(`profile "isolated"`))))
	})

	It("reports a policy Cilium marked invalid", func() {
		ns := newNamespace("invalid", map[string]string{profileKey: "internal"})
		p := waitReady(ns.Name)
		// What Cilium's operator writes when it cannot import a policy.
		p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse, Message: "simulated import failure", LastTransitionTime: metav1.Now()}}
		Expect(k8s.Status().Update(ctx, p, client.FieldOwner(cilium.CiliumOperatorManager))).To(Succeed())
		Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonRejectedByAgent), HaveField("Message", ContainSubstring("simulated import failure"))))
	})

	It("ignores a Valid=False that Cilium did not write, and says so", func() {
		ns := newNamespace("forged-valid", map[string]string{profileKey: "internal"})
		p := waitReady(ns.Name)
		// Anyone who may write the policy's status subresource, but not Cilium's operator.
		p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse, Message: "forged", LastTransitionTime: metav1.Now()}}
		Expect(k8s.Status().Update(ctx, p, client.FieldOwner("kubectl-patch"))).To(Succeed())

		note := "CiliumNetworkPolicy " + ns.Name + "/" + nsPolicy + " carries Valid=False written by kubectl-patch, not by Cilium's operator: status not written by Cilium, ignored"
		Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonPoliciesApplied), HaveField("Message", HaveSuffix(note))))
		Consistently(readyCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonPoliciesApplied))

		// Cilium's operator sees a valid policy and puts its own verdict back: the note goes.
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionTrue, Message: "Policy validation succeeded", LastTransitionTime: metav1.Now()}}
		Expect(k8s.Status().Update(ctx, p, client.FieldOwner(cilium.CiliumOperatorManager))).To(Succeed())
		Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonPoliciesApplied), HaveField("Message", Not(ContainSubstring("ignored")))))
	})

	It("leaves nothing behind when the namespace is deleted", func() {
		ns := newNamespace("delete", map[string]string{profileKey: "standard"})
		waitReady(ns.Name)
		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(func() bool {
			return apierrorsIsNotFound(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, &corev1.Namespace{}))
		}).WithTimeout(90*time.Second).Should(BeTrue(), "kube-controller-manager deletes the namespace and its contents:\n"+env.ControllerManagerLog())
		Expect(cnpGone(ns.Name, nsPolicy)()).To(BeTrue())
	})

	Describe("bad input", func() {
		// expectKept asserts the last good policy is untouched and the condition says why it was kept.
		expectKept := func(ns string, good *cilium.CiliumNetworkPolicy, reason string) {
			GinkgoHelper()
			Eventually(readyCondition(ns)).Should(And(haveStatus(corev1.ConditionFalse, reason), HaveField("Message", ContainSubstring("last good policy stays in place"))))
			Eventually(events(ns)).Should(ContainElement(ContainSubstring("Warning " + reason)))
			Consistently(getCNP(ns, nsPolicy)).Should(HaveField("ResourceVersion", good.ResourceVersion))
		}

		It("keeps the last good policy for an unknown profile", func() {
			ns := newNamespace("unknown", map[string]string{profileKey: "standard"})
			good := waitReady(ns.Name)
			setLabels(ns.Name, map[string]string{profileKey: "standrd"})
			expectKept(ns.Name, good, "ProfileNotFound")
			Expect(readyCondition(ns.Name)()).To(HaveField("Message", ContainSubstring("known profiles:")))
		})

		It("keeps the last good policy for a wrong-case value", func() {
			ns := newNamespace("case", map[string]string{profileKey: "standard"})
			good := waitReady(ns.Name)
			setLabels(ns.Name, map[string]string{profileKey: "Standard"})
			expectKept(ns.Name, good, "InvalidLabel")
			Expect(readyCondition(ns.Name)()).To(HaveField("Message", ContainSubstring(`did you mean "standard"`)))
		})

		It("keeps the last good policy for an access label that is not \"true\"", func() {
			ns := newNamespace("yes", map[string]string{profileKey: "standard"})
			good := waitReady(ns.Name)
			setLabels(ns.Name, map[string]string{accessKey + "postgres": "yes"})
			expectKept(ns.Name, good, "InvalidLabel")
		})

		It("opens nothing for a new namespace with bad input", func() {
			ns := newNamespace("newbad", map[string]string{profileKey: "no-such-profile"})
			Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, "ProfileNotFound"), HaveField("Message", ContainSubstring("nothing was applied"))))
			Consistently(cnpGone(ns.Name, nsPolicy)).Should(BeTrue())
		})

		It("refuses a profile on a platform namespace", func() {
			ensureNamespace("monitoring")
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}
			setLabels(ns.Name, map[string]string{profileKey: "standard"})
			DeferCleanup(setLabels, ns.Name, map[string]string(nil), profileKey)
			Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, "PlatformNamespace"), HaveField("Message", ContainSubstring("hand-crafted"))))
			Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning PlatformNamespace")))
			Consistently(cnpGone(ns.Name, nsPolicy)).Should(BeTrue())
		})

		It("never touches a hand-written policy whose name clashes", func() {
			ns := newNamespace("clash", nil)
			theirs := handWritten(ns.Name, nsPolicy)
			setLabels(ns.Name, map[string]string{profileKey: "standard"})
			Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonNameClash), HaveField("Message", ContainSubstring("not managed by netprofile"))))
			Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonNameClash)))
			Consistently(getCNP(ns.Name, nsPolicy)).Should(And(HaveField("ResourceVersion", theirs.ResourceVersion), HaveField("Labels", Not(HaveKey(ownership.ManagedByLabel)))))

			// Once the user renames theirs away, netprofile takes the name, without any change to the namespace.
			Expect(k8s.Delete(ctx, theirs)).To(Succeed())
			waitReady(ns.Name)
		})

		It("keeps the last good policy when its NetworkProfile is deleted", func() {
			profile := &v1alpha1.NetworkProfile{
				ObjectMeta: metav1.ObjectMeta{Name: "doomed"},
				Spec: v1alpha1.NetworkProfileSpec{Ingress: []v1alpha1.Rule{{
					Endpoints: &v1alpha1.EndpointsPeer{Namespace: "istio-gateway"}, AnyPort: true,
				}}},
			}
			Expect(k8s.Create(ctx, profile)).To(Succeed())
			ns := newNamespace("doomed", map[string]string{profileKey: "doomed"})
			good := waitReady(ns.Name)
			Expect(k8s.Delete(ctx, profile)).To(Succeed())
			expectKept(ns.Name, good, "ProfileNotFound")

			// Recreating it restores the namespace without any label change.
			profile.ResourceVersion = ""
			Expect(k8s.Create(ctx, profile)).To(Succeed())
			waitReady(ns.Name)
		})
	})
})
