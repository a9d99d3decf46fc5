package controllers_test

import (
	"cmp"
	"encoding/json"
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// enableDefaultDeny is a policy's spec.enableDefaultDeny as stored, in JSON ("" when absent).
func enableDefaultDeny(get func() (*cilium.CiliumClusterwideNetworkPolicy, error)) func() string {
	return func() string {
		p, err := get()
		if err != nil || p == nil || p.Spec == nil {
			return "<no policy>"
		}
		if p.Spec.EnableDefaultDeny.Ingress == nil && p.Spec.EnableDefaultDeny.Egress == nil {
			return ""
		}
		b, _ := json.Marshal(p.Spec.EnableDefaultDeny)
		return string(b)
	}
}

const additiveJSON = `{"ingress":false,"egress":false}`

var _ = Describe("Default deny", func() {
	It("renders a Baseline with defaultDeny false as additive, and toggling it back restores default deny", func() {
		// A baseline of its own, scoped to a label no namespace carries, so the other specs' traffic is untouched.
		b := &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{Name: "additive-dns"}, Spec: v1alpha1.BaselineSpec{
			NamespaceSelector: map[string]string{"netprofile.example.com/additive-test": "true"},
			Egress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: "kube-system", MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				Ports: []v1alpha1.PortProtocol{{Port: 53, Protocol: v1alpha1.ProtocolUDP}}}},
		}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, b))).To(Succeed()) })
		Expect(b.Spec.DefaultDeny).To(HaveValue(BeTrue()), "the CRD defaults defaultDeny to true")
		name := ownership.BaselinePolicyName(b.Name)
		Eventually(enableDefaultDeny(getCCNP(name))).Should(BeEmpty(), "default: today's baseline, no enableDefaultDeny")
		Eventually(baselineReady(b.Name)).Should(And(Not(BeNil()), HaveField("Status", metav1.ConditionTrue)))

		// The Baseline's status and the policy are written by the manager meanwhile: read, change, write, retry
		// on a conflict.
		setDefaultDeny := func(v *bool) {
			Eventually(func() error {
				if err := k8s.Get(ctx, client.ObjectKeyFromObject(b), b); err != nil {
					return err
				}
				b.Spec.DefaultDeny = v
				return k8s.Update(ctx, b)
			}).Should(Succeed())
		}
		setPolicyDefaultDeny := func(v bool) {
			Eventually(func() error {
				p, err := getCCNP(name)()
				if err != nil || p == nil {
					return cmp.Or(err, errors.New("no baseline policy yet"))
				}
				p.Spec.EnableDefaultDeny.Ingress, p.Spec.EnableDefaultDeny.Egress = new(v), new(v)
				return k8s.Update(ctx, p)
			}).Should(Succeed())
		}
		setDefaultDeny(new(false))
		Eventually(enableDefaultDeny(getCCNP(name))).Should(Equal(additiveJSON))
		Eventually(baselineReady(b.Name)).Should(And(HaveField("Status", metav1.ConditionTrue), HaveField("ObservedGeneration", b.Generation)))

		// The ownership machinery holds the additive form too: an edit switching default deny back on is reverted.
		setPolicyDefaultDeny(true)
		Eventually(enableDefaultDeny(getCCNP(name))).Should(Equal(additiveJSON))

		setDefaultDeny(new(true))
		Eventually(enableDefaultDeny(getCCNP(name))).Should(BeEmpty())
		setDefaultDeny(new(false))
		Eventually(enableDefaultDeny(getCCNP(name))).Should(Equal(additiveJSON))
		setDefaultDeny(nil) // the API server defaults it to true again
		Eventually(enableDefaultDeny(getCCNP(name))).Should(BeEmpty())
		Expect(b.Spec.DefaultDeny).To(HaveValue(BeTrue()))

		// And an enableDefaultDeny someone adds to a default-deny baseline is removed.
		setPolicyDefaultDeny(false)
		Eventually(enableDefaultDeny(getCCNP(name))).Should(BeEmpty())
	})

	It("writes provider halves that only add access", func() {
		ensureNamespace("database")
		ns := newNamespace("dd-consumer", map[string]string{profileKey: "isolated", accessKey + "postgres": "true"})
		waitReady(ns.Name)
		Eventually(func() string {
			p, err := getCNP("database", ownership.ProviderPolicyName("postgres"))()
			if err != nil || p == nil {
				return "<no policy>"
			}
			b, _ := json.Marshal(p.Spec.EnableDefaultDeny)
			return string(b)
		}).Should(Equal(additiveJSON))
	})

	It("applies a policy for a profile that allows nothing at all, and keeps it stable", func() {
		p := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "allows-nothing"},
			Spec: v1alpha1.NetworkProfileSpec{Description: "nothing, not even the same namespace", AllowSameNamespace: new(false)}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, p))).To(Succeed()) })
		ns := newNamespace("allows-nothing", map[string]string{profileKey: "allows-nothing"})
		applied := waitReady(ns.Name)
		Expect(applied.Specs).To(ConsistOf(And(
			HaveField("Ingress", ConsistOf(BeZero())),
			HaveField("Egress", ConsistOf(BeZero())),
			HaveField("IngressDeny", BeEmpty()),
			HaveField("EgressDeny", BeEmpty()))))
		// `ingress: [{}]` survives the API server as is: no revert loop.
		Consistently(getCNP(ns.Name, nsPolicy)).Should(HaveField("ResourceVersion", applied.ResourceVersion))
		Expect(readyCondition(ns.Name)()).To(haveStatus(corev1.ConditionTrue, "PoliciesApplied"))
	})
})
