package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/test/testenv"
)

// templateOutput is helm template's raw output, for comparing whole renders.
func templateOutput(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := helmTemplate(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Rendered offline, the chart is the chart a cluster gets: with the default values the API list changes
// nothing, so kustomize helmCharts or a CI render never lose the manager's API server egress or the alerts.
func TestOfflineRenderIsTheClusterRender(t *testing.T) {
	offline := templateOutput(t)
	if online := templateOutput(t, allAPIs...); !bytes.Equal(offline, online) {
		t.Error("the default render differs with and without --api-versions: some object still depends on .Capabilities")
	}
	objs := decode(t, offline)
	cnp := find(objs, "CiliumNetworkPolicy", release)
	if cnp == nil {
		t.Fatal("offline render lacks the manager's CiliumNetworkPolicy: once the Baselines select every pod the manager is cut off")
	}
	egress, _, _ := unstructured.NestedSlice(cnp.Object, "spec", "egress")
	if len(egress) == 0 || !reflect.DeepEqual(egress[0].(map[string]any)["toEntities"], []any{"kube-apiserver"}) {
		t.Errorf("manager policy egress %v, want the API server first", egress)
	}
	if find(objs, "PrometheusRule", release) == nil || find(objs, "ServiceMonitor", release) == nil {
		t.Error("offline render lacks the PrometheusRule or the ServiceMonitor")
	}
}

// A value the schema does not know is refused, and "auto" is the only string.
func TestOptionalValuesAreTriStateOnly(t *testing.T) {
	for _, set := range []string{"prometheusRule.enabled=yes", "serviceMonitor.enabled=Auto"} {
		if _, err := render(t, "--set", set); err == nil || !strings.Contains(err.Error(), "enabled") {
			t.Errorf("--set %s: err = %v, want the schema to refuse it", set, err)
		}
	}
	if _, err := render(t, "--set", "networkPolicy.enabled=auto"); err == nil {
		t.Error("networkPolicy.enabled=auto accepted: the manager's own policy must never depend on the API list")
	}
}

// The ServiceMonitor sends a bearer token from a Secret (authorization), never the deprecated bearerTokenFile;
// by default the chart's own scraper ServiceAccount, bound to metrics-reader, in the ServiceMonitor's namespace.
func TestServiceMonitorAuthorization(t *testing.T) {
	endpoint := func(t *testing.T, objs []*unstructured.Unstructured) map[string]any {
		t.Helper()
		sm := find(objs, "ServiceMonitor", release)
		if sm == nil {
			t.Fatal("no ServiceMonitor")
		}
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		if len(eps) != 1 {
			t.Fatalf("endpoints %v, want one", eps)
		}
		return eps[0].(map[string]any)
	}
	scraper := release + "-metrics-scraper"

	t.Run("default: the chart's ServiceAccount token", func(t *testing.T) {
		objs := mustRender(t, "--set", "serviceMonitor.namespace=monitoring")
		ep := endpoint(t, objs)
		want := map[string]any{"type": "Bearer", "credentials": map[string]any{"name": scraper, "key": "token"}}
		if !reflect.DeepEqual(ep["authorization"], want) {
			t.Errorf("authorization %v, want %v", ep["authorization"], want)
		}
		if _, found := ep["bearerTokenFile"]; found {
			t.Error("bearerTokenFile is deprecated")
		}
		if ep["scheme"] != "https" || !reflect.DeepEqual(ep["tlsConfig"], map[string]any{"insecureSkipVerify": true}) {
			t.Errorf("scheme %v, tlsConfig %v: the self-signed endpoint needs https with the values' tlsConfig", ep["scheme"], ep["tlsConfig"])
		}
		sa := find(objs, "ServiceAccount", scraper)
		secret := find(objs, "Secret", scraper)
		if sa == nil || secret == nil {
			t.Fatalf("scraper ServiceAccount %v, Secret %v", sa != nil, secret != nil)
		}
		s := &corev1.Secret{}
		into(t, secret, s)
		if s.Type != corev1.SecretTypeServiceAccountToken || s.Annotations[corev1.ServiceAccountNameKey] != scraper {
			t.Errorf("Secret type %q annotations %v, want a service-account-token for %s", s.Type, s.Annotations, scraper)
		}
		// The Prometheus Operator reads the Secret from the ServiceMonitor's namespace; the token controller
		// wants the ServiceAccount in the Secret's.
		if sa.GetNamespace() != "monitoring" || s.Namespace != "monitoring" {
			t.Errorf("ServiceAccount in %q, Secret in %q, want the ServiceMonitor's namespace monitoring", sa.GetNamespace(), s.Namespace)
		}
		if !slices.Contains(kindsInOrder(objs), "ServiceAccount/"+scraper) ||
			slices.Index(kindsInOrder(objs), "ServiceAccount/"+scraper) > slices.Index(kindsInOrder(objs), "Secret/"+scraper) {
			t.Error("the ServiceAccount must come before its token Secret (the token controller deletes a Secret whose ServiceAccount is missing)")
		}
		b := &rbacv1.ClusterRoleBinding{}
		into(t, find(objs, "ClusterRoleBinding", scraper), b)
		wantSubject := rbacv1.Subject{Kind: "ServiceAccount", Name: scraper, Namespace: "monitoring"}
		if b.RoleRef.Name != release+"-metrics-reader" || !reflect.DeepEqual(b.Subjects, []rbacv1.Subject{wantSubject}) {
			t.Errorf("binding %+v, want %s bound to metrics-reader", b, scraper)
		}
		if find(objs, "ClusterRole", b.RoleRef.Name) == nil {
			t.Errorf("ClusterRole %s is not rendered", b.RoleRef.Name)
		}
	})

	t.Run("an existing Secret", func(t *testing.T) {
		objs := mustRender(t, "--set", "serviceMonitor.authorization.secretName=prom-token", "--set", "serviceMonitor.authorization.secretKey=bearer")
		want := map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "prom-token", "key": "bearer"}}
		if got := endpoint(t, objs)["authorization"]; !reflect.DeepEqual(got, want) {
			t.Errorf("authorization %v, want %v", got, want)
		}
		if find(objs, "ServiceAccount", scraper) != nil || find(objs, "Secret", scraper) != nil || find(objs, "ClusterRoleBinding", scraper) != nil {
			t.Error("with the user's Secret the chart creates no scraper")
		}
	})

	t.Run("plain HTTP: no token", func(t *testing.T) {
		objs := mustRender(t, "--set", "metrics.secure=false")
		ep := endpoint(t, objs)
		if _, found := ep["authorization"]; found || ep["port"] != "http" {
			t.Errorf("endpoint %v: plain HTTP neither sends nor needs a token", ep)
		}
		if find(objs, "Secret", scraper) != nil {
			t.Error("a token Secret nothing uses")
		}
	})
}

