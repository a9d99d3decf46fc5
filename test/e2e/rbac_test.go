package e2e

import (
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// The chart's RBAC is not merely sufficient by luck: take one needed permission (patch namespaces/status) out
// of the installed ClusterRole and the workflow breaks; put it back and it recovers. Run only this with
//
//	KUBEBUILDER_ASSETS=$(hack/tools.sh assets) go test ./test/e2e -ginkgo.focus 'without a needed rule' -ginkgo.v
var _ = Describe("The chart's RBAC without a needed rule", Ordered, func() {
	var full *unstructured.Unstructured

	BeforeAll(func() {
		for _, o := range installed {
			if o.GetKind() == "ClusterRole" && o.GetName() == release+"-manager" {
				full = o
			}
		}
		Expect(full).NotTo(BeNil())
		DeferCleanup(func() { kubectlApply([]*unstructured.Unstructured{full}) })
	})

	It("never reports on the Namespace without namespaces/status, and recovers when the rule is back", func() {
		role := &rbacv1.ClusterRole{}
		Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(full.Object, role)).To(Succeed())
		removed := 0
		for i := range role.Rules {
			n := len(role.Rules[i].Resources)
			role.Rules[i].Resources = slices.DeleteFunc(role.Rules[i].Resources, func(r string) bool { return r == "namespaces/status" })
			removed += n - len(role.Rules[i].Resources)
		}
		role.Rules = slices.DeleteFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return len(r.Resources) == 0 && len(r.NonResourceURLs) == 0 })
		Expect(removed).To(BeNumerically(">", 0), "the chart grants namespaces/status")
		broken, err := runtime.DefaultUnstructuredConverter.ToUnstructured(role)
		Expect(err).NotTo(HaveOccurred())
		kubectlApply([]*unstructured.Unstructured{{Object: broken}})

		m := startManager("rbac-removed")
		ns := createNamespace(appName("rbac"), map[string]string{profileKey: "standard"})
		// The policy is written (that rule is still there) but the condition can never be: forbidden, for real.
		waitPolicy(ns.Name, ownership.NamespacePolicyName)
		Eventually(m.logContains(`User "`+serviceAccount+`" cannot patch resource "namespaces/status"`)).Should(BeTrue(), m.log.String)
		Consistently(condition(ns.Name, conditions.Ready)).Should(BeNil())

		By("restoring the chart's ClusterRole")
		kubectlApply([]*unstructured.Unstructured{full})
		// A label edit re-queues at once instead of waiting out the error backoff.
		setLabels(ns.Name, map[string]string{"e2e/touch": time.Now().Format("150405")})
		Eventually(condition(ns.Name, conditions.Ready)).Should(HaveField("Reason", conditions.ReasonPoliciesApplied))
		m.stop()
	})
})
