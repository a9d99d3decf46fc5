package diagnose_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	observerpb "github.com/cilium/cilium/api/v1/observer"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func defaultCatalogue(t *testing.T) *catalogue.Set {
	t.Helper()
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// seedCatalogue is the homelab's own layout, where dragonfly ran in the database namespace (the seed's table
// says "database:6379").
func seedCatalogue(t *testing.T) *catalogue.Set {
	cat := defaultCatalogue(t)
	df := cat.Resources["dragonfly"].DeepCopy()
	df.Spec.Provider.Namespace = "database"
	cat.Resources["dragonfly"] = df
	return cat
}

func classifier(cat *catalogue.Set) *diagnose.Classifier {
	return &diagnose.Classifier{Contract: contract.Default(), Catalogue: cat, PlatformNamespaces: policy.DefaultPlatformNamespaces}
}

// diagnoseLines runs the whole path: flow types -> Hubble JSON lines -> Parse -> Diagnose.
func diagnoseLines(t *testing.T, cat *catalogue.Set, events ...*observerpb.GetFlowsResponse) *diagnose.Report {
	t.Helper()
	lines, err := ht.Events(events...)
	if err != nil {
		t.Fatal(err)
	}
	in, err := diagnose.Parse("flows", bytes.NewReader(lines))
	if err != nil {
		t.Fatal(err)
	}
	return classifier(cat).Diagnose(in)
}

// deniedBy names the policy that denied f, as Hubble 1.16 and later do.
func deniedBy(f *flowpb.Flow, namespace, name string) *flowpb.Flow {
	p := []*flowpb.Policy{{Kind: "CiliumNetworkPolicy", Namespace: namespace, Name: name}}
	if f.GetTrafficDirection() == flowpb.TrafficDirection_EGRESS {
		f.EgressDeniedBy = p
	} else {
		f.IngressDeniedBy = p
	}
	return f
}

func TestClassifyTheDrop(t *testing.T) {
	withPostgres := standardApp // has the postgres label
	withStandard := ht.Pod{Namespace: "shop", Name: "web-5c6b7-k8j2m", IP: "10.0.2.31", Labels: map[string]string{"app": "web"},
		NSLabels: map[string]string{ht.ProfileKey: "standard"}}
	noProfile := ht.Pod{Namespace: "scratch", Name: "tool-6d5c4-z9y8x", IP: "10.0.7.7", Labels: map[string]string{"app": "tool"}}
	cases := map[string]struct {
		cat      func(*testing.T) *catalogue.Set
		flow     *flowpb.Flow
		kind     string
		label    string
		profiles []string
		baseline string
		fix      string
	}{
		// The seed's table, row by row.
		"egress to kube-system:53 dropped: the DNS baseline is missing": {
			flow: ht.EgressDrop(app, coredns, ht.UDP(53)),
			kind: diagnose.KindBaselineMissing, baseline: "dns", fix: "kubectl get ccnp netprofile-baseline-dns",
		},
		"egress to database:5432 dropped: the postgres access label is missing": {
			flow: ht.EgressDrop(app, postgres, ht.TCP(5432)),
			kind: diagnose.KindMissingAccessLabel, label: "access.network-policy.homelab/postgres=true",
			fix: `add the label access.network-policy.homelab/postgres: "true" to Namespace my-app`,
		},
		"egress to database:6379 dropped: the dragonfly access label is missing (the seed's layout)": {
			cat:  seedCatalogue,
			flow: ht.EgressDrop(app, dragonflyInDatabase, ht.TCP(6379)),
			kind: diagnose.KindMissingAccessLabel, label: "access.network-policy.homelab/dragonfly=true",
		},
		"egress to cache:6379 dropped: the dragonfly access label is missing (the default catalogue)": {
			flow: ht.EgressDrop(app, dragonflyInCache, ht.TCP(6379)),
			kind: diagnose.KindMissingAccessLabel, label: "access.network-policy.homelab/dragonfly=true",
		},
		"egress to the internet on 443 dropped: switch to internal-egress or standard": {
			flow: ht.EgressDrop(app, ht.World("140.82.112.3", "api.github.com"), ht.TCP(443)),
			kind: diagnose.KindSwitchProfile, profiles: []string{"internal-egress", "standard"},
			fix: "switch Namespace my-app to profile internal-egress or standard",
		},
		"ingress from the internal gateway dropped: switch to internal, internal-egress or standard": {
			flow: ht.IngressDrop(internalGateway, app, ht.TCP(8080)),
			kind: diagnose.KindSwitchProfile, profiles: []string{"internal", "internal-egress", "standard"},
			fix: "switch Namespace my-app to profile internal, internal-egress or standard",
		},
		"ingress from monitoring:prometheus dropped: the prometheus-scrape baseline is missing": {
			flow: ht.IngressDrop(prometheus, app, ht.TCP(9090)),
			kind: diagnose.KindBaselineMissing, baseline: "prometheus-scrape",
		},
		// What the table leaves implicit.
		"ingress from the external gateway needs the standard profile": {
			flow: ht.IngressDrop(externalGateway, app, ht.TCP(8080)),
			kind: diagnose.KindSwitchProfile, profiles: []string{"standard"},
		},
		"egress to the API server needs the kube-api grant": {
			flow: ht.EgressDrop(app, kubeAPIServer, ht.TCP(6443)),
			kind: diagnose.KindMissingAccessLabel, label: "access.network-policy.homelab/kube-api=true",
		},
		"a namespace with the access label whose drops continue: the grant is not applied": {
			flow: ht.EgressDrop(withPostgres, postgres, ht.TCP(5432)),
			kind: diagnose.KindGrantNotApplied, label: "access.network-policy.homelab/postgres=true",
			fix: "kubectl netprofile status shop",
		},
		"the provider side dropping a labelled consumer: the provider half is not applied": {
			flow: ht.IngressDrop(withPostgres, postgres, ht.TCP(5432)),
			kind: diagnose.KindGrantNotApplied, fix: "kubectl netprofile status shop",
		},
		"a profile that already allows the flow: its policy is not applied": {
			flow: ht.EgressDrop(withStandard, ht.World("140.82.112.3"), ht.TCP(443)),
			kind: diagnose.KindProfileNotApplied, profiles: []string{"internal-egress", "standard"},
		},
		"a namespace without a profile gets told which to set": {
			flow: ht.EgressDrop(noProfile, ht.World("140.82.112.3"), ht.TCP(443)),
			kind: diagnose.KindSwitchProfile, profiles: []string{"internal-egress", "standard"},
			fix: "network-policy.homelab/profile: internal-egress",
		},
		"an explicit deny rule Hubble names": {
			flow: deniedBy(ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENY, flowpb.TrafficDirection_EGRESS,
				app, ht.World("1.1.1.1"), ht.TCP(443)), "my-app", "block-dns-over-https"),
			kind: diagnose.KindDenyRule,
		},
		"a deny drop in a namespace without a profile, by a policy Hubble does not name": {
			flow: ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENY, flowpb.TrafficDirection_EGRESS,
				noProfile, ht.World("1.1.1.1"), ht.TCP(443)),
			kind: diagnose.KindDenyRule,
		},
		"netprofile's ceiling dropping what the labels do not allow is the labels' drop": {
			flow: deniedBy(ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENY, flowpb.TrafficDirection_EGRESS,
				app, ht.World("140.82.112.3"), ht.TCP(443)), "my-app", "netprofile-ceiling"),
			kind: diagnose.KindSwitchProfile, profiles: []string{"internal-egress", "standard"},
		},
		"... and where Hubble names no policy, a profile that enforces its ceiling says whose drop it is": {
			flow: ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENY, flowpb.TrafficDirection_EGRESS,
				app, ht.World("140.82.112.3"), ht.TCP(443)),
			kind: diagnose.KindSwitchProfile, profiles: []string{"internal-egress", "standard"},
		},
		"another namespace's ceiling is not this one's": {
			flow: deniedBy(ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_POLICY_DENY, flowpb.TrafficDirection_EGRESS,
				app, ht.World("140.82.112.3"), ht.TCP(443)), "other", "netprofile-ceiling"),
			kind: diagnose.KindDenyRule,
		},
		"ingress at kube-dns dropped: kube-system's own policy must allow DNS": {
			flow: ht.IngressDrop(app, coredns, ht.UDP(53)),
			kind: diagnose.KindPlatformPolicy, fix: "kube-system's CiliumNetworkPolicy",
		},
		"app to app across namespaces is denied by design": {
			flow: ht.EgressDrop(app, withStandard, ht.TCP(8080)),
			kind: diagnose.KindNotAllowed,
		},
		"world on a port no profile opens": {
			flow: ht.EgressDrop(app, ht.World("192.0.2.10"), ht.TCP(22)),
			kind: diagnose.KindNotAllowed,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cat := defaultCatalogue(t)
			if tc.cat != nil {
				cat = tc.cat(t)
			}
			r := diagnoseLines(t, cat, ht.Response(tc.flow))
			if r.PolicyDrops != 1 || len(r.Groups) != 1 {
				t.Fatalf("want one policy drop in one group, got %+v", r)
			}
			c := r.Groups[0].Cause
			if c.Kind != tc.kind || c.Label != tc.label && tc.label != "" || c.Baseline != tc.baseline ||
				(tc.profiles != nil && !slices.Equal(c.Profiles, tc.profiles)) {
				t.Errorf("cause = %+v\nwant kind %s, label %q, baseline %q, profiles %v", c, tc.kind, tc.label, tc.baseline, tc.profiles)
			}
			if !strings.Contains(c.Fix, tc.fix) {
				t.Errorf("fix %q does not contain %q", c.Fix, tc.fix)
			}
			if c.Summary == "" || c.Fix == "" {
				t.Errorf("cause without summary or fix: %+v", c)
			}
		})
	}
}

