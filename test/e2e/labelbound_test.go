package e2e

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The label policies judge a label change of a namespace with at most admission.maxNamespaceLabels (the
// chart's 1000) labels, and skip requests that leave the labels alone: thousands of labels cannot make
// every Namespace update slow, and cannot carry an unjudged label past admission either.
var _ = Describe("Namespaces with many labels", Ordered, func() {
	const tenant = "tenant-many"
	var asTenant client.Client
	many := func(n int) map[string]string {
		labels := map[string]string{}
		for i := range n {
			labels[fmt.Sprintf("example.com/l-%04d", i)] = "x"
		}
		return labels
	}

	BeforeAll(func() {
		bindClusterRole("tenant-namespaces-many", []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"},
		}}, tenant)
		asTenant = impersonate(tenant)
		Eventually(probe(asTenant, map[string]string{profileKey: "no-such-profile"})).Should(MatchError(ContainSubstring("does not exist")))
	})

	It("refuses a label change beyond the bound, whatever the label, and lets anything else through", func() {
		By("a namespace created beyond the bound")
		// kube-apiserver adds kubernetes.io/metadata.name: 1000 of ours make 1001.
		err := asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("many"), Labels: many(1000)}})
		Expect(err).To(MatchError(ContainSubstring("would have 1001 labels: netprofile judges the labels of namespaces with at most 1000")))
		Expect(err).To(MatchError(ContainSubstring("remove the labels this namespace does not need")))

		By("at the bound, labels are judged as always")
		labels := many(998)
		labels[profileKey] = "standard"
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("many"), Labels: labels}}
		Expect(asTenant.Create(ctx, ns)).To(Succeed())
		Expect(patchLabels(asTenant, ns.Name, map[string]string{profileKey: "Gold"})).To(MatchError(ContainSubstring("NetworkProfile names are lower case")))

		By("one more label is refused, a netprofile label or not")
		for _, extra := range []map[string]string{{"team": "a"}, {accessKey + "postgres": "true"}} {
			Expect(patchLabels(asTenant, ns.Name, extra)).To(MatchError(ContainSubstring("would have 1001 labels")), "%v", extra)
		}

		By("what leaves the labels alone, or only removes some, passes")
		Expect(patchAnnotations(asTenant, ns.Name, map[string]string{"example.com/note": "n"})).To(Succeed())
		Expect(patchLabels(asTenant, ns.Name, nil, "example.com/l-0000")).To(Succeed())
		Expect(patchLabels(asTenant, ns.Name, map[string]string{"team": "a"})).To(Succeed(), "back at the bound")
		got := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, got)).To(Succeed())
		Expect(got.Labels).To(HaveLen(1000))
		Expect(strings.Join([]string{got.Labels["team"], got.Labels[profileKey]}, ",")).To(Equal("a,standard"))
	})

	It("keeps a namespace that got beyond the bound before it editable, and its labels closed", func() {
		By("labelled while the policy only warned")
		name := appName("legacy-many")
		setActions(release+"-namespace-labels", "Warn", "Audit")
		Eventually(func() error {
			return asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: many(1500)}})
		}).Should(Succeed())
		setActions(release+"-namespace-labels", "Deny")
		Eventually(func() error {
			return asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("probe"), Labels: many(1500)}}, client.DryRunAll)
		}).Should(MatchError(ContainSubstring("labels: netprofile judges")))

		Expect(patchAnnotations(asTenant, name, map[string]string{"example.com/note": "n"})).To(Succeed(), "the labels are left alone")
		Expect(patchLabels(asTenant, name, map[string]string{profileKey: "standard"})).To(MatchError(ContainSubstring("would have 1502 labels")))
		Expect(patchLabels(asTenant, name, map[string]string{"example.com/l-0001": "changed"})).To(MatchError(ContainSubstring("would have 1501 labels")),
			"changing a value is no removal")
		Expect(patchLabels(asTenant, name, nil, "example.com/l-0000", "example.com/l-0002")).To(Succeed(), "removing is the way back")
	})
})
