// Package chart tests the Helm chart by rendering it with the pinned helm: the parts generated from config/
// (RBAC, alert rules, CRDs) and the default catalogue must equal their sources, optional objects must follow their
// values whether or not the render sees the cluster's APIs, and the values schema must refuse bad input. Applying
// the renders to a real API server is test/e2e's job.
package chart

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

const (
	release   = "netprofile"
	namespace = "netprofile-system"
)

var (
	chartDir = filepath.Join(testenv.RepoRoot(), "charts", "netprofile")
	// Every optional API the chart can look for (with serviceMonitor.enabled or prometheusRule.enabled auto).
	allAPIs = []string{
		"--api-versions", "cilium.io/v2/CiliumNetworkPolicy",
		"--api-versions", "monitoring.coreos.com/v1/PrometheusRule",
		"--api-versions", "monitoring.coreos.com/v1/ServiceMonitor",
	}
)

// render runs helm template and returns the objects, or helm's error output.
func render(t *testing.T, args ...string) ([]*unstructured.Unstructured, error) {
	t.Helper()
	out, err := helmTemplate(t, args...)
	if err != nil {
		return nil, err
	}
	return decode(t, out), nil
}

// helmTemplate is helm template's raw output, or its error output.
func helmTemplate(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	helm, err := testenv.Helm()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(helm, append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("helm template %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func mustRender(t *testing.T, args ...string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := render(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func decode(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.DecodeObjects(data)
	if err != nil {
		t.Fatalf("rendered YAML does not decode: %v", err)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

func kinds(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind())
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func into(t *testing.T, u *unstructured.Unstructured, obj any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
		t.Fatalf("failed to convert %s %s: %v", u.GetKind(), u.GetName(), err)
	}
}

// The chart's ClusterRole is controller-gen's, copied by make helm-sync: a hand edit to the template or a stale
// copy shows up here (and in make verify).
func TestClusterRoleIsTheGeneratedOne(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(b, want); err != nil {
		t.Fatal(err)
	}
	u := find(mustRender(t), "ClusterRole", release+"-manager")
	if u == nil {
		t.Fatal("no ClusterRole netprofile-manager rendered")
	}
	got := &rbacv1.ClusterRole{}
	into(t, u, got)
	if !reflect.DeepEqual(got.Rules, want.Rules) {
		t.Errorf("chart ClusterRole rules differ from config/rbac/role.yaml (run make helm-sync):\n got: %+v\nwant: %+v", got.Rules, want.Rules)
	}
	for _, r := range got.Rules {
		for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs} {
			if slices.Contains(list, "*") {
				t.Errorf("wildcard in rule %+v", r)
			}
		}
		if slices.Contains(r.APIGroups, "coordination.k8s.io") {
			t.Errorf("leases belong in the namespaced leader election Role, not the ClusterRole: %+v", r)
		}
	}
}

// Leader election needs a Lease and core Events in the release namespace only; the secure metrics endpoint
// needs TokenReviews and SubjectAccessReviews.
func TestSupportingRBAC(t *testing.T) {
	objs := mustRender(t)
	role := &rbacv1.Role{}
	u := find(objs, "Role", release+"-leader-election")
	if u == nil {
		t.Fatal("no leader election Role")
	}
	into(t, u, role)
	if role.Namespace != namespace {
		t.Errorf("leader election Role in %q, want the release namespace", role.Namespace)
	}
	wantRole := []rbacv1.PolicyRule{
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"}},
		{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
	}
	if !reflect.DeepEqual(role.Rules, wantRole) {
		t.Errorf("leader election rules = %+v", role.Rules)
	}
	// The records of bypasses: ConfigMaps in the release namespace only, where the manager is told to keep
	// them, with leader election or without.
	for _, args := range [][]string{nil, {"--set", "leaderElection.enabled=false", "--set", "replicaCount=1"}} {
		objs := mustRender(t, args...)
		records := &rbacv1.Role{}
		if u := find(objs, "Role", release+"-bypass-records"); u == nil || find(objs, "RoleBinding", release+"-bypass-records") == nil {
			t.Fatalf("%v: no Role and RoleBinding for the records of bypasses", args)
		} else {
			into(t, u, records)
		}
		wantRecords := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "delete"}}}
		if records.Namespace != namespace || !reflect.DeepEqual(records.Rules, wantRecords) {
			t.Errorf("%v: records Role in %q with %+v", args, records.Namespace, records.Rules)
		}
		if !slices.Contains(managerArgs(t, objs), "--record-namespace="+namespace) {
			t.Errorf("%v: the manager is not told to keep its records in the release namespace: %v", args, managerArgs(t, objs))
		}
	}
	auth := &rbacv1.ClusterRole{}
	into(t, find(objs, "ClusterRole", release+"-metrics-auth"), auth)
	wantAuth := []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	}
	if !reflect.DeepEqual(auth.Rules, wantAuth) {
		t.Errorf("metrics auth rules = %+v", auth.Rules)
	}
	if find(mustRender(t, "--set", "metrics.secure=false"), "ClusterRole", release+"-metrics-auth") != nil {
		t.Error("plain HTTP metrics need no TokenReview rights")
	}
}

