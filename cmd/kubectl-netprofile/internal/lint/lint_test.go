package lint_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/lint"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func options() lint.Options {
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		panic(err)
	}
	return lint.Options{
		PlatformNamespaces: policy.DefaultPlatformNamespaces,
		ExternalCIDRs:      []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")},
		Render: &desired.Input{Renderer: policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName},
			Catalogue: cat, Scope: desired.All, Now: time.Unix(0, 0), Thresholds: enforcement.DefaultThresholds},
	}
}

func run(t *testing.T, opts lint.Options, paths ...string) []lint.Finding {
	t.Helper()
	l := lint.New(opts)
	if err := l.AddPaths(nil, paths...); err != nil {
		t.Fatal(err)
	}
	return l.Findings()
}

func rules(findings []lint.Finding) []string {
	var out []string
	for _, f := range findings {
		out = append(out, f.Rule)
	}
	slices.Sort(out)
	return out
}

func TestLint(t *testing.T) {
	cases := map[string]struct {
		file string
		opts func(*lint.Options)
		want []string
		// says is in some finding's message, when given.
		says string
	}{
		"the seed's platform template, filled in, is clean":              {file: "good/platform-database.yaml"},
		"HBONE through the cluster entity satisfies the platform rule":   {file: "good/platform-entities.yaml"},
		"explicit peers, ports, FQDNs and declared external ranges pass": {file: "good/app.yaml"},
		"deny to all, deny to {} and ingress: [{}] are explicit default-denies": {
			file: "bad/explicit-default-deny.yaml",
			want: []string{lint.RuleDefaultDeny, lint.RuleDefaultDeny, lint.RuleDefaultDeny},
		},
		"any deny rule defeats the escape hatch": {file: "bad/deny-rule.yaml", want: []string{lint.RuleDenyRule}},
		"a team's policy beside a profile is judged against the labels; the ceiling holds it": {
			file: "bad/beyond-labels.yaml", want: []string{lint.RuleBeyondLabels},
		},
		"... and where the profile only reports its ceiling, it widens the namespace": {
			file: "bad/beyond-labels.yaml", want: []string{lint.RuleBeyondLabels},
			opts: reportCeiling("standard"),
		},
		"a team's NetworkPolicy beside a profile is judged against the labels; the ceiling holds it": {
			file: "bad/beyond-labels-networkpolicy.yaml", want: []string{lint.RuleBeyondLabels},
			says: "past the labels of namespace reports (profile internal), but the namespace's ceiling (netprofile-ceiling) denies them",
		},
		"... and where the profile only reports its ceiling, the NetworkPolicy widens the namespace": {
			file: "bad/beyond-labels-networkpolicy.yaml", want: []string{lint.RuleBeyondLabels}, opts: reportCeiling("internal"),
			says: "past the labels of namespace reports (profile internal): ",
		},
		"a NetworkPolicy that only narrows stays within the labels": {file: "good/networkpolicy-narrow.yaml"},
		"a NetworkPolicy the API server refuses or prunes is not judged": {
			file: "bad/networkpolicy-invalid.yaml", want: []string{lint.RuleDecode, lint.RuleNetworkPolicyInvalid},
		},
		"without the Namespace manifest there are no labels to judge against": {file: "good/app.yaml"},
		"pod IPs, public ranges and 0.0.0.0/0 are hard-coded; link-local and external ranges are not": {
			file: "bad/hardcoded-ip.yaml",
			want: []string{lint.RuleHardcodedIP, lint.RuleHardcodedIP, lint.RuleHardcodedIP},
		},
		"undeclared external range is hard-coded": {
			file: "bad/hardcoded-ip.yaml",
			opts: func(o *lint.Options) { o.ExternalCIDRs = nil },
			want: []string{lint.RuleHardcodedIP, lint.RuleHardcodedIP, lint.RuleHardcodedIP, lint.RuleHardcodedIP},
		},
		"rules without ports or with port 0 open every port, health probes excepted": {
			file: "bad/missing-ports.yaml",
			want: []string{lint.RuleMissingPorts, lint.RuleMissingPorts, lint.RuleMissingPorts, lint.RuleMissingPorts},
		},
		"egress: [] is empty; a policy of only empty sections is also rejected by Cilium": {
			file: "bad/empty-section.yaml",
			want: []string{lint.RuleCiliumRejects, lint.RuleEmptySection, lint.RuleEmptySection},
		},
		"{} peers in a clusterwide policy mean every namespace": {
			file: "bad/clusterwide-empty-peer.yaml",
			want: []string{lint.RuleClusterwideEmptyPeer, lint.RuleClusterwideEmptyPeer},
		},
		"lowercase protocols pass Sanitize but fail the CRD": {
			file: "bad/lowercase-protocol.yaml",
			want: []string{lint.RuleCiliumRejects, lint.RuleLowercaseProtocol},
		},
		"port 70000 fails Cilium's Sanitize": {file: "bad/cilium-rejects.yaml", want: []string{lint.RuleCiliumRejects}},
		"an unknown field would be pruned silently, leaving a rule that opens every port": {
			file: "bad/decode-error.yaml",
			want: []string{lint.RuleDecode, lint.RuleMissingPorts},
		},
		"a platform namespace needs Prometheus scrape and, when ambient, HBONE": {
			file: "bad/platform.yaml",
			want: []string{lint.RulePlatformHBONE, lint.RulePlatformPrometheus},
		},
		"HBONE is required only in ambient namespaces": {
			file: "good/app.yaml",
			opts: func(o *lint.Options) { o.PlatformNamespaces = []string{"shop"} },
			want: []string{lint.RulePlatformPrometheus},
		},
		"kube-system's policies must let the cluster reach kube-dns on 53/UDP and 53/TCP": {
			file: "good/platform-kube-system.yaml",
		},
		"DNS ingress from the namespace only, on TCP only, or to other pods is not enough": {
			file: "bad/platform-kube-dns.yaml",
			want: []string{lint.RulePlatformDNSIngress},
		},
		"namespaces outside the platform list get no platform rules": {
			file: "bad/platform.yaml",
			opts: func(o *lint.Options) { o.PlatformNamespaces = nil },
		},
		"in a ClusterMesh, pod peers that name no cluster change meaning with policy-default-local-cluster": {
			file: "mesh/cluster-unscoped-peer.yaml",
			opts: meshOn,
			want: []string{lint.RuleUnscopedCluster, lint.RuleUnscopedCluster, lint.RuleUnscopedCluster, lint.RuleDenyRule},
		},
		"outside a mesh a peer means this cluster's pods on every agent": {
			file: "mesh/cluster-unscoped-peer.yaml",
			want: []string{lint.RuleDenyRule},
		},
		"peers that name their cluster pass in a mesh": {file: "good/mesh-scoped.yaml", opts: meshOn},
		"a Namespace manifest that carries netprofile's since-annotation": {
			file: "bad/namespace-since-annotation.yaml", want: []string{lint.RuleSinceAnnotation},
		},
		"the since-annotation of another label domain is someone else's": {
			file: "bad/namespace-since-annotation.yaml",
			opts: func(o *lint.Options) {
				in := *o.Render
				in.Renderer.Contract = mustContract("example.org")
				o.Render = &in
			},
		},
		"spec.consumers on a label a namespace's own users write; the name beside it is not flagged": {
			file: "bad/forgeable-consumers.yaml", want: []string{lint.RuleForgeableConsumers},
		},
		"spec.consumers by name and by a label admission protects": {
			file: "consumers/by-name-or-protected.yaml",
			opts: func(o *lint.Options) { o.ProtectedNamespaceLabels = []string{"platform.example.com/tenant"} },
		},
		"a label nothing protects is any tenant's to write": {
			file: "consumers/by-name-or-protected.yaml", want: []string{lint.RuleForgeableConsumers},
		},
		"the ambient list makes the platform template require HBONE": {
			file: "good/app.yaml",
			opts: func(o *lint.Options) {
				o.PlatformNamespaces = []string{"shop"}
				o.AmbientNamespaces = []string{"shop"}
			},
			want: []string{lint.RulePlatformHBONE, lint.RulePlatformPrometheus},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			opts := options()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			got := run(t, opts, filepath.Join("testdata", tc.file))
			if !slices.Equal(rules(got), tc.want) {
				t.Errorf("rules = %v, want %v\n%s", rules(got), tc.want, render(got))
			}
			for _, f := range got {
				if f.Line == 0 || f.Hint == "" || f.Message == "" || f.Object == "" {
					t.Errorf("finding without line, object, message or hint: %+v", f)
				}
			}
			if tc.says != "" && !slices.ContainsFunc(got, func(f lint.Finding) bool { return strings.Contains(f.Message, tc.says) }) {
				t.Errorf("no finding says %q:\n%s", tc.says, render(got))
			}
		})
	}
}

