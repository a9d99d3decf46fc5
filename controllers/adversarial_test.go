package controllers_test

import (
	"cmp"
	"errors"
	"fmt"
	"time"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// The specs below are what a hostile or careless user does to netprofile (DOMAIN.md, "What a hostile or
// careless user can do"): edits by other field managers, edits that also hide the policy from netprofile's
// watches, a spoofed cache annotation, clashes that go away, and labels and annotations that lie. Every edit is
// made through the live API server, as kubectl, a GitOps tool or another controller would make it.

var (
	advCNP  = cilium.SchemeGroupVersion.WithKind(cilium.CNPKindDefinition)
	advCCNP = cilium.SchemeGroupVersion.WithKind(cilium.CCNPKindDefinition)
)

// advRulesHashAnnotation is the annotation the cache once trusted as proof that a copy was already reduced.
const advRulesHashAnnotation = "netprofile.internal/rules-sha256"

// advField reads one field of a live policy as unstructured, so a field the typed struct does not know is seen
// too: nil when the field is absent, an "<error: ...>" string when the object cannot be read (never nil then).
func advField(gvk schema.GroupVersionKind, ns, name string, path ...string) func() any {
	return func() any {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
			return "<error: " + err.Error() + ">"
		}
		v, found, err := unstructured.NestedFieldCopy(u.Object, path...)
		if err != nil {
			return "<error: " + err.Error() + ">"
		}
		if !found {
			return nil
		}
		return v
	}
}

// advNested is a field of an object the API server returned (nil when absent).
func advNested(u *unstructured.Unstructured, path ...string) any {
	v, _, _ := unstructured.NestedFieldCopy(u.Object, path...)
	return v
}

// advPatch edits a live policy the way kubectl patch/edit does, under fieldManager, and returns what the API
// server stored (so a spec can check the edit really landed before netprofile had a chance to revert it).
func advPatch(gvk schema.GroupVersionKind, ns, name string, pt types.PatchType, body, fieldManager string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	Expect(k8s.Patch(ctx, u, client.RawPatch(pt, []byte(body)), client.FieldOwner(fieldManager))).To(Succeed())
	return u
}

// advEventsAbout lists "<type> <reason> <note>" of the events.k8s.io Events about a cluster-scoped object of
// a kind (a Baseline, a SharedResource): client-go's recorders store those in the default namespace.
func advEventsAbout(kind, name string) func() []string {
	return func() []string {
		list := &eventsv1.EventList{}
		if err := k8s.List(ctx, list, client.InNamespace(metav1.NamespaceDefault)); err != nil {
			return nil
		}
		var out []string
		for _, e := range list.Items {
			if e.Regarding.Kind == kind && e.Regarding.Name == name {
				out = append(out, e.Type+" "+e.Reason+" "+e.Note)
			}
		}
		return out
	}
}

// advRevertedBy matches a list of Events holding a PolicyReverted Event that names the field manager.
func advRevertedBy(fieldManager string) OmegaMatcher {
	return ContainElement(And(ContainSubstring(" "+conditions.ReasonPolicyReverted+" "), ContainSubstring(fieldManager)))
}

// advEqual is Equal that also matches an absent field (nil) to nil.
func advEqual(v any) OmegaMatcher {
	if v == nil {
		return BeNil()
	}
	return Equal(v)
}

// advHaveReady matches a metav1 Ready condition (of a SharedResource or Baseline).
func advHaveReady(status metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", status), HaveField("Reason", reason))
}

func advResourceReady(name string) func() (*metav1.Condition, error) {
	sr := &v1alpha1.SharedResource{}
	sr.Name = name
	return readyOf(sr, func() []metav1.Condition { return sr.Status.Conditions })
}

// advResource creates a SharedResource of the spec's own (the shared catalogue stays undisturbed), deleted
// after the spec.
func advResource(name, providerNS string, port int32) *v1alpha1.SharedResource {
	GinkgoHelper()
	sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.SharedResourceSpec{
		Description: "adversarial spec " + name,
		Provider:    v1alpha1.Provider{Namespace: providerNS},
		Ports:       []v1alpha1.PortProtocol{{Port: port, Protocol: v1alpha1.ProtocolTCP}},
	}}
	Expect(k8s.Create(ctx, sr)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, sr))).To(Succeed()) })
	return sr
}