// The chart's default catalogue is exactly config/samples (which the kubectl plugin embeds and the envtest
// suites load): the same names, kinds and specs.
func TestDefaultCatalogueIsConfigSamples(t *testing.T) {
	want, err := catalogue.LoadPaths(filepath.Join(testenv.RepoRoot(), "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	helm, err := testenv.Helm()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(helm, "template", release, chartDir, "--namespace", namespace,
		"--show-only", "templates/catalogue-networkprofiles.yaml",
		"--show-only", "templates/catalogue-sharedresources.yaml",
		"--show-only", "templates/catalogue-baselines.yaml").Output()
	if err != nil {
		t.Fatal(err)
	}
	got := catalogue.NewSet()
	if err := got.Add("chart", out); err != nil {
		t.Fatalf("the chart's catalogue does not decode strictly: %v", err)
	}
	if len(got.Other) > 0 || len(got.Namespaces) > 0 {
		t.Errorf("unexpected objects in the catalogue templates: %+v", got.Other)
	}
	if len(want.Profiles) != 4 || len(want.Resources) != 4 || len(want.Baselines) != 4 {
		t.Fatalf("config/samples holds %d profiles, %d resources, %d baselines; this test expects the seed's 4+4+4",
			len(want.Profiles), len(want.Resources), len(want.Baselines))
	}
	compare := func(kind string, got, want map[string]any) {
		t.Helper()
		if !reflect.DeepEqual(sortedKeys(got), sortedKeys(want)) {
			t.Errorf("%s names: chart %v, config/samples %v", kind, sortedKeys(got), sortedKeys(want))
		}
		for name, w := range want {
			if g, ok := got[name]; ok && !reflect.DeepEqual(g, w) {
				gy, _ := yaml.Marshal(g)
				wy, _ := yaml.Marshal(w)
				t.Errorf("%s %s: chart spec differs from config/samples:\n--- chart\n%s--- config/samples\n%s", kind, name, gy, wy)
			}
		}
	}
	compare("NetworkProfile", specs(got.Profiles), specs(want.Profiles))
	compare("SharedResource", specs(got.Resources), specs(want.Resources))
	compare("Baseline", specs(got.Baselines), specs(want.Baselines))
}

func specs[T any](m map[string]*T) map[string]any {
	out := make(map[string]any, len(m))
	for name, obj := range m {
		out[name] = reflect.ValueOf(obj).Elem().FieldByName("Spec").Interface()
	}
	return out
}

func sortedKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// config/prometheus/netprofile-rules.yaml is generated from the chart's PrometheusRule by make helm-sync; the
// rules must be the same object.
func TestPrometheusRuleIsConfigPrometheus(t *testing.T) {
	u := find(mustRender(t, allAPIs...), "PrometheusRule", "")
	if u == nil {
		t.Fatal("no PrometheusRule with the API present")
	}
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "netprofile-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := yaml.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(u.Object["spec"], want) {
		t.Error("the chart's PrometheusRule differs from config/prometheus/netprofile-rules.yaml: run make helm-sync")
	}
	// The escape hatch alerts keep their names (runbooks and routing refer to them); issue 15 added others beside
	// them, which their promtool tests cover.
	names := sortedKeys(alerts(t, u))
	for _, want := range []string{"NetworkPolicyEnforcementDisabled", "NetworkPolicyEnforcementDisabledLong"} {
		if !slices.Contains(names, want) {
			t.Errorf("alerts = %v, want the escape hatch alert %s among them", names, want)
		}
	}
}

func alerts(t *testing.T, u *unstructured.Unstructured) map[string]any {
	t.Helper()
	groups, _, _ := unstructured.NestedSlice(u.Object, "spec", "groups")
	out := map[string]any{}
	for _, g := range groups {
		rules, _, _ := unstructured.NestedSlice(g.(map[string]any), "rules")
		for _, r := range rules {
			r := r.(map[string]any)
			out[r["alert"].(string)] = r
		}
	}
	return out
}

