package controllers_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

const ceilingPolicy = ownership.CeilingPolicyName

func ceilingCondition(ns string) func() (*corev1.NamespaceCondition, error) {
	return condition(ns, conditions.Ceiling)
}

// denyJSON is the deny rules of a ceiling, for comparing what was applied; "" when there is none.
func denyJSON(p *cilium.CiliumNetworkPolicy) string {
	if p == nil || p.Spec == nil {
		return ""
	}
	b, err := json.Marshal([2]any{p.Spec.IngressDeny, p.Spec.EgressDeny})
	Expect(err).NotTo(HaveOccurred())
	return string(b)
}

func ceilingRules(ns string) func() string {
	return func() string {
		p, err := getCNP(ns, ceilingPolicy)()
		if err != nil {
			return ""
		}
		return denyJSON(p)
	}
}

// tenantNetworkPolicy is what Kubernetes' edit role lets a namespace's own users write: everything in and out.
func tenantNetworkPolicy(ns, name string) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{}}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}},
	}
	Expect(k8s.Create(ctx, np)).To(Succeed())
	return np
}

var _ = Describe("The ceiling", func() {
	It("is generated beside the profile's policy, owned, and its condition says it holds", func() {
		ns := newNamespace("ceiling", map[string]string{profileKey: "standard"})
		waitReady(ns.Name)
		Eventually(ceilingCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonCeilingEnforced))
		p := present(getCNP(ns.Name, ceilingPolicy)())
		Expect(p.OwnerReferences).To(ConsistOf(And(HaveField("Kind", "Namespace"), HaveField("UID", ns.UID), HaveField("Controller", HaveValue(BeTrue())))))
		Expect(p.Labels).To(And(HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue), HaveKeyWithValue(profileKey, "standard")))
		Expect(p.Spec.EgressDeny).NotTo(BeEmpty())
		Expect(p.Spec.IngressDeny).NotTo(BeEmpty())
		Expect(ceilingCondition(ns.Name)()).To(HaveField("Message", ContainSubstring(`NetworkProfile "standard"`)))
	})

	It("is reverted after an edit and recreated after a delete", func() {
		ns := newNamespace("ceiling-drift", map[string]string{profileKey: "internal"})
		waitReady(ns.Name)
		Eventually(ceilingRules(ns.Name)).ShouldNot(BeEmpty())
		want := ceilingRules(ns.Name)()

		p := present(getCNP(ns.Name, ceilingPolicy)())
		edited := p.DeepCopy()
		edited.Spec.EgressDeny = nil // kubectl edit: lift the ceiling for egress
		Expect(k8s.Update(ctx, edited)).To(Succeed())
		Eventually(ceilingRules(ns.Name)).Should(Equal(want))

		Expect(k8s.Delete(ctx, p)).To(Succeed())
		Eventually(func() bool {
			again, err := getCNP(ns.Name, ceilingPolicy)()
			return err == nil && again != nil && again.UID != p.UID && denyJSON(again) == want
		}).Should(BeTrue())
	})

	It("is lifted while the escape hatch or audit mode is open and back, the same, when either closes", func() {
		ns := newNamespace("ceiling-hatch", map[string]string{profileKey: "isolated"})
		waitReady(ns.Name)
		Eventually(ceilingRules(ns.Name)).ShouldNot(BeEmpty())
		want := ceilingRules(ns.Name)()

		for _, mode := range []string{"disabled", "audit"} {
			setLabels(ns.Name, map[string]string{"network-policy.homelab/enforcement": mode})
			Eventually(cnpGone(ns.Name, ceilingPolicy)).Should(BeTrue(), "an allow-all does not beat a deny: the ceiling must go (%s)", mode)
			Eventually(ceilingCondition(ns.Name)).Should(haveStatus(corev1.ConditionUnknown, conditions.ReasonCeilingLifted))

			setLabels(ns.Name, nil, "network-policy.homelab/enforcement")
			Eventually(ceilingRules(ns.Name)).Should(Equal(want))
			Eventually(ceilingCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonCeilingEnforced))
		}
	})

	It("goes with the profile label, and with the namespace", func() {
		ns := newNamespace("ceiling-gone", map[string]string{profileKey: "standard", accessKey + "kube-api": "true"})
		waitReady(ns.Name)
		Eventually(ceilingRules(ns.Name)).ShouldNot(BeEmpty())

		setLabels(ns.Name, nil, profileKey)
		Eventually(cnpGone(ns.Name, ceilingPolicy)).Should(BeTrue(), "grants without a profile have no ceiling")
		Eventually(ceilingCondition(ns.Name)).Should(BeNil())
		Expect(cnpGone(ns.Name, nsPolicy)()).To(BeFalse(), "the grant stays")

		setLabels(ns.Name, map[string]string{profileKey: "isolated"})
		Eventually(ceilingRules(ns.Name)).ShouldNot(BeEmpty())
		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(cnpGone(ns.Name, ceilingPolicy)).Should(BeTrue(), "deleted with the namespace by kube-controller-manager")
	})

	It("names a tenant's policy within seconds: held under an enforcing profile, beyond the labels under a reporting one", func() {
		report := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "report-" + rand.String(5)},
			Spec: v1alpha1.NetworkProfileSpec{Ceiling: v1alpha1.CeilingReport}}
		Expect(k8s.Create(ctx, report)).To(Succeed())
		DeferCleanup(k8s.Delete, ctx, report)

		held := newNamespace("ceiling-held", map[string]string{profileKey: "standard"})
		open := newNamespace("ceiling-open", map[string]string{profileKey: report.Name})
		Eventually(ceilingCondition(held.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonCeilingEnforced))
		Eventually(ceilingCondition(open.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonNoOtherPolicies))
		Expect(cnpGone(open.Name, ceilingPolicy)()).To(BeTrue(), "a reporting profile has no ceiling")

		tenantNetworkPolicy(held.Name, "allow-all")
		tenantNetworkPolicy(open.Name, "allow-all")
		Eventually(ceilingCondition(held.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonCeilingEnforced),
			HaveField("Message", ContainSubstring("NetworkPolicy allow-all"))))
		Eventually(ceilingCondition(open.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonCeilingNotEnforced),
			HaveField("Message", ContainSubstring("NetworkPolicy allow-all"))))
		Eventually(events(open.Name)).Should(ContainElement(And(ContainSubstring("Warning CeilingNotEnforced"), ContainSubstring("allow-all"))))

		hand := handWritten(open.Name, "db-access")
		Eventually(ceilingCondition(open.Name)).Should(HaveField("Message", ContainSubstring("CiliumNetworkPolicy "+hand.Name)))
		Expect(k8s.Delete(ctx, hand)).To(Succeed())
		Eventually(ceilingCondition(open.Name)).ShouldNot(HaveField("Message", ContainSubstring(hand.Name)))
	})
})