func TestIgnoresWhatIsNotAPolicyDrop(t *testing.T) {
	r := diagnoseLines(t, defaultCatalogue(t),
		ht.NodeStatus(),
		ht.Response(ht.Forwarded(app, coredns, ht.UDP(53))),
		ht.Response(ht.Flow(flowpb.Verdict_FORWARDED, 0, flowpb.TrafficDirection_INGRESS, app, coredns, ht.UDP(53))),
		ht.Response(ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_CT_MAP_INSERTION_FAILED, flowpb.TrafficDirection_EGRESS,
			app, postgres, ht.TCP(5432))),
		ht.Response(ht.Flow(flowpb.Verdict_TRACED, 0, flowpb.TrafficDirection_EGRESS, app, ht.World("1.1.1.1"), ht.TCP(443))),
	)
	want := diagnose.Ignored{Forwarded: 2, NotFlows: 1,
		OtherDrops:    map[string]int{"CT_MAP_INSERTION_FAILED": 1},
		OtherVerdicts: map[string]int{"TRACED": 1}}
	if r.PolicyDrops != 0 || len(r.Groups) != 0 {
		t.Errorf("want no policy drops, got %+v", r)
	}
	if r.Ignored.Forwarded != want.Forwarded || r.Ignored.NotFlows != want.NotFlows ||
		r.Ignored.OtherDrops["CT_MAP_INSERTION_FAILED"] != 1 || r.Ignored.OtherVerdicts["TRACED"] != 1 {
		t.Errorf("ignored = %+v, want %+v", r.Ignored, want)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"2 forwarded flows", "1 drop for other reasons than policy (CT_MAP_INSERTION_FAILED: 1)", "1 non-flow event"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report does not say %q:\n%s", s, out.String())
		}
	}
}

