package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
)

// hostile, printed raw, clears the screen, plants an OSC 8 link, moves the cursor back, opens an 8-bit CSI,
// reverses the text and forges a line of its own: what a tenant writes into a condition message, a label, a
// pod name or a file.
const (
	forged  = "netprofile: all policies valid"
	hostile = "evil\x1b[2J\x1b]8;;https://evil.example/\x07click\x1b]8;;\x1b\\\r\b\u009b31m\u202e\n" + forged
)

// terminalSafe fails when out would make a terminal act: a control or format character other than newline
// and tab, or a line the hostile string forged.
func terminalSafe(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) || r == unicode.ReplacementChar) {
			t.Errorf("%s prints %U raw:\n%s", what, r, out)
			return
		}
	}
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), forged) {
			t.Errorf("%s prints a forged line:\n%s", what, out)
			return
		}
	}
}

// exact fails unless the JSON document holds the hostile string unchanged: machine output is not escaped.
func exact(t *testing.T, what, out string) {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", what, err, out)
	}
	var found bool
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			found = found || strings.Contains(x, hostile)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for k, e := range x {
				walk(k)
				walk(e)
			}
		}
	}
	walk(v)
	if !found {
		t.Errorf("%s does not carry the string exactly:\n%s", what, out)
	}
}

// TestHostileStrings: strings from files and Hubble reach the terminal escaped in every text output, and
// exactly in JSON.
func TestHostileStrings(t *testing.T) {
	dir := t.TempDir()
	// YAML takes the controls escaped in double quotes (raw, the parser refuses the file).
	quoted := strconv.QuoteToASCII(hostile)
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ns := write("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+quoted+"\n  labels:\n    network-policy.homelab/profile: Standard\n")
	egress := "  - toEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n"
	cnp := write("cnp.yaml", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: "+quoted+"\n  namespace: shop\n"+
		"spec:\n  endpointSelector: {}\n  egressDeny:\n  - toEntities: [world]\n  egress:\n"+egress)
	// A pull request names its files: the file names reach findings and errors.
	named := filepath.Join(dir, "named")
	if err := os.Mkdir(named, 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join("named", strings.ReplaceAll(hostile, "/", "_")+".yaml"), "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: a\n  namespace: shop\n"+
		"spec:\n  endpointSelector: {}\n  egressDeny:\n  - toEntities: [world]\n")
	broken := filepath.Join(dir, "broken")
	if err := os.Mkdir(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join("broken", strings.ReplaceAll(hostile, "/", "_")+".yaml"), "a: [\n")
	allow := write("allow.yaml", "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: "+quoted+"\n  namespace: shop\n"+
		"spec:\n  endpointSelector: {}\n  egress:\n"+egress)
	// The allowing policy's name is a label on the flow: Hubble prints what the cluster holds.
	ht.Reset()
	shop := ht.Pod{Namespace: "shop", Name: hostile, IP: "10.0.2.31", Labels: map[string]string{"app": hostile},
		NSLabels: map[string]string{ht.ProfileKey: "standard"}}
	b, err := ht.Lines(
		ht.EgressDrop(shop, ht.Postgres, ht.TCP(5432)),
		ht.AllowedBy(ht.Forwarded(shop, ht.World("140.82.112.3", hostile), ht.TCP(443)), true, "CiliumNetworkPolicy", "shop", hostile),
		ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_CT_MAP_INSERTION_FAILED, flowpb.TrafficDirection_EGRESS, shop, ht.Postgres, ht.TCP(5432)),
	)
	if err != nil {
		t.Fatal(err)
	}
	flows := string(b)

	text := map[string]struct {
		stdin string
		args  []string
	}{
		"render":         {args: []string{"render", "-f", ns}},
		"lint":           {args: []string{"lint", cnp}},
		"check":          {args: []string{"check", "--policies", allow, "--from", "shop", "--to", "world", "--port", "443/TCP"}},
		"a file's name":  {args: []string{"lint", named}},
		"an error":       {args: []string{"lint", broken}},
		"diagnose":       {stdin: flows, args: []string{"diagnose"}},
		"replay":         {stdin: flows, args: []string{"replay", "-f", shopInternal}},
		"suggest":        {stdin: flows, args: []string{"suggest", "-n", "shop"}},
		"a Hubble error": {stdin: `{"flow":{"verdict":"` + strings.ReplaceAll(hostile, "\n", `\n`) + `"}}`, args: []string{"diagnose"}},
	}
	for name, tc := range text {
		t.Run(name, func(t *testing.T) {
			r := run(t, tc.stdin, tc.args...)
			if r.stdout+r.stderr == "" {
				t.Fatalf("no output, exit %d", r.code)
			}
			terminalSafe(t, "stdout", r.stdout)
			terminalSafe(t, "stderr", r.stderr)
		})
	}
	asJSON := map[string]struct {
		stdin string
		args  []string
	}{
		"lint":     {args: []string{"lint", cnp, "-o", "json"}},
		"sarif":    {args: []string{"lint", cnp, "-o", "sarif"}},
		"diagnose": {stdin: flows, args: []string{"diagnose", "-o", "json"}},
		"replay":   {stdin: flows, args: []string{"replay", "-f", shopInternal, "-o", "json"}},
	}
	for name, tc := range asJSON {
		t.Run(name+" -o json", func(t *testing.T) {
			exact(t, name, run(t, tc.stdin, tc.args...).stdout)
		})
	}
}
