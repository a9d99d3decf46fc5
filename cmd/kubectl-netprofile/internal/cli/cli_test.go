package cli_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/cli"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/lint"
	"github.com/netprofile/netprofile/pkg/contract"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	apps          = "testdata/namespaces/apps.yaml"
	broken        = "testdata/namespaces/broken.yaml"
	kubeSystem    = "testdata/platform/kube-system.yaml"
	istioGateway  = "testdata/platform/istio-gateway.yaml"
	hubbleCapture = "../diagnose/testdata/hubble-drops.jsonl"
	hubbleReport  = "../diagnose/testdata/hubble-drops.txt"
	tenantNetpols = "testdata/tenant/allow-all-networkpolicies.yaml"
	badPolicies   = "../lint/testdata/bad"
	goodPolicies  = "../lint/testdata/good"
)

type result struct {
	stdout, stderr string
	code           int
}

func run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := cli.Main(args, strings.NewReader(stdin), &out, &errOut)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/kubectl-netprofile/... -update)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update and review the diff):\n%s", file, got)
	}
}

func TestRender(t *testing.T) {
	cases := map[string]struct {
		args       []string
		stdin      string
		code       int
		golden     string
		stderr     string
		stdoutHas  []string
		stdoutNone []string
	}{
		"the policies of app namespaces and the cluster's": {
			args: []string{"render", "-f", apps, "--cluster-policies"}, golden: "render-apps.yaml",
		},
		"a refused namespace is reported with its reason, and the others still render": {
			args: []string{"render", "-f", apps, "-f", broken}, code: cli.ExitFindings,
			stderr:    `refused: Namespace typo: InvalidLabel: label network-policy.homelab/profile="Standard": NetworkProfile names are lower case: did you mean "standard"?`,
			stdoutHas: []string{"namespace: shop", "namespace: batch"}, stdoutNone: []string{"namespace: typo"},
		},
		"a namespace from stdin": {
			args: []string{"render", "-f", "-"}, stdin: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels:\n    network-policy.homelab/profile: isolated\n",
			stdoutHas: []string{"name: netprofile-namespace", "namespace: x"},
		},
		"a catalogue from the PR overrides the shipped one": {
			args: []string{"render", "-f", "-"}, stdin: `apiVersion: v1
kind: Namespace
metadata: {name: x, labels: {network-policy.homelab/profile: isolated}}
---
apiVersion: network-policy.homelab/v1alpha1
kind: NetworkProfile
metadata: {name: isolated}
spec:
  egress:
    - entities: [world]
      ports: [{port: 8443, protocol: TCP}]
`,
			stdoutHas: []string{`port: "8443"`},
		},
		"a custom label domain": {
			args: []string{"render", "--label-domain", "np.example.org", "-f", "-"}, stdin: "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n  labels:\n    np.example.org/profile: standard\n",
			stdoutHas: []string{"np.example.org/profile: standard"},
		},
		"nothing to render": {args: []string{"render"}, code: cli.ExitError, stderr: "nothing to render"},
		"a file without namespaces": {
			args: []string{"render", "-f", kubeSystem}, code: cli.ExitError, stderr: "no Namespace found",
		},
		"an unknown output format": {args: []string{"render", "-f", apps, "-o", "toml"}, code: cli.ExitError, stderr: `--output "toml"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, tc.stdin, tc.args...)
			if r.code != tc.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			if tc.golden != "" {
				golden(t, tc.golden, r.stdout)
			}
			if !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.stderr)
			}
			for _, s := range tc.stdoutHas {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("stdout does not contain %q:\n%s", s, r.stdout)
				}
			}
			for _, s := range tc.stdoutNone {
				if strings.Contains(r.stdout, s) {
					t.Errorf("stdout contains %q:\n%s", s, r.stdout)
				}
			}
		})
	}
}

// TestRenderAdmission: render refuses what the chart's label admission policy refuses (pkg/policy Admission),
// once per problem, whether or not the renderer refuses it too.
func TestRenderAdmission(t *testing.T) {
	const note = "(admission would reject the namespace)"
	ns := func(name, labels string) string {
		return "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n  labels:\n" + labels
	}
	cases := map[string]struct {
		stdin string
		code  int
		// refused are the refusal lines on stderr, in order, each as a substring.
		refused []string
	}{
		"an enforcement value other than disabled": {
			stdin: ns("x", "    network-policy.homelab/profile: isolated\n    network-policy.homelab/enforcement: \"off\"\n"), code: cli.ExitFindings,
			refused: []string{`refused: Namespace x: InvalidEnforcementValue: label network-policy.homelab/enforcement="off" is not understood: netprofile understands "disabled" (the escape hatch) and "audit" (audit mode)`},
		},
		"a profile label in the wrong case": {
			stdin: ns("x", "    network-policy.homelab/profile: Standard\n"), code: cli.ExitFindings,
			refused: []string{`refused: Namespace x: InvalidLabel: label network-policy.homelab/profile="Standard": NetworkProfile names are lower case: did you mean "standard"?`},
		},
		"several bad labels on one namespace, one line": {
			stdin: ns("x", "    network-policy.homelab/profile: gold\n    access.network-policy.homelab/postgres: \"yes\"\n    access.network-policy.homelab/mysql: \"true\"\n"), code: cli.ExitFindings,
			refused: []string{`refused: Namespace x: InvalidLabel: label access.network-policy.homelab/postgres="yes": the only value that grants access is "true"; remove the label to revoke it; NetworkProfile "gold" does not exist (label network-policy.homelab/profile=gold); known profiles: internal, internal-egress, isolated, standard; SharedResource "mysql" does not exist (label access.network-policy.homelab/mysql); known resources: dragonfly, garage-s3, kube-api, postgres; this namespace has no access to mysql (a grant that stood is withdrawn with its SharedResource) ` + note},
		},
		"a platform namespace with a profile and a bad enforcement value": {
			stdin: ns("kube-system", "    network-policy.homelab/profile: isolated\n    network-policy.homelab/enforcement: \"no\"\n"), code: cli.ExitFindings,
			refused: []string{
				"refused: Namespace kube-system: PlatformNamespace: kube-system is a platform namespace",
				`refused: Namespace kube-system: InvalidEnforcementValue: label network-policy.homelab/enforcement="no"`,
			},
		},
		"a grant of a SharedResource being deleted: the renderer's words, marked, once": {
			stdin: ns("x", "    access.network-policy.homelab/postgres: \"true\"\n") + `
---
apiVersion: network-policy.homelab/v1alpha1
kind: SharedResource
metadata: {name: postgres, deletionTimestamp: "2026-01-01T00:00:00Z"}
spec:
  provider: {namespace: database}
  ports: [{port: 5432, protocol: TCP}]
`, code: cli.ExitFindings,
			refused: []string{`refused: Namespace x: SharedResourceNotFound: SharedResource "postgres" is being deleted (label access.network-policy.homelab/postgres); this namespace has no access to postgres`},
		},
		"a profile being deleted: the renderer's words, marked, once": {
			stdin: ns("x", "    network-policy.homelab/profile: isolated\n") + `
---
apiVersion: network-policy.homelab/v1alpha1
kind: NetworkProfile
metadata: {name: isolated, deletionTimestamp: "2026-01-01T00:00:00Z"}
spec: {}
`, code: cli.ExitFindings,
			refused: []string{`refused: Namespace x: ProfileNotFound: NetworkProfile "isolated" is being deleted (label network-policy.homelab/profile=isolated)`},
		},
		"a good namespace with the escape hatch open: nothing refused": {
			stdin: ns("x", "    network-policy.homelab/profile: standard\n    network-policy.homelab/enforcement: disabled\n"),
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, tc.stdin, "render", "-f", "-")
			if r.code != tc.code {
				t.Fatalf("exit code %d, want %d\nstderr: %s", r.code, tc.code, r.stderr)
			}
			var refused []string
			for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
				if strings.HasPrefix(l, "refused: ") {
					refused = append(refused, l)
				}
			}
			if len(refused) != len(tc.refused) {
				t.Fatalf("%d refusals, want %d:\n%s", len(refused), len(tc.refused), r.stderr)
			}
			for i, want := range tc.refused {
				if !strings.Contains(refused[i], want) || !strings.HasSuffix(refused[i], note) || strings.Count(refused[i], note) != 1 {
					t.Errorf("refusal %d = %q, want it to contain %q and end with %q once", i, refused[i], want, note)
				}
			}
		})
	}
}

// TestOffline: offline commands never read the cluster unless asked to with --cluster-defaults.
func TestOffline(t *testing.T) {
	nowhere := "--kubeconfig=/nonexistent/kubeconfig"
	if r := run(t, "", "render", "-f", apps, nowhere); r.code != 0 || r.stderr != "" {
		t.Errorf("render without --cluster-defaults: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := run(t, "", "lint", goodPolicies, "--external-cidr", "198.51.100.0/24", nowhere); r.code != 0 {
		t.Errorf("lint without --cluster-defaults: exit %d, stderr %q", r.code, r.stderr)
	}
	// Asked for the cluster's settings, a cluster it cannot reach is an error, not a silent default.
	if r := run(t, "", "render", "-f", apps, "--cluster-defaults", nowhere); r.code != cli.ExitError || !strings.Contains(r.stderr, "kubeconfig") {
		t.Errorf("render --cluster-defaults without a kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
	// Both flags given, the escape hatch's thresholds (which have no flag) are still the cluster's to say.
	if r := run(t, "", "render", "-f", apps, "--cluster-defaults", nowhere, "--label-domain", "network-policy.homelab", "--platform-namespaces", "kube-system"); r.code != cli.ExitError || !strings.Contains(r.stderr, "kubeconfig") {
		t.Errorf("render --cluster-defaults with both flags, without a kubeconfig: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestRenderJSON: -o json is a List of exactly the objects -o yaml prints.
func TestRenderJSON(t *testing.T) {
	r := run(t, "", "render", "-f", apps, "--cluster-policies", "-o", "json")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var list struct {
		Kind  string `json:"kind"`
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct{ Name, Namespace string }
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		t.Fatal(err)
	}
	yamlOut := run(t, "", "render", "-f", apps, "--cluster-policies").stdout
	if list.Kind != "List" || len(list.Items) != strings.Count(yamlOut, "kind: Cilium") {
		t.Errorf("JSON has %d items of kind %q, YAML %d objects", len(list.Items), list.Kind, strings.Count(yamlOut, "kind: Cilium"))
	}
}

func TestLint(t *testing.T) {
	good := run(t, "", "lint", goodPolicies, "--external-cidr", "198.51.100.0/24")
	if good.code != 0 || good.stdout != "" {
		t.Errorf("good policies: exit %d, stdout %q", good.code, good.stdout)
	}
	bad := run(t, "", "lint", badPolicies)
	if bad.code != cli.ExitFindings {
		t.Fatalf("bad policies: exit %d, want %d", bad.code, cli.ExitFindings)
	}
	golden(t, "lint-bad.txt", bad.stdout)

	asJSON := run(t, "", "lint", badPolicies, "-o", "json")
	var findings []struct{ File, Rule, Hint string }
	if err := json.Unmarshal([]byte(asJSON.stdout), &findings); err != nil {
		t.Fatal(err)
	}
	if asJSON.code != cli.ExitFindings || len(findings) != strings.Count(bad.stdout, "\n    fix: ") {
		t.Errorf("-o json: exit %d, %d findings; text had %d", asJSON.code, len(findings), strings.Count(bad.stdout, "\n    fix: "))
	}

	stdin, err := os.ReadFile(filepath.Join(badPolicies, "deny-rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	piped := run(t, string(stdin), "lint", "-")
	if piped.code != cli.ExitFindings || !strings.HasPrefix(piped.stdout, "<stdin>:9: [deny-rule]") {
		t.Errorf("stdin: exit %d, stdout %q", piped.code, piped.stdout)
	}
	external := run(t, "", "lint", filepath.Join(badPolicies, "hardcoded-ip.yaml"), "--external-cidr", "203.0.113.0/24,198.51.100.0/24")
	if strings.Contains(external.stdout, "203.0.113.0/24") || !strings.Contains(external.stdout, "10.42.1.17/32") {
		t.Errorf("--external-cidr: %s", external.stdout)
	}
	if r := run(t, "", "lint", "--rules"); r.code != 0 || !strings.Contains(r.stdout, "clusterwide-empty-peer") {
		t.Errorf("--rules: exit %d, %q", r.code, r.stdout)
	}
	if r := run(t, "", "lint", "does-not-exist.yaml"); r.code != cli.ExitError {
		t.Errorf("missing file: exit %d", r.code)
	}
}

// TestLintSARIF: -o sarif is a SARIF 2.1.0 log that the SARIF 2.1.0 JSON schema accepts (the OASIS schema
// go-sarif embeds), with every rule and help, and each finding of -o json at its file and line.
func TestLintSARIF(t *testing.T) {
	r := run(t, "", "lint", badPolicies, "-o", "sarif")
	if r.code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d: %s", r.code, cli.ExitFindings, r.stderr)
	}
	log, err := sarif.FromBytes([]byte(r.stdout), sarif.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	if err := log.Validate(); err != nil {
		t.Fatalf("the SARIF 2.1.0 schema rejects the output: %v", err)
	}
	// What was validated is exactly what was printed: nothing lost in decoding.
	again, err := json.Marshal(log)
	if err != nil {
		t.Fatal(err)
	}
	var printed, validated any
	if err := json.Unmarshal([]byte(r.stdout), &printed); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again, &validated); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(printed, validated) {
		t.Fatalf("the output does not survive decoding, so the schema check did not see all of it:\n%s\n%s", r.stdout, again)
	}
	// The check can fail: the schema rejects a level SARIF does not have.
	bad, err := sarif.FromBytes([]byte(r.stdout), sarif.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	bad.Runs[0].Results[0].WithLevel("fatal")
	if err := bad.Validate(); err == nil {
		t.Fatal("the schema accepts level \"fatal\": the validation proves nothing")
	}

	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %s, %d runs", log.Version, len(log.Runs))
	}
	run0 := log.Runs[0]
	var ids []string
	for _, rule := range run0.Tool.Driver.Rules {
		ids = append(ids, *rule.ID)
		if rule.Help == nil || rule.Help.Text == nil || !strings.HasPrefix(*rule.Help.Text, lint.Rules[*rule.ID]) {
			t.Errorf("rule %s has no help text", *rule.ID)
		}
	}
	if want := slices.Sorted(maps.Keys(lint.Rules)); !slices.Equal(ids, want) {
		t.Errorf("rules %v, want %v", ids, want)
	}
	var findings []lint.Finding
	if err := json.Unmarshal([]byte(run(t, "", "lint", badPolicies, "-o", "json").stdout), &findings); err != nil {
		t.Fatal(err)
	}
	if len(run0.Results) != len(findings) || len(findings) == 0 {
		t.Fatalf("%d results, %d findings", len(run0.Results), len(findings))
	}
	for i, res := range run0.Results {
		f := findings[i]
		loc := res.Locations[0].PhysicalLocation
		if *res.RuleID != f.Rule || res.RuleIndex < 0 || *run0.Tool.Driver.Rules[res.RuleIndex].ID != f.Rule ||
			res.Level != "error" || *loc.ArtifactLocation.URI != filepath.ToSlash(f.File) || *loc.Region.StartLine != f.Line ||
			!strings.Contains(*res.Message.Text, f.Message) || !strings.Contains(*res.Message.Text, f.Hint) {
			t.Errorf("result %d = rule %s, %s:%d, %q; finding %+v", i, *res.RuleID, *loc.ArtifactLocation.URI, *loc.Region.StartLine, *res.Message.Text, f)
		}
	}
	// Standard input has no file name.
	stdin, err := os.ReadFile(filepath.Join(badPolicies, "deny-rule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	piped, err := sarif.FromString(run(t, string(stdin), "lint", "-", "-o", "sarif").stdout, sarif.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	if err := piped.Validate(); err != nil || *piped.Runs[0].Results[0].Locations[0].PhysicalLocation.ArtifactLocation.URI != "stdin" {
		t.Errorf("stdin: %v", err)
	}
	// No findings is a valid log with no results.
	good := run(t, "", "lint", goodPolicies, "--external-cidr", "198.51.100.0/24", "-o", "sarif")
	empty, err := sarif.FromString(good.stdout, sarif.WithStrictValidation())
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.Validate(); good.code != 0 || err != nil || len(empty.Runs[0].Results) != 0 {
		t.Errorf("no findings: exit %d, %v, %d results", good.code, err, len(empty.Runs[0].Results))
	}
}

func TestDiagnose(t *testing.T) {
	want, err := os.ReadFile(hubbleReport)
	if err != nil {
		t.Fatal(err)
	}
	capture, err := os.ReadFile(hubbleCapture)
	if err != nil {
		t.Fatal(err)
	}
	fromFile := run(t, "", "diagnose", hubbleCapture)
	fromStdin := run(t, string(capture), "diagnose")
	for name, r := range map[string]result{"file": fromFile, "stdin": fromStdin} {
		if r.code != 0 || r.stdout != string(want) {
			t.Errorf("%s: exit %d, report differs from %s:\n%s", name, r.code, hubbleReport, r.stdout)
		}
	}
	asJSON := run(t, "", "diagnose", hubbleCapture, "-o", "json")
	var report struct {
		PolicyDrops int `json:"policyDrops"`
		Groups      []struct {
			Cause struct{ Kind, Label string }
		}
	}
	if err := json.Unmarshal([]byte(asJSON.stdout), &report); err != nil {
		t.Fatal(err)
	}
	if report.PolicyDrops != 9 || !slices.ContainsFunc(report.Groups, func(g struct{ Cause struct{ Kind, Label string } }) bool {
		return g.Cause.Label == "access.network-policy.homelab/postgres=true"
	}) {
		t.Errorf("-o json: %s", asJSON.stdout)
	}
	if r := run(t, "not json\n", "diagnose"); r.code != cli.ExitError || !strings.Contains(r.stderr, "line 1") {
		t.Errorf("garbage: exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestCheck runs the proof through the command line, on the rendered shipped catalogue plus
// kube-system's platform policy.
func TestCheck(t *testing.T) {
	cases := map[string]struct {
		from, to, port string
		// files and policies replace -f apps and --policies kube-system when given.
		files, policies []string
		code            int
		says            string
	}{
		"isolated reaches kube-dns:53/UDP": {from: "batch/app=job", to: "kube-system/k8s-app=kube-dns", port: "53/UDP",
			says: "allowed by CiliumClusterwideNetworkPolicy netprofile-baseline-dns"},
		"isolated does not reach world:443": {from: "batch/app=job", to: "world", port: "443/TCP", code: cli.ExitFindings,
			says: "denied: the namespace's labels do not allow it (the ceiling, CiliumNetworkPolicy batch/netprofile-ceiling, holds every other policy to them)"},
		"standard reaches world:443": {from: "shop/app=api", to: "world", port: "443/TCP",
			says: "allowed by CiliumNetworkPolicy shop/netprofile-namespace"},
		"postgres-labelled reaches database:5432": {from: "shop/app=api", to: "database", port: "5432/TCP",
			says: "allowed by CiliumNetworkPolicy database/netprofile-provider-postgres"},
		"unlabelled does not reach database:5432":         {from: "plain/app=x", to: "database", port: "5432/TCP", code: cli.ExitFindings},
		"two profiled namespaces cannot reach each other": {from: "shop/app=api", to: "batch/app=job", port: "8080/TCP", code: cli.ExitFindings},
		"the escape hatch opens the namespace": {from: "hatch/app=x", to: "world", port: "443/TCP",
			says: "allowed by CiliumNetworkPolicy hatch/netprofile-enforcement-disabled"},
		// Cilium enforces a NetworkPolicy from a file as it does one in the cluster (--live).
		"an allow-all NetworkPolicy opens a namespace without a profile": {from: "plain/app=web", to: "world", port: "443/TCP",
			files: []string{homelab}, policies: []string{"testdata/platform/", tenantNetpols},
			says: "allowed by NetworkPolicy plain/tenant-allow-all"},
		"a NetworkPolicy beside the Namespace manifests is read too": {from: "plain/app=web", to: "world", port: "443/TCP",
			files: []string{homelab, tenantNetpols}, policies: []string{"testdata/platform/"},
			says: "allowed by NetworkPolicy plain/tenant-allow-all"},
		"the ceiling holds a profiled namespace's allow-all NetworkPolicy": {from: "batch/app=job", to: "world", port: "443/TCP",
			policies: []string{kubeSystem, tenantNetpols}, code: cli.ExitFindings,
			says: "denied: the namespace's labels do not allow it (the ceiling, CiliumNetworkPolicy batch/netprofile-ceiling, holds every other policy to them)"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			files, policies := cmpOr(tc.files, []string{apps}), cmpOr(tc.policies, []string{kubeSystem})
			r := run(t, "", "check", "-f", strings.Join(files, ","), "--policies", strings.Join(policies, ","),
				"--from", tc.from, "--to", tc.to, "--port", tc.port)
			if r.code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
			}
			if !strings.Contains(r.stdout, tc.says) {
				t.Errorf("output does not say %q:\n%s", tc.says, r.stdout)
			}
		})
	}

	asJSON := run(t, "", "check", "-f", apps, "--from", "shop/app=api", "--to", "database", "--port", "5432", "-o", "json")
	var res struct {
		Allowed bool
		Ingress struct {
			DecidedBy []struct{ Kind, Namespace, Name string }
		}
	}
	if err := json.Unmarshal([]byte(asJSON.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if !res.Allowed || len(res.Ingress.DecidedBy) != 1 || res.Ingress.DecidedBy[0].Name != "netprofile-provider-postgres" {
		t.Errorf("-o json: %s", asJSON.stdout)
	}

	errs := map[string][]string{
		"a bad endpoint":               {"check", "--from", "Not_A_Namespace", "--to", "world", "--port", "443"},
		"a bad port":                   {"check", "--from", "a", "--to", "world", "--port", "443/HTTP"},
		"a missing flag":               {"check", "--from", "a", "--to", "world"},
		"--live with -f":               {"check", "--live", "-f", apps, "--from", "a", "--to", "world", "--port", "443"},
		"a policy Cilium would reject": {"check", "--policies", filepath.Join(badPolicies, "cilium-rejects.yaml"), "--from", "a", "--to", "world", "--port", "443"},
		"a NetworkPolicy with a typo":  {"check", "--policies", "testdata/tenant/networkpolicy-typo.yaml", "--from", "plain/app=web", "--to", "world", "--port", "443"},
		"a NetworkPolicy with a typo beside the manifests": {"check", "-f", homelab + ",testdata/tenant/networkpolicy-typo.yaml",
			"--from", "plain/app=web", "--to", "world", "--port", "443"},
	}
	for name, args := range errs {
		t.Run(name, func(t *testing.T) {
			if r := run(t, "", args...); r.code != cli.ExitError {
				t.Errorf("exit %d, want %d: %s", r.code, cli.ExitError, r.stderr)
			}
		})
	}
}

// TestHelp: every subcommand explains itself with examples that use the plugin's kubectl name.
func TestHelp(t *testing.T) {
	for _, sub := range []string{"render", "status", "lint", "diagnose", "check", "replay", "suggest", "version"} {
		r := run(t, "", sub, "--help")
		if r.code != 0 || !strings.Contains(r.stdout, "Examples:") || !strings.Contains(r.stdout, "kubectl netprofile "+sub) {
			t.Errorf("%s --help: exit %d\n%s", sub, r.code, r.stdout)
		}
	}
	// render refuses an enforcement value netprofile does not understand: its help names every one it does.
	render := run(t, "", "render", "--help")
	for _, v := range contract.EnforcementValues {
		if !strings.Contains(render.stdout, strconv.Quote(v)) {
			t.Errorf("render --help does not name the enforcement value %q:\n%s", v, render.stdout)
		}
	}
	root := run(t, "", "--help")
	for _, s := range []string{"kubectl netprofile [command]", "Exit codes", "LabelContract", "--cluster-defaults"} {
		if !strings.Contains(root.stdout, s) {
			t.Errorf("--help does not contain %q:\n%s", s, root.stdout)
		}
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		if r := run(t, "", "completion", shell); r.code != 0 || !strings.Contains(r.stdout, "kubectl-netprofile") {
			t.Errorf("completion %s: exit %d, %d bytes", shell, r.code, len(r.stdout))
		}
	}
	for cmd, formats := range map[string][]string{
		"check":  {"text", "json", "yaml"},
		"lint":   {"text", "json", "sarif"},
		"status": {"table", "wide", "json", "yaml", "name", "jsonpath", "custom-columns"},
		"render": {"yaml", "json", "name", "jsonpath", "custom-columns"},
	} {
		r := run(t, "", "__complete", cmd, "--output", "")
		for _, want := range formats {
			if !strings.Contains(r.stdout, want+"\n") {
				t.Errorf("completing %s -o does not offer %s:\n%s", cmd, want, r.stdout)
			}
		}
	}
}

// TestRenderPrinters: render's -o takes kubectl's formats, on the List -o json prints.
func TestRenderPrinters(t *testing.T) {
	var list struct {
		Items []struct {
			Kind     string
			Metadata struct{ Name, Namespace string }
		}
	}
	if err := json.Unmarshal([]byte(run(t, "", "render", "-f", apps, "-o", "json").stdout), &list); err != nil {
		t.Fatal(err)
	}
	var names, columns []string
	for _, it := range list.Items {
		names = append(names, "ciliumnetworkpolicy.cilium.io/"+it.Metadata.Name)
		columns = append(columns, it.Metadata.Namespace+" "+it.Metadata.Name)
	}
	if len(names) < 3 {
		t.Fatalf("-o json has %d items", len(names))
	}
	if r := run(t, "", "render", "-f", apps, "-o", "name"); r.code != 0 || r.stdout != strings.Join(names, "\n")+"\n" {
		t.Errorf("-o name: exit %d\n%s", r.code, r.stdout)
	}
	r := run(t, "", "render", "-f", apps, "-o", "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name")
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	if r.code != 0 || !slices.Equal(lines, append([]string{"NAMESPACE NAME"}, columns...)) {
		t.Errorf("-o custom-columns: exit %d\n%q", r.code, lines)
	}
	if r := run(t, "", "render", "-f", apps, "-o", "custom-columns=NAMESPACE:.metadata.namespace,NAME:.metadata.name", "--no-headers"); !strings.HasPrefix(r.stdout, strings.Fields(columns[0])[0]+" ") {
		t.Errorf("--no-headers:\n%s", r.stdout)
	}
	if r := run(t, "", "render", "-f", apps, "-o", "jsonpath={.items[*].metadata.namespace}"); r.code != 0 || len(strings.Fields(r.stdout)) != len(names) {
		t.Errorf("-o jsonpath: exit %d, %q", r.code, r.stdout)
	}
	for _, bad := range []string{"wide", "custom-columns=", "jsonpath={.items["} {
		if r := run(t, "", "render", "-f", apps, "-o", bad); r.code != cli.ExitError || !strings.Contains(r.stderr, "--output") {
			t.Errorf("-o %s: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
}

// TestVersion: version needs no cluster, and prints pkg/version's answer.
func TestVersion(t *testing.T) {
	r := run(t, "", "version", "--kubeconfig=/nonexistent")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "kubectl-netprofile dev (revision ") || !strings.Contains(r.stdout, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("exit %d, %q", r.code, r.stdout)
	}
	var info struct{ Version, GoVersion, Platform string }
	if err := json.Unmarshal([]byte(run(t, "", "version", "-o", "json").stdout), &info); err != nil {
		t.Fatal(err)
	}
	if info.Version != "dev" || info.GoVersion != runtime.Version() || info.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("-o json: %+v", info)
	}
	if r := run(t, "", "version", "-o", "yaml"); !strings.Contains(r.stdout, "version: dev\n") {
		t.Errorf("-o yaml: %q", r.stdout)
	}
}

// cmpOr is cmp.Or for slices: the first non-empty one.
func cmpOr[T any](s ...[]T) []T {
	for _, v := range s {
		if len(v) > 0 {
			return v
		}
	}
	return nil
}
