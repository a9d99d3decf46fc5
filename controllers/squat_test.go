package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// A namespace the catalogue names is trusted by the platform's mark, not by its name: whoever creates a
// namespace of that name first (a tenant squatting garage with a fake S3) gets nothing by it.
var _ = Describe("A squatted catalogue namespace", func() {
	platformKey := contract.Default().PlatformKey()

	It("gets no provider half until the platform marks it, and loses it when the mark goes", func() {
		squatted := newNamespace("s3", nil)
		sr := advResource("s3-"+rand.String(5), squatted.Name, 3900)
		half := ownership.ProviderPolicyName(sr.Name)
		Eventually(advResourceReady(sr.Name)).Should(And(advHaveReady(metav1.ConditionFalse, conditions.ReasonProviderNamespaceNotMarked),
			HaveField("Message", ContainSubstring("kubectl label namespace "+squatted.Name+" "+platformKey+"=true"))))
		Consistently(cnpGone(squatted.Name, half)).Should(BeTrue())

		By("the platform marks it")
		setLabels(squatted.Name, platformMark)
		Eventually(advResourceReady(sr.Name)).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonProviderApplied))
		Eventually(cnpGone(squatted.Name, half)).Should(BeFalse())

		By("the mark is removed")
		setLabels(squatted.Name, nil, platformKey)
		Eventually(advResourceReady(sr.Name)).Should(advHaveReady(metav1.ConditionFalse, conditions.ReasonProviderNamespaceNotMarked))
		Eventually(cnpGone(squatted.Name, half)).Should(BeTrue(), "no provider half stays in a namespace the platform no longer vouches for")
	})

	It("makes a profile whose peers name it say so, until it is marked", func() {
		gateways := "gw-" + rand.String(6)
		p := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "via-" + gateways},
			Spec: v1alpha1.NetworkProfileSpec{Ingress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: gateways}, AnyPort: true}}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		DeferCleanup(k8s.Delete, ctx, p)
		got := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: p.Name}}
		ready := readyOf(got, func() []metav1.Condition { return got.Status.Conditions })
		// Missing, nothing there to trust yet.
		Eventually(ready).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonValid))

		By("someone creates it without the mark")
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gateways}})).To(Succeed())
		Eventually(ready).Should(And(advHaveReady(metav1.ConditionFalse, conditions.ReasonNamespacesNotMarked),
			HaveField("Message", ContainSubstring("its peers in "+gateways+" select nothing"))))

		setLabels(gateways, platformMark)
		Eventually(ready).Should(advHaveReady(metav1.ConditionTrue, conditions.ReasonValid))
	})
})