// One pair of values drives both the manager's condition phases and the alerts, so they cannot disagree.
func TestEnforcementThresholdsDriveFlagsAndAlerts(t *testing.T) {
	objs := mustRender(t, append([]string{
		"--set", "enforcement.warningAfter=10m", "--set", "enforcement.criticalAfter=2d", "--set", "enforcement.maxDisabled=3600",
		"--set", "enforcement.sameBypassWithin=30m", "--set", "enforcement.bypassWindow=14d",
		"--set", "enforcement.auditAllowed=3d", "--set", "enforcement.bypassedAllowed=12h", "--set", "prometheusRule.bypassedOften.severity=critical",
		"--set", "prometheusRule.disabled.severity=info", "--set", "prometheusRule.alertLabels.team=platform",
	}, allAPIs...)...)
	args := managerArgs(t, objs)
	for _, want := range []string{"--enforcement-warning-after=600s", "--enforcement-critical-after=172800s", "--enforcement-max-disabled=3600s",
		"--enforcement-same-bypass-within=1800s", "--enforcement-bypass-window=1209600s"} {
		if !slices.Contains(args, want) {
			t.Errorf("manager args %v lack %s", args, want)
		}
	}
	rules := alerts(t, find(objs, "PrometheusRule", ""))
	check := func(alert, threshold, severity string) {
		t.Helper()
		r := rules[alert].(map[string]any)
		if expr := r["expr"].(string); !strings.HasSuffix(expr, "> "+threshold) {
			t.Errorf("%s expr %q, want threshold %s", alert, expr, threshold)
		}
		labels := r["labels"].(map[string]any)
		if labels["severity"] != severity || labels["team"] != "platform" {
			t.Errorf("%s labels %v", alert, labels)
		}
		if _, hasFor := r["for"]; hasFor {
			t.Errorf("%s has a for: clause; a Prometheus restart would reset it", alert)
		}
	}
	check("NetworkPolicyEnforcementDisabled", "600", "info")
	check("NetworkPolicyEnforcementDisabledLong", "172800", "critical")
	check("NetworkPolicyEnforcementAuditLong", "259200", "warning")
	check("NetworkPolicyEnforcementBypassedOften", "43200", "critical")
	summary := rules["NetworkPolicyEnforcementBypassedOften"].(map[string]any)["annotations"].(map[string]any)["summary"]
	if !strings.HasSuffix(summary.(string), "for more than 12 hours within 14 days") {
		t.Errorf("NetworkPolicyEnforcementBypassedOften summary %q does not name the allowance and the window", summary)
	}
}

func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	u := find(objs, "Deployment", "")
	if u == nil {
		t.Fatal("no Deployment")
	}
	d := &appsv1.Deployment{}
	into(t, u, d)
	return d.Spec.Template.Spec.Containers[0].Args
}

// The Deployment runs under the restricted Pod Security Standard with a standby replica and probes on the
// manager's health endpoint.
func TestDeployment(t *testing.T) {
	objs := mustRender(t)
	d := &appsv1.Deployment{}
	into(t, find(objs, "Deployment", release), d)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]

	if *d.Spec.Replicas != 2 || !slices.Contains(c.Args, "--leader-elect=true") || !slices.Contains(c.Args, "--leader-election-namespace="+namespace) {
		t.Errorf("want 2 replicas with leader election in the release namespace: replicas %d, args %v", *d.Spec.Replicas, c.Args)
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	switch {
	case psc == nil || sc == nil:
		t.Fatal("no security contexts")
	case psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532:
		t.Errorf("pod must run as non-root 65532 (the image's user): %+v", psc)
	case psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("seccomp must be RuntimeDefault: %+v", psc.SeccompProfile)
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem must be read-only")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation must be off")
	case sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities must drop ALL and add none: %+v", sc.Capabilities)
	}
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" || c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("probes must hit /healthz and /readyz")
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Error("memory request and limit must be set")
	}

	// The platform list is the manager's default plus the release namespace.
	want := strings.Join(append(slices.Clone(policy.DefaultPlatformNamespaces), namespace), ",")
	if !slices.Contains(c.Args, "--platform-namespaces="+want) {
		t.Errorf("args %v lack --platform-namespaces=%s", c.Args, want)
	}

	// The Dockerfile's user is the one the chart runs as.
	dockerfile, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(dockerfile, []byte("\nUSER 65532:65532\n")) || !bytes.Contains(dockerfile, []byte("distroless/static:nonroot")) {
		t.Error("Dockerfile must run as 65532:65532 on distroless/static:nonroot, as the chart's securityContext expects")
	}

	if pdb := find(objs, "PodDisruptionBudget", ""); pdb == nil {
		t.Error("two replicas want a PodDisruptionBudget")
	}
	if pdb := find(mustRender(t, "--set", "replicaCount=1"), "PodDisruptionBudget", ""); pdb != nil {
		t.Error("a PodDisruptionBudget over one replica blocks node drains")
	}
	if _, err := render(t, "--set", "replicaCount=2", "--set", "leaderElection.enabled=false"); err == nil {
		t.Error("two replicas without leader election must be refused")
	}
}

