package check_test

import (
	"slices"
	"strings"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/desired"
)

// additiveCatalogue is the shipped catalogue with every Baseline set to defaultDeny: false, and a profile
// "nothing" that allows nothing at all (not even same-namespace traffic).
func additiveCatalogue(t *testing.T) *catalogue.Set {
	t.Helper()
	cat := catalogueLimiting(t, nil)
	for _, b := range cat.Baselines {
		b.Spec.DefaultDeny = new(false)
	}
	nothing := &v1alpha1.NetworkProfile{Spec: v1alpha1.NetworkProfileSpec{AllowSameNamespace: new(false)}}
	nothing.Name = "nothing"
	cat.Profiles["nothing"] = nothing
	return cat
}

func render(t *testing.T, cat *catalogue.Set, scope desired.Scope, namespaces []*corev1.Namespace) *desired.Set {
	t.Helper()
	set := compute(cat, scope, namespaces)
	if len(set.Problems) > 0 {
		t.Fatalf("rendering: %v", set.Problems)
	}
	return set
}

const providerPostgres = "CiliumNetworkPolicy database/netprofile-provider-postgres"

// TestProviderHalfOnlyAdds: the provider half selects every pod of `database`, but it must not switch them into
// default deny. With nothing else selecting those pods (no platform policy, baselines additive or absent), a
// flow nothing grants (replication, an operator, a client netprofile does not know) still gets in, and the
// consumer's flow is allowed by the provider half.
func TestProviderHalfOnlyAdds(t *testing.T) {
	namespaces := []*corev1.Namespace{namespace("shop", map[string]string{profileKey: "standard", postgresAccess: "true"})}
	providersOnly := render(t, catalogueLimiting(t, nil), desired.Scope{Cluster: true}, nil)
	additive := render(t, additiveCatalogue(t), desired.All, namespaces)
	for name, e := range map[string]*check.Engine{
		"provider halves alone":             engineOf(t, providersOnly.CNPs, nil, nil),
		"the whole set, baselines additive": engineOf(t, additive.CNPs, additive.CCNPs, namespaces),
	} {
		t.Run(name, func(t *testing.T) {
			for _, flow := range [][3]string{
				{"database/app=postgres-replica", "database/app=postgres", "5432/TCP"},
				{"operators/app=cnpg", "database/app=postgres", "8000/TCP"},
				{"elsewhere/app=psql", "database/app=postgres", "5432/TCP"},
			} {
				res := mustCheck(t, e, flow[0], flow[1], flow[2])
				if !res.Ingress.Allowed || res.Ingress.Enforced {
					t.Errorf("%s -> %s %s: ingress allowed=%v enforced=%v (%s); the provider half must not default-deny the provider",
						flow[0], flow[1], flow[2], res.Ingress.Allowed, res.Ingress.Enforced, res.Ingress.Explanation)
				}
			}
		})
	}
	e := engineOf(t, additive.CNPs, additive.CCNPs, namespaces)
	res := mustCheck(t, e, "shop/app=api", "database/app=postgres", "5432/TCP")
	if !res.Allowed {
		t.Fatalf("the consumer's flow is denied: egress %s; ingress %s", res.Egress.Explanation, res.Ingress.Explanation)
	}
	if !slices.Contains(names(res.Ingress.DecidedBy), providerPostgres) {
		t.Errorf("ingress decided by %v, want the provider half", names(res.Ingress.DecidedBy))
	}
}