// TestAuditIsAWouldBeDrop: in Cilium's audit mode (policyAuditMode) Hubble reports AUDIT for what policy would
// drop. diagnose counts those as would-be drops and classifies them with the real ones.
func TestAuditIsAWouldBeDrop(t *testing.T) {
	r := diagnoseLines(t, defaultCatalogue(t),
		ht.Response(ht.Audited(app, ht.World("140.82.112.3", "api.github.com"), ht.TCP(443))),
		ht.Response(ht.Audited(app, ht.World("140.82.112.4", "api.github.com"), ht.TCP(443))),
		ht.Response(ht.EgressDrop(app, ht.World("140.82.112.3", "api.github.com"), ht.TCP(443))),
		ht.Response(ht.Audited(app, postgres, ht.TCP(5432))),
		ht.Response(ht.Forwarded(app, coredns, ht.UDP(53))),
	)
	if r.PolicyDrops != 1 || r.Audited != 3 || r.Ignored.Forwarded != 1 || len(r.Ignored.OtherVerdicts) != 0 {
		t.Fatalf("policy drops %d, audited %d, ignored %+v; want 1, 3 and the forwarded flow", r.PolicyDrops, r.Audited, r.Ignored)
	}
	if len(r.Groups) != 2 {
		t.Fatalf("groups = %+v, want HTTPS egress and postgres", r.Groups)
	}
	https, pg := r.Groups[0], r.Groups[1]
	if https.Flows != 3 || https.Audited != 2 || https.Cause.Kind != diagnose.KindSwitchProfile || https.Port != "443/TCP" {
		t.Errorf("HTTPS group = %+v", https)
	}
	if pg.Flows != 1 || pg.Audited != 1 || pg.Cause.Kind != diagnose.KindMissingAccessLabel {
		t.Errorf("postgres group = %+v", pg)
	}
	var out bytes.Buffer
	if err := r.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"1 flow dropped by policy and 3 audited (AUDIT:", "egress my-app -> world on 443/TCP: 3 flows (2 audited)",
		"egress my-app -> database on 5432/TCP: 1 flow (1 audited)"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("report does not say %q:\n%s", s, out.String())
		}
	}
}