// The manager's image is repository:tag (the chart's appVersion by default), or repository@digest when
// image.digest pins it (as make image prints it): the digest wins over a tag.
func TestImageReference(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	chart, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(chart, &meta); err != nil || meta.AppVersion == "" {
		t.Fatalf("Chart.yaml has no appVersion: %v", err)
	}
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"default":          {nil, "ghcr.io/netprofile/netprofile:" + meta.AppVersion},
		"tag":              {[]string{"--set", "image.tag=v1.2.3"}, "ghcr.io/netprofile/netprofile:v1.2.3"},
		"digest":           {[]string{"--set", "image.digest=" + digest}, "ghcr.io/netprofile/netprofile@" + digest},
		"digest over tag":  {[]string{"--set", "image.tag=v1.2.3", "--set", "image.digest=" + digest}, "ghcr.io/netprofile/netprofile@" + digest},
		"other repository": {[]string{"--set", "image.repository=registry.example/np", "--set", "image.digest=" + digest}, "registry.example/np@" + digest},
	} {
		t.Run(name, func(t *testing.T) {
			d := &appsv1.Deployment{}
			into(t, find(mustRender(t, tc.args...), "Deployment", release), d)
			if got := d.Spec.Template.Spec.Containers[0].Image; got != tc.want {
				t.Errorf("image %s, want %s", got, tc.want)
			}
		})
	}
}

// Every flag cmd/manager defines is set by the Deployment template from a value, so a new flag cannot ship
// without a chart knob (its default may still live in the binary: the template may render it conditionally).
func TestEveryManagerFlagHasAValue(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(testenv.RepoRoot(), "cmd", "manager", "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var flags []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 2 {
			return true
		}
		if sel, ok := call.Fun.(*ast.SelectorExpr); ok && strings.HasSuffix(sel.Sel.Name, "Var") {
			if x, ok := sel.X.(*ast.Ident); ok && x.Name == "flag" {
				if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					flags = append(flags, strings.Trim(lit.Value, "\"`"))
				}
			}
		}
		return true
	})
	if len(flags) < 10 {
		t.Fatalf("found only %v in cmd/manager/main.go: has the flag style changed?", flags)
	}
	tmpl, err := os.ReadFile(filepath.Join(chartDir, "templates", "manager-deployment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range flags {
		if !bytes.Contains(tmpl, []byte("- --"+name+"=")) {
			t.Errorf("flag --%s of cmd/manager is not set by templates/manager-deployment.yaml: add a value for it", name)
		}
	}
}

// Optional objects follow their values, never how the chart was rendered: with the defaults an offline render
// (helm template without --api-versions, as kustomize helmCharts and CI pipelines run it) holds the manager's own
// CiliumNetworkPolicy, the PrometheusRule and the ServiceMonitor. Only "auto" asks the API list (--api-versions
// here, .Capabilities against a cluster).
func TestOptionalObjectsFollowTheirValues(t *testing.T) {
	monitoring := []string{"ServiceMonitor", "PrometheusRule"}
	// The manager's own policy by name: the helm test hook has one too.
	ownPolicy := "CiliumNetworkPolicy/" + release
	tests := map[string]struct {
		args []string
		want []string
		not  []string
	}{
		"defaults, no optional API: all of them": {
			want: []string{"ServiceMonitor", "PrometheusRule", ownPolicy},
		},
		"defaults, every API: all of them": {
			args: allAPIs,
			want: []string{"ServiceMonitor", "PrometheusRule", ownPolicy},
		},
		"every value false, every API: none of them": {
			args: append([]string{"--set", "serviceMonitor.enabled=false", "--set", "prometheusRule.enabled=false", "--set", "networkPolicy.enabled=false"}, allAPIs...),
			not:  []string{"ServiceMonitor", "PrometheusRule", ownPolicy},
		},
		"auto, no optional API: the Prometheus Operator's objects are left out": {
			args: []string{"--set", "serviceMonitor.enabled=auto", "--set", "prometheusRule.enabled=auto"},
			want: []string{ownPolicy},
			not:  monitoring,
		},
		"auto, every API: they are there": {
			args: append([]string{"--set", "serviceMonitor.enabled=auto", "--set", "prometheusRule.enabled=auto"}, allAPIs...),
			want: monitoring,
		},
		"metrics off: no Service and no ServiceMonitor, alerts still ship": {
			args: []string{"--set", "metrics.enabled=false"},
			want: []string{"PrometheusRule"},
			not:  []string{"ServiceMonitor", "Service"},
		},
		"catalogue off: no catalogue objects": {
			args: []string{"--set", "catalogue.enabled=false"},
			not:  []string{"NetworkProfile", "SharedResource", "Baseline"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := mustRender(t, tc.args...)
			// has finds "Kind" or "Kind/name".
			has := func(k string) bool {
				kind, name, _ := strings.Cut(k, "/")
				return find(objs, kind, name) != nil
			}
			for _, k := range tc.want {
				if !has(k) {
					t.Errorf("want a %s; rendered %v", k, kinds(objs))
				}
			}
			for _, k := range tc.not {
				if has(k) {
					t.Errorf("want no %s; rendered %v", k, kinds(objs))
				}
			}
		})
	}
}

