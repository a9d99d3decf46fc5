package controllers_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/conditions"
)

var _ = Describe("A platform's narrowing", func() {
	It("applies to a namespace that holds a refused label; the refused label keeps only its own part", func() {
		// A profile of its own, so the incident below touches no other spec.
		web := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "web-" + rand.String(5)},
			Spec: v1alpha1.NetworkProfileSpec{
				Ceiling: v1alpha1.CeilingEnforce,
				Egress: []v1alpha1.Rule{{Description: "HTTPS to the internet", Entities: []v1alpha1.Entity{"world"},
					Ports: []v1alpha1.PortProtocol{{Port: 443, Protocol: "TCP"}}}},
			}}
		Expect(k8s.Create(ctx, web)).To(Succeed())
		DeferCleanup(k8s.Delete, ctx, web)
		ensureNamespace("database") // the provider: a grant is in effect only with its provider half
		ns := newNamespace("narrow", map[string]string{profileKey: web.Name, accessKey + "postgres": "true"})
		worldEgress := func() bool {
			p, err := getCNP(ns.Name, nsPolicy)()
			return err == nil && strings.Contains(specsJSON(p), `"world"`)
		}
		waitReady(ns.Name)
		Expect(worldEgress()).To(BeTrue())

		By("a bad value on the grant: refused, the grant keeps what stood")
		setLabels(ns.Name, map[string]string{accessKey + "postgres": "yes"})
		Eventually(readyCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel))

		By("the platform withdraws HTTPS to the internet during an incident")
		Eventually(func() error {
			p := &v1alpha1.NetworkProfile{}
			if err := k8s.Get(ctx, client.ObjectKeyFromObject(web), p); err != nil {
				return err
			}
			p.Spec.Egress = nil
			return k8s.Update(ctx, p)
		}).Should(Succeed())
		Eventually(worldEgress).Should(BeFalse(), "the narrowed profile applies while the bad label stands")
		Eventually(getCNP(ns.Name, nsPolicy)).Should(HaveField("Specs", ContainElement(HaveField("Description", ContainSubstring("access to postgres")))),
			"the refused label keeps its grant")
		Expect(readyCondition(ns.Name)()).To(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel), "still reported")
	})
})