// advBaseline creates a Baseline of the spec's own that selects no real namespace, deleted after the spec.
func advBaseline(name string) *v1alpha1.Baseline {
	GinkgoHelper()
	b := &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.BaselineSpec{
		Description:       "adversarial spec " + name,
		NamespaceSelector: map[string]string{"adv": "none"},
		Egress: []v1alpha1.Rule{{
			Endpoints: &v1alpha1.EndpointsPeer{Namespace: "kube-system", MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			Ports:     []v1alpha1.PortProtocol{{Port: 53, Protocol: v1alpha1.ProtocolUDP}},
		}},
	}}
	Expect(k8s.Create(ctx, b)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, b))).To(Succeed()) })
	return b
}

// advProviderCopy is a provider half as someone copied it into git: netprofile's name and labels, a rule, no
// owner reference.
func advProviderCopy(ns, resource string) *cilium.CiliumNetworkPolicy {
	return &cilium.CiliumNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ownership.ProviderPolicyName(resource), Namespace: ns,
			Labels: ownership.Labels(ownership.ComponentProvider, map[string]string{accessKey + resource: "true"})},
		Spec: &api.Rule{
			EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
			Ingress: []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{FromEntities: api.EntitySlice{api.EntityCluster}},
				ToPorts: api.PortRules{{Ports: []api.PortProtocol{{Port: "5432", Protocol: api.ProtoTCP}}}}}},
		},
	}
}

// advSpecs is the live namespace policy's rules as JSON ("<error>" when it cannot be read).
func advSpecs(ns, name string) func() string {
	return func() string {
		p, err := getCNP(ns, name)()
		if err != nil {
			return "<error: " + err.Error() + ">"
		}
		return specsJSON(p)
	}
}

// advIdentity is "<uid> <resourceVersion>" of a live policy, or "<error: ...>": unchanged means neither deleted,
// replaced nor written.
func advIdentity(ns, name string) func() string {
	return func() string {
		p, err := getCNP(ns, name)()
		switch {
		case err != nil:
			return "<error: " + err.Error() + ">"
		case p == nil:
			return "<absent>"
		}
		return advIdentityOf(p)
	}
}

func advIdentityOf(p *cilium.CiliumNetworkPolicy) string {
	return string(p.UID) + " " + p.ResourceVersion
}

// advLongEnough is how long a spec that must hold "for a few seconds" watches.
const advLongEnough = 5 * time.Second

