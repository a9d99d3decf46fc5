package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

// What README.md's "Install with Helm" promises, checked with the real helm install, upgrade and uninstall on
// a control plane of its own (helm must own every object it installs, so it cannot share the kubectl-applied
// installation the other specs use).
var _ = Describe("helm install, upgrade and uninstall", Ordered, func() {
	var (
		e2 *testenv.Env
		c  client.Client
	)
	helm := func(args ...string) string {
		GinkgoHelper()
		bin, err := testenv.Helm()
		Expect(err).NotTo(HaveOccurred())
		out, err := exec.Command(bin, append(args, "--kubeconfig", e2.Kubeconfig)...).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), "helm %s:\n%s", strings.Join(args, " "), out)
		return string(out)
	}
	// The Prometheus Operator is not installed here: auto leaves its objects out.
	autoMonitoring := []string{"--set", "prometheusRule.enabled=auto", "--set", "serviceMonitor.enabled=auto"}
	deploymentArgs := func() []string {
		GinkgoHelper()
		d := &appsv1.Deployment{}
		Expect(c.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: release}, d)).To(Succeed())
		return d.Spec.Template.Spec.Containers[0].Args
	}

	BeforeAll(func() {
		var err error
		e2, err = testenv.Start(testenv.Options{ControllerManager: true, SkipNetprofileCRDs: true})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(func() { Expect(e2.Stop()).To(Succeed()) })
		scheme, err := controllers.NewScheme()
		Expect(err).NotTo(HaveOccurred())
		c, err = client.New(e2.Config, client.Options{Scheme: scheme})
		Expect(err).NotTo(HaveOccurred())
	})

	It("refuses the default values on a cluster without the Prometheus Operator, naming the missing kind", func() {
		// The defaults render the PrometheusRule and the ServiceMonitor whatever the API list says (so offline
		// renders keep them); here the apply fails, loudly, before Helm records a release.
		bin, err := testenv.Helm()
		Expect(err).NotTo(HaveOccurred())
		out, err := exec.Command(bin, "install", release, chartDir, "--namespace", releaseNamespace, "--create-namespace",
			"--kubeconfig", e2.Kubeconfig).CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(string(out)).To(And(ContainSubstring(`no matches for kind "PrometheusRule"`), ContainSubstring("ensure CRDs are installed first")))
		Expect(helm("list", "--all", "--namespace", releaseNamespace, "--short")).To(BeEmpty())
	})

	It("installs: CRDs, catalogue, RBAC and the manager's own policy, from the cluster's real capabilities", func() {
		out := helm(append([]string{"install", release, chartDir, "--namespace", releaseNamespace, "--create-namespace"}, autoMonitoring...)...)
		// Cilium's API is there (own policy installed); the Prometheus Operator's is not: auto skips its objects
		// and the notes say so.
		Expect(out).To(ContainSubstring("the PrometheusRule was not installed"))
		Expect(out).To(ContainSubstring("the ServiceMonitor was not installed"))
		Expect(out).To(ContainSubstring("helm test " + release + " --namespace " + releaseNamespace))
		Expect(c.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: release}, &cilium.CiliumNetworkPolicy{})).To(Succeed())
		baselines := &v1alpha1.BaselineList{}
		Expect(c.List(ctx, baselines)).To(Succeed())
		Expect(baselines.Items).To(HaveLen(4))
	})

	It("upgrades: changed values reach the Deployment", func() {
		Expect(deploymentArgs()).To(ContainElement("--enforcement-warning-after=300s"))
		helm("upgrade", release, chartDir, "--namespace", releaseNamespace, "--reuse-values", "--set", "enforcement.warningAfter=10m")
		Expect(deploymentArgs()).To(ContainElement("--enforcement-warning-after=600s"))
	})

	It("uninstalls: the catalogue and the baselines' policies go; namespace policies and the CRDs stay", func() {
		m := startManagerIn(e2, deploymentArgs(), "lifecycle")
		Expect(c.Create(ctx, testenv.PlatformNamespace("database"))).To(Succeed())
		Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})).To(Succeed())
		Expect(c.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{profileKey: "standard", accessKey + "postgres": "true"}}},
			client.Merge)).To(Succeed())
		policy := func(ns, name string) func() error {
			return func() error {
				return c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cilium.CiliumNetworkPolicy{})
			}
		}
		baseline := func() error {
			return c.Get(ctx, client.ObjectKey{Name: ownership.BaselinePolicyName("dns")}, &cilium.CiliumClusterwideNetworkPolicy{})
		}
		Eventually(policy("shop", ownership.NamespacePolicyName)).Should(Succeed())
		Eventually(policy("database", ownership.ProviderPolicyName("postgres"))).Should(Succeed())
		Eventually(baseline).Should(Succeed())
		// The pods stop first in a real uninstall too; stopping here first makes the outcome deterministic.
		m.stop()

		helm("uninstall", release, "--namespace", releaseNamespace)
		gone := apierrors.IsNotFound
		// Baselines own their CiliumClusterwideNetworkPolicies: the garbage collector deletes them.
		Eventually(baseline).WithTimeout(60 * time.Second).Should(Satisfy(gone))
		profiles := &v1alpha1.NetworkProfileList{}
		Expect(c.List(ctx, profiles)).To(Succeed())
		Expect(profiles.Items).To(BeEmpty())
		// Namespaces own their policies, so those outlive netprofile (without the DNS baseline!).
		Consistently(policy("shop", ownership.NamespacePolicyName)).WithTimeout(2 * time.Second).Should(Succeed())
		Expect(policy("database", ownership.ProviderPolicyName("postgres"))()).To(Succeed())
		// helm never deletes what crds/ installed.
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
		for _, name := range []string{"networkprofiles", "sharedresources", "baselines"} {
			Expect(c.Get(ctx, client.ObjectKey{Name: name + ".network-policy.homelab"}, crd)).To(Succeed())
		}
	})

	It("keeps the catalogue on uninstall when asked (catalogue.keepOnUninstall)", func() {
		helm(append([]string{"install", release, chartDir, "--namespace", releaseNamespace, "--set", "catalogue.keepOnUninstall=true"}, autoMonitoring...)...)
		helm("uninstall", release, "--namespace", releaseNamespace)
		baselines := &v1alpha1.BaselineList{}
		Expect(c.List(ctx, baselines)).To(Succeed())
		Expect(baselines.Items).To(HaveLen(4))
	})

	It("installs, upgrades and keeps the CRDs with the release when asked (crds.enabled)", func() {
		crd := func() *unstructured.Unstructured {
			GinkgoHelper()
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
			Expect(c.Get(ctx, client.ObjectKey{Name: "baselines.network-policy.homelab"}, u)).To(Succeed())
			return u
		}
		By("a release that began with crds/")
		helm(append([]string{"install", release, chartDir, "--namespace", releaseNamespace}, autoMonitoring...)...)

		By("the CRDs crds/ installed are not the release's: Helm refuses to take them silently")
		bin, err := testenv.Helm()
		Expect(err).NotTo(HaveOccurred())
		out, err := exec.Command(bin, "upgrade", release, chartDir, "--namespace", releaseNamespace, "--reuse-values",
			"--set", "crds.enabled=true", "--kubeconfig", e2.Kubeconfig).CombinedOutput()
		Expect(err).To(HaveOccurred())
		Expect(string(out)).To(And(ContainSubstring("CustomResourceDefinition"), ContainSubstring("invalid ownership metadata")))

		By("README's command takes them over")
		out2 := helm("upgrade", "--install", release, chartDir, "--namespace", releaseNamespace, "--reuse-values",
			"--skip-crds", "--take-ownership", "--set", "crds.enabled=true")
		Expect(out2).To(ContainSubstring("The CRDs are part of the release"))
		Expect(crd().GetAnnotations()).To(And(HaveKeyWithValue("meta.helm.sh/release-name", release), HaveKeyWithValue("helm.sh/resource-policy", "keep")))

		By("helm upgrade upgrades them: a chart whose CRD changed")
		newer := filepath.Join(GinkgoT().TempDir(), "netprofile")
		Expect(os.CopyFS(newer, os.DirFS(chartDir))).To(Succeed())
		file := filepath.Join(newer, "crds", "network-policy.homelab_baselines.yaml")
		b, err := os.ReadFile(file)
		Expect(err).NotTo(HaveOccurred())
		description := func(u *unstructured.Unstructured) string {
			versions, _, _ := unstructured.NestedSlice(u.Object, "spec", "versions")
			Expect(versions).NotTo(BeEmpty())
			d, _, _ := unstructured.NestedString(versions[0].(map[string]any), "schema", "openAPIV3Schema", "description")
			return d
		}
		changed := decodeAll(b)[0]
		upgraded := description(changed) + " (upgraded)"
		versions, _, _ := unstructured.NestedSlice(changed.Object, "spec", "versions")
		Expect(unstructured.SetNestedField(versions[0].(map[string]any), upgraded, "schema", "openAPIV3Schema", "description")).To(Succeed())
		Expect(unstructured.SetNestedSlice(changed.Object, versions, "spec", "versions")).To(Succeed())
		Expect(os.WriteFile(file, manifest([]*unstructured.Unstructured{changed}), 0o600)).To(Succeed())
		helm("upgrade", release, newer, "--namespace", releaseNamespace, "--reuse-values")
		Expect(description(crd())).To(Equal(upgraded))

		By("helm uninstall keeps them (crds.keep)")
		helm("uninstall", release, "--namespace", releaseNamespace)
		Expect(crd().GetDeletionTimestamp()).To(BeNil())
	})
})