// The ServiceMonitor keeps netprofile's "namespace" label (honorLabels), or the alerts would name
// exported_namespace; the chart's own policy reaches the API server and admits probes and scrapes only.
func TestMonitoringAndOwnPolicy(t *testing.T) {
	objs := mustRender(t, allAPIs...)
	sm := find(objs, "ServiceMonitor", "")
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 {
		t.Fatalf("ServiceMonitor endpoints = %v, want one", eps)
	}
	ep, _ := eps[0].(map[string]any)
	if honor, _ := ep["honorLabels"].(bool); !honor || ep["scheme"] != "https" {
		t.Errorf("ServiceMonitor endpoint = %v, want https with honorLabels", ep)
	}
	cnp := find(objs, "CiliumNetworkPolicy", release)
	if strings.HasPrefix(cnp.GetName(), "netprofile-") {
		t.Errorf("the chart's policy %s uses the prefix reserved for generated policies", cnp.GetName())
	}
	spec, _ := yaml.Marshal(cnp.Object["spec"])
	for _, want := range []string{"kube-apiserver", `port: "6443"`, `port: "8081"`, `port: "8443"`, "k8s:io.kubernetes.pod.namespace: monitoring"} {
		if !strings.Contains(string(spec), want) {
			t.Errorf("chart CiliumNetworkPolicy lacks %s:\n%s", want, spec)
		}
	}
	for _, bad := range []string{"ingressDeny", "egressDeny", "- all\n", "- world\n", "- cluster\n"} {
		if strings.Contains(string(spec), bad) {
			t.Errorf("the chart's policy must neither deny (deny beats the escape hatch) nor open wide (%q):\n%s", bad, spec)
		}
	}
}

// Adoption scopes every baseline to labelled namespaces, keeping each baseline's own selector.
func TestBaselineNamespaceSelector(t *testing.T) {
	objs := mustRender(t, "--set-json", `catalogue.baselineNamespaceSelector={"netprofile.example.com/adopted":"true"}`)
	for _, name := range []string{"dns", "prometheus-scrape", "health-probes", "hbone"} {
		b := find(objs, "Baseline", name)
		if b == nil {
			t.Fatalf("no Baseline %s", name)
		}
		sel, _, _ := unstructured.NestedStringMap(b.Object, "spec", "namespaceSelector")
		if sel["netprofile.example.com/adopted"] != "true" {
			t.Errorf("Baseline %s namespaceSelector %v lacks the adoption label", name, sel)
		}
		if name == "hbone" && sel["istio.io/dataplane-mode"] != "ambient" {
			t.Errorf("hbone lost its own selector: %v", sel)
		}
	}
	// The values themselves are not changed by the merge (a second render starts clean).
	b := find(mustRender(t), "Baseline", "dns")
	if _, found, _ := unstructured.NestedMap(b.Object, "spec", "namespaceSelector"); found {
		t.Error("default baselines must select every endpoint")
	}
}

// Additive baselines are chosen per baseline in its spec (catalogue.baselines.<name>.defaultDeny), merged into
// the default spec; the defaults leave the field out (the CRD defaults it to true: today's default deny).
func TestBaselineDefaultDenyValue(t *testing.T) {
	all := []string{"dns", "prometheus-scrape", "health-probes", "hbone"}
	var args []string
	for _, name := range all {
		args = append(args, "--set", "catalogue.baselines."+name+".defaultDeny=false")
	}
	objs := mustRender(t, args...)
	for _, name := range all {
		b := find(objs, "Baseline", name)
		if b == nil {
			t.Fatalf("no Baseline %s", name)
		}
		if v, found, _ := unstructured.NestedBool(b.Object, "spec", "defaultDeny"); !found || v {
			t.Errorf("Baseline %s: spec.defaultDeny = %v (found %v), want false", name, v, found)
		}
		rules, _, _ := unstructured.NestedSlice(b.Object, "spec", "ingress")
		egress, _, _ := unstructured.NestedSlice(b.Object, "spec", "egress")
		if len(rules)+len(egress) == 0 {
			t.Errorf("Baseline %s lost its rules in the merge", name)
		}
	}
	for _, name := range all {
		if _, found, _ := unstructured.NestedFieldNoCopy(find(mustRender(t), "Baseline", name).Object, "spec", "defaultDeny"); found {
			t.Errorf("the default Baseline %s sets defaultDeny: the default catalogue keeps today's behaviour", name)
		}
	}
}

