package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/check"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// reachesProvider asks Cilium's policy engine whether a pod of ns reaches the provider's pods on port, with
// the policies and namespace labels as they are in the API server: ns's generated policy, the provider half,
// and the baselines, whose default deny keeps out of the provider what the (additive) provider half does not
// admit.
func reachesProvider(ns, providerNS, providerPod, port string) func(Gomega) *check.Result {
	return func(g Gomega) *check.Result {
		var pols check.Policies
		pols.NamespaceLabels = map[string]map[string]string{}
		for _, name := range []string{ns, providerNS} {
			live := &corev1.Namespace{}
			g.Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, live)).To(Succeed())
			pols.NamespaceLabels[name] = live.Labels
		}
		for _, key := range []client.ObjectKey{{Namespace: ns, Name: nsPolicy}, {Namespace: providerNS, Name: ownership.ProviderPolicyName("ledger")}} {
			p, err := getCNP(key.Namespace, key.Name)()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(p).NotTo(BeNil(), key.String())
			c, err := compat.CNP(p)
			g.Expect(err).NotTo(HaveOccurred())
			pols.CNPs = append(pols.CNPs, c)
		}
		baselines := &cilium.CiliumClusterwideNetworkPolicyList{}
		g.Expect(k8s.List(ctx, baselines, client.MatchingLabels{ownership.ComponentLabel: ownership.ComponentBaseline})).To(Succeed())
		for i := range baselines.Items {
			c, err := compat.CCNP(&baselines.Items[i])
			g.Expect(err).NotTo(HaveOccurred())
			pols.CCNPs = append(pols.CCNPs, c)
		}
		e, err := check.New(pols)
		g.Expect(err).NotTo(HaveOccurred())
		from, err := check.ParseEndpoint(ns + "/app=api")
		g.Expect(err).NotTo(HaveOccurred())
		to, err := check.ParseEndpoint(providerNS + "/" + providerPod)
		g.Expect(err).NotTo(HaveOccurred())
		p, err := check.ParsePort(port)
		g.Expect(err).NotTo(HaveOccurred())
		res, err := e.Check(from, to, p)
		g.Expect(err).NotTo(HaveOccurred())
		return res
	}
}

var _ = Describe("SharedResource consumers", func() {
	It("admits only the namespaces spec.consumers selects, on both halves, and follows relabels and a narrowed selector", func() {
		ensureNamespace("ledger")
		sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: "ledger"}, Spec: v1alpha1.SharedResourceSpec{
			Provider:  v1alpha1.Provider{Namespace: "ledger", PodSelector: map[string]string{"app": "ledger"}},
			Ports:     []v1alpha1.PortProtocol{{Port: 5432, Protocol: v1alpha1.ProtocolTCP}},
			Consumers: &v1alpha1.Consumers{NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}},
		}}
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		inside := newNamespace("inside", map[string]string{profileKey: "isolated", accessKey + "ledger": "true", "team": "payments"})
		outside := newNamespace("outside", map[string]string{profileKey: "isolated", accessKey + "ledger": "true", "team": "web"})

		By("the namespace inside gets the grant")
		waitReady(inside.Name)
		Expect(grantRule(inside.Name, "ledger")()).To(ContainSubstring(`"port":"5432"`))

		By("the namespace outside is refused, in words, with an Event, and gets no egress")
		Eventually(readyCondition(outside.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonConsumerNotAllowed),
			HaveField("Message", And(ContainSubstring("SharedResource ledger"), ContainSubstring("namespaces matching team=payments"),
				ContainSubstring("ask the platform team"), ContainSubstring("remove the label "+accessKey+"ledger"),
				ContainSubstring(`the other labels are in effect: profile "isolated"`)))))
		Eventually(events(outside.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonConsumerNotAllowed)))
		Eventually(getCNP(outside.Name, nsPolicy)).ShouldNot(BeNil())
		Consistently(grantRule(outside.Name, "ledger")).Should(BeEmpty())

		By("the provider half lets in only the namespace inside")
		provider := ownership.ProviderPolicyName("ledger")
		Eventually(getCNP("ledger", provider)).Should(HaveField("Spec.Ingress", ConsistOf(HaveField("FromEndpoints", ConsistOf(
			HaveField("LabelSelector.MatchLabels", HaveKeyWithValue("io.cilium.k8s.namespace.labels.team", "payments")))))))
		Eventually(reachesProvider(inside.Name, "ledger", "app=ledger", "5432/TCP")).Should(HaveField("Allowed", BeTrue()))
		Expect(reachesProvider(outside.Name, "ledger", "app=ledger", "5432/TCP")(Default)).To(And(
			HaveField("Allowed", BeFalse()), HaveField("Ingress.Allowed", BeFalse())))

		By("the SharedResource lists the namespace outside")
		Eventually(resourceStatus("ledger")).Should(And(HaveField("Consumers", int32(1)), HaveField("RefusedConsumerCount", int32(1)),
			HaveField("RefusedConsumers", ConsistOf(outside.Name)),
			HaveField("Conditions", ContainElement(And(HaveField("Type", "Ready"), HaveField("Status", metav1.ConditionTrue),
				HaveField("Message", ContainSubstring(outside.Name)))))))

		By("relabelled into the selector, the refusal heals and the status clears")
		setLabels(outside.Name, map[string]string{"team": "payments"})
		waitReady(outside.Name)
		Expect(grantRule(outside.Name, "ledger")()).NotTo(BeEmpty())
		Eventually(resourceStatus("ledger")).Should(And(HaveField("Consumers", int32(2)), HaveField("RefusedConsumerCount", int32(0)),
			HaveField("RefusedConsumers", BeEmpty())))
		Eventually(reachesProvider(outside.Name, "ledger", "app=ledger", "5432/TCP")).Should(HaveField("Allowed", BeTrue()))

		By("a narrowed selector withdraws the grant that stood: the provider's owner decides")
		// The manager writes the status meanwhile: read, change, write, retry on a conflict.
		Eventually(func() error {
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(sr), sr); err != nil {
				return err
			}
			sr.Spec.Consumers.NamespaceSelector.MatchExpressions = []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"gold"}}}
			return k8s.Update(ctx, sr)
		}).Should(Succeed())
		for _, ns := range []string{inside.Name, outside.Name} {
			Eventually(readyCondition(ns)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonConsumerNotAllowed))
			Eventually(grantRule(ns, "ledger")).Should(BeEmpty())
			Eventually(reachesProvider(ns, "ledger", "app=ledger", "5432/TCP")).Should(And(HaveField("Allowed", BeFalse()), HaveField("Ingress.Allowed", BeFalse())))
		}
		Eventually(resourceStatus("ledger")).Should(And(HaveField("Consumers", int32(0)), HaveField("RefusedConsumerCount", int32(2)),
			HaveField("RefusedConsumers", ConsistOf(inside.Name, outside.Name))))
	})
})