func kindsInOrder(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// crds.enabled renders the CRDs of crds/ (make helm-sync's copy of config/crd/bases, one source) as templates,
// so helm upgrade upgrades them; crds.keep annotates them to survive helm uninstall.
func TestCRDsAsTemplates(t *testing.T) {
	bases, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) == 0 {
		t.Fatalf("config/crd/bases: %v (%d files)", err, len(bases))
	}
	want := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, f := range bases {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(b, crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want[crd.Name] = crd
	}
	crds := func(objs []*unstructured.Unstructured) map[string]*apiextensionsv1.CustomResourceDefinition {
		out := map[string]*apiextensionsv1.CustomResourceDefinition{}
		for _, o := range objs {
			if o.GetKind() == "CustomResourceDefinition" {
				crd := &apiextensionsv1.CustomResourceDefinition{}
				into(t, o, crd)
				out[crd.Name] = crd
			}
		}
		return out
	}

	if got := crds(mustRender(t)); len(got) != 0 {
		t.Errorf("by default crds/ installs the CRDs; the templates rendered %d more", len(got))
	}
	for name, tc := range map[string]struct {
		args []string
		keep bool
	}{
		"keep (default)": {args: []string{"--set", "crds.enabled=true"}, keep: true},
		"not kept":       {args: []string{"--set", "crds.enabled=true", "--set", "crds.keep=false"}, keep: false},
	} {
		t.Run(name, func(t *testing.T) {
			got := crds(mustRender(t, tc.args...))
			if !reflect.DeepEqual(sortedKeys(anyMap(got)), sortedKeys(anyMap(want))) {
				t.Fatalf("templated CRDs %v, want config/crd/bases' %v", sortedKeys(anyMap(got)), sortedKeys(anyMap(want)))
			}
			for n, crd := range got {
				if !reflect.DeepEqual(crd.Spec, want[n].Spec) {
					t.Errorf("%s: the templated spec differs from config/crd/bases (run make helm-sync)", n)
				}
				if kept := crd.Annotations["helm.sh/resource-policy"] == "keep"; kept != tc.keep {
					t.Errorf("%s: annotations %v, keep %v", n, crd.Annotations, tc.keep)
				}
				for k, v := range want[n].Annotations {
					if crd.Annotations[k] != v {
						t.Errorf("%s lost controller-gen's annotation %s", n, k)
					}
				}
				if crd.Labels["app.kubernetes.io/managed-by"] != "Helm" || crd.Labels["app.kubernetes.io/instance"] != release {
					t.Errorf("%s labels %v, want the release's", n, crd.Labels)
				}
			}
		})
	}
}

func anyMap[T any](m map[string]T) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// hookObjects are the objects of the helm test hook, keyed kind/name.
func hookObjects(t *testing.T, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	out := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		if o.GetAnnotations()["helm.sh/hook"] == "test" {
			out[o.GetKind()+"/"+o.GetName()] = o
		}
	}
	return out
}