func TestParse(t *testing.T) {
	f := ht.EgressDrop(app, postgres, ht.TCP(5432))
	bare, err := protojson.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := ht.Lines(f, f)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		input   string
		flows   int
		wantErr string
	}{
		"a GetFlowsResponse per line":                 {input: string(lines), flows: 2},
		"a bare flow, in camelCase, with blank lines": {input: "\n" + string(bare) + "\n\n", flows: 1},
		"unknown fields from newer Hubble versions":   {input: `{"flow":{"verdict":"DROPPED","some_new_field":1},"node_name":"n"}`, flows: 1},
		"not JSON":                        {input: "Jul  1 12:00:00: my-app/api -> database/postgres DROPPED", wantErr: "line 1"},
		"the wrong type in a known field": {input: "{}\n" + `{"flow":{"verdict":42.5}}`, wantErr: "line 2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			in, err := diagnose.Parse("flows", strings.NewReader(tc.input))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one mentioning %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(in.Flows) != tc.flows {
				t.Errorf("flows = %d, want %d", len(in.Flows), tc.flows)
			}
		})
	}
}

// TestParseLimits: past a limit, Parse stops with an error naming the input and the limit.
func TestParseLimits(t *testing.T) {
	line := `{"flow":{"verdict":"DROPPED"}}` + "\n"
	small := diagnose.Limits{Bytes: 1 << 10, LineBytes: 64, Flows: 3}
	cases := map[string]struct {
		input, want string
	}{
		"at the limits":  {input: strings.Repeat(line, 3) + "\n\n"},
		"too many flows": {input: strings.Repeat(line, 4), want: "flows:4: more than 3 Hubble events"},
		"too many bytes": {input: strings.Repeat("\n", 1<<10) + line, want: "flows: larger than 1 KiB"},
		"a line too long": {input: line + `{"flow":{"verdict":"DROPPED","node_name":"` + strings.Repeat("n", 64) + `"}}`,
			want: "flows: a line longer than 64 bytes"},
		"nested too deep": {input: strings.Repeat("[", 60) + "\n", want: "flows: failed to parse line 1 as JSON"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := small.Parse("flows", strings.NewReader(tc.input))
			if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzParse: whatever the bytes, Parse does not panic and keeps no more flows than its limit.
func FuzzParse(f *testing.F) {
	lines, err := ht.Lines(ht.EgressDrop(app, postgres, ht.TCP(5432)), ht.Forwarded(app, coredns, ht.UDP(53)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(lines))
	f.Add(`{"flow":{"verdict":"DROPPED","some_new_field":1},"node_name":"n"}`)
	f.Add(`{"node_status":{}}` + "\n" + `{"lostEvents":{}}`)
	f.Add(strings.Repeat("[", 100))
	f.Add(`{"verdict":"AUDIT","source":{"labels":["k8s:\u001b]8;;x\u0007"]}}`)
	limits := diagnose.Limits{Bytes: 8 << 10, LineBytes: 4 << 10, Flows: 10}
	f.Fuzz(func(t *testing.T, input string) {
		in, err := limits.Parse("flows", strings.NewReader(input))
		if err != nil {
			return
		}
		if len(in.Flows)+in.NotFlows > limits.Flows {
			t.Fatalf("%d events, limit %d", len(in.Flows)+in.NotFlows, limits.Flows)
		}
	})
}

// golden returns a realistic capture: every row of the seed's table, repeated drops, and noise to ignore.
func golden(t *testing.T) []byte {
	t.Helper()
	// Times count up as flows are built; start from the same point whatever ran before.
	ht.Reset()
	flows := []*flowpb.Flow{
		ht.EgressDrop(app, coredns, ht.UDP(53)),
		ht.EgressDrop(app, postgres, ht.TCP(5432)),
		ht.EgressDrop(app, postgres, ht.TCP(5432)),
		ht.EgressDrop(app, dragonflyInCache, ht.TCP(6379)),
		ht.EgressDrop(app, ht.World("140.82.112.3", "api.github.com"), ht.TCP(443)),
		ht.EgressDrop(app, ht.World("140.82.112.4", "api.github.com"), ht.TCP(443)),
		ht.EgressDrop(app, ht.World("151.101.1.69", "pypi.org"), ht.TCP(443)),
		ht.IngressDrop(internalGateway, app, ht.TCP(8080)),
		ht.IngressDrop(prometheus, app, ht.TCP(9090)),
		ht.Forwarded(app, coredns, ht.UDP(53)),
		ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_CT_MAP_INSERTION_FAILED, flowpb.TrafficDirection_EGRESS,
			app, postgres, ht.TCP(5432)),
	}
	events := []*observerpb.GetFlowsResponse{ht.NodeStatus()}
	for _, f := range flows {
		events = append(events, ht.Response(f))
	}
	b, err := ht.Events(events...)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestGolden pins the capture (testdata/hubble-drops.jsonl, also the CLI's and README's example) and the report
// users read.
func TestGolden(t *testing.T) {
	input := golden(t)
	inputFile := filepath.Join("testdata", "hubble-drops.jsonl")
	var out bytes.Buffer
	in, err := diagnose.Parse("flows", bytes.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if err := classifier(defaultCatalogue(t)).Diagnose(in).WriteText(&out); err != nil {
		t.Fatal(err)
	}
	reportFile := filepath.Join("testdata", "hubble-drops.txt")
	for file, got := range map[string][]byte{inputFile: input, reportFile: out.Bytes()} {
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test ./cmd/kubectl-netprofile/internal/diagnose -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs (run go test ./cmd/kubectl-netprofile/internal/diagnose -update and review the diff):\n%s", file, got)
		}
	}
}
