package controllers_test

import (
	"encoding/json"
	"fmt"
	"strings"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

func consumers(matchLabels map[string]string, exprs ...metav1.LabelSelectorRequirement) *v1alpha1.Consumers {
	return &v1alpha1.Consumers{NamespaceSelector: metav1.LabelSelector{MatchLabels: matchLabels, MatchExpressions: exprs}}
}

func manyLabels(n int) map[string]string {
	m := map[string]string{}
	for i := range n {
		m[fmt.Sprintf("label-%d", i)] = "x"
	}
	return m
}

// ensureNamespace creates a fixed-name namespace (a provider such as database), marked as the platform's,
// unless a spec already did.
func ensureNamespace(name string) {
	err := k8s.Create(ctx, testenv.PlatformNamespace(name))
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

// getCCNP reads a clusterwide policy: nil when there is none, an error only when the API server fails (see
// getCNP).
func getCCNP(name string) func() (*cilium.CiliumClusterwideNetworkPolicy, error) {
	return func() (*cilium.CiliumClusterwideNetworkPolicy, error) {
		p := &cilium.CiliumClusterwideNetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		return p, nil
	}
}

// ccnpSpecJSON is a clusterwide policy's spec as JSON, "" while there is none.
func ccnpSpecJSON(name string) func() (string, error) {
	return func() (string, error) {
		p, err := getCCNP(name)()
		if p == nil || err != nil {
			return "", err
		}
		b, err := json.Marshal(p.Spec)
		return string(b), err
	}
}

func ccnpGone(name string) func() bool {
	return func() bool {
		return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: name}, &cilium.CiliumClusterwideNetworkPolicy{}))
	}
}

// readyOf reads an object's Ready condition: nil when it has none; an object that is gone or unreadable is
// an error, not "no condition".
func readyOf(obj client.Object, conds func() []metav1.Condition) func() (*metav1.Condition, error) {
	return func() (*metav1.Condition, error) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return nil, err
		}
		return apimeta.FindStatusCondition(conds(), "Ready"), nil
	}
}

func baselineReady(name string) func() (*metav1.Condition, error) {
	b := &v1alpha1.Baseline{}
	b.Name = name
	return readyOf(b, func() []metav1.Condition { return b.Status.Conditions })
}

func resourceStatus(name string) func() v1alpha1.SharedResourceStatus {
	return func() v1alpha1.SharedResourceStatus {
		sr := &v1alpha1.SharedResource{}
		_ = k8s.Get(ctx, client.ObjectKey{Name: name}, sr)
		return sr.Status
	}
}

// grantRule is the JSON of the rule of a namespace policy that grants a resource, "" when there is none.
func grantRule(ns, resource string) func() string {
	return func() string {
		p, err := getCNP(ns, nsPolicy)()
		if err != nil || p == nil {
			return ""
		}
		prefix := "netprofile: access to " + resource
		for _, r := range p.Specs {
			if r.Description == prefix || strings.HasPrefix(r.Description, prefix+":") {
				b, _ := json.Marshal(r)
				return string(b)
			}
		}
		return ""
	}
}