// The helm test hook: a temporary labelled namespace, a least-privilege ServiceAccount, and a Pod whose two
// kubectl waits check the manager's Deployment and the namespace's NetworkPolicyReady. test/e2e runs the same
// kubectl commands as that ServiceAccount against a real API server and manager.
func TestHelmTestHook(t *testing.T) {
	objs := mustRender(t)
	hooks := hookObjects(t, objs)
	name, testNS := release+"-test", release+"-helm-test"
	wantKeys := []string{
		"CiliumNetworkPolicy/helm-test-" + release, "ClusterRole/" + name, "ClusterRoleBinding/" + name, "Namespace/" + testNS,
		"Pod/" + name, "Role/" + name, "RoleBinding/" + name, "ServiceAccount/" + name,
	}
	if got := sortedKeys(anyMap(hooks)); !slices.Equal(got, wantKeys) {
		t.Fatalf("hook objects %v, want %v", got, wantKeys)
	}
	for key, o := range hooks {
		a := o.GetAnnotations()
		if a["helm.sh/hook-delete-policy"] != "before-hook-creation,hook-succeeded" {
			t.Errorf("%s: delete policy %q: a passed test must leave nothing, a failed one its objects to inspect", key, a["helm.sh/hook-delete-policy"])
		}
		// Helm creates hooks by weight: everything the Pod needs first.
		if want := map[bool]string{true: "0", false: "-1"}[o.GetKind() == "Pod"]; a["helm.sh/hook-weight"] != want {
			t.Errorf("%s: weight %q, want %s", key, a["helm.sh/hook-weight"], want)
		}
	}

	// Admission lets only netprofile write Cilium policies named netprofile-*.
	for _, o := range objs {
		if strings.HasPrefix(o.GetKind(), "Cilium") && strings.HasPrefix(o.GetName(), "netprofile-") {
			t.Errorf("%s %s uses the prefix reserved for generated policies", o.GetKind(), o.GetName())
		}
	}

	ns := hooks["Namespace/"+testNS]
	if ns.GetLabels()["network-policy.homelab/profile"] != "isolated" {
		t.Errorf("test namespace labels %v, want the profile label", ns.GetLabels())
	}

	pod := &corev1.Pod{}
	into(t, hooks["Pod/"+name], pod)
	if pod.Spec.ServiceAccountName != name || pod.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("pod runs as %q with restartPolicy %q", pod.Spec.ServiceAccountName, pod.Spec.RestartPolicy)
	}
	if len(pod.Spec.InitContainers) != 1 || len(pod.Spec.Containers) != 1 {
		t.Fatalf("want one check per container, in order: %d init, %d containers", len(pod.Spec.InitContainers), len(pod.Spec.Containers))
	}
	wantArgs := [][]string{
		{"wait", "--for=condition=Available", "deployment/" + release, "--namespace=" + namespace, "--timeout=2m"},
		{"wait", "--for=condition=NetworkPolicyReady", "namespace/" + testNS, "--timeout=2m"},
	}
	for i, c := range []corev1.Container{pod.Spec.InitContainers[0], pod.Spec.Containers[0]} {
		if !slices.Equal(c.Args, wantArgs[i]) || len(c.Command) != 0 {
			t.Errorf("container %s: command %v args %v, want the image's kubectl with %v", c.Name, c.Command, c.Args, wantArgs[i])
		}
		if c.Image != "registry.k8s.io/kubectl:"+k8sVersion(t) {
			t.Errorf("container %s image %s: ship the kubectl the e2e runs the checks with (%s)", c.Name, c.Image, k8sVersion(t))
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s security context %+v, want the restricted standard", c.Name, sc)
		}
	}

	// The Pod is no manager pod: nothing that selects the manager may select it.
	podLabels := labels.Set(pod.Labels)
	d := &appsv1.Deployment{}
	into(t, find(objs, "Deployment", release), d)
	pdb := &policyv1.PodDisruptionBudget{}
	into(t, find(objs, "PodDisruptionBudget", release), pdb)
	svc := &corev1.Service{}
	into(t, find(objs, "Service", release+"-metrics"), svc)
	managerCNP, _, _ := unstructured.NestedStringMap(find(objs, "CiliumNetworkPolicy", release).Object, "spec", "endpointSelector", "matchLabels")
	for what, sel := range map[string]map[string]string{
		"Deployment": d.Spec.Selector.MatchLabels, "PodDisruptionBudget": pdb.Spec.Selector.MatchLabels,
		"metrics Service": svc.Spec.Selector, "manager CiliumNetworkPolicy": managerCNP,
	} {
		if labels.SelectorFromSet(sel).Matches(podLabels) {
			t.Errorf("the %s selector %v selects the test pod %v", what, sel, pod.Labels)
		}
	}
	testCNP, _, _ := unstructured.NestedStringMap(hooks["CiliumNetworkPolicy/helm-test-"+release].Object, "spec", "endpointSelector", "matchLabels")
	if !labels.SelectorFromSet(testCNP).Matches(podLabels) {
		t.Errorf("the test pod's policy %v does not select it %v: the Baselines would cut it off from the API server", testCNP, pod.Labels)
	}

	// Least privilege: read the one Deployment and the one Namespace.
	role := &rbacv1.Role{}
	into(t, hooks["Role/"+name], role)
	cr := &rbacv1.ClusterRole{}
	into(t, hooks["ClusterRole/"+name], cr)
	read := []string{"get", "list", "watch"}
	if want := []rbacv1.PolicyRule{{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, ResourceNames: []string{release}, Verbs: read}}; !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("Role rules %+v, want %+v", role.Rules, want)
	}
	if want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"}, ResourceNames: []string{testNS}, Verbs: read}}; !reflect.DeepEqual(cr.Rules, want) {
		t.Errorf("ClusterRole rules %+v, want %+v", cr.Rules, want)
	}

	t.Run("values", func(t *testing.T) {
		objs := mustRender(t, "-f", filepath.Join(chartDir, "ci", "all-features-values.yaml"))
		hooks := hookObjects(t, objs)
		if got := hooks["Namespace/"+testNS].GetLabels()["netpol.example.com/profile"]; got != "batch" {
			t.Errorf("test namespace profile label %q, want tests.profile under the label domain", got)
		}
		pod := &corev1.Pod{}
		into(t, hooks["Pod/"+name], pod)
		c := pod.Spec.Containers[0]
		if !strings.HasSuffix(c.Image, "@sha256:1111111111111111111111111111111111111111111111111111111111111111") ||
			c.ImagePullPolicy != corev1.PullAlways || !slices.Contains(c.Args, "--timeout=90s") || c.Resources.Requests.Cpu().String() != "10m" {
			t.Errorf("container %+v does not follow tests.*", c)
		}
		if len(hookObjects(t, mustRender(t, "--set", "tests.enabled=false"))) != 0 {
			t.Error("tests.enabled=false must render no hook")
		}
		if _, found := hookObjects(t, mustRender(t, "--set", "networkPolicy.enabled=false"))["CiliumNetworkPolicy/helm-test-"+release]; found {
			t.Error("networkPolicy.enabled=false must render no policy for the test pod either")
		}
		_, err := render(t, "--set", "catalogue.profiles.isolated=null")
		if err == nil || !strings.Contains(err.Error(), `tests.profile "isolated" is not a profile of catalogue.profiles`) {
			t.Errorf("a test profile the catalogue lacks: err = %v, want a message naming it", err)
		}
	})
}

