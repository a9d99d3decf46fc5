package check_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

// The subject of the ceiling tests: a namespace whose own users write policies.
const subject = "app"

// tenantAllowAll is what a namespace's own users can write with Kubernetes' edit role (a NetworkPolicy) or
// where a platform lets them (a CiliumNetworkPolicy): everything in and out.
func tenantAllowAll(t *testing.T) ([]*ciliumv2.CiliumNetworkPolicy, []*networkingv1.NetworkPolicy) {
	t.Helper()
	cnp := &ciliumv2.CiliumNetworkPolicy{}
	mustYAML(t, `
metadata: {name: tenant-allow-all, namespace: app}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [all]}]
  egress: [{toEntities: [all]}]
`, cnp)
	knp := &networkingv1.NetworkPolicy{}
	mustYAML(t, `
metadata: {name: tenant-allow-all, namespace: app}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress: [{}, {to: [{ipBlock: {cidr: 0.0.0.0/0}}]}]
`, knp)
	world := &ciliumv2.CiliumNetworkPolicy{}
	mustYAML(t, `
metadata: {name: tenant-world, namespace: app}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]
`, world)
	return []*ciliumv2.CiliumNetworkPolicy{cnp, world}, []*networkingv1.NetworkPolicy{knp}
}

func mustYAML(t *testing.T, s string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(s), into); err != nil {
		t.Fatal(err)
	}
}

// ceilingPeers are the other ends of the subject's flows: pods of every namespace the catalogue names and of
// one it does not, and every entity, including the API server where it shares an identity.
func ceilingPeers() []check.Endpoint {
	var out []check.Endpoint
	for _, s := range []string{
		"app/app=other", "other/app=x", "kube-system/k8s-app=kube-dns", "kube-system/app=metrics-server",
		"database/app=postgres", "cache/app=dragonfly", "garage/app=s3",
		"istio-gateway/gateway.networking.k8s.io/gateway-name=internal", "istio-gateway/gateway.networking.k8s.io/gateway-name=external",
		"istio-gateway/app=other", "monitoring/app.kubernetes.io/name=prometheus", "monitoring/app=grafana", "istio-system/app=ztunnel",
		"world", "cidr:203.0.113.7/32", "cidr:169.254.7.127/32", "cidr:2001:db8::7/128",
		"kube-apiserver", "host", "remote-node", "health", "ingress", "init", "unmanaged",
	} {
		ep, err := check.ParseEndpoint(s)
		if err != nil {
			panic(err)
		}
		out = append(out, ep)
	}
	return append(out,
		check.Endpoint{Entity: "host", Entities: []string{"kube-apiserver"}},
		check.Endpoint{Entity: "remote-node", Entities: []string{"kube-apiserver"}},
		check.Endpoint{CIDR: "198.51.100.10/32", Entities: []string{"kube-apiserver"}},
	)
}

var ceilingPorts = []string{"1/TCP", "22/TCP", "53/UDP", "53/TCP", "80/TCP", "443/TCP", "3900/TCP", "5432/TCP", "5353/UDP",
	"6379/TCP", "6443/TCP", "8080/TCP", "9090/TCP", "15008/TCP", "65535/TCP", "123/UDP", "9/SCTP"}

// subjectFlows are every flow out of and into a pod of the subject namespace; ingress reports which side
// the subject's policies decide.
func subjectFlows(t *testing.T) (flows []check.Flow, ingress []bool) {
	t.Helper()
	me, err := check.ParseEndpoint(subject + "/app=web")
	if err != nil {
		t.Fatal(err)
	}
	for _, peer := range ceilingPeers() {
		for _, p := range ceilingPorts {
			port, err := check.ParsePort(p)
			if err != nil {
				t.Fatal(err)
			}
			flows = append(flows, check.Flow{From: me, To: peer, Port: port}, check.Flow{From: peer, To: me, Port: port})
			ingress = append(ingress, false, true)
		}
	}
	return flows, ingress
}

