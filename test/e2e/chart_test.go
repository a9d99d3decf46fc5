package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// prometheusOperatorVersion pins the Prometheus Operator whose CRDs (ServiceMonitor, PrometheusRule) the
// all-features render is validated against. The module proxy serves the repository's module zip, which carries
// the CRDs in example/prometheus-operator-crd; v0.85.0 is the newest version the proxy holds here.
const prometheusOperatorVersion = "v0.85.0"

// Both renders must be accepted by a real API server: schema, CEL rules and all. --dry-run=server runs every
// admission step without persisting anything. The helm test hook is left out (--skip-tests): its Pod needs its
// ServiceAccount to exist, which a dry run never creates; anywhere_test.go applies the hook for real.
var _ = Describe("The chart against the API server", func() {
	dryRun := func(release, namespace string, args ...string) []*unstructured.Unstructured {
		GinkgoHelper()
		if !namespaceExists(namespace) {
			createNamespace(namespace, nil)
		}
		objs := helmTemplate(release, namespace, append([]string{"--skip-tests"}, args...)...)
		out := kubectlApply(objs, "--dry-run=server")
		Expect(strings.Count(out, "serverside-applied (server dry run)")).To(Equal(len(objs)), out)
		return objs
	}

	It("accepts the default render, made offline: without --api-versions", func() {
		// The defaults render the ServiceMonitor and the PrometheusRule whatever the API list says.
		installPrometheusOperatorCRDs()
		objs := dryRun("dryrun", "netprofile-dryrun", "--include-crds")
		Expect(kindsOf(objs)).To(ContainElements("CiliumNetworkPolicy", "ServiceMonitor", "PrometheusRule", "CustomResourceDefinition"))
	})

	It("accepts the render with every optional feature on", func() {
		installPrometheusOperatorCRDs()
		// crds.enabled: the CRDs come from the templates, so crds/ is not included (helm install --skip-crds).
		objs := dryRun("allfeatures", "netprofile-allfeatures",
			"-f", filepath.Join(chartDir, "ci", "all-features-values.yaml"),
			"--api-versions", "cilium.io/v2/CiliumNetworkPolicy",
			"--api-versions", "monitoring.coreos.com/v1/PrometheusRule",
			"--api-versions", "monitoring.coreos.com/v1/ServiceMonitor")
		crds, _ := splitCRDs(objs)
		Expect(crds).To(HaveLen(4))
		for _, crd := range crds {
			Expect(crd.GetAnnotations()).NotTo(HaveKey("helm.sh/resource-policy"), "crds.keep=false in the all-features values")
		}
	})
})

func kindsOf(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind())
	}
	return out
}

func namespaceExists(name string) bool {
	_, err := kubectlStdin(nil, "get", "namespace", name)
	return err == nil
}

// installPrometheusOperatorCRDs installs the ServiceMonitor and PrometheusRule CRDs of the pinned Prometheus
// Operator, taken from its module through the Go module proxy (cached in GOMODCACHE after the first run).
func installPrometheusOperatorCRDs() {
	GinkgoHelper()
	dir, err := os.MkdirTemp(workDir, "promop-")
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command("go", "mod", "download", "-json", "github.com/prometheus-operator/prometheus-operator@"+prometheusOperatorVersion)
	cmd.Dir = dir // outside any module, so netprofile's go.mod is not involved
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "go mod download: %s", out)
	var mod struct{ Dir, Error string }
	Expect(jsonUnmarshal(out, &mod)).To(Succeed())
	Expect(mod.Error).To(BeEmpty())
	var crds []*unstructured.Unstructured
	for _, kind := range []string{"servicemonitors", "prometheusrules"} {
		b, err := os.ReadFile(filepath.Join(mod.Dir, "example", "prometheus-operator-crd", "monitoring.coreos.com_"+kind+".yaml"))
		Expect(err).NotTo(HaveOccurred())
		crds = append(crds, decodeAll(b)...)
	}
	kubectlApply(crds)
	kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd/servicemonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com")
}