// k8sVersion is the Kubernetes version hack/tools.sh builds kubectl (and the control plane) at.
func k8sVersion(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "hack", "tools.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^K8S_VERSION=(v[0-9.]+)$`).FindSubmatch(b)
	if m == nil {
		t.Fatal("no K8S_VERSION in hack/tools.sh")
	}
	return string(m[1])
}

// chartMetadata is the part of Chart.yaml Artifact Hub reads.
type chartMetadata struct {
	Version     string            `json:"version"`
	AppVersion  string            `json:"appVersion"`
	KubeVersion string            `json:"kubeVersion"`
	Home        string            `json:"home"`
	Icon        string            `json:"icon"`
	Sources     []string          `json:"sources"`
	Keywords    []string          `json:"keywords"`
	Maintainers []map[string]any  `json:"maintainers"`
	Annotations map[string]string `json:"annotations"`
}

func readChartMetadata(t *testing.T) chartMetadata {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var md chartMetadata
	if err := yaml.Unmarshal(b, &md); err != nil {
		t.Fatal(err)
	}
	return md
}

// The chart is Apache-2.0, as the repository's LICENSE is: Artifact Hub shows the annotation's SPDX id, and the
// packaged chart carries the license text itself (helm package takes LICENSE from the chart's directory).
func TestChartLicense(t *testing.T) {
	md := readChartMetadata(t)
	if got := md.Annotations["artifacthub.io/license"]; got != "Apache-2.0" {
		t.Errorf("artifacthub.io/license %q, want Apache-2.0", got)
	}
	root, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(bytes.TrimSpace(root), []byte("Apache License\n                           Version 2.0, January 2004")) {
		t.Errorf("LICENSE is not the Apache License 2.0:\n%.200s", root)
	}
	chart, err := os.ReadFile(filepath.Join(chartDir, "LICENSE"))
	if err != nil || !bytes.Equal(chart, root) {
		t.Errorf("charts/netprofile/LICENSE is not the repository's LICENSE (make helm-sync): %v", err)
	}
}