// subjectVerdicts judges the flows on the subject's side only: its egress, or its ingress. The other side
// belongs to namespaces whose own (hand-written) policies this test does not hold.
func subjectVerdicts(t *testing.T, set *desired.Set, extraCNPs []*ciliumv2.CiliumNetworkPolicy, knps []*networkingv1.NetworkPolicy,
	nsLabels map[string]map[string]string) []bool {
	t.Helper()
	e, err := check.New(check.Policies{CNPs: append(slices.Clone(set.CNPs), extraCNPs...), CCNPs: set.CCNPs, KNPs: knps, NamespaceLabels: nsLabels})
	if err != nil {
		t.Fatal(err)
	}
	flows, ingress := subjectFlows(t)
	res, err := e.CheckAll(flows)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]bool, len(res))
	for i, r := range res {
		out[i] = r.Egress.Allowed
		if ingress[i] {
			out[i] = r.Ingress.Allowed
		}
	}
	return out
}

func describeFlow(t *testing.T, i int) string {
	flows, ingress := subjectFlows(t)
	dir := "egress"
	if ingress[i] {
		dir = "ingress"
	}
	return fmt.Sprintf("%s %s -> %s %s", dir, flows[i].From, flows[i].To, flows[i].Port)
}

// TestCeilingHoldsAgainstTenantPolicies is the ceiling's proof with Cilium's engine, for every shipped
// profile with no grant, one, and every grant, in and out of the ambient mesh: with a tenant's allow-all
// CiliumNetworkPolicy and NetworkPolicy in the namespace, every flow the labels forbid is still denied and
// every flow they allow is still allowed; the ceiling itself takes nothing away from what the labels allow; the
// same tenant policies against a profile that only reports its ceiling do open forbidden flows (so they
// bite); and with the escape hatch or audit mode nothing is dropped.
func TestCeilingHoldsAgainstTenantPolicies(t *testing.T) {
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName}
	tenantCNPs, tenantKNPs := tenantAllowAll(t)
	grantSets := map[string][]string{"no grant": nil, "postgres": {"postgres"}, "kube-api": {"kube-api"},
		"every grant": {"postgres", "dragonfly", "garage-s3", "kube-api"}}
	for _, profile := range slices.Sorted(maps.Keys(cat.Profiles)) {
		for _, grants := range slices.Sorted(maps.Keys(grantSets)) {
			for _, ambient := range []bool{false, true} {
				labels := map[string]string{profileKey: profile}
				for _, g := range grantSets[grants] {
					labels["access.network-policy.homelab/"+g] = "true"
				}
				if ambient {
					labels["istio.io/dataplane-mode"] = "ambient"
				}
				name := fmt.Sprintf("%s/%s/ambient=%v", profile, grants, ambient)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					compute := func(c *desired.Input, extra map[string]string) (*desired.Set, map[string]map[string]string) {
						l := maps.Clone(labels)
						maps.Copy(l, extra)
						in := *c
						in.Namespaces = []*corev1.Namespace{namespace(subject, l)}
						set := desired.Compute(in)
						if len(set.Problems) > 0 {
							t.Fatalf("rendering: %v", set.Problems)
						}
						return set, in.NamespaceLabels()
					}
					in := &desired.Input{Renderer: r, Catalogue: cat, Scope: desired.All, Now: time.Now(), Thresholds: enforcement.DefaultThresholds}
					set, nsLabels := compute(in, nil)
					if !slices.ContainsFunc(set.CNPs, func(c *ciliumv2.CiliumNetworkPolicy) bool { return c.Name == "netprofile-ceiling" }) {
						t.Fatal("no ceiling rendered")
					}
					alone := subjectVerdicts(t, set, nil, nil, nsLabels)
					withTenant := subjectVerdicts(t, set, tenantCNPs, tenantKNPs, nsLabels)
					allowed := 0
					for i := range alone {
						if alone[i] != withTenant[i] {
							t.Errorf("%s: allowed %v by the labels, %v with the tenant's policies", describeFlow(t, i), alone[i], withTenant[i])
						}
						if alone[i] {
							allowed++
						}
					}
					if allowed == 0 || allowed == len(alone) {
						t.Fatalf("%d of %d flows allowed: the matrix does not tell allowed from forbidden", allowed, len(alone))
					}

					// The same tenant policies against a ceiling that is only reported.
					reportOnly := *in
					reportOnly.Catalogue = withCeiling(cat, v1alpha1.CeilingReport)
					unheld, _ := compute(&reportOnly, nil)
					for i, v := range subjectVerdicts(t, unheld, nil, nil, nsLabels) {
						if v != alone[i] {
							t.Errorf("%s: allowed %v with the ceiling, %v without: the ceiling must only hold what others add", describeFlow(t, i), alone[i], v)
						}
					}
					opened := 0
					for i, v := range subjectVerdicts(t, unheld, tenantCNPs, tenantKNPs, nsLabels) {
						if v && !alone[i] {
							opened++
						}
					}
					if opened == 0 {
						t.Fatal("without the ceiling the tenant's policies open nothing: they do not test it")
					}

					for _, mode := range []string{"disabled", "audit"} {
						lifted, l := compute(in, map[string]string{enforcementKey: mode})
						for i, v := range subjectVerdicts(t, lifted, tenantCNPs, tenantKNPs, l) {
							if !v {
								t.Errorf("enforcement=%s drops %s", mode, describeFlow(t, i))
							}
						}
					}
					t.Logf("%d of %d flows allowed by the labels; %d more open to the tenant's policies without the ceiling", allowed, len(alone), opened)
				})
			}
		}
	}
}

