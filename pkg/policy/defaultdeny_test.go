package policy_test

import (
	"log/slog"
	"testing"

	"github.com/cilium/cilium/pkg/policy/api"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
)

// defaultDeny reads a rule's enableDefaultDeny as Cilium's agent does after Parse/Sanitize (which fills in
// what the rule leaves unset), so the test sees the posture Cilium enforces, not just the field.
func defaultDeny(t *testing.T, obj any) (ingress, egress bool) {
	t.Helper()
	var rules api.Rules
	var err error
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		c, cerr := compat.CNP(p)
		if cerr != nil {
			t.Fatal(cerr)
		}
		rules, err = c.Parse(slog.New(slog.DiscardHandler), "default")
	case *cilium.CiliumClusterwideNetworkPolicy:
		c, cerr := compat.CCNP(p)
		if cerr != nil {
			t.Fatal(cerr)
		}
		rules, err = c.Parse(slog.New(slog.DiscardHandler), "default")
	default:
		t.Fatalf("unexpected %T", obj)
	}
	if err != nil {
		t.Fatalf("Cilium rejects the rendered policy: %v", err)
	}
	if len(rules) != 1 {
		t.Fatalf("want one rule, got %d", len(rules))
	}
	d := rules[0].EnableDefaultDeny
	if d.Ingress == nil || d.Egress == nil {
		t.Fatalf("Sanitize left enableDefaultDeny unset: %+v", d)
	}
	return *d.Ingress, *d.Egress
}

// TestProviderHalvesAreAdditive: a provider half only ever adds access. It selects every pod of the provider
// (every pod of `database`), so with Cilium's default it would switch them all into default deny as soon as the
// SharedResource exists.
func TestProviderHalvesAreAdditive(t *testing.T) {
	providers := 0
	for name, sr := range samples(t).Resources {
		cnp, err := renderer().Provider(sr)
		if err != nil {
			t.Fatal(err)
		}
		if cnp == nil {
			continue
		}
		providers++
		want := api.DefaultDenyConfig{Ingress: new(false), Egress: new(false)}
		if got := cnp.Spec.EnableDefaultDeny; got.Ingress == nil || got.Egress == nil || *got.Ingress || *got.Egress {
			t.Errorf("%s: enableDefaultDeny %s, want %s", name, ddString(got), ddString(want))
		}
		if in, out := defaultDeny(t, cnp); in || out {
			t.Errorf("%s: Cilium enforces default deny ingress=%v egress=%v, want neither", name, in, out)
		}
	}
	if providers != 3 {
		t.Fatalf("want the 3 namespace providers of the samples, got %d", providers)
	}
}

func ddString(d api.DefaultDenyConfig) string {
	s := func(b *bool) string {
		if b == nil {
			return "unset"
		}
		if *b {
			return "true"
		}
		return "false"
	}
	return "{ingress: " + s(d.Ingress) + ", egress: " + s(d.Egress) + "}"
}

// TestBaselineDefaultDenyChoice: spec.defaultDeny unset or true is today's baseline (no enableDefaultDeny, so
// Cilium default-denies every direction it has rules in); false makes it additive in both directions.
func TestBaselineDefaultDenyChoice(t *testing.T) {
	tests := map[string]struct {
		defaultDeny *bool
		// wantField: enableDefaultDeny is rendered (both false). wantDNSEgress, wantProbesIngress: the
		// default deny Cilium enforces for the dns (egress only) and health-probes (ingress only) baselines.
		wantField         bool
		wantDNSEgress     bool
		wantProbesIngress bool
	}{
		"unset (the default catalogue)": {wantDNSEgress: true, wantProbesIngress: true},
		"true":                          {defaultDeny: new(true), wantDNSEgress: true, wantProbesIngress: true},
		"false":                         {defaultDeny: new(false), wantField: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, bl := range []string{"dns", "health-probes"} {
				b := samples(t).Baselines[bl]
				b.Spec.DefaultDeny = tc.defaultDeny
				ccnp, err := renderer().Baseline(b)
				if err != nil {
					t.Fatal(err)
				}
				got := ccnp.Spec.EnableDefaultDeny
				if tc.wantField {
					if got.Ingress == nil || got.Egress == nil || *got.Ingress || *got.Egress {
						t.Errorf("%s: enableDefaultDeny %s, want both false", bl, ddString(got))
					}
				} else if got.Ingress != nil || got.Egress != nil {
					t.Errorf("%s: enableDefaultDeny %s, want it absent (today's rendering)", bl, ddString(got))
				}
				in, out := defaultDeny(t, ccnp)
				switch bl {
				case "dns":
					if out != tc.wantDNSEgress || in {
						t.Errorf("dns: Cilium enforces default deny ingress=%v egress=%v, want ingress=false egress=%v", in, out, tc.wantDNSEgress)
					}
				case "health-probes":
					if in != tc.wantProbesIngress || out {
						t.Errorf("health-probes: Cilium enforces default deny ingress=%v egress=%v, want ingress=%v egress=false", in, out, tc.wantProbesIngress)
					}
				}
			}
		})
	}
	b := samples(t).Baselines["dns"]
	b.Spec.DefaultDeny = new(false)
	ccnp, err := renderer().Baseline(b)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "baseline-dns-additive", ccnp)
}