// The values schema refuses what would otherwise render a broken Deployment or wrong alerts.
func TestSchemaRefusesBadValues(t *testing.T) {
	tests := map[string]struct {
		args []string
		want string
	}{
		"unknown key":                 {[]string{"--set", "manager.logLevel=debug"}, "additional properties 'logLevel'"},
		"unknown dashboard key":       {[]string{"--set", "grafanaDashboard.folder=x"}, "additional properties 'folder'"},
		"dashboard label no key":      {[]string{"--set", "grafanaDashboard.sidecarLabel=grafana dashboard"}, "sidecarLabel"},
		"dashboard value no label":    {[]string{"--set", "grafanaDashboard.sidecarLabelValue=a/b"}, "sidecarLabelValue"},
		"alert without severity":      {[]string{"--set", "prometheusRule.baselineNotReady.severity="}, "severity"},
		"unknown alert key":           {[]string{"--set", "prometheusRule.managerAbsent.for=5m"}, "additional properties 'for'"},
		"zero replicas":               {[]string{"--set", "replicaCount=0"}, "replicaCount"},
		"bad duration":                {[]string{"--set", "enforcement.warningAfter=5 minutes"}, "warningAfter"},
		"warning after critical":      {[]string{"--set", "enforcement.warningAfter=2d"}, "must not be longer"},
		"bad log encoder":             {[]string{"--set", "manager.log.encoder=text"}, "encoder"},
		"bad label domain":            {[]string{"--set", "manager.labelDomain=Not_A_Domain"}, "labelDomain"},
		"bad catalogue name":          {[]string{"--set", "catalogue.profiles.Standard.description=x"}, "Standard"},
		"catalogue entry not a map":   {[]string{"--set", "catalogue.baselines.dns=on"}, "baselines"},
		"port out of range":           {[]string{"--set", "metrics.port=70000"}, "port"},
		"extra arg that is no flag":   {[]string{"--set", "manager.extraArgs[0]=debug"}, "extraArgs"},
		"metrics reader of bad kind":  {[]string{"--set", "metrics.readers[0].kind=Pod", "--set", "metrics.readers[0].name=x"}, "kind"},
		"own ServiceAccount unnamed":  {[]string{"--set", "serviceAccount.create=false"}, "serviceAccount.name is required"},
		"probe entity Cilium rejects": {[]string{"--set", "networkPolicy.probesFromEntities[0]=hosts"}, "probesFromEntities"},
		"unknown crds key":            {[]string{"--set", "crds.install=true"}, "additional properties 'install'"},
		"unknown authorization key":   {[]string{"--set", "serviceMonitor.authorization.type=Basic"}, "additional properties 'type'"},
		"test timeout in words":       {[]string{"--set", "tests.timeout=2 minutes"}, "timeout"},
		"test profile not a name":     {[]string{"--set", "tests.profile=Standard"}, "profile"},
		"unknown tests key":           {[]string{"--set", "tests.namespace=x"}, "additional properties 'namespace'"},
		"digest without algorithm":    {[]string{"--set", "image.digest=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}, "digest"},
		"digest too short":            {[]string{"--set", "image.digest=sha256:0123abcd"}, "digest"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := render(t, tc.args...)
			if err == nil {
				t.Fatalf("helm template %v succeeded", tc.args)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not mention %q: %v", tc.want, err)
			}
		})
	}
}

// The all-features values file renders (test/e2e applies it to a real API server).
func TestAllFeaturesRender(t *testing.T) {
	objs := mustRender(t, append([]string{"-f", filepath.Join(chartDir, "ci", "all-features-values.yaml")}, allAPIs...)...)
	for _, k := range []string{"ServiceMonitor", "PrometheusRule", "CiliumNetworkPolicy", "PodDisruptionBudget", "Baseline"} {
		if find(objs, k, "") == nil {
			t.Errorf("all-features render lacks a %s", k)
		}
	}
	if find(objs, "NetworkProfile", "isolated") != nil || find(objs, "NetworkProfile", "batch") == nil {
		t.Error("catalogue entries set to null must disappear and added ones appear")
	}
	for _, o := range objs {
		if o.GetKind() == "NetworkProfile" && o.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("keepOnUninstall must annotate %s", o.GetName())
		}
	}
	if !slices.Contains(managerArgs(t, objs), "--label-domain=netpol.example.com") {
		t.Error("label domain not passed to the manager")
	}
}

// A metrics certificate Secret is mounted read-only and handed to the manager; without one, nothing is mounted
// and the manager generates its own.
func TestMetricsCertificateSecret(t *testing.T) {
	deployment := func(args ...string) corev1.PodSpec {
		d := &appsv1.Deployment{}
		into(t, find(mustRender(t, args...), "Deployment", release), d)
		return d.Spec.Template.Spec
	}
	pod := deployment("--set", "metrics.certSecretName=netprofile-metrics-cert")
	c := pod.Containers[0]
	if !slices.Contains(c.Args, "--metrics-cert-path=/etc/netprofile/metrics-certs") ||
		len(c.VolumeMounts) != 1 || c.VolumeMounts[0].MountPath != "/etc/netprofile/metrics-certs" || !c.VolumeMounts[0].ReadOnly ||
		len(pod.Volumes) != 1 || pod.Volumes[0].Secret == nil || pod.Volumes[0].Secret.SecretName != "netprofile-metrics-cert" {
		t.Errorf("the Secret must be mounted read-only and passed with --metrics-cert-path: args %v, mounts %+v, volumes %+v", c.Args, c.VolumeMounts, pod.Volumes)
	}
	for _, args := range [][]string{nil, {"--set", "metrics.certSecretName=x", "--set", "metrics.secure=false"}} {
		pod := deployment(args...)
		if len(pod.Volumes) != 0 || len(pod.Containers[0].VolumeMounts) != 0 || slices.ContainsFunc(pod.Containers[0].Args, func(a string) bool {
			return strings.HasPrefix(a, "--metrics-cert-path")
		}) {
			t.Errorf("%v: no certificate to mount, yet: %+v", args, pod)
		}
	}
}

