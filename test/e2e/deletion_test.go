package e2e

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/metrics"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Deleting a namespace deletes netprofile's policies in it: the generated-policies admission policy admits the
// users kube-controller-manager's namespace controller and garbage collector run as, and when a cluster's are
// not in admission.systemDeleters, the namespace that hangs in Terminating says so, and which user to add.
var _ = Describe("Namespace deletion through netprofile's admission", Ordered, ContinueOnFailure, func() {
	var m *manager

	BeforeAll(func() {
		if err := k8s.Get(ctx, client.ObjectKey{Name: "monitoring"}, &corev1.Namespace{}); apierrors.IsNotFound(err) {
			createPlatformNamespace("monitoring") // where the e2e values' Prometheus ServiceAccount lives
		}
		m = startManager("deletion")
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				AddReportEntry("manager log", m.log.String())
			}
			m.stop()
		})
	})

	It("admits the users kube-controller-manager deletes as, with or without --use-service-account-credentials", func() {
		ns := createNamespace(appName("deleters"), map[string]string{profileKey: "standard"})
		p := waitPolicy(ns.Name, ownership.NamespacePolicyName)
		// Whatever RBAC a distribution gives them; admission is what is tried here.
		deleters := []string{"system:serviceaccount:kube-system:namespace-controller", "system:serviceaccount:kube-system:generic-garbage-collector",
			"system:kube-controller-manager"}
		other := "system:serviceaccount:kube-system:other-controller"
		bindClusterRole("delete-cilium-policies", []rbacv1.PolicyRule{{APIGroups: []string{"cilium.io"},
			Resources: []string{"ciliumnetworkpolicies"}, Verbs: []string{"delete"}}}, append(deleters, other)...)
		// Refused to another user of kube-system: the policy (and the binding) are in force.
		Eventually(func() error { return impersonate(other).Delete(ctx, p.DeepCopy(), client.DryRunAll) }).
			Should(MatchError(ContainSubstring(other + " may not delete CiliumNetworkPolicy " + ns.Name + "/" + ownership.NamespacePolicyName)))
		for _, user := range deleters {
			Eventually(func() error { return impersonate(user).Delete(ctx, p.DeepCopy(), client.DryRunAll) }).Should(Succeed(), user)
		}
	})

	It("reports a namespace whose policies the namespace controller may not delete, until the list has its user", func() {
		By("admission.systemDeleters without the users this cluster's namespace controller runs as")
		narrow := helmTemplate(release, releaseNamespace, "-f", "testdata/values.yaml", "--show-only", "templates/admission-generated-policies.yaml",
			"--set", "admission.systemDeleters={system:kube-controller-manager}")
		kubectlApply(narrow)
		restore := helmTemplate(release, releaseNamespace, "-f", "testdata/values.yaml", "--show-only", "templates/admission-generated-policies.yaml")
		DeferCleanup(func() { kubectlApply(restore) })
		probeNS := createNamespace(appName("deletion-probe"), map[string]string{profileKey: "standard"})
		probePolicy := waitPolicy(probeNS.Name, ownership.NamespacePolicyName)
		Eventually(func() error {
			return impersonate("system:serviceaccount:kube-system:namespace-controller").Delete(ctx, probePolicy.DeepCopy(), client.DryRunAll)
		}).Should(MatchError(ContainSubstring("may not delete")), "the narrowed policy is in force")

		ns := createNamespace(appName("stuck"), map[string]string{profileKey: "standard"})
		waitPolicy(ns.Name, ownership.NamespacePolicyName)
		Expect(k8s.Delete(ctx, ns)).To(Succeed())

		By("the Namespace says why it hangs, and which user to add")
		Eventually(condition(ns.Name, conditions.DeletionBlocked)).WithTimeout(time.Minute).Should(And(
			HaveField("Status", corev1.ConditionTrue), HaveField("Reason", conditions.ReasonPoliciesNotDeletable),
			HaveField("Message", MatchRegexp(`may not delete CiliumNetworkPolicy .*`+ownership.NamespacePolicyName)),
			HaveField("Message", ContainSubstring("add system:serviceaccount:kube-system:namespace-controller to the chart's admission.systemDeleters"))),
			func() string { return "kube-controller-manager:\n" + env.ControllerManagerLog() })
		Consistently(func() error { return k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, &corev1.Namespace{}) }).
			WithTimeout(2*time.Second).Should(Succeed(), "it hangs in Terminating")

		By("a Warning Event, recorded in default since the namespace is terminating")
		Eventually(func() []string {
			list := &eventsv1.EventList{}
			if err := k8s.List(ctx, list, client.InNamespace("default")); err != nil {
				return nil
			}
			var out []string
			for _, e := range list.Items {
				if e.Regarding.Kind == "Namespace" && e.Regarding.Name == ns.Name {
					out = append(out, e.Type+" "+e.Reason+" "+e.Note)
				}
			}
			return out
		}).Should(ContainElement(And(HavePrefix("Warning "+conditions.ReasonPoliciesNotDeletable), ContainSubstring("admission.systemDeleters"))))

		By("and the since-gauge of terminating namespaces held up")
		bearer := prometheusToken()
		Eventually(func() (string, error) { return scrape(m, bearer) }).Should(
			MatchRegexp(`(?m)^` + metrics.DeletionBlockedSinceName + `\{namespace="` + ns.Name + `"\} [0-9.e+]+$`))

		By("with the chart's list, the namespace controller finishes, and nothing of it is left")
		kubectlApply(restore)
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, &corev1.Namespace{}))
		}).WithTimeout(3*time.Minute).Should(BeTrue(), func() string { return "kube-controller-manager:\n" + env.ControllerManagerLog() })
		Eventually(func() (string, error) { return scrape(m, bearer) }).ShouldNot(ContainSubstring(`namespace="` + ns.Name + `"`))
		list := &cilium.CiliumNetworkPolicyList{}
		Expect(k8s.List(ctx, list, client.InNamespace(ns.Name))).To(Succeed())
		Expect(list.Items).To(BeEmpty())
	})
})