var _ = Describe("Shared resources", func() {
	BeforeEach(func() {
		for _, ns := range []string{"database", "cache", "garage"} {
			ensureNamespace(ns)
		}
	})

	It("generates both halves for each default resource, and kube-api through the kube-apiserver entity", func() {
		ns := newNamespace("consumer", map[string]string{accessKey + "postgres": "true", accessKey + "dragonfly": "true",
			accessKey + "garage-s3": "true", accessKey + "kube-api": "true"})
		waitReady(ns.Name)
		Expect(readyCondition(ns.Name)()).To(HaveField("Message", ContainSubstring("with access to dragonfly, garage-s3, kube-api, postgres")))

		for resource, want := range map[string]struct{ ns, port string }{"postgres": {"database", "5432"}, "dragonfly": {"cache", "6379"}, "garage-s3": {"garage", "3900"}} {
			Expect(grantRule(ns.Name, resource)()).To(And(ContainSubstring(`"io.kubernetes.pod.namespace":"`+want.ns+`"`), ContainSubstring(`"port":"`+want.port+`"`)))
			provider := ownership.ProviderPolicyName(resource)
			Eventually(getCNP(want.ns, provider)).Should(And(
				HaveField("Spec.Ingress", ConsistOf(And(
					HaveField("FromEndpoints", ConsistOf(HaveField("LabelSelector.MatchLabels", HaveKeyWithValue("io.cilium.k8s.namespace.labels."+accessKey+resource, "true")))),
					HaveField("ToPorts", ConsistOf(HaveField("Ports", ConsistOf(HaveField("Port", want.port)))))))),
				HaveField("OwnerReferences", ConsistOf(HaveField("Name", want.ns)))))
			Eventually(resourceStatus(resource)).Should(And(HaveField("Consumers", BeNumerically(">=", 1)),
				HaveField("Conditions", ContainElement(And(HaveField("Type", "Ready"), HaveField("Status", metav1.ConditionTrue))))))
		}
		kubeAPI := grantRule(ns.Name, "kube-api")()
		Expect(kubeAPI).To(And(ContainSubstring(`"toEntities":["kube-apiserver"]`), ContainSubstring(`"port":"6443"`), ContainSubstring(`"port":"443"`)))
		Expect(kubeAPI).NotTo(ContainSubstring(`"toCIDR`))
	})

	It("withdraws exactly the removed grant and keeps the other consumer's", func() {
		a := newNamespace("consumer-a", map[string]string{profileKey: "isolated", accessKey + "postgres": "true", accessKey + "dragonfly": "true"})
		b := newNamespace("consumer-b", map[string]string{profileKey: "isolated", accessKey + "postgres": "true"})
		waitReady(a.Name)
		waitReady(b.Name)
		Eventually(getCNP("database", ownership.ProviderPolicyName("postgres"))).ShouldNot(BeNil())

		setLabels(a.Name, nil, accessKey+"postgres")
		Eventually(grantRule(a.Name, "postgres")).Should(BeEmpty())
		Expect(grantRule(a.Name, "dragonfly")()).NotTo(BeEmpty(), "the other grant stays")
		Expect(grantRule(b.Name, "postgres")()).NotTo(BeEmpty(), "the other consumer keeps its grant")
		Consistently(getCNP("database", ownership.ProviderPolicyName("postgres"))).Should(HaveField("Spec.Ingress", HaveLen(1)))
	})

	// Deleting a SharedResource is the platform revoking it (the provider's object is the platform's to delete):
	// both halves go at once, whoever still carries the label, and each consumer says so and keeps the rest.
	It("revokes a deleted resource: its provider half and every consumer's egress go, and the consumers say why", func() {
		ensureNamespace("queue")
		sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: "rabbitmq"}, Spec: v1alpha1.SharedResourceSpec{
			Provider: v1alpha1.Provider{Namespace: "queue", PodSelector: map[string]string{"app": "rabbitmq"}},
			Ports:    []v1alpha1.PortProtocol{{Port: 5672, Protocol: v1alpha1.ProtocolTCP}},
		}}
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		withProfile := newNamespace("mq", map[string]string{profileKey: "isolated", accessKey + "rabbitmq": "true"})
		grantOnly := newNamespace("mq-only", map[string]string{accessKey + "rabbitmq": "true"})
		waitReady(withProfile.Name)
		waitReady(grantOnly.Name)
		provider := ownership.ProviderPolicyName("rabbitmq")
		Eventually(getCNP("queue", provider)).Should(HaveField("Spec.EndpointSelector.LabelSelector.MatchLabels", HaveKeyWithValue("app", "rabbitmq")))
		Expect(grantRule(withProfile.Name, "rabbitmq")()).NotTo(BeEmpty())

		Expect(k8s.Delete(ctx, sr)).To(Succeed())
		Eventually(cnpGone("queue", provider)).Should(BeTrue(), "the provider half goes although consumers still carry the label")
		for _, ns := range []string{withProfile.Name, grantOnly.Name} {
			Eventually(grantRule(ns, "rabbitmq")).Should(BeEmpty())
			Eventually(readyCondition(ns)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonResourceNotFound),
				HaveField("Message", ContainSubstring("this namespace has no access to rabbitmq (a grant that stood is withdrawn with its SharedResource)"))))
			Eventually(events(ns)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonResourceNotFound)))
		}
		// The rest stands: the profile, and the namespace's own default deny and same-namespace traffic where
		// the grant was all it asked for.
		Expect(getCNP(withProfile.Name, nsPolicy)()).To(HaveField("Labels", And(HaveKeyWithValue(profileKey, "isolated"), Not(HaveKey(accessKey+"rabbitmq")))))
		Consistently(getCNP(grantOnly.Name, nsPolicy)).Should(HaveField("Specs", ContainElement(HaveField("Description", "netprofile: pods of this namespace may talk to each other"))))

		// Recreating it grants again, without any label change.
		sr.ResourceVersion = ""
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		waitReady(withProfile.Name)
		Eventually(getCNP("queue", provider)).ShouldNot(BeNil())
		Expect(grantRule(withProfile.Name, "rabbitmq")()).NotTo(BeEmpty())
		Expect(k8s.Delete(ctx, sr)).To(Succeed())
	})

	It("reports a missing provider namespace and fills it in when it appears", func() {
		sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: "search"}, Spec: v1alpha1.SharedResourceSpec{
			Provider: v1alpha1.Provider{Namespace: "opensearch"}, Ports: []v1alpha1.PortProtocol{{Port: 9200}},
		}}
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		Eventually(readyOf(sr, func() []metav1.Condition { return sr.Status.Conditions })).Should(And(Not(BeNil()), HaveField("Reason", "ProviderNamespaceMissing")))
		ensureNamespace("opensearch")
		Eventually(getCNP("opensearch", ownership.ProviderPolicyName("search"))).ShouldNot(BeNil())
		Eventually(readyOf(sr, func() []metav1.Condition { return sr.Status.Conditions })).Should(HaveField("Status", metav1.ConditionTrue))
	})

	It("refuses an unknown resource and keeps the last good policy", func() {
		ns := newNamespace("unknownres", map[string]string{profileKey: "isolated", accessKey + "postgres": "true"})
		good := waitReady(ns.Name)
		setLabels(ns.Name, map[string]string{accessKey + "mysql": "true"})
		Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, "SharedResourceNotFound"), HaveField("Message", ContainSubstring("known resources:"))))
		Consistently(getCNP(ns.Name, nsPolicy)).Should(HaveField("ResourceVersion", good.ResourceVersion))
	})
})