// The admission policies render without any --api-versions (admissionregistration.k8s.io/v1 is core since
// 1.30, the chart's minimum, so they are never gated on .Capabilities): the defaults on, the opt-in ones off,
// each with its binding, its validationActions from values, and the LabelContract their parameters name.
func TestAdmissionPolicies(t *testing.T) {
	names := func(objs []*unstructured.Unstructured, kind string) []string {
		var out []string
		for _, o := range objs {
			if o.GetKind() == kind {
				out = append(out, o.GetName())
			}
		}
		slices.Sort(out)
		return out
	}
	defaults := []string{"netprofile-generated-policies", "netprofile-manager-writes", "netprofile-namespace-labels", "netprofile-namespace-subresources",
		"netprofile-platform-namespaces"}
	all := []string{"netprofile-escape-hatch", "netprofile-generated-policies", "netprofile-grants", "netprofile-manager-writes", "netprofile-namespace-labels",
		"netprofile-namespace-subresources", "netprofile-platform-namespaces"}
	tests := map[string]struct {
		args []string
		want []string
	}{
		"defaults, no cluster APIs": {want: defaults},
		"opt-ins on":                {args: []string{"--set", "admission.grants.enabled=true", "--set", "admission.escapeHatch.enabled=true"}, want: all},
		"admission off":             {args: []string{"--set", "admission.enabled=false"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := mustRender(t, tc.args...)
			if got := names(objs, "ValidatingAdmissionPolicy"); !slices.Equal(got, tc.want) {
				t.Errorf("policies %v, want %v", got, tc.want)
			}
			if got := names(objs, "ValidatingAdmissionPolicyBinding"); !slices.Equal(got, tc.want) {
				t.Errorf("bindings %v, want one per policy %v", got, tc.want)
			}
		})
	}

	objs := mustRender(t, "--set", "admission.labels.validationActions={Warn,Audit}", "--set", "admission.breakGlassGroups={oncall}")
	b := find(objs, "ValidatingAdmissionPolicyBinding", "netprofile-namespace-labels")
	if got, _, _ := unstructured.NestedStringSlice(b.Object, "spec", "validationActions"); !slices.Equal(got, []string{"Warn", "Audit"}) {
		t.Errorf("labels binding validationActions = %v, want the value's [Warn Audit]", got)
	}
	if got, _, _ := unstructured.NestedString(b.Object, "spec", "paramRef", "name"); got != "network-policy.homelab" || find(objs, "LabelContract", got) == nil {
		t.Errorf("labels binding reads LabelContract %q; the chart must ship it", got)
	}
	if got, _, _ := unstructured.NestedString(b.Object, "spec", "paramRef", "parameterNotFoundAction"); got != "Deny" {
		t.Errorf("parameterNotFoundAction = %q: a missing LabelContract must not open admission", got)
	}
	p := find(objs, "ValidatingAdmissionPolicy", "netprofile-generated-policies")
	rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "validations")
	expr := rules[0].(map[string]any)["expression"].(string)
	for _, want := range []string{`"system:serviceaccount:netprofile-system:netprofile"`, "system:serviceaccount:kube-system:generic-garbage-collector", `["oncall"]`} {
		if !strings.Contains(expr, want) {
			t.Errorf("generated-policies rule %q does not name %s", expr, want)
		}
	}
	lc := find(objs, "LabelContract", "network-policy.homelab")
	profiles, _, _ := unstructured.NestedStringSlice(lc.Object, "profiles")
	if !slices.Equal(profiles, []string{"internal", "internal-egress", "isolated", "standard"}) {
		t.Errorf("seeded profiles %v, want the chart's catalogue", profiles)
	}

	if _, err := render(t, "--set", "admission.labels.validationActions={Deny,Warn}"); err == nil {
		t.Error("the schema must refuse Deny together with Warn")
	}
	roles := names(mustRender(t), "ClusterRole")
	for _, want := range []string{"netprofile-sharedresource-user", "netprofile-escape-hatch", "netprofile-labelcontract-reader"} {
		if !slices.Contains(roles, want) {
			t.Errorf("ClusterRoles %v lack %s, which the README tells platform teams to bind", roles, want)
		}
	}
}