// Chart.yaml's metadata is complete for Artifact Hub and agrees with what the chart ships: its CRD list with
// crds/, its examples with config/samples (decoded strictly), its images with what the chart renders, its icon
// with a file in this repository.
func TestChartMetadata(t *testing.T) {
	md := readChartMetadata(t)
	const repo = "https://github.com/netprofile/netprofile"
	if md.Home != repo || !slices.Contains(md.Sources, repo) || len(md.Maintainers) == 0 || len(md.Keywords) == 0 || md.KubeVersion == "" {
		t.Errorf("home %q, sources %v, maintainers %v, keywords %v, kubeVersion %q: all are needed", md.Home, md.Sources, md.Maintainers, md.Keywords, md.KubeVersion)
	}
	const raw = "https://raw.githubusercontent.com/netprofile/netprofile/main/"
	if !strings.HasPrefix(md.Icon, raw) {
		t.Errorf("icon %q is not a file of this repository", md.Icon)
	} else if icon, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), strings.TrimPrefix(md.Icon, raw))); err != nil || !bytes.Contains(icon, []byte("<svg")) {
		t.Errorf("icon %s: %v (or not an SVG)", md.Icon, err)
	}
	list := func(key string, v any) {
		t.Helper()
		s, ok := md.Annotations[key]
		if !ok {
			t.Fatalf("no %s annotation", key)
		}
		if err := yaml.UnmarshalStrict([]byte(s), v); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	if md.Annotations["artifacthub.io/prerelease"] != map[bool]string{true: "true", false: "false"}[strings.HasPrefix(md.Version, "0.")] {
		t.Errorf("artifacthub.io/prerelease %q for version %s (v1alpha1 APIs: a 0.x chart is a prerelease)", md.Annotations["artifacthub.io/prerelease"], md.Version)
	}
	var links []struct{ Name, URL string }
	list("artifacthub.io/links", &links)
	var changes []struct{ Kind, Description string }
	list("artifacthub.io/changes", &changes)
	for _, c := range changes {
		if !slices.Contains([]string{"added", "changed", "deprecated", "removed", "fixed", "security"}, c.Kind) || c.Description == "" {
			t.Errorf("change %+v: kind must be one Artifact Hub knows, with a description", c)
		}
	}

	var crds []struct{ Kind, Version, Name, DisplayName, Description string }
	list("artifacthub.io/crds", &crds)
	files, _ := filepath.Glob(filepath.Join(chartDir, "crds", "*.yaml"))
	var want, got []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(b, crd); err != nil {
			t.Fatal(err)
		}
		for _, v := range crd.Spec.Versions {
			if v.Served {
				want = append(want, crd.Spec.Names.Kind+"/"+v.Name+"/"+crd.Name)
			}
		}
	}
	for _, c := range crds {
		got = append(got, c.Kind+"/"+c.Version+"/"+c.Name)
		if c.DisplayName == "" || c.Description == "" {
			t.Errorf("artifacthub.io/crds %s lacks a displayName or description", c.Kind)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("artifacthub.io/crds %v, crds/ serves %v", got, want)
	}

	// Every example is a valid object of a shipped kind, and exactly the sample of that name.
	var examples []map[string]any
	list("artifacthub.io/crdsExamples", &examples)
	samples, err := catalogue.LoadPaths(filepath.Join(testenv.RepoRoot(), "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range examples {
		y, _ := yaml.Marshal(e)
		var obj, sample any
		kind, name := e["kind"], e["metadata"].(map[string]any)["name"].(string)
		switch kind {
		case "NetworkProfile":
			obj, sample = &v1alpha1.NetworkProfile{}, derefSpec(samples.Profiles[name])
		case "SharedResource":
			obj, sample = &v1alpha1.SharedResource{}, derefSpec(samples.Resources[name])
		case "Baseline":
			obj, sample = &v1alpha1.Baseline{}, derefSpec(samples.Baselines[name])
		default:
			t.Errorf("example of kind %v: not one with samples", kind)
			continue
		}
		if err := yaml.UnmarshalStrict(y, obj); err != nil {
			t.Errorf("example %s %s does not decode strictly: %v", kind, name, err)
			continue
		}
		if sample == nil || !reflect.DeepEqual(derefSpec(obj), sample) {
			t.Errorf("example %s %s differs from config/samples", kind, name)
		}
	}

	var images []struct{ Name, Image string }
	list("artifacthub.io/images", &images)
	var gotImages []string
	for _, i := range images {
		gotImages = append(gotImages, i.Image)
	}
	objs := mustRender(t)
	d := &appsv1.Deployment{}
	into(t, find(objs, "Deployment", release), d)
	pod := &corev1.Pod{}
	into(t, find(objs, "Pod", release+"-test"), pod)
	wantImages := []string{d.Spec.Template.Spec.Containers[0].Image, pod.Spec.Containers[0].Image}
	slices.Sort(gotImages)
	slices.Sort(wantImages)
	if !slices.Equal(gotImages, wantImages) {
		t.Errorf("artifacthub.io/images %v, the chart runs %v", gotImages, wantImages)
	}
}

// derefSpec is the Spec field of a pointer to a catalogue object, or nil.
func derefSpec(obj any) any {
	v := reflect.ValueOf(obj)
	if !v.IsValid() || v.IsNil() {
		return nil
	}
	return v.Elem().FieldByName("Spec").Interface()
}