// TestNamespacePolicyDefaultDeniesBothWays: the namespace policy makes its namespace default-deny in both
// directions by itself, so additive baselines never leave a namespace with a profile open. A profile that
// allows nothing at all (allowSameNamespace: false, no rules) still renders a policy.
func TestNamespacePolicyDefaultDeniesBothWays(t *testing.T) {
	cat := samples(t).Catalogue()
	lonely := func(name string, ingress, egress []v1alpha1.Rule) {
		cat.Profiles[name] = &v1alpha1.NetworkProfile{Spec: v1alpha1.NetworkProfileSpec{AllowSameNamespace: new(false), Ingress: ingress, Egress: egress}}
		cat.Profiles[name].Name = name
	}
	lonely("nothing", nil, nil)
	lonely("ingress-only", cat.Profiles["internal"].Spec.Ingress, nil)
	lonely("egress-only", nil, cat.Profiles["internal-egress"].Spec.Egress)

	tests := map[string]struct {
		labels map[string]string
		// denyIngress, denyEgress: the directions an added allow-nothing rule (`ingress: [{}]`) covers.
		denyIngress, denyEgress bool
		golden                  string
	}{
		"a profile that allows nothing at all": {labels: map[string]string{profileKey: "nothing"}, denyIngress: true, denyEgress: true, golden: "profile-allows-nothing"},
		"ingress rules only":                   {labels: map[string]string{profileKey: "ingress-only"}, denyEgress: true},
		"egress rules only":                    {labels: map[string]string{profileKey: "egress-only"}, denyIngress: true},
		"nothing but a grant":                  {labels: map[string]string{profileKey: "nothing", access + "postgres": "true"}, denyIngress: true},
		"a default profile":                    {labels: map[string]string{profileKey: "isolated"}},
		"grants without a profile":             {labels: map[string]string{access + "postgres": "true"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := renderer().Namespace(namespace("my-app", tc.labels), cat, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Policies) != 1 {
				t.Fatalf("want the namespace policy, got %d policies", len(res.Policies))
			}
			p := res.Policies[0]
			ciliumAccepts(t, p)
			var ingress, egress, denyIngress, denyEgress bool
			for _, r := range p.Specs {
				ingress = ingress || len(r.Ingress) > 0
				egress = egress || len(r.Egress) > 0
				if r.EnableDefaultDeny.Ingress != nil || r.EnableDefaultDeny.Egress != nil {
					t.Errorf("rule %q sets enableDefaultDeny %s: the namespace policy keeps Cilium's default (deny)", r.Description, ddString(r.EnableDefaultDeny))
				}
				for _, in := range r.Ingress {
					if isEmptyIngress(in) {
						denyIngress = true
					}
				}
				for _, out := range r.Egress {
					if isEmptyEgress(out) {
						denyEgress = true
					}
				}
				if len(r.IngressDeny)+len(r.EgressDeny) > 0 {
					t.Errorf("rule %q has a deny rule", r.Description)
				}
			}
			if !ingress || !egress {
				t.Errorf("the policy has ingress=%v egress=%v: Cilium turns default deny on only for a direction with rules", ingress, egress)
			}
			if denyIngress != tc.denyIngress || denyEgress != tc.denyEgress {
				t.Errorf("allow-nothing rule for ingress=%v egress=%v, want %v %v", denyIngress, denyEgress, tc.denyIngress, tc.denyEgress)
			}
			if tc.golden != "" {
				golden(t, tc.golden, p)
			}
		})
	}
}

func isEmptyIngress(r api.IngressRule) bool {
	return len(r.FromEndpoints)+len(r.FromEntities)+len(r.FromCIDR)+len(r.FromCIDRSet)+len(r.FromNodes)+len(r.ToPorts)+len(r.ICMPs) == 0
}

func isEmptyEgress(r api.EgressRule) bool {
	return len(r.ToEndpoints)+len(r.ToEntities)+len(r.ToCIDR)+len(r.ToCIDRSet)+len(r.ToNodes)+len(r.ToPorts)+len(r.ToFQDNs)+len(r.ICMPs) == 0
}