// The chart's seed of the LabelContract is exactly what the manager publishes for the chart's settings and
// catalogue, so installing writes nothing more and a server-side re-apply of the chart conflicts with nothing.
func TestLabelContractSeedIsThePublication(t *testing.T) {
	for name, args := range map[string][]string{
		"defaults":     nil,
		"all features": {"-f", filepath.Join(chartDir, "ci", "all-features-values.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			objs := mustRender(t, args...)
			var domain, clusterName string
			var platform, protected []string
			var thresholds enforcement.Thresholds
			for _, a := range managerArgs(t, objs) {
				k, v, _ := strings.Cut(a, "=")
				var err error
				switch k {
				case "--label-domain":
					domain = v
				case "--platform-namespaces":
					platform = strings.Split(v, ",")
				case "--cluster-name":
					clusterName = v
				case "--protected-namespace-labels":
					protected = strings.Split(v, ",")
				case "--enforcement-warning-after":
					thresholds.WarningAfter, err = time.ParseDuration(v)
				case "--enforcement-critical-after":
					thresholds.CriticalAfter, err = time.ParseDuration(v)
				case "--enforcement-max-disabled":
					thresholds.MaxDisabled, err = time.ParseDuration(v)
				}
				if err != nil {
					t.Fatalf("manager flag %s: %v", a, err)
				}
			}
			c, err := contract.New(domain)
			if err != nil {
				t.Fatal(err)
			}
			var profiles, resources []string
			cat := policy.Catalogue{Profiles: map[string]*v1alpha1.NetworkProfile{}, Resources: map[string]*v1alpha1.SharedResource{},
				Baselines: map[string]*v1alpha1.Baseline{}}
			for _, o := range objs {
				switch o.GetKind() {
				case "NetworkProfile":
					profiles = append(profiles, o.GetName())
					p := &v1alpha1.NetworkProfile{}
					into(t, o, p)
					cat.Profiles[p.Name] = p
				case "SharedResource":
					resources = append(resources, o.GetName())
					sr := &v1alpha1.SharedResource{}
					into(t, o, sr)
					cat.Resources[sr.Name] = sr
				case "Baseline":
					b := &v1alpha1.Baseline{}
					into(t, o, b)
					cat.Baselines[b.Name] = b
				}
			}
			want := c.Publish(contract.Settings{PlatformNamespaces: platform, ProtectedNamespaceLabels: protected, ClusterName: clusterName, WarningAfter: thresholds.WarningAfter,
				CriticalAfter: thresholds.CriticalAfter, MaxDisabled: thresholds.MaxDisabled}, profiles, resources, policy.CatalogueNamespaces(cat), nil)
			u := find(objs, "LabelContract", domain)
			if u == nil {
				t.Fatalf("no LabelContract named %s", domain)
			}
			got := &v1alpha1.LabelContract{}
			into(t, u, got)
			got.ObjectMeta, want.ObjectMeta = metav1.ObjectMeta{}, metav1.ObjectMeta{}
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("seed %+v\nwant the manager's publication %+v", got, want)
			}
			// Go's Duration format, as the manager writes it back: "5m0s", not "300s".
			if s, _, _ := unstructured.NestedString(u.Object, "enforcement", "warningAfter"); s != thresholds.WarningAfter.String() {
				t.Errorf("warningAfter %q, want %q", s, thresholds.WarningAfter.String())
			}
		})
	}
}

// Protected Namespace labels: the manager trusts a key (and publishes it) only while the chart's policy that
// protects it is installed; a key nothing protects is any tenant's to write.
func TestProtectedNamespaceLabels(t *testing.T) {
	keys := []string{"--set", "admission.protectedNamespaceLabels.keys={platform.example.com/tenant,platform.example.com/tier}",
		"--set", "admission.protectedNamespaceLabels.writers={platform-admins}"}
	const policy = release + "-protected-namespace-labels"
	has := func(objs []*unstructured.Unstructured) (flag string, published []string, installed bool) {
		for _, a := range managerArgs(t, objs) {
			if v, ok := strings.CutPrefix(a, "--protected-namespace-labels="); ok {
				flag = v
			}
		}
		lc := &v1alpha1.LabelContract{}
		into(t, find(objs, "LabelContract", "network-policy.homelab"), lc)
		return flag, lc.ProtectedNamespaceLabels, find(objs, "ValidatingAdmissionPolicy", policy) != nil
	}
	if flag, published, installed := has(mustRender(t)); flag != "" || published != nil || installed {
		t.Errorf("defaults: flag %q, published %v, policy %v; want none", flag, published, installed)
	}
	flag, published, installed := has(mustRender(t, keys...))
	if flag != "platform.example.com/tenant,platform.example.com/tier" || !slices.Equal(published, []string{"platform.example.com/tenant", "platform.example.com/tier"}) || !installed {
		t.Errorf("with keys: flag %q, published %v, policy %v", flag, published, installed)
	}
	if flag, published, installed := has(mustRender(t, append(keys, "--set", "admission.enabled=false")...)); flag != "" || published != nil || installed {
		t.Errorf("admission off: flag %q, published %v, policy %v; a key nothing protects must not be trusted", flag, published, installed)
	}
	if _, err := render(t, append(keys, "--set", "admission.protectedNamespaceLabels.keys={Not A Key}")...); err == nil {
		t.Error("a key that is not a label key must be refused by the schema")
	}
}