func meshOn(o *lint.Options) { o.ClusterMesh = true }

func mustContract(domain string) contract.Contract {
	c, err := contract.New(domain)
	if err != nil {
		panic(err)
	}
	return c
}

// reportCeiling makes the shipped profile only report its ceiling.
func reportCeiling(profile string) func(*lint.Options) {
	return func(o *lint.Options) {
		in := *o.Render
		cat := *in.Catalogue
		cat.Profiles = maps.Clone(cat.Profiles)
		p := cat.Profiles[profile].DeepCopy()
		p.Spec.Ceiling = v1alpha1.CeilingReport
		cat.Profiles[profile] = p
		in.Catalogue = &cat
		o.Render = &in
	}
}

// meshOptions lint testdata/mesh: the examples of the rules that only a ClusterMesh turns on.
func meshOptions() lint.Options {
	o := options()
	meshOn(&o)
	return o
}

func TestEveryRuleIsDocumented(t *testing.T) {
	got := rules(append(run(t, options(), "testdata/bad"), run(t, meshOptions(), "testdata/mesh")...))
	for rule := range lint.Rules {
		if !slices.Contains(got, rule) {
			t.Errorf("rule %s has no bad example in testdata/bad", rule)
		}
	}
	for _, r := range got {
		if _, ok := lint.Rules[r]; !ok {
			t.Errorf("rule %s is not in lint.Rules", r)
		}
	}
}