var _ = Describe("NetworkProfile status", func() {
	It("is Ready and counts the namespaces using it", func() {
		p := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "counted"}, Spec: v1alpha1.NetworkProfileSpec{Description: "counted"}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		for range 2 {
			newNamespace("counted", map[string]string{profileKey: "counted"})
		}
		Eventually(func() v1alpha1.NetworkProfileStatus {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), p)
			return p.Status
		}).Should(And(
			HaveField("Namespaces", int32(2)), HaveField("ObservedGeneration", p.Generation),
			HaveField("Conditions", ContainElement(And(HaveField("Type", "Ready"), HaveField("Status", metav1.ConditionTrue), HaveField("Reason", "Valid"))))))
	})
})

var _ = Describe("Baselines", func() {
	It("creates every default baseline at start, Ready, with no empty peer anywhere", func() {
		for _, name := range []string{"dns", "prometheus-scrape", "health-probes", "hbone"} {
			Eventually(getCCNP(ownership.BaselinePolicyName(name))).Should(HaveField("Labels", HaveKeyWithValue(ownership.ComponentLabel, ownership.ComponentBaseline)))
			Eventually(baselineReady(name)).Should(And(Not(BeNil()), HaveField("Status", metav1.ConditionTrue), HaveField("Reason", "Applied")))
		}
		dns := present(getCCNP(ownership.BaselinePolicyName("dns"))())
		Expect(dns.Spec.Egress[0].ToPorts[0].Rules.DNS).To(ConsistOf(HaveField("MatchPattern", "*")))
		Expect(dns.Spec.IngressDeny).To(BeEmpty())

		// Same-namespace isolation must come from namespaced policies: no clusterwide policy netprofile
		// wrote has an empty `{}` peer, which there would mean every pod of every namespace.
		list := &cilium.CiliumClusterwideNetworkPolicyList{}
		Expect(k8s.List(ctx, list, client.MatchingLabels{ownership.ManagedByLabel: ownership.ManagedByValue})).To(Succeed())
		Expect(list.Items).NotTo(BeEmpty())
		for _, p := range list.Items {
			for _, in := range p.Spec.Ingress {
				for _, s := range in.FromEndpoints {
					Expect(s.IsWildcard()).To(BeFalse(), "clusterwide %s has an empty peer", p.Name)
				}
			}
			for _, out := range p.Spec.Egress {
				for _, s := range out.ToEndpoints {
					Expect(s.IsWildcard()).To(BeFalse(), "clusterwide %s has an empty peer", p.Name)
				}
			}
			Expect(p.Spec.IngressDeny).To(BeEmpty())
			Expect(p.Spec.EgressDeny).To(BeEmpty())
		}
	})

	It("repairs an edited and a deleted baseline policy", func() {
		name := ownership.BaselinePolicyName("health-probes")
		p := present(getCCNP(name)())
		want, _ := json.Marshal(p.Spec)

		p.Spec.Ingress = p.Spec.Ingress[:1]
		Expect(k8s.Update(ctx, p)).To(Succeed())
		Eventually(ccnpSpecJSON(name)).Should(Equal(string(want)))

		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(ccnpSpecJSON(name)).Should(Equal(string(want)))
	})

	It("is switched off and on by config", func() {
		b := &v1alpha1.Baseline{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "hbone"}, b)).To(Succeed())
		b.Spec.Enabled = new(bool)
		Expect(k8s.Update(ctx, b)).To(Succeed())
		Eventually(ccnpGone(ownership.BaselinePolicyName("hbone"))).Should(BeTrue())
		Eventually(baselineReady("hbone")).Should(HaveField("Reason", "Disabled"))

		Expect(k8s.Get(ctx, client.ObjectKey{Name: "hbone"}, b)).To(Succeed())
		b.Spec.Enabled = nil
		Expect(k8s.Update(ctx, b)).To(Succeed())
		Eventually(getCCNP(ownership.BaselinePolicyName("hbone"))).ShouldNot(BeNil())
		Eventually(baselineReady("hbone")).Should(HaveField("Reason", "Applied"))
	})

	It("reports a baseline that is not in effect on the baseline and on the namespaces it selects", func() {
		// A hand-written clusterwide policy holding the baseline's name: netprofile must not take it over.
		theirs := &cilium.CiliumClusterwideNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: ownership.BaselinePolicyName("team-dns")},
			Spec: &api.Rule{EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
				Egress: []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityWorld}}}}},
		}
		Expect(k8s.Create(ctx, theirs)).To(Succeed())
		b := &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{Name: "team-dns"}, Spec: v1alpha1.BaselineSpec{
			NamespaceSelector: map[string]string{"team": "clash"},
			Egress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: "kube-system", MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				Ports: []v1alpha1.PortProtocol{{Port: 53, Protocol: v1alpha1.ProtocolUDP}}}},
		}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		Eventually(baselineReady("team-dns")).Should(And(Not(BeNil()), HaveField("Status", metav1.ConditionFalse), HaveField("Reason", "PolicyNameClash")))
		Consistently(getCCNP(theirs.Name)).Should(HaveField("ResourceVersion", theirs.ResourceVersion))

		affected := newNamespace("affected", map[string]string{profileKey: "isolated", "team": "clash"})
		other := newNamespace("unaffected", map[string]string{profileKey: "isolated"})
		Eventually(readyCondition(affected.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonBaselineFailing), HaveField("Message", ContainSubstring("baseline team-dns is not in effect"))))
		waitReady(other.Name)

		// Fixed: the Baseline and the namespaces recover without any change of their own.
		Expect(k8s.Delete(ctx, theirs)).To(Succeed())
		Eventually(baselineReady("team-dns")).Should(HaveField("Status", metav1.ConditionTrue))
		waitReady(affected.Name)
		Expect(k8s.Delete(ctx, b)).To(Succeed())
		Eventually(ccnpGone(ownership.BaselinePolicyName("team-dns"))).Should(BeTrue())
	})

	It("reports a baseline policy Cilium marked invalid", func() {
		name := ownership.BaselinePolicyName("prometheus-scrape")
		p := present(getCCNP(name)())
		// What Cilium's operator writes when it cannot import a policy.
		p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse, Message: "simulated", LastTransitionTime: metav1.Now()}}
		Expect(k8s.Status().Update(ctx, p, client.FieldOwner(cilium.CiliumOperatorManager))).To(Succeed())
		Eventually(baselineReady("prometheus-scrape")).Should(And(HaveField("Status", metav1.ConditionFalse), HaveField("Reason", "PolicyRejectedByCilium")))

		p.Status.Conditions[0].Status = corev1.ConditionTrue
		Expect(k8s.Status().Update(ctx, p, client.FieldOwner(cilium.CiliumOperatorManager))).To(Succeed())
		Eventually(baselineReady("prometheus-scrape")).Should(HaveField("Status", metav1.ConditionTrue))
	})
})

