package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
)

// protectedLabel is the Namespace label key the suite's manager is told admission protects.
const protectedLabel = "platform.example.com/tenant"

var _ = Describe("A SharedResource whose spec.consumers keys on labels tenants may write", func() {
	trust := func(sr *v1alpha1.SharedResource) func() *metav1.Condition {
		return func() *metav1.Condition {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(sr), sr); err != nil {
				return nil
			}
			return apimeta.FindStatusCondition(sr.Status.Conditions, conditions.ConsumersTrusted)
		}
	}
	setConsumers := func(sr *v1alpha1.SharedResource, sel metav1.LabelSelector) {
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(sr), sr); err != nil {
				return err
			}
			sr.Spec.Consumers = &v1alpha1.Consumers{NamespaceSelector: sel}
			return k8s.Update(ctx, sr)
		}).Should(Succeed())
	}

	It("is warned about on its condition and in an Event, keeps its grants, and is trusted once it selects by name or a protected label", func() {
		sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: "forgeable"}, Spec: v1alpha1.SharedResourceSpec{
			Provider:  v1alpha1.Provider{Entity: v1alpha1.EntityKubeAPIServer},
			Ports:     []v1alpha1.PortProtocol{{Port: 6443, Protocol: v1alpha1.ProtocolTCP}},
			Consumers: &v1alpha1.Consumers{NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
		}}
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, sr))).To(Succeed()) })
		// A tenant that copies the label is admitted: the warning is the point.
		copier := newNamespace("copier", map[string]string{profileKey: "isolated", accessKey + "forgeable": "true", "team": "payments"})

		By("the condition and a Warning Event say which label a tenant can forge and what to select on")
		Eventually(trust(sr)).Should(And(Not(BeNil()), HaveField("Status", metav1.ConditionFalse),
			HaveField("Reason", conditions.ReasonTenantWritableLabels),
			HaveField("Message", And(ContainSubstring(`selects on label "team", which a namespace's own users may write`),
				ContainSubstring("kubernetes.io/metadata.name"), ContainSubstring("admission protects network-policy.homelab/platform, "+protectedLabel)))))
		Eventually(advEventsAbout("SharedResource", sr.Name)).Should(ContainElement(
			HavePrefix("Warning " + conditions.ReasonTenantWritableLabels + " spec.consumers of SharedResource forgeable")))

		By("a warning, not a refusal: the resource is Ready and the grant it admits stands")
		Eventually(readyOf(sr, func() []metav1.Condition { return sr.Status.Conditions })).Should(HaveField("Status", metav1.ConditionTrue))
		waitReady(copier.Name)
		Expect(grantRule(copier.Name, "forgeable")()).To(ContainSubstring(`"port":"6443"`))

		By("selecting by name, which the API server sets, is trusted")
		setConsumers(sr, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: corev1.LabelMetadataName, Operator: metav1.LabelSelectorOpIn, Values: []string{copier.Name}}}})
		Eventually(trust(sr)).Should(And(Not(BeNil()), HaveField("Status", metav1.ConditionTrue), HaveField("Reason", conditions.ReasonUnforgeableLabels)))
		Eventually(advEventsAbout("SharedResource", sr.Name)).Should(ContainElement(HavePrefix("Normal " + conditions.ReasonUnforgeableLabels)))
		waitReady(copier.Name)

		By("so is a label admission protects; and the protected keys are published for the plugin")
		setConsumers(sr, metav1.LabelSelector{MatchLabels: map[string]string{protectedLabel: "payments"}})
		Eventually(trust(sr)).Should(And(Not(BeNil()), HaveField("Reason", conditions.ReasonUnforgeableLabels),
			HaveField("Message", ContainSubstring(protectedLabel+"=payments"))))
		lc := &v1alpha1.LabelContract{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: contract.DefaultDomain}, lc)).To(Succeed())
		Expect(lc.ProtectedNamespaceLabels).To(Equal([]string{protectedLabel}))

		By("without spec.consumers there is nothing to trust")
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(sr), sr); err != nil {
				return err
			}
			sr.Spec.Consumers = nil
			return k8s.Update(ctx, sr)
		}).Should(Succeed())
		Eventually(trust(sr)).Should(BeNil())
	})
})
