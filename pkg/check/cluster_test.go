package check_test

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

// TestPeersNameTheirCluster is the ClusterMesh proof: with pods of a second cluster b in the identity space
// (Cilium syncs remote identities with their namespace's labels), a namespace of cluster b carrying the grant
// label is not let into cluster a's database, a's consumer does not reach b's database pods, b's gateway
// does not reach a's standard namespace, and every local verdict stays as it was. The policies are parsed
// as an agent with policy-default-local-cluster on (a peer without the cluster key means the local cluster)
// and as one with it off (it means every cluster): the verdicts are the same, because every peer netprofile
// renders names its cluster.
func TestPeersNameTheirCluster(t *testing.T) {
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	const local, remote = "a", "b"
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: local}
	shopLabels := map[string]string{profileKey: "standard", postgresAccess: "true"}
	nss := []*corev1.Namespace{namespace("shop", shopLabels), namespace("web", map[string]string{profileKey: "standard"})}
	in := desired.Input{Renderer: r, Catalogue: cat, Scope: desired.All, Now: time.Now(), Thresholds: enforcement.DefaultThresholds,
		Namespaces: nss}
	set := desired.Compute(in)
	if len(set.Problems) > 0 {
		t.Fatal(set.Problems)
	}
	nsLabels := in.NamespaceLabels()
	ep := func(cluster, s string) check.Endpoint {
		e, err := check.ParseEndpoint(s)
		if err != nil {
			t.Fatal(err)
		}
		e.Cluster = cluster
		return e
	}
	cases := []struct {
		from, to check.Endpoint
		port     string
		allowed  bool
		// side is the side netprofile decides: "egress" at a local source, "ingress" at a local destination.
		side string
	}{
		{ep("", "shop/app=api"), ep("", "database/app=postgres"), "5432/TCP", true, "both"},
		{ep(remote, "shop/app=api"), ep("", "database/app=postgres"), "5432/TCP", false, "ingress"},
		{ep("", "shop/app=api"), ep(remote, "database/app=postgres"), "5432/TCP", false, "egress"},
		{ep("", "istio-gateway/gateway.networking.k8s.io/gateway-name=external"), ep("", "web/app=site"), "8080/TCP", true, "ingress"},
		{ep(remote, "istio-gateway/gateway.networking.k8s.io/gateway-name=external"), ep("", "web/app=site"), "8080/TCP", false, "ingress"},
		{ep("", "web/app=site"), ep("", "web/app=cache"), "6379/TCP", true, "both"},
		{ep(remote, "web/app=site"), ep("", "web/app=cache"), "6379/TCP", false, "ingress"},
		{ep("", "shop/app=api"), ep("", "kube-system/k8s-app=kube-dns"), "53/UDP", true, "egress"},
		{ep("", "shop/app=api"), ep(remote, "kube-system/k8s-app=kube-dns"), "53/UDP", false, "egress"},
		{ep(remote, "monitoring/app.kubernetes.io/name=prometheus"), ep("", "web/app=site"), "9090/TCP", false, "ingress"},
		{ep("", "monitoring/app.kubernetes.io/name=prometheus"), ep("", "web/app=site"), "9090/TCP", true, "ingress"},
	}
	for _, anyCluster := range []bool{false, true} {
		e, err := check.New(check.Policies{CNPs: set.CNPs, CCNPs: set.CCNPs, Cluster: local, AnyClusterByDefault: anyCluster,
			NamespaceLabels: nsLabels})
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			name := fmt.Sprintf("policy-default-local-cluster=%v: %s -> %s on %s", !anyCluster, tc.from, tc.to, tc.port)
			port, _ := check.ParsePort(tc.port)
			res, err := e.Check(tc.from, tc.to, port)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Allowed
			switch tc.side {
			case "egress":
				got = res.Egress.Allowed
			case "ingress":
				got = res.Ingress.Allowed
			}
			if got != tc.allowed {
				t.Errorf("%s: allowed %v, want %v (egress: %s; ingress: %s)", name, got, tc.allowed, res.Egress.Explanation, res.Ingress.Explanation)
			}
		}
	}
}