var _ = Describe("Admission of the catalogue (CRD schema and CEL on the real API server)", func() {
	port := func(n int32, proto string) []v1alpha1.PortProtocol {
		return []v1alpha1.PortProtocol{{Port: n, Protocol: v1alpha1.Protocol(proto)}}
	}
	world := []v1alpha1.Entity{v1alpha1.EntityWorld}
	gateway := &v1alpha1.EndpointsPeer{Namespace: "istio-gateway"}
	DescribeTable("NetworkProfile",
		func(spec v1alpha1.NetworkProfileSpec, accepted bool, mentioning string) {
			p := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{GenerateName: "admission-"}, Spec: spec}
			err := k8s.Create(ctx, p)
			if accepted {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(mentioning))
		},
		Entry("HTTPS egress", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: world, Ports: port(443, "TCP")}}}, true, ""),
		Entry("any-port gateway ingress", v1alpha1.NetworkProfileSpec{Ingress: []v1alpha1.Rule{{Endpoints: gateway, AnyPort: true}}}, true, ""),
		Entry("no ports", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: world}}}, false, "lists its ports"),
		Entry("port 0", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: world, Ports: port(0, "TCP")}}}, false, "should be greater than or equal to 1"),
		Entry("port 70000", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: world, Ports: port(70000, "TCP")}}}, false, "should be less than or equal to 65535"),
		Entry("lowercase protocol", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: world, Ports: port(443, "tcp")}}}, false, "Unsupported value"),
		Entry("any port to the world", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: world, AnyPort: true}}}, false, "anyPort is only allowed with an endpoints peer"),
		Entry("entity all", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: []v1alpha1.Entity{"all"}, Ports: port(443, "TCP")}}}, false, "Unsupported value"),
		Entry("two kinds of peer", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{Entities: world, CIDRs: []string{"10.0.0.0/8"}, Ports: port(443, "TCP")}}}, false, "exactly one kind of peer"),
		Entry("fqdns on ingress", v1alpha1.NetworkProfileSpec{Ingress: []v1alpha1.Rule{{FQDNs: []v1alpha1.FQDN{{MatchName: "example.com"}}, Ports: port(443, "TCP")}}}, false, "egress only"),
		Entry("a bad CIDR", v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{CIDRs: []string{"10.0.0.0/33"}, Ports: port(443, "TCP")}}}, false, "must be a CIDR"),
	)
	DescribeTable("SharedResource",
		func(spec v1alpha1.SharedResourceSpec, accepted bool, mentioning string) {
			sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{GenerateName: "admission-"}, Spec: spec}
			err := k8s.Create(ctx, sr)
			if accepted {
				Expect(err).NotTo(HaveOccurred())
				Expect(k8s.Delete(ctx, sr)).To(Succeed())
				return
			}
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
			Expect(err.Error()).To(ContainSubstring(mentioning))
		},
		Entry("a namespace provider", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database"}, Ports: port(5432, "TCP")}, true, ""),
		Entry("no ports", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database"}}, false, "spec.ports"),
		Entry("namespace and entity", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database", Entity: v1alpha1.EntityKubeAPIServer}, Ports: port(5432, "TCP")}, false, "exactly one of namespace and entity"),
		Entry("consumers by labels and expressions", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database"}, Ports: port(5432, "TCP"),
			Consumers: consumers(map[string]string{"team": "payments"}, metav1.LabelSelectorRequirement{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"dev"}},
				metav1.LabelSelectorRequirement{Key: "quarantine", Operator: metav1.LabelSelectorOpDoesNotExist})}, true, ""),
		Entry("a consumers operator Cilium cannot evaluate", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database"}, Ports: port(5432, "TCP"),
			Consumers: consumers(nil, metav1.LabelSelectorRequirement{Key: "team", Operator: "Gt", Values: []string{"1"}})}, false, "operator must be In, NotIn, Exists or DoesNotExist"),
		Entry("consumers In without values", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database"}, Ports: port(5432, "TCP"),
			Consumers: consumers(nil, metav1.LabelSelectorRequirement{Key: "team", Operator: metav1.LabelSelectorOpIn})}, false, "In and NotIn need values"),
		Entry("consumers Exists with values", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database"}, Ports: port(5432, "TCP"),
			Consumers: consumers(nil, metav1.LabelSelectorRequirement{Key: "team", Operator: metav1.LabelSelectorOpExists, Values: []string{"a"}})}, false, "Exists and DoesNotExist take none"),
		Entry("too many consumer labels", v1alpha1.SharedResourceSpec{Provider: v1alpha1.Provider{Namespace: "database"}, Ports: port(5432, "TCP"),
			Consumers: consumers(manyLabels(17))}, false, "at most 16 labels"),
	)
	It("rejects a baseline opening any port to the world", func() {
		b := &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{GenerateName: "admission-"}, Spec: v1alpha1.BaselineSpec{
			Egress: []v1alpha1.Rule{{Entities: world, AnyPort: true}}}}
		err := k8s.Create(ctx, b)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), fmt.Sprint(err))
	})
})