// TestAdditiveBaselines: with every Baseline at defaultDeny: false, a namespace with a profile is default-deny
// through its own policy (even when the profile allows nothing at all), a namespace without netprofile labels
// is not touched, and the baselines' allowances (DNS, scrape, probes) still apply.
func TestAdditiveBaselines(t *testing.T) {
	namespaces := []*corev1.Namespace{
		namespace("batch", map[string]string{profileKey: "isolated"}),
		namespace("web", map[string]string{profileKey: "standard"}),
		namespace("shop", map[string]string{profileKey: "standard", postgresAccess: "true"}),
		namespace("empty", map[string]string{profileKey: "nothing"}),
		namespace("hatch", map[string]string{profileKey: "nothing", enforcementKey: "disabled"}),
		namespace("plain", nil),
	}
	set := render(t, additiveCatalogue(t), desired.All, namespaces)
	e := engineOf(t, append(set.CNPs, kubeSystem(t)), set.CCNPs, namespaces)

	cases := map[string]struct {
		from, to, port string
		allowed        bool
		// only limits the verdict to one side ("egress" or "ingress").
		only string
		// by is a policy that must decide the side(s) checked; deniedBy the policy whose default deny must
		// deny it.
		by, deniedBy string
	}{
		// Namespaces with a profile: default-deny through their own policy.
		"isolated does not reach world on 443": {from: "batch/app=job", to: "world", port: "443/TCP", only: "egress",
			deniedBy: "CiliumNetworkPolicy batch/netprofile-namespace"},
		"profiled namespaces do not reach each other": {from: "web/app=site", to: "batch/app=job", port: "8080/TCP"},
		"an isolated namespace does not let an unlabelled one in": {from: "plain/app=x", to: "batch/app=job", port: "8080/TCP", only: "ingress",
			deniedBy: "CiliumNetworkPolicy batch/netprofile-namespace"},
		"standard reaches world on 443": {from: "web/app=site", to: "world", port: "443/TCP", allowed: true,
			by: "CiliumNetworkPolicy web/netprofile-namespace"},
		"standard does not reach world on 80": {from: "web/app=site", to: "world", port: "80/TCP"},
		"pods of one profiled namespace reach each other": {from: "web/app=site", to: "web/app=cache", port: "6379/TCP", allowed: true,
			by: "CiliumNetworkPolicy web/netprofile-namespace"},
		"postgres-labelled reaches database:5432":                             {from: "shop/app=api", to: "database/app=postgres", port: "5432/TCP", allowed: true},
		"a profiled namespace without the grant does not reach database:5432": {from: "web/app=site", to: "database/app=postgres", port: "5432/TCP", only: "egress"},

		// A profile that allows nothing at all still renders a policy, and it is default-deny both ways.
		"allow-nothing: no world": {from: "empty/app=x", to: "world", port: "443/TCP", only: "egress",
			deniedBy: "CiliumNetworkPolicy empty/netprofile-namespace"},
		"allow-nothing: nobody in": {from: "plain/app=x", to: "empty/app=x", port: "8080/TCP", only: "ingress",
			deniedBy: "CiliumNetworkPolicy empty/netprofile-namespace"},
		"allow-nothing: not even the same namespace": {from: "empty/app=x", to: "empty/app=y", port: "8080/TCP"},
		"allow-nothing: DNS still works": {from: "empty/app=x", to: "kube-system/k8s-app=kube-dns", port: "53/UDP", allowed: true,
			by: "CiliumClusterwideNetworkPolicy netprofile-baseline-dns", only: "egress"},
		"allow-nothing: Prometheus still scrapes": {from: "monitoring/app.kubernetes.io/name=prometheus", to: "empty/app=x", port: "9090/TCP", allowed: true,
			by: "CiliumClusterwideNetworkPolicy netprofile-baseline-prometheus-scrape", only: "ingress"},
		"allow-nothing: the escape hatch still opens it": {from: "hatch/app=x", to: "world", port: "443/TCP", allowed: true,
			by: "CiliumNetworkPolicy hatch/netprofile-enforcement-disabled", only: "egress"},

		// The baselines' allowances.
		"isolated reaches kube-dns on 53/UDP": {from: "batch/app=job", to: "kube-system/k8s-app=kube-dns", port: "53/UDP", allowed: true,
			by: "CiliumClusterwideNetworkPolicy netprofile-baseline-dns", only: "egress"},
		"isolated reaches kube-dns on 53/TCP": {from: "batch/app=job", to: "kube-system/k8s-app=kube-dns", port: "53/TCP", allowed: true},
		"health probes reach a profiled pod": {from: "host", to: "batch/app=job", port: "8080/TCP", allowed: true,
			by: "CiliumClusterwideNetworkPolicy netprofile-baseline-health-probes", only: "ingress"},

		// A namespace without any netprofile label is not affected.
		"unlabelled reaches world":                  {from: "plain/app=x", to: "world", port: "443/TCP", allowed: true},
		"unlabelled reaches world on any port":      {from: "plain/app=x", to: "world", port: "8443/TCP", allowed: true},
		"unlabelled lets anyone in":                 {from: "world", to: "plain/app=x", port: "8080/TCP", allowed: true},
		"unlabelled reaches another unlabelled pod": {from: "plain/app=x", to: "plain/app=y", port: "8080/TCP", allowed: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := mustCheck(t, e, tc.from, tc.to, tc.port)
			sides := map[string]check.Direction{"egress": res.Egress, "ingress": res.Ingress}
			allowed := res.Allowed
			if tc.only != "" {
				allowed = sides[tc.only].Allowed
			}
			if allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v\negress: %s\ningress: %s", allowed, tc.allowed, res.Egress.Explanation, res.Ingress.Explanation)
			}
			for dir, d := range sides {
				if tc.only != "" && dir != tc.only {
					continue
				}
				if tc.by != "" && tc.only != "" && !slices.Contains(names(d.DecidedBy), tc.by) {
					t.Errorf("%s decided by %v, want %s", dir, names(d.DecidedBy), tc.by)
				}
				if tc.deniedBy != "" && !slices.Contains(names(d.SelectedBy), tc.deniedBy) {
					t.Errorf("%s default deny from %v, want %s", dir, names(d.SelectedBy), tc.deniedBy)
				}
				// Only a namespace's own policy puts it into default deny: never a baseline, never a provider half.
				for _, ref := range d.SelectedBy {
					if ref.Kind == ciliumv2.CCNPKindDefinition || strings.Contains(ref.Name, "netprofile-provider-") {
						t.Errorf("%s: %s turns on default deny, but baselines and provider halves are additive", dir, ref)
					}
				}
			}
			if tc.by != "" && tc.only == "" && !slices.Contains(names(res.Egress.DecidedBy), tc.by) && !slices.Contains(names(res.Ingress.DecidedBy), tc.by) {
				t.Errorf("decided by %v / %v, want %s", names(res.Egress.DecidedBy), names(res.Ingress.DecidedBy), tc.by)
			}
			if strings.HasPrefix(tc.from, "plain/") || strings.HasPrefix(tc.to, "plain/") {
				for dir, d := range sides {
					ep := tc.from
					if dir == "ingress" {
						ep = tc.to
					}
					if strings.HasPrefix(ep, "plain/") && d.Enforced {
						t.Errorf("%s of an unlabelled namespace is enforced by %v", dir, names(d.SelectedBy))
					}
				}
			}
		})
	}
}

