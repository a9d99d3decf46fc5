package cli_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/cli"
	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
)

const (
	auditCapture = "../replay/testdata/audit.jsonl"
	shopCapture  = "../replay/testdata/shop.jsonl"
	dashAudit    = "testdata/namespaces/dash-audit.yaml"
	shopInternal = "testdata/namespaces/shop-internal.yaml"
)

// TestReplay: the audit namespace's forwarded flows judged against its own profile with enforcement on, and a
// profile change judged against real traffic.
func TestReplay(t *testing.T) {
	audit := run(t, "", "replay", auditCapture, "-f", dashAudit)
	if audit.code != cli.ExitFindings {
		t.Fatalf("exit %d, want %d: something would break\n%s", audit.code, cli.ExitFindings, audit.stderr)
	}
	golden(t, "replay-audit.txt", audit.stdout)

	change := run(t, "", "replay", shopCapture, "-f", shopInternal)
	if change.code != cli.ExitFindings {
		t.Fatalf("exit %d\n%s", change.code, change.stderr)
	}
	golden(t, "replay-shop.txt", change.stdout)

	// The same capture from stdin, as JSON.
	var report struct {
		WouldBreak, WouldFix, Unchanged int
		Groups                          []struct {
			Outcome, From, To, Port string
			Flows                   int
			Egress, Ingress         struct {
				Allowed, Judged bool
				Decision        string
			}
			Cause *struct{ Kind, Label, Fix string }
		}
	}
	capture := readFile(t, shopCapture)
	asJSON := run(t, capture, "replay", "-f", shopInternal, "-o", "json")
	if asJSON.code != cli.ExitFindings {
		t.Fatalf("exit %d\n%s", asJSON.code, asJSON.stderr)
	}
	if err := json.Unmarshal([]byte(asJSON.stdout), &report); err != nil {
		t.Fatal(err)
	}
	if report.WouldBreak != 9 || report.WouldFix != 5 || report.Unchanged != 8 {
		t.Errorf("-o json: %+v", report)
	}
	for _, g := range report.Groups {
		if g.Outcome == "wouldFix" && (g.To != "database" || !g.Egress.Allowed || g.Cause != nil) {
			t.Errorf("would fix: %+v", g)
		}
		if g.Outcome == "wouldBreak" && (g.Cause == nil || g.Cause.Kind != "SwitchProfile") {
			t.Errorf("would break without diagnose's fix: %+v", g)
		}
	}

	// With the profile the fixes name, nothing breaks: exit 0.
	standard := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels:\n    network-policy.homelab/profile: standard\n    access.network-policy.homelab/postgres: \"true\"\n"
	if r := run(t, standard, "replay", shopCapture, "-f", "-"); r.code != 0 || !strings.Contains(r.stdout, ": 0 flows would break, 5 flows would be fixed") {
		t.Errorf("standard and postgres: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	errs := map[string]struct {
		stdin  string
		args   []string
		stderr string
	}{
		"nothing to judge against": {args: []string{"replay", shopCapture}, stderr: "nothing to judge against"},
		"not Hubble output":        {stdin: "not json\n", args: []string{"replay", "-f", shopInternal}, stderr: "line 1"},
		"a missing capture":        {args: []string{"replay", "nope.jsonl", "-f", shopInternal}, stderr: "nope.jsonl"},
		"--live --catalogue alone": {args: []string{"replay", shopCapture, "--live", "--catalogue", "x"}, stderr: "-f"},
		"a bad output format":      {args: []string{"replay", shopCapture, "-f", shopInternal, "-o", "table"}, stderr: "--output"},
	}
	for name, tc := range errs {
		t.Run(name, func(t *testing.T) {
			if r := run(t, tc.stdin, tc.args...); r.code != cli.ExitError || !strings.Contains(r.stderr, tc.stderr) {
				t.Errorf("exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

// TestReplayNetworkPolicies: offline, replay judges a NetworkPolicy from --policies as Cilium enforces it,
// beside the rendered policies, and judges its namespace even when no manifest names it.
func TestReplayNetworkPolicies(t *testing.T) {
	const shopNetpol = "testdata/tenant/shop-allow-all-networkpolicy.yaml"
	unprofiled := "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n"
	without := run(t, unprofiled, "replay", shopCapture, "-f", "-")
	if without.code != cli.ExitFindings || !strings.Contains(without.stdout, ": 16 flows would break") {
		t.Fatalf("shop without a profile nor policies: exit %d\n%s%s", without.code, without.stdout, without.stderr)
	}
	with := run(t, unprofiled, "replay", shopCapture, "-f", "-", "--policies", shopNetpol)
	if with.code != cli.ExitOK || !strings.Contains(with.stdout, ": 0 flows would break, 6 flows would be fixed") ||
		!strings.Contains(with.stdout, "egress:   allowed by NetworkPolicy shop/tenant-allow-all") {
		t.Errorf("with the tenant's allow-all NetworkPolicy: exit %d\n%s%s", with.code, with.stdout, with.stderr)
	}
	elsewhere := run(t, "", "replay", shopCapture, "-f", dashAudit, "--policies", shopNetpol)
	if !strings.Contains(elsewhere.stdout, "ingress: allowed by NetworkPolicy shop/tenant-allow-all") {
		t.Errorf("shop is not judged for its NetworkPolicy: exit %d\n%s%s", elsewhere.code, elsewhere.stdout, elsewhere.stderr)
	}
	typo := run(t, unprofiled, "replay", shopCapture, "-f", "-", "--policies", "testdata/tenant/networkpolicy-typo.yaml")
	if typo.code != cli.ExitError || !strings.Contains(typo.stderr, `unknown field "podSelectr"`) {
		t.Errorf("a NetworkPolicy with a typo: exit %d, stderr %q", typo.code, typo.stderr)
	}
}

func TestSuggest(t *testing.T) {
	dash := run(t, "", "suggest", "--namespace", "dash", auditCapture)
	if dash.code != 0 {
		t.Fatalf("exit %d\n%s", dash.code, dash.stderr)
	}
	golden(t, "suggest-dash.txt", dash.stdout)

	// shop's capture has a flow nothing in the catalogue allows (pypi.org on 80): exit 1, listed.
	shop := run(t, readFile(t, shopCapture), "suggest", "-n", "shop", "-o", "json")
	var res struct {
		Profile    string
		Grants     []struct{ Resource string }
		Labels     map[string]string
		NotAllowed []struct{ To, Port string }
	}
	if err := json.Unmarshal([]byte(shop.stdout), &res); err != nil {
		t.Fatal(err, shop.stderr)
	}
	if shop.code != cli.ExitFindings || res.Profile != "standard" || len(res.Grants) != 1 || res.Grants[0].Resource != "postgres" ||
		len(res.NotAllowed) != 1 || res.NotAllowed[0].To != "world" || res.NotAllowed[0].Port != "80/TCP" ||
		res.Labels["access.network-policy.homelab/postgres"] != "true" {
		t.Errorf("exit %d: %s", shop.code, shop.stdout)
	}

	errs := map[string][]string{
		"no --namespace":               {"suggest", auditCapture},
		"a namespace without flows":    {"suggest", "-n", "nope", auditCapture},
		"a platform namespace":         {"suggest", "-n", "kube-system", auditCapture},
		"a namespace name that is not": {"suggest", "-n", "Not_A_Namespace", auditCapture},
	}
	for name, args := range errs {
		t.Run(name, func(t *testing.T) {
			if r := run(t, "", args...); r.code != cli.ExitError {
				t.Errorf("exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDiagnoseAudit: AUDIT verdicts (Cilium's own audit mode) are would-be drops.
func TestDiagnoseAudit(t *testing.T) {
	ht.Reset()
	app := ht.Pod{Namespace: "my-app", Name: "api-7d9f8-x2x4q", IP: "10.0.1.23", Labels: map[string]string{"app": "api"},
		NSLabels: map[string]string{"network-policy.homelab/profile": "isolated"}}
	b, err := ht.Lines(ht.Audited(app, ht.World("140.82.112.3", "api.github.com."), ht.TCP(443)),
		ht.Forwarded(app, ht.Pod{Namespace: "kube-system", Name: "coredns-6f6b679f8f-abcde", IP: "10.0.0.10",
			Labels: map[string]string{"k8s-app": "kube-dns"}}, ht.UDP(53)))
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, string(b), "diagnose")
	for _, s := range []string{"0 flows dropped by policy and 1 audited", "[1] egress my-app -> world on 443/TCP: 1 flow (1 audited)",
		"fix:   switch Namespace my-app to profile internal-egress or standard"} {
		if r.code != 0 || !strings.Contains(r.stdout, s) {
			t.Errorf("exit %d, output does not say %q:\n%s", r.code, s, r.stdout)
		}
	}
}
