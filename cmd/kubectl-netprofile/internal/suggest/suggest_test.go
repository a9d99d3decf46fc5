package suggest_test

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/replay"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/suggest"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

var (
	internalGW = ht.InternalGateway
	externalGW = ht.ExternalGateway
	coredns    = ht.CoreDNS
	postgres   = ht.Postgres
	other      = ht.Pod{Namespace: "billing", Name: "api-7d9f8-b1b1b", IP: "10.0.8.1", Labels: map[string]string{"app": "api"},
		NSLabels: map[string]string{ht.ProfileKey: "internal"}}
	// Audit mode, with a profile chosen before anyone looked at the traffic.
	audit = map[string]string{ht.ProfileKey: "isolated", ht.EnforcementKey: "audit", ht.AccessKey("dragonfly"): "true", "team": "a"}
)

func app(ns, name, ip, label string) ht.Pod {
	return ht.Pod{Namespace: ns, Name: name, IP: ip, Labels: map[string]string{"app": label}, NSLabels: audit}
}

func defaultCatalogue(t *testing.T) *catalogue.Set {
	t.Helper()
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func renderer() policy.Renderer {
	return policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName}
}

// run is `kubectl netprofile suggest --namespace ns` offline: the observed flows, Hubble JSON from Cilium's
// flow types, judged against the shipped catalogue's cluster policies plus each candidate.
func run(t *testing.T, cat *catalogue.Set, ns string, flows ...*flowpb.Flow) *suggest.Result {
	t.Helper()
	b, err := ht.Lines(flows...)
	if err != nil {
		t.Fatal(err)
	}
	in, err := diagnose.Parse("flows", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	base, problems, _ := replay.Proposed(desired.Input{Renderer: renderer(), Catalogue: cat, Scope: desired.All,
		Now: time.Now(), Thresholds: enforcement.DefaultThresholds}, check.Policies{})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	res, err := suggest.Suggest(suggest.Input{
		Namespace: ns, Flows: replay.Aggregate(in), Catalogue: cat, Renderer: renderer(), Base: base, Labels: audit,
		Classifier: &diagnose.Classifier{Contract: contract.Default(), Catalogue: cat, PlatformNamespaces: policy.DefaultPlatformNamespaces},
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func grants(r *suggest.Result) []string {
	var out []string
	for _, g := range r.Grants {
		out = append(out, g.Resource)
	}
	return out
}

// traffic is what a namespace's pods do: internal-gateway ingress and same-namespace calls, DNS, and more.
func traffic(ns string, more ...func(web, api ht.Pod) []*flowpb.Flow) []*flowpb.Flow {
	web := app(ns, "web-5c6b7-k8j2m", "10.0.2.31", "web")
	api := app(ns, "api-7d9f8-x2x4q", "10.0.2.33", "api")
	flows := slices.Concat(
		ht.Times(5, func() *flowpb.Flow { return ht.Forwarded(internalGW, web, ht.TCP(8080)) }),
		ht.Times(4, func() *flowpb.Flow { return ht.Forwarded(web, api, ht.TCP(9000)) }),
		ht.Times(2, func() *flowpb.Flow { return ht.Forwarded(api, coredns, ht.UDP(53)) }),
		// Another namespace's traffic is not this one's business.
		[]*flowpb.Flow{ht.Forwarded(other, externalGW, ht.TCP(8443))},
	)
	for _, m := range more {
		flows = append(flows, m(web, api)...)
	}
	return flows
}

func callsOut(_, api ht.Pod) []*flowpb.Flow {
	return slices.Concat(
		ht.Times(3, func() *flowpb.Flow {
			return ht.Forwarded(api, ht.World("140.82.112.3", "api.github.com."), ht.TCP(443))
		}),
		ht.Times(2, func() *flowpb.Flow { return ht.Forwarded(api, postgres, ht.TCP(5432)) }),
	)
}

func publicIngress(web, _ ht.Pod) []*flowpb.Flow {
	return ht.Times(6, func() *flowpb.Flow { return ht.Forwarded(externalGW, web, ht.TCP(8080)) })
}

func TestSuggest(t *testing.T) {
	cat := defaultCatalogue(t)
	cases := map[string]struct {
		ns      string
		flows   []*flowpb.Flow
		profile string
		grants  []string
	}{
		"internal-gateway ingress and same-namespace traffic: internal": {
			ns: "dash", flows: traffic("dash"), profile: "internal",
		},
		"... plus world:443 and the database: internal-egress and postgres": {
			ns: "tools", flows: traffic("tools", callsOut), profile: "internal-egress", grants: []string{"postgres"},
		},
		"... plus external-gateway ingress: standard and postgres": {
			ns: "shop", flows: traffic("shop", callsOut, publicIngress), profile: "standard", grants: []string{"postgres"},
		},
		"only DNS: isolated": {
			ns: "batch", flows: ht.Times(2, func() *flowpb.Flow {
				return ht.Forwarded(app("batch", "job-5c6b7-aaaaa", "10.0.9.1", "job"), coredns, ht.UDP(53))
			}),
			profile: "isolated",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, cat, tc.ns, tc.flows...)
			if r.Profile != tc.profile || !slices.Equal(grants(r), tc.grants) || !r.AllAllowed() {
				t.Fatalf("profile %s, grants %v, not allowed %d; want %s, %v, all allowed", r.Profile, grants(r), len(r.NotAllowed), tc.profile, tc.grants)
			}
			wantLabels := map[string]string{ht.ProfileKey: tc.profile}
			for _, g := range tc.grants {
				wantLabels[ht.AccessKey(g)] = "true"
			}
			if !maps.Equal(r.Labels, wantLabels) {
				t.Errorf("labels = %v, want %v", r.Labels, wantLabels)
			}
			// The snippet is a Namespace with exactly those labels.
			var ns struct {
				APIVersion string `json:"apiVersion"`
				Kind       string
				Metadata   struct {
					Name   string
					Labels map[string]string
				}
			}
			if err := yaml.UnmarshalStrict([]byte(r.YAML()), &ns); err != nil || ns.Kind != "Namespace" || ns.Metadata.Name != tc.ns || !maps.Equal(ns.Metadata.Labels, wantLabels) {
				t.Errorf("YAML (%v):\n%s", err, r.YAML())
			}
			// The unused grant goes, and the audit label once replay agrees.
			if !slices.Equal(r.Remove, []string{ht.AccessKey("dragonfly")}) || r.Enforcement != ht.EnforcementKey+"=audit" {
				t.Errorf("remove = %v, enforcement %q", r.Remove, r.Enforcement)
			}
		})
	}
}

// TestSuggestWhatNothingAllows: a flow no profile and grant allows is listed with diagnose's cause and the
// rest is still suggested.
func TestSuggestWhatNothingAllows(t *testing.T) {
	r := run(t, defaultCatalogue(t), "tools", traffic("tools", callsOut, func(_, api ht.Pod) []*flowpb.Flow {
		return slices.Concat(
			ht.Times(2, func() *flowpb.Flow { return ht.Forwarded(api, other, ht.TCP(8080)) }),
			ht.Times(1, func() *flowpb.Flow { return ht.Forwarded(api, ht.World("151.101.0.223", "pypi.org."), ht.TCP(80)) }),
		)
	})...)
	if r.Profile != "internal-egress" || !slices.Equal(grants(r), []string{"postgres"}) || r.AllAllowed() {
		t.Fatalf("profile %s, grants %v, all allowed %v", r.Profile, grants(r), r.AllAllowed())
	}
	var got []string
	for _, g := range r.NotAllowed {
		got = append(got, g.From+" -> "+g.To+" "+g.Port+": "+g.Cause.Kind)
	}
	want := []string{"tools -> billing 8080/TCP: NotAllowed", "tools -> world 80/TCP: NotAllowed"}
	if !slices.Equal(got, want) {
		t.Errorf("not allowed = %v, want %v", got, want)
	}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"No profile and grants allow every flow; the smallest that allow the most (5 of 7 distinct): profile internal-egress with grants postgres.",
		"  isolated         1 peers, 65535 ports: allows 3 of 7 distinct flows (with every grant)",
		"  internal-egress  3 peers, 131071 ports: allows 5 of 7 distinct flows (with every grant)  <- suggested",
		"  postgres         needed by 2 flows (e.g. tools/api-7d9f8-x2x4q -> database/postgres-1-0a1b2c)",
		"    network-policy.homelab/profile: internal-egress\n    access.network-policy.homelab/postgres: \"true\"\n",
		"NOT ALLOWED BY ANY PROFILE AND GRANT: they need a platform policy or a new profile\n[1] tools -> billing on 8080/TCP: 2 flows",
	} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text does not say %q:\n%s", s, text.String())
		}
	}
}

