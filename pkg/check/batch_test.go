package check_test

import (
	"reflect"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/pkg/check"
)

func cnp(t *testing.T, manifest string) *ciliumv2.CiliumNetworkPolicy {
	t.Helper()
	p := &ciliumv2.CiliumNetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(manifest), p); err != nil {
		t.Fatal(err)
	}
	return p
}

// handWritten are policies that use what netprofile's catalogue renders rarely: toFQDNs, toCIDR, the host
// and kube-apiserver entities, a deny rule.
func handWritten(t *testing.T) []*ciliumv2.CiliumNetworkPolicy {
	return []*ciliumv2.CiliumNetworkPolicy{kubeSystem(t), cnp(t, `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: github, namespace: ci}
spec:
  endpointSelector: {}
  egress:
    - toFQDNs: [{matchPattern: "*.github.com"}]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
    - toCIDR: [198.51.100.0/24]
      toPorts: [{ports: [{port: "8443", protocol: TCP}]}]
    - toEntities: [host]
      toPorts: [{ports: [{port: "10250", protocol: TCP}]}]
`), cnp(t, `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-metadata, namespace: ci}
spec:
  endpointSelector: {}
  egressDeny:
    - toCIDR: [169.254.169.254/32]
`)}
}

// TestCheckAllAgreesWithCheck: the batch gives every flow the verdict and explanation Check gives it alone,
// whatever else is in the batch.
func TestCheckAllAgreesWithCheck(t *testing.T) {
	e := engineFor(t, handWritten(t),
		namespace("batch", map[string]string{profileKey: "isolated"}),
		namespace("web", map[string]string{profileKey: "standard"}),
		namespace("shop", map[string]string{profileKey: "standard", postgresAccess: "true", "access.network-policy.homelab/kube-api": "true"}),
		// No profile: a profile's ceiling would hold these hand-written policies to it (ceiling_test.go).
		namespace("ci", nil),
		namespace("plain", nil),
	)
	ep := func(s string) check.Endpoint {
		t.Helper()
		e, err := check.ParseEndpoint(s)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	port := func(s string) check.Port {
		t.Helper()
		p, err := check.ParsePort(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	hostAPI := check.Endpoint{Entity: "host", Entities: []string{"kube-apiserver"}}
	github := check.Endpoint{CIDR: "140.82.112.3/32", Names: []string{"api.github.com"}}
	flows := []check.Flow{
		{From: ep("batch/app=job"), To: ep("kube-system/k8s-app=kube-dns"), Port: port("53/UDP")},
		{From: ep("batch/app=job"), To: ep("world"), Port: port("443/TCP")},
		{From: ep("web/app=site"), To: ep("world"), Port: port("443/TCP")},
		{From: ep("web/app=site"), To: ep("cidr:203.0.113.7/32"), Port: port("443/TCP")},
		{From: ep("shop/app=api"), To: ep("database/app=postgres"), Port: port("5432/TCP")},
		{From: ep("plain/app=x"), To: ep("database/app=postgres"), Port: port("5432/TCP")},
		{From: ep("web/app=site"), To: ep("web/app=site"), Port: port("8080/TCP")},
		{From: ep("web/app=site"), To: ep("shop/app=api"), Port: port("8080/TCP")},
		{From: ep("istio-gateway/gateway.networking.k8s.io/gateway-name=internal"), To: ep("web/app=site"), Port: port("8080/TCP")},
		{From: ep("world"), To: ep("web/app=site"), Port: port("8080/TCP")},
		{From: ep("host"), To: ep("batch/app=job"), Port: port("8080/TCP")},
		{From: ep("shop/app=api"), To: ep("kube-apiserver"), Port: port("6443/TCP")},
		{From: ep("shop/app=api"), To: hostAPI, Port: port("6443/TCP")},
		{From: ep("web/app=site"), To: hostAPI, Port: port("6443/TCP")},
		{From: ep("ci/app=runner"), To: github, Port: port("443/TCP")},
		{From: ep("ci/app=runner"), To: check.Endpoint{CIDR: "151.101.0.223/32", Names: []string{"pypi.org"}}, Port: port("443/TCP")},
		{From: ep("ci/app=runner"), To: ep("cidr:198.51.100.20/32"), Port: port("8443/TCP")},
		{From: ep("ci/app=runner"), To: ep("host"), Port: port("10250/TCP")},
		{From: ep("ci/app=runner"), To: ep("cidr:169.254.169.254/32"), Port: port("80/TCP")},
	}
	all, err := e.CheckAll(flows)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range flows {
		one, err := e.Check(f.From, f.To, f.Port)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(one, all[i]) {
			t.Errorf("%s -> %s on %s:\n  Check:    %+v\n  CheckAll: %+v", f.From, f.To, f.Port, one, all[i])
		}
	}
	// And the verdicts are Cilium's (the gateway's own egress is default-denied by the baselines: no platform
	// policy for istio-gateway here).
	want := []bool{true, false, true, true, true, false, true, false, false, false, true, true, true, false, true, false, true, true, false}
	for i, allowed := range want {
		if all[i].Allowed != allowed {
			t.Errorf("%s -> %s on %s: allowed = %v, want %v (%s / %s)", flows[i].From, flows[i].To, flows[i].Port, all[i].Allowed, allowed,
				all[i].Egress.Explanation, all[i].Ingress.Explanation)
		}
	}
	if !all[9].Ingress.Enforced || all[9].Ingress.Allowed {
		t.Errorf("world into a standard namespace: %s", all[9].Ingress.Explanation)
	}
}

// TestReservedAndDNSIdentities: the identities the agent gives what is not a pod, as Hubble reports them.
func TestReservedAndDNSIdentities(t *testing.T) {
	e := engineFor(t, handWritten(t),
		namespace("shop", map[string]string{profileKey: "isolated", "access.network-policy.homelab/kube-api": "true"}),
		namespace("ci", nil))
	cases := map[string]struct {
		from    string
		to      check.Endpoint
		port    string
		allowed bool
	}{
		"the kube-apiserver entity: the kube-api grant": {from: "shop/app=api", to: check.Endpoint{Entity: "kube-apiserver"}, port: "6443/TCP", allowed: true},
		"the host that runs the API server is kube-apiserver too": {from: "shop/app=api",
			to: check.Endpoint{Entity: "host", Entities: []string{"kube-apiserver"}}, port: "6443/TCP", allowed: true},
		"the host alone is not": {from: "shop/app=api", to: check.Endpoint{Entity: "host"}, port: "6443/TCP"},
		"an API server outside the cluster: world and kube-apiserver": {from: "shop/app=api",
			to: check.Endpoint{CIDR: "203.0.113.10/32", Entities: []string{"kube-apiserver"}}, port: "443/TCP", allowed: true},
		"an address looked up as a name a toFQDNs selector matches": {from: "ci/app=runner",
			to: check.Endpoint{CIDR: "140.82.112.3/32", Names: []string{"api.github.com."}}, port: "443/TCP", allowed: true},
		"names match case-insensitively": {from: "ci/app=runner",
			to: check.Endpoint{CIDR: "140.82.112.3/32", Names: []string{"API.GitHub.com"}}, port: "443/TCP", allowed: true},
		"the same address without the name": {from: "ci/app=runner", to: check.Endpoint{CIDR: "140.82.112.3/32"}, port: "443/TCP"},
		"a name no selector matches":        {from: "ci/app=runner", to: check.Endpoint{CIDR: "151.101.0.223/32", Names: []string{"pypi.org"}}, port: "443/TCP"},
		"the pattern does not match the bare domain": {from: "ci/app=runner",
			to: check.Endpoint{CIDR: "140.82.112.4/32", Names: []string{"github.com"}}, port: "443/TCP"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			from, err := check.ParseEndpoint(tc.from)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := check.ParsePort(tc.port)
			res, err := e.Check(from, tc.to, p)
			if err != nil {
				t.Fatal(err)
			}
			if res.Allowed != tc.allowed {
				t.Errorf("allowed = %v, want %v: %s", res.Allowed, tc.allowed, res.Egress.Explanation)
			}
			all, err := e.CheckAll([]check.Flow{{From: from, To: tc.to, Port: p}})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(all[0], res) {
				t.Errorf("CheckAll differs: %+v", all[0])
			}
		})
	}
	if _, err := e.Check(check.Endpoint{Namespace: "shop"}, check.Endpoint{Entity: "host", Entities: []string{"nope"}}, check.Port{Number: 1, Protocol: "TCP"}); err == nil {
		t.Error("an unknown entity among Entities should be an error")
	}
	if got := (check.Endpoint{Entity: "host", Entities: []string{"kube-apiserver"}}).String(); got != "host+kube-apiserver" {
		t.Errorf("String() = %q", got)
	}
}