// withCeiling is the catalogue with every profile's ceiling set to mode.
func withCeiling(cat *catalogue.Set, mode v1alpha1.CeilingMode) *catalogue.Set {
	out := *cat
	out.Profiles = map[string]*v1alpha1.NetworkProfile{}
	for name, p := range cat.Profiles {
		c := p.DeepCopy()
		c.Spec.Ceiling = mode
		out.Profiles[name] = c
	}
	return &out
}

// TestCeilingWithCIDRsAndNames: a profile with a CIDR rule is held exactly (world minus the CIDR); one with
// a DNS-name rule is held on every port but the rule's, where world stays open to what others allow, as the
// ceiling's gap says.
func TestCeilingWithCIDRsAndNames(t *testing.T) {
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	cat.Profiles["partner"] = &v1alpha1.NetworkProfile{Spec: v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{
		{CIDRs: []string{"192.0.2.0/24"}, Ports: []v1alpha1.PortProtocol{{Port: 5000}}},
		{FQDNs: []v1alpha1.FQDN{{MatchName: "api.example.com"}}, Ports: []v1alpha1.PortProtocol{{Port: 8443}}},
	}}}
	cat.Profiles["partner"].Name = "partner"
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName}
	labels := map[string]string{profileKey: "partner"}
	in := desired.Input{Renderer: r, Catalogue: cat, Scope: desired.All, Now: time.Now(), Thresholds: enforcement.DefaultThresholds,
		Namespaces: []*corev1.Namespace{namespace(subject, labels)}}
	set := desired.Compute(in)
	if len(set.Problems) > 0 {
		t.Fatal(set.Problems)
	}
	tenantCNPs, tenantKNPs := tenantAllowAll(t)
	e, err := check.New(check.Policies{CNPs: append(slices.Clone(set.CNPs), tenantCNPs...), CCNPs: set.CCNPs, KNPs: tenantKNPs,
		NamespaceLabels: in.NamespaceLabels()})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		to      check.Endpoint
		port    string
		allowed bool
	}{
		{check.Endpoint{CIDR: "192.0.2.10/32"}, "5000/TCP", true},
		{check.Endpoint{CIDR: "192.0.2.10/32"}, "5001/TCP", false},
		{check.Endpoint{CIDR: "198.51.100.1/32"}, "5000/TCP", false},
		{check.Endpoint{CIDR: "203.0.113.5/32", Names: []string{"api.example.com"}}, "8443/TCP", true},
		{check.Endpoint{CIDR: "203.0.113.5/32", Names: []string{"api.example.com"}}, "443/TCP", false},
		// The gap: any world address on the DNS-name rule's port, opened by the tenant's policies.
		{check.Endpoint{CIDR: "203.0.113.6/32", Names: []string{"evil.example.net"}}, "8443/TCP", true},
		{check.Endpoint{CIDR: "203.0.113.6/32"}, "8444/TCP", false},
	} {
		me, _ := check.ParseEndpoint(subject + "/app=web")
		port, _ := check.ParsePort(tc.port)
		res, err := e.Check(me, tc.to, port)
		if err != nil {
			t.Fatal(err)
		}
		if res.Egress.Allowed != tc.allowed {
			t.Errorf("%s %s: allowed %v, want %v (%s)", tc.to, tc.port, res.Egress.Allowed, tc.allowed, res.Egress.Explanation)
		}
	}
}