// TestOrder: "smallest" is computed from the catalogue, not from names.
func TestOrder(t *testing.T) {
	if got := suggest.Order(defaultCatalogue(t).Profiles); !slices.Equal(got, []string{"isolated", "internal", "internal-egress", "standard"}) {
		t.Errorf("the shipped catalogue: %v", got)
	}
	profile := func(name, spec string) *v1alpha1.NetworkProfile {
		p := &v1alpha1.NetworkProfile{}
		p.Name = name
		if err := yaml.UnmarshalStrict([]byte(spec), &p.Spec); err != nil {
			t.Fatal(err)
		}
		return p
	}
	no := false
	lonely := profile("a-lonely", "{}")
	lonely.Spec.AllowSameNamespace = &no
	profiles := map[string]*v1alpha1.NetworkProfile{
		// Names sort against the order on purpose.
		"a-everything": profile("a-everything", `{ingress: [{entities: [cluster], anyPort: true}], egress: [{entities: [world], ports: [{port: 443}]}, {entities: [cluster], anyPort: true}]}`),
		"b-web":        profile("b-web", `{ingress: [{endpoints: {namespace: istio-gateway}, anyPort: true}], egress: [{entities: [world], ports: [{port: 443, protocol: TCP}]}]}`),
		"c-api":        profile("c-api", `{egress: [{fqdns: [{matchName: api.github.com}], ports: [{port: 443}]}]}`),
		"d-metrics":    profile("d-metrics", `{ingress: [{endpoints: {namespace: monitoring}, ports: [{port: 9090}, {port: 9091}]}]}`),
		"a-lonely":     lonely,
		"z-nothing":    profile("z-nothing", "{}"),
	}
	got := suggest.Order(profiles)
	// a-lonely is within z-nothing (no same-namespace traffic); c-api within b-web (world includes every
	// FQDN); everything within a-everything (cluster includes every pod); c-api and d-metrics are not
	// comparable: fewer ports first.
	want := []string{"a-lonely", "z-nothing", "c-api", "d-metrics", "b-web", "a-everything"}
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
	if !suggest.Contains(&profiles["b-web"].Spec, &profiles["c-api"].Spec) || suggest.Contains(&profiles["c-api"].Spec, &profiles["b-web"].Spec) {
		t.Error("b-web should contain c-api, not the other way round")
	}
	if suggest.Contains(&profiles["b-web"].Spec, &profiles["d-metrics"].Spec) {
		t.Error("b-web does not let monitoring in")
	}
}