// TestAdditiveBaselinesLeaveKubeDNSOpen: with default-deny baselines kube-dns is default-deny for ingress too
// (TestBaselinesAloneBlockDNSAtKubeDNS); with additive ones nothing netprofile writes selects kube-system's pods
// for default deny, so DNS works without kube-system's own policy.
func TestAdditiveBaselinesLeaveKubeDNSOpen(t *testing.T) {
	namespaces := []*corev1.Namespace{namespace("batch", map[string]string{profileKey: "isolated"})}
	set := render(t, additiveCatalogue(t), desired.All, namespaces)
	e := engineOf(t, set.CNPs, set.CCNPs, namespaces)
	res := mustCheck(t, e, "batch/app=job", "kube-system/k8s-app=kube-dns", "53/UDP")
	if !res.Allowed || res.Ingress.Enforced {
		t.Fatalf("want DNS allowed and kube-dns not default-deny: egress %s; ingress %s", res.Egress.Explanation, res.Ingress.Explanation)
	}
}

// TestDefaultBaselinesStillDeny: the shipped catalogue (defaultDeny unset) keeps today's floor: the provider
// half no longer default-denies `database`, the baselines do, so a flow nothing grants is still denied there and
// in an unlabelled namespace.
func TestDefaultBaselinesStillDeny(t *testing.T) {
	namespaces := []*corev1.Namespace{
		namespace("shop", map[string]string{profileKey: "standard", postgresAccess: "true"}),
		namespace("plain", nil),
	}
	set := render(t, catalogueLimiting(t, nil), desired.All, namespaces)
	e := engineOf(t, set.CNPs, set.CCNPs, namespaces)
	for _, flow := range [][3]string{
		{"plain/app=x", "database/app=postgres", "5432/TCP"},
		{"plain/app=x", "world", "443/TCP"},
		{"world", "plain/app=x", "8080/TCP"},
	} {
		res := mustCheck(t, e, flow[0], flow[1], flow[2])
		if res.Allowed {
			t.Errorf("%v: allowed, want the baselines' default deny", flow)
		}
		for _, d := range []check.Direction{res.Egress, res.Ingress} {
			if slices.Contains(names(d.SelectedBy), providerPostgres) {
				t.Errorf("%v: the provider half turns on default deny", flow)
			}
		}
	}
	if res := mustCheck(t, e, "shop/app=api", "database/app=postgres", "5432/TCP"); !res.Allowed {
		t.Fatalf("the consumer's flow: egress %s; ingress %s", res.Egress.Explanation, res.Ingress.Explanation)
	}
}