func render(findings []lint.Finding) string {
	var b strings.Builder
	for _, f := range findings {
		b.WriteString(f.String() + "\n")
	}
	return b.String()
}

// TestGolden pins what users read: the file:line, the message and the fix of every finding.
func TestGolden(t *testing.T) {
	got := render(append(run(t, options(), "testdata/bad"), run(t, meshOptions(), "testdata/mesh")...))
	golden := filepath.Join("testdata", "golden", "bad.txt")
	if *update {
		if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/kubectl-netprofile/internal/lint -update)", err)
	}
	if got != string(want) {
		t.Errorf("findings differ from %s (run go test ./cmd/kubectl-netprofile/internal/lint -update and review the diff):\n%s", golden, got)
	}
}

// TestUnscopedPeersAreWhatCiliumScopes checks the cluster-unscoped-peer rule against Cilium's own Parse: a
// policy it flags parses to other rules for an agent with policy-default-local-cluster on (it scopes the
// peers to its cluster) than for one with it off, and a policy it passes parses the same for both.
func TestUnscopedPeersAreWhatCiliumScopes(t *testing.T) {
	for file, flagged := range map[string]bool{"mesh/cluster-unscoped-peer.yaml": true, "good/mesh-scoped.yaml": false, "good/app.yaml": true} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			differs := false
			for _, doc := range strings.Split(string(b), "\n---\n") {
				var cnp ciliumv2.CiliumNetworkPolicy
				if err := sigsyaml.Unmarshal([]byte(doc), &cnp); err != nil {
					t.Fatal(err)
				}
				if cnp.Kind != ciliumv2.CNPKindDefinition {
					continue
				}
				on, errOn := cnp.DeepCopy().Parse(slog.New(slog.DiscardHandler), policy.DefaultClusterName)
				off, errOff := cnp.DeepCopy().Parse(slog.New(slog.DiscardHandler), "")
				if errOn != nil || errOff != nil {
					t.Fatal(errOn, errOff)
				}
				a, _ := json.Marshal(on)
				z, _ := json.Marshal(off)
				differs = differs || !bytes.Equal(a, z)
			}
			found := slices.Contains(rules(run(t, meshOptions(), filepath.Join("testdata", file))), lint.RuleUnscopedCluster)
			if differs != flagged || found != flagged {
				t.Errorf("Parse differs between the two meanings: %v; lint flags it: %v; want both %v", differs, found, flagged)
			}
		})
	}
}