// The manager runs with a resync period far longer than any spec, so nothing here passes thanks to a resync:
// every repair and recovery must come from the watches.
var _ = Describe("Adversarial", Ordered, func() {
	BeforeAll(func() {
		stopManager()
		startManagerWithResync(time.Hour)
		DeferCleanup(func() {
			stopManager()
			startManager()
		})
	})

	Describe("foreign fields added to a generated policy are removed", func() {
		It("A1: removes a top-level spec another manager applies beside the namespace policy's specs", func() {
			ns := newNamespace("adv-spec", map[string]string{profileKey: "internal"})
			before := specsJSON(waitReady(ns.Name))

			intrusion := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": cilium.SchemeGroupVersion.String(), "kind": cilium.CNPKindDefinition,
				"metadata": map[string]any{"name": nsPolicy, "namespace": ns.Name},
				"spec": map[string]any{
					"endpointSelector": map[string]any{},
					"egress":           []any{map[string]any{"toEntities": []any{"all"}}},
				},
			}}
			Expect(k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(intrusion), client.FieldOwner("intruder"))).To(Succeed())
			Expect(advNested(intrusion, "spec", "egress")).NotTo(BeNil(), "the API server stored the foreign spec")

			Eventually(advField(advCNP, ns.Name, nsPolicy, "spec")).Should(BeNil())
			Eventually(advSpecs(ns.Name, nsPolicy)).Should(Equal(before))
			Eventually(events(ns.Name)).Should(advRevertedBy("intruder"))
		})

		It("A2a: removes enableDefaultDeny added to a baseline policy", func() {
			b := advBaseline("adv-default-deny")
			name := ownership.BaselinePolicyName(b.Name)
			Eventually(baselineReady(b.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonBaselineApplied))

			got := advPatch(advCCNP, "", name, types.MergePatchType, `{"spec":{"enableDefaultDeny":{"egress":false}}}`, "intruder")
			Expect(advNested(got, "spec", "enableDefaultDeny", "egress")).To(BeFalse(), "the API server stored the foreign field")

			Eventually(advField(advCCNP, "", name, "spec", "enableDefaultDeny")).Should(BeNil())
			Eventually(advEventsAbout("Baseline", b.Name)).Should(advRevertedBy("intruder"))
		})

		It("A2b: removes an extra endpointSelector key added to a baseline policy", func() {
			b := advBaseline("adv-selector")
			name := ownership.BaselinePolicyName(b.Name)
			Eventually(baselineReady(b.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonBaselineApplied))
			selector := advField(advCCNP, "", name, "spec", "endpointSelector")()
			Expect(selector).To(HaveKey("matchLabels"))

			got := advPatch(advCCNP, "", name, types.MergePatchType, `{"spec":{"endpointSelector":{"matchLabels":{"extra":"key"}}}}`, "intruder")
			Expect(advNested(got, "spec", "endpointSelector", "matchLabels", "extra")).To(Equal("key"), "the API server stored the extra key")

			Eventually(advField(advCCNP, "", name, "spec", "endpointSelector")).Should(Equal(selector))
			Eventually(advEventsAbout("Baseline", b.Name)).Should(advRevertedBy("intruder"))
		})

		It("A3: removes ingressDeny added to the escape hatch's allow-all", func() {
			ns := newNamespace("adv-deny", map[string]string{enforcementKey: "disabled"})
			expectAllowAll(ns.Name)

			got := advPatch(advCNP, ns.Name, allowAll, types.MergePatchType, `{"spec":{"ingressDeny":[{"fromEntities":["world"]}]}}`, "intruder")
			Expect(advNested(got, "spec", "ingressDeny")).NotTo(BeNil(), "the API server stored the foreign field")

			Eventually(advField(advCNP, ns.Name, allowAll, "spec", "ingressDeny")).Should(BeNil())
			expectAllowAll(ns.Name)
			Eventually(events(ns.Name)).Should(advRevertedBy("intruder"))
		})

		It("A4: removes top-level specs added beside a provider half's spec", func() {
			provider := newNamespace("adv-provider", platformMark)
			sr := advResource("adv-db-"+rand.String(5), provider.Name, 5432)
			name := ownership.ProviderPolicyName(sr.Name)
			Eventually(advResourceReady(sr.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonProviderApplied))
			Eventually(getCNP(provider.Name, name)).Should(HaveField("OwnerReferences", ContainElement(HaveField("UID", provider.UID))))
			before := advField(advCNP, provider.Name, name, "spec")()

			got := advPatch(advCNP, provider.Name, name, types.MergePatchType,
				`{"specs":[{"endpointSelector":{},"ingress":[{"fromEntities":["all"]}]}]}`, "intruder")
			Expect(advNested(got, "specs")).NotTo(BeNil(), "the API server stored the foreign specs")

			Eventually(advField(advCNP, provider.Name, name, "specs")).Should(BeNil())
			Expect(advField(advCNP, provider.Name, name, "spec")()).To(Equal(before))
			// About the policy's owner: the provider Namespace, or the SharedResource whose half it is.
			Eventually(func() []string {
				return append(events(provider.Name)(), advEventsAbout("SharedResource", sr.Name)()...)
			}).Should(advRevertedBy("intruder"))
		})
	})

	// kubectl annotate changes neither the rules, the labels nor the owner reference: nothing netprofile renders
	// carries an annotation, so any is someone else's, and it goes like any foreign field. Then nothing more
	// is written: the repair does not start a loop.
	DescribeTable("A5: removes an annotation-only edit of every kind of generated policy, then writes nothing",
		func(setup func() (gvk schema.GroupVersionKind, namespace, name string)) {
			gvk, namespace, name := setup()
			got := advPatch(gvk, namespace, name, types.MergePatchType, `{"metadata":{"annotations":{"example.com/hold":"do-not-prune"}}}`, "kubectl-annotate")
			Expect(got.GetAnnotations()).To(HaveKey("example.com/hold"), "the edit landed")

			var repaired string
			Eventually(func(g Gomega) {
				u := &unstructured.Unstructured{}
				u.SetGroupVersionKind(gvk)
				g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)).To(Succeed())
				g.Expect(u.GetAnnotations()).To(BeEmpty())
				repaired = u.GetResourceVersion()
			}).Should(Succeed())
			Consistently(advField(gvk, namespace, name, "metadata", "resourceVersion")).WithTimeout(advLongEnough).Should(Equal(repaired))
		},
		Entry("namespace policy", func() (schema.GroupVersionKind, string, string) {
			ns := newNamespace("adv-a5-ns", map[string]string{profileKey: "internal"})
			waitReady(ns.Name)
			DeferCleanup(func() { Eventually(events(ns.Name)).Should(advRevertedBy("kubectl-annotate")) })
			return advCNP, ns.Name, nsPolicy
		}),
		Entry("allow-all", func() (schema.GroupVersionKind, string, string) {
			ns := newNamespace("adv-a5-hatch", map[string]string{enforcementKey: "disabled"})
			expectAllowAll(ns.Name)
			return advCNP, ns.Name, allowAll
		}),
		Entry("provider half", func() (schema.GroupVersionKind, string, string) {
			provider := newNamespace("adv-a5-provider", platformMark)
			sr := advResource("adv-a5-"+rand.String(5), provider.Name, 5432)
			Eventually(advResourceReady(sr.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonProviderApplied))
			return advCNP, provider.Name, ownership.ProviderPolicyName(sr.Name)
		}),
		Entry("baseline", func() (schema.GroupVersionKind, string, string) {
			b := advBaseline("adv-a5-baseline")
			Eventually(baselineReady(b.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonBaselineApplied))
			return advCCNP, "", ownership.BaselinePolicyName(b.Name)
		}),
	)

	Describe("edits that also change netprofile's labels or owner reference are still repaired", func() {
		It("B5: reverts an edit that opens the namespace policy and relabels its component in the same patch", func() {
			ns := newNamespace("adv-relabel", map[string]string{profileKey: "internal"})
			p := waitReady(ns.Name)
			before := specsJSON(p)

			edited := p.DeepCopy()
			edited.Specs[0].Egress = append(edited.Specs[0].Egress, api.EgressRule{EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityAll}}})
			edited.Labels[ownership.ComponentLabel] = "hand-tuned"
			Expect(k8s.Patch(ctx, edited, client.MergeFrom(p), client.FieldOwner("kubectl-edit"))).To(Succeed())
			Expect(edited.Labels).To(HaveKeyWithValue(ownership.ComponentLabel, "hand-tuned"), "the edit landed")
			Expect(specsJSON(edited)).NotTo(Equal(before), "the edit landed")

			Eventually(advSpecs(ns.Name, nsPolicy)).Should(Equal(before))
			Eventually(getCNP(ns.Name, nsPolicy)).Should(HaveField("Labels", HaveKeyWithValue(ownership.ComponentLabel, ownership.ComponentNamespacePolicy)))
		})

		It("B6: puts back a removed owner reference, stays Ready, and still prunes the policy later", func() {
			ns := newNamespace("adv-orphan", map[string]string{profileKey: "internal"})
			waitReady(ns.Name)

			got := advPatch(advCNP, ns.Name, nsPolicy, types.JSONPatchType, `[{"op":"remove","path":"/metadata/ownerReferences"}]`, "kubectl-patch")
			Expect(got.GetOwnerReferences()).To(BeEmpty(), "the edit landed")

			Eventually(getCNP(ns.Name, nsPolicy)).Should(HaveField("OwnerReferences", ConsistOf(And(
				HaveField("Kind", "Namespace"), HaveField("UID", ns.UID), HaveField("Controller", HaveValue(BeTrue()))))))
			Eventually(readyCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonPoliciesApplied))
			Consistently(readyCondition(ns.Name)).WithTimeout(advLongEnough).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonPoliciesApplied))

			setLabels(ns.Name, nil, profileKey)
			Eventually(cnpGone(ns.Name, nsPolicy)).Should(BeTrue())
		})

		// One edit that hides a policy from every label- or owner-based watch at once, on each kind of generated
		// policy: the owner reference goes, the component label changes, and the rules open.
		DescribeTable("B8: takes back every kind of generated policy from an edit that removes its owner reference and relabels it",
			func(setup func() (gvk schema.GroupVersionKind, namespace, name string, owner types.UID), component string) {
				gvk, namespace, name, owner := setup()
				before := advField(gvk, namespace, name, "spec")()
				beforeSpecs := advField(gvk, namespace, name, "specs")()
				got := advPatch(gvk, namespace, name, types.JSONPatchType, `[
					{"op":"remove","path":"/metadata/ownerReferences"},
					{"op":"replace","path":"/metadata/labels/app.kubernetes.io~1component","value":"hand-tuned"},
					{"op":"add","path":"/metadata/labels/extra","value":"x"},
					{"op":"add","path":"/spec","value":{"endpointSelector":{},"egress":[{"toEntities":["all"]}]}}]`, "kubectl-patch")
				Expect(got.GetOwnerReferences()).To(BeEmpty(), "the edit landed")

				Eventually(func(g Gomega) {
					u := &unstructured.Unstructured{}
					u.SetGroupVersionKind(gvk)
					g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, u)).To(Succeed())
					g.Expect(u.GetOwnerReferences()).To(ConsistOf(And(HaveField("UID", owner), HaveField("Controller", HaveValue(BeTrue())))))
					g.Expect(u.GetLabels()).To(And(HaveKeyWithValue(ownership.ComponentLabel, component), Not(HaveKey("extra"))))
					g.Expect(advNested(u, "spec")).To(advEqual(before))
					g.Expect(advNested(u, "specs")).To(advEqual(beforeSpecs))
				}).Should(Succeed())
			},
			Entry("namespace policy", func() (schema.GroupVersionKind, string, string, types.UID) {
				ns := newNamespace("adv-b8-ns", map[string]string{profileKey: "internal"})
				waitReady(ns.Name)
				return advCNP, ns.Name, nsPolicy, ns.UID
			}, ownership.ComponentNamespacePolicy),
			Entry("allow-all", func() (schema.GroupVersionKind, string, string, types.UID) {
				ns := newNamespace("adv-b8-hatch", map[string]string{enforcementKey: "disabled"})
				expectAllowAll(ns.Name)
				return advCNP, ns.Name, allowAll, ns.UID
			}, ownership.ComponentEnforcement),
			Entry("provider half", func() (schema.GroupVersionKind, string, string, types.UID) {
				provider := newNamespace("adv-b8-provider", platformMark)
				sr := advResource("adv-b8-"+rand.String(5), provider.Name, 5432)
				Eventually(advResourceReady(sr.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonProviderApplied))
				return advCNP, provider.Name, ownership.ProviderPolicyName(sr.Name), provider.UID
			}, ownership.ComponentProvider),
			Entry("baseline", func() (schema.GroupVersionKind, string, string, types.UID) {
				b := advBaseline("adv-b8-baseline")
				Eventually(baselineReady(b.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonBaselineApplied))
				return advCCNP, "", ownership.BaselinePolicyName(b.Name), b.UID
			}, ownership.ComponentBaseline),
		)

		It("B7a: never deletes an allow-all copy pinned in git without an owner reference, and reports the clash", func() {
			ns := newNamespace("adv-pinned", map[string]string{profileKey: "isolated"})
			waitReady(ns.Name)

			pinned := policy.AllowAll(ns.Name)
			Expect(pinned.Labels).To(And(HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue),
				HaveKeyWithValue(ownership.ComponentLabel, ownership.ComponentEnforcement)))
			Expect(pinned.OwnerReferences).To(BeEmpty())
			Expect(k8s.Create(ctx, pinned, client.FieldOwner("argocd-controller"))).To(Succeed())

			Consistently(advIdentity(ns.Name, allowAll)).WithTimeout(advLongEnough).Should(Equal(advIdentityOf(pinned)))
			Eventually(func() ([]string, error) {
				var reasons []string
				for _, get := range []func() (*corev1.NamespaceCondition, error){enforcementCondition(ns.Name), readyCondition(ns.Name)} {
					c, err := get()
					if err != nil {
						return nil, err
					}
					if c != nil {
						reasons = append(reasons, c.Reason)
					}
				}
				return reasons, nil
			}).Should(ContainElement(conditions.ReasonNameClash))
			Expect(advIdentity(ns.Name, allowAll)()).To(Equal(advIdentityOf(pinned)))
		})

		It("B7b: never deletes a provider-half copy without an owner reference outside the provider namespace", func() {
			provider := newNamespace("adv-pin-provider", platformMark)
			elsewhere := newNamespace("adv-pin-elsewhere", nil)
			sr := advResource("adv-pin-"+rand.String(5), provider.Name, 5432)
			Eventually(advResourceReady(sr.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonProviderApplied))

			pinned := advProviderCopy(elsewhere.Name, sr.Name)
			Expect(k8s.Create(ctx, pinned, client.FieldOwner("flux"))).To(Succeed())

			Consistently(advIdentity(elsewhere.Name, pinned.Name)).WithTimeout(advLongEnough).Should(Equal(advIdentityOf(pinned)))
			Expect(getCNP(provider.Name, pinned.Name)()).To(HaveField("OwnerReferences", ContainElement(HaveField("UID", provider.UID))),
				"netprofile's own provider half stays")
		})
	})

	It("C8: reverts rules emptied or opened behind a spoofed cached-copy annotation", func() {
		ns := newNamespace("adv-spoof", map[string]string{profileKey: "internal"})
		p := waitReady(ns.Name)
		before := specsJSON(p)
		// The hash of the rules netprofile wants is no secret: anyone who can read the policy can compute it.
		spoof := fmt.Sprintf(`"metadata":{"annotations":{%q:%q}}`, advRulesHashAnnotation, policy.RulesHash(p))

		// Empty rules. (Cilium's CRD refuses a policy with neither spec nor specs, but takes an empty list.)
		got := advPatch(advCNP, ns.Name, nsPolicy, types.MergePatchType, `{`+spoof+`,"specs":[]}`, "kubectl-edit")
		Expect(advNested(got, "specs")).To(Equal([]any{}), "the edit landed")
		Expect(got.GetAnnotations()).To(HaveKey(advRulesHashAnnotation), "the edit landed")
		Eventually(advSpecs(ns.Name, nsPolicy)).Should(Equal(before))

		// Opened rules: one rule allowing all egress to the world.
		got = advPatch(advCNP, ns.Name, nsPolicy, types.MergePatchType,
			`{`+spoof+`,"specs":[{"endpointSelector":{},"egress":[{"toEntities":["world"]}]}]}`, "kubectl-edit")
		Expect(advNested(got, "specs")).To(HaveLen(1), "the edit landed")
		Eventually(advSpecs(ns.Name, nsPolicy)).Should(Equal(before))
	})

	Describe("a resolved clash heals by itself, without touching the namespace", func() {
		It("D9: namespace policy", func() {
			ns := newNamespace("adv-heal", nil)
			theirs := handWritten(ns.Name, nsPolicy)
			setLabels(ns.Name, map[string]string{profileKey: "internal"})
			Eventually(readyCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonNameClash))

			Expect(k8s.Delete(ctx, theirs)).To(Succeed())
			waitReady(ns.Name)
			Expect(getCNP(ns.Name, nsPolicy)()).To(HaveField("OwnerReferences", ContainElement(HaveField("UID", ns.UID))))
		})

		It("D10: escape hatch allow-all", func() {
			ns := newNamespace("adv-heal-hatch", nil)
			theirs := handWritten(ns.Name, allowAll)
			setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
			// The label asks for a bypass, so it is recorded and alerted on (True), but it is not in effect.
			Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonNameClash),
				HaveField("Message", ContainSubstring("the enforcement bypass is not in effect"))))

			Expect(k8s.Delete(ctx, theirs)).To(Succeed())
			expectAllowAll(ns.Name)
			Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled))
		})

		It("D11: provider half", func() {
			provider := newNamespace("adv-heal-provider", platformMark)
			name := "adv-heal-" + rand.String(5)
			theirs := handWritten(provider.Name, ownership.ProviderPolicyName(name))
			advResource(name, provider.Name, 5432)
			Eventually(advResourceReady(name)).Should(advHaveReady(metav1.ConditionFalse, conditions.ReasonNameClash))

			Expect(k8s.Delete(ctx, theirs)).To(Succeed())
			Eventually(getCNP(provider.Name, ownership.ProviderPolicyName(name))).Should(
				HaveField("OwnerReferences", ContainElement(And(HaveField("UID", provider.UID), HaveField("Controller", HaveValue(BeTrue()))))))
			Eventually(advResourceReady(name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonProviderApplied))
		})

		It("D12: baseline", func() {
			name := "adv-baseline"
			theirs := &cilium.CiliumClusterwideNetworkPolicy{
				ObjectMeta: metav1.ObjectMeta{Name: ownership.BaselinePolicyName(name), Labels: map[string]string{"team": "platform"}},
				Spec: &api.Rule{EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
					Egress: []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityWorld}}}}},
			}
			Expect(k8s.Create(ctx, theirs)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, theirs))).To(Succeed()) })
			b := advBaseline(name)
			Eventually(baselineReady(name)).Should(advHaveReady(metav1.ConditionFalse, conditions.ReasonNameClash))

			Expect(k8s.Delete(ctx, theirs)).To(Succeed())
			Eventually(baselineReady(name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonBaselineApplied))
			Eventually(getCCNP(ownership.BaselinePolicyName(name))).Should(And(
				HaveField("Labels", HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue)),
				HaveField("OwnerReferences", ContainElement(HaveField("UID", b.UID)))))
		})
	})

	Describe("conditions that do not lie", func() {
		It("E13: a consumer is not Ready while its resource's provider half clashes", func() {
			provider := newNamespace("adv-np-provider", platformMark)
			name := "adv-np-" + rand.String(5)
			theirs := handWritten(provider.Name, ownership.ProviderPolicyName(name))
			advResource(name, provider.Name, 5432)
			Eventually(advResourceReady(name)).Should(advHaveReady(metav1.ConditionFalse, conditions.ReasonNameClash))

			consumer := newNamespace("adv-np-consumer", map[string]string{profileKey: "isolated", accessKey + name: "true"})
			Eventually(readyCondition(consumer.Name)).Should(And(Not(BeNil()), HaveField("Reason", conditions.ReasonProviderNotReady),
				HaveField("Status", corev1.ConditionFalse), HaveField("Message", ContainSubstring(name))))

			Expect(k8s.Delete(ctx, theirs)).To(Succeed())
			waitReady(consumer.Name)
		})

		It("E14: a SharedResource and its consumers report the provider half Cilium marked invalid", func() {
			provider := newNamespace("adv-inv-provider", platformMark)
			name := "adv-inv-" + rand.String(5)
			advResource(name, provider.Name, 5432)
			consumer := newNamespace("adv-inv-consumer", map[string]string{profileKey: "isolated", accessKey + name: "true"})
			waitReady(consumer.Name)
			Eventually(advResourceReady(name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonProviderApplied))

			// What the Cilium agent writes when it cannot import a policy.
			Eventually(func() error {
				p, err := getCNP(provider.Name, ownership.ProviderPolicyName(name))()
				if err != nil || p == nil {
					return cmp.Or(err, errors.New("no provider policy yet"))
				}
				p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse,
					Message: "simulated import failure", LastTransitionTime: metav1.Now()}}
				return k8s.Status().Update(ctx, p, client.FieldOwner(cilium.CiliumOperatorManager))
			}).Should(Succeed())

			Eventually(advResourceReady(name)).Should(And(Not(BeNil()), HaveField("Reason", conditions.ReasonRejectedByAgent),
				HaveField("Status", metav1.ConditionFalse), HaveField("Message", ContainSubstring("simulated import failure"))))
			Eventually(readyCondition(consumer.Name)).Should(And(Not(BeNil()), HaveField("Reason", conditions.ReasonProviderNotReady),
				HaveField("Status", corev1.ConditionFalse)))
		})
	})

	Describe("one bad label does not block a narrowing change", func() {
		It("F15: applies a removed grant and a stricter profile while another label is refused", func() {
			ensureNamespace("database")
			ensureNamespace("cache")
			ns := newNamespace("adv-narrow", map[string]string{profileKey: "standard", accessKey + "kube-api": "true", accessKey + "postgres": "true"})
			good := waitReady(ns.Name)
			Expect(specsJSON(good)).To(And(ContainSubstring("kube-apiserver"), ContainSubstring(`"5432"`), ContainSubstring(`"toEntities":["world"]`)))

			setLabels(ns.Name, map[string]string{accessKey + "dragonfly": "yes"})
			Eventually(readyCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel))
			Consistently(getCNP(ns.Name, nsPolicy)).Should(HaveField("ResourceVersion", good.ResourceVersion))

			// Narrowing: a grant removed.
			setLabels(ns.Name, nil, accessKey+"kube-api")
			Eventually(getCNP(ns.Name, nsPolicy)).Should(HaveField("Labels", Not(HaveKey(accessKey+"kube-api"))))
			narrowed := present(getCNP(ns.Name, nsPolicy)())
			Expect(specsJSON(narrowed)).NotTo(ContainSubstring("kube-apiserver"))
			Expect(specsJSON(narrowed)).To(ContainSubstring(`"5432"`), "the other grant stays")
			Expect(narrowed.Labels).To(HaveKeyWithValue(accessKey+"postgres", "true"))
			Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel),
				HaveField("Message", ContainSubstring("dragonfly"))))

			// Narrowing: a stricter profile.
			setLabels(ns.Name, map[string]string{profileKey: "isolated"})
			Eventually(getCNP(ns.Name, nsPolicy)).Should(HaveField("Labels", HaveKeyWithValue(profileKey, "isolated")))
			stricter := present(getCNP(ns.Name, nsPolicy)())
			Expect(specsJSON(stricter)).NotTo(ContainSubstring(`"toEntities":["world"]`))
			Expect(specsJSON(stricter)).To(ContainSubstring(`"5432"`))
			Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel),
				HaveField("Message", ContainSubstring("dragonfly"))))

			setLabels(ns.Name, map[string]string{accessKey + "dragonfly": "true"})
			waitReady(ns.Name)
		})

		It("F16: never opens a grant that was not granted before for a bad value", func() {
			noPostgres := func(ns string) func() string {
				return func() string {
					p, err := getCNP(ns, nsPolicy)()
					if err != nil {
						return "<error: " + err.Error() + ">"
					}
					return specsJSON(p)
				}
			}
			fresh := newNamespace("adv-nogrant", map[string]string{profileKey: "isolated", accessKey + "postgres": "yes"})
			Eventually(readyCondition(fresh.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel))
			Consistently(noPostgres(fresh.Name)).ShouldNot(ContainSubstring(`"5432"`))

			existing := newNamespace("adv-nogrant", map[string]string{profileKey: "isolated"})
			waitReady(existing.Name)
			setLabels(existing.Name, map[string]string{accessKey + "postgres": "yes"})
			Eventually(readyCondition(existing.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel))
			Consistently(noPostgres(existing.Name)).ShouldNot(ContainSubstring(`"5432"`))
		})
	})

	Describe("the since-annotation is not taken at face value", func() {
		It("G17: replaces a since-time in the future given at creation by now", func() {
			now := fakeClock.Now()
			stamp := now.UTC().Format(time.RFC3339)
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
				Name:        "adv-future-" + rand.String(6),
				Labels:      map[string]string{enforcementKey: "disabled"},
				Annotations: map[string]string{sinceAnnotation: "2099-01-01T00:00:00Z"},
			}}
			Expect(k8s.Create(ctx, ns)).To(Succeed())
			expectAllowAll(ns.Name)

			Eventually(annotation(ns.Name, sinceAnnotation)).Should(Equal(stamp))
			Eventually(enforcementCondition(ns.Name)).Should(HaveField("Message", ContainSubstring("since "+stamp)))
			Eventually(disabledSince(ns.Name)).Should(HaveValue(BeNumerically("==", now.Unix())))
		})

		It("G18a: restores a since-time moved later, and the alert clock keeps running from the original", func() {
			ns := newNamespace("adv-later", map[string]string{enforcementKey: "disabled"})
			t := fakeClock.Now()
			stamp := t.UTC().Format(time.RFC3339)
			Eventually(annotation(ns.Name, sinceAnnotation)).Should(Equal(stamp))
			Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled))

			setAnnotation(ns.Name, sinceAnnotation, t.Add(3*time.Minute).UTC().Format(time.RFC3339))
			Eventually(annotation(ns.Name, sinceAnnotation)).Should(Equal(stamp))
			Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonSinceRestored)))

			fakeClock.Step(6 * time.Minute)
			touch(ns.Name)
			Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabledWarning))
		})

		It("G18b: restores a backdated since-time", func() {
			ns := newNamespace("adv-earlier", map[string]string{enforcementKey: "disabled"})
			t := fakeClock.Now()
			stamp := t.UTC().Format(time.RFC3339)
			Eventually(annotation(ns.Name, sinceAnnotation)).Should(Equal(stamp))
			Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled))

			setAnnotation(ns.Name, sinceAnnotation, t.Add(-time.Hour).UTC().Format(time.RFC3339))
			Eventually(annotation(ns.Name, sinceAnnotation)).Should(Equal(stamp))
			Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonSinceRestored)))
			Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled),
				HaveField("Message", ContainSubstring("since "+stamp))))
		})

		It("G19: keeps an open bypass open on an invalid value, says so, and closes it when the label goes", func() {
			ns := newNamespace("adv-typo", map[string]string{profileKey: "isolated", enforcementKey: "disabled"})
			expectAllowAll(ns.Name)
			Eventually(annotation(ns.Name, sinceAnnotation)).ShouldNot(BeEmpty())
			stamp := annotation(ns.Name, sinceAnnotation)()
			since, err := time.Parse(time.RFC3339, stamp)
			Expect(err).NotTo(HaveOccurred())
			Eventually(disabledSince(ns.Name)).Should(HaveValue(BeNumerically("==", since.Unix())))

			setLabels(ns.Name, map[string]string{enforcementKey: "Disabled"})
			Consistently(getCNP(ns.Name, allowAll)).WithTimeout(advLongEnough).Should(
				HaveField("Labels", HaveKeyWithValue(ownership.ComponentLabel, ownership.ComponentEnforcement)))
			Eventually(enforcementCondition(ns.Name)).Should(And(Not(BeNil()), HaveField("Reason", conditions.ReasonInvalidEnforcement),
				HaveField("Message", ContainSubstring("stays open"))))
			Expect(disabledSince(ns.Name)()).To(HaveValue(BeNumerically("==", since.Unix())))
			Expect(annotation(ns.Name, sinceAnnotation)()).To(Equal(stamp))

			setLabels(ns.Name, nil, enforcementKey)
			Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
			Eventually(disabledSince(ns.Name)).Should(BeNil())
		})
	})
})
