package check_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

const (
	profileKey     = "network-policy.homelab/profile"
	postgresAccess = "access.network-policy.homelab/postgres"
	enforcementKey = "network-policy.homelab/enforcement"
)

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// kubeSystem is the platform's hand-written kube-system policy (testdata/kube-system.yaml).
func kubeSystem(t *testing.T) *ciliumv2.CiliumNetworkPolicy {
	t.Helper()
	b, err := os.ReadFile("testdata/kube-system.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cnp := &ciliumv2.CiliumNetworkPolicy{}
	if err := yaml.UnmarshalStrict(b, cnp); err != nil {
		t.Fatal(err)
	}
	return cnp
}

// engineFor renders the shipped catalogue for the namespaces, exactly as the operator would (namespace
// policies, provider halves, baselines), adds the hand-written policies and loads it all into Cilium's engine.
func engineFor(t *testing.T, handWritten []*ciliumv2.CiliumNetworkPolicy, namespaces ...*corev1.Namespace) *check.Engine {
	t.Helper()
	return engineParsedAs(t, false, handWritten, namespaces...)
}

// engineParsedAs is engineFor for an agent with policy-default-local-cluster off (anyCluster) or on.
func engineParsedAs(t *testing.T, anyCluster bool, handWritten []*ciliumv2.CiliumNetworkPolicy, namespaces ...*corev1.Namespace) *check.Engine {
	t.Helper()
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName}
	in := desired.Input{Renderer: r, Namespaces: namespaces, Catalogue: cat, Scope: desired.All,
		Now: time.Now(), Thresholds: enforcement.DefaultThresholds}
	set := desired.Compute(in)
	if len(set.Problems) > 0 {
		t.Fatalf("rendering the shipped catalogue: %v", set.Problems)
	}
	nsLabels := in.NamespaceLabels()
	e, err := check.New(check.Policies{CNPs: append(set.CNPs, handWritten...), CCNPs: set.CCNPs, NamespaceLabels: nsLabels,
		Cluster: policy.DefaultClusterName, AnyClusterByDefault: anyCluster})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustCheck(t *testing.T, e *check.Engine, from, to, port string) *check.Result {
	t.Helper()
	f, err := check.ParseEndpoint(from)
	if err != nil {
		t.Fatal(err)
	}
	d, err := check.ParseEndpoint(to)
	if err != nil {
		t.Fatal(err)
	}
	p, err := check.ParsePort(port)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Check(f, d, p)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func names(refs []check.PolicyRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.String())
	}
	return out
}

// TestDefaultCatalogue is the proof, on the rendered shipped catalogue plus kube-system's platform
// policy: isolation holds, and exactly the labelled grants and profiles open traffic. The verdicts are the
// same whatever the agent's policy-default-local-cluster says, since every peer netprofile renders names its
// cluster.
func TestDefaultCatalogue(t *testing.T) {
	for _, anyCluster := range []bool{false, true} {
		t.Run(fmt.Sprintf("policy-default-local-cluster=%v", !anyCluster), func(t *testing.T) { testDefaultCatalogue(t, anyCluster) })
	}
}

func testDefaultCatalogue(t *testing.T, anyCluster bool) {
	e := engineParsedAs(t, anyCluster, []*ciliumv2.CiliumNetworkPolicy{kubeSystem(t)},
		namespace("batch", map[string]string{profileKey: "isolated"}),
		namespace("web", map[string]string{profileKey: "standard"}),
		namespace("shop", map[string]string{profileKey: "standard", postgresAccess: "true"}),
		namespace("plain", nil),
		namespace("hatch", map[string]string{profileKey: "isolated", enforcementKey: "disabled"}),
		namespace("mesh", map[string]string{profileKey: "isolated", "istio.io/dataplane-mode": "ambient"}),
	)
	cases := map[string]struct {
		from, to, port string
		allowed        bool
		// egressBy and ingressBy are the policies that decide each side ("" for none).
		egressBy, ingressBy string
		// only limits the verdict to one side ("egress" or "ingress"): the other end is a platform
		// namespace whose own hand-written policies, not netprofile's, decide the other side.
		only string
	}{
		"isolated reaches kube-dns on 53/UDP": {
			from: "batch/app=job", to: "kube-system/k8s-app=kube-dns", port: "53/UDP", allowed: true,
			egressBy: "CiliumClusterwideNetworkPolicy netprofile-baseline-dns", ingressBy: "CiliumNetworkPolicy kube-system/kube-system-default",
		},
		"isolated does not reach world on 443": {from: "batch/app=job", to: "world", port: "443/TCP"},
		"standard reaches world on 443": {
			from: "web/app=site", to: "world", port: "443/TCP", allowed: true,
			egressBy: "CiliumNetworkPolicy web/netprofile-namespace",
		},
		"standard does not reach world on 80": {from: "web/app=site", to: "world", port: "80/TCP"},
		"postgres-labelled reaches database:5432": {
			from: "shop/app=api", to: "database/app=postgres", port: "5432/TCP", allowed: true,
			egressBy: "CiliumNetworkPolicy shop/netprofile-namespace", ingressBy: "CiliumNetworkPolicy database/netprofile-provider-postgres",
		},
		"postgres-labelled does not reach database on another port": {from: "shop/app=api", to: "database/app=postgres", port: "5433/TCP"},
		"unlabelled does not reach database:5432":                   {from: "plain/app=x", to: "database/app=postgres", port: "5432/TCP"},
		"a profiled namespace without the grant does not reach database:5432": {
			from: "web/app=site", to: "database/app=postgres", port: "5432/TCP",
		},
		"pods in two profiled namespaces cannot reach each other": {from: "web/app=site", to: "shop/app=api", port: "8080/TCP"},
		"... in either direction":                                 {from: "shop/app=api", to: "batch/app=job", port: "8080/TCP"},
		"pods of one profiled namespace reach each other": {
			from: "web/app=site", to: "web/app=cache", port: "6379/TCP", allowed: true,
			egressBy: "CiliumNetworkPolicy web/netprofile-namespace", ingressBy: "CiliumNetworkPolicy web/netprofile-namespace",
		},
		"a standard namespace lets the internal gateway in": {
			from: "istio-gateway/gateway.networking.k8s.io/gateway-name=internal", to: "web/app=site", port: "8080/TCP", allowed: true,
			ingressBy: "CiliumNetworkPolicy web/netprofile-namespace", only: "ingress",
		},
		"an isolated namespace does not let the internal gateway in": {
			from: "istio-gateway/gateway.networking.k8s.io/gateway-name=internal", to: "batch/app=job", port: "8080/TCP", only: "ingress",
		},
		"every pod lets Prometheus scrape it (prometheus-scrape baseline)": {
			from: "monitoring/app.kubernetes.io/name=prometheus", to: "batch/app=job", port: "9090/TCP", allowed: true,
			ingressBy: "CiliumClusterwideNetworkPolicy netprofile-baseline-prometheus-scrape", only: "ingress",
		},
		"the escape hatch opens an isolated namespace to world": {
			from: "hatch/app=job", to: "world", port: "443/TCP", allowed: true,
			egressBy: "CiliumNetworkPolicy hatch/netprofile-enforcement-disabled",
		},
		"ambient namespaces send HBONE (hbone baseline, cluster entity)": {
			from: "mesh/app=job", to: "istio-system/app=ztunnel", port: "15008/TCP", allowed: true,
			egressBy: "CiliumClusterwideNetworkPolicy netprofile-baseline-hbone", only: "egress",
		},
		"ambient namespaces receive HBONE": {
			from: "batch/app=job", to: "mesh/app=job", port: "15008/TCP", allowed: true,
			ingressBy: "CiliumClusterwideNetworkPolicy netprofile-baseline-hbone", only: "ingress",
		},
		"non-ambient namespaces send no HBONE": {
			from: "batch/app=job", to: "istio-system/app=ztunnel", port: "15008/TCP", only: "egress",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			res := mustCheck(t, e, tc.from, tc.to, tc.port)
			allowed := res.Allowed
			switch tc.only {
			case "egress":
				allowed = res.Egress.Allowed
			case "ingress":
				allowed = res.Ingress.Allowed
			}
			if allowed != tc.allowed {
				t.Fatalf("allowed = %v, want %v\negress: %s\ningress: %s", res.Allowed, tc.allowed, res.Egress.Explanation, res.Ingress.Explanation)
			}
			if tc.egressBy != "" && !slices.Contains(names(res.Egress.DecidedBy), tc.egressBy) {
				t.Errorf("egress decided by %v, want %s", names(res.Egress.DecidedBy), tc.egressBy)
			}
			if tc.ingressBy != "" && !slices.Contains(names(res.Ingress.DecidedBy), tc.ingressBy) {
				t.Errorf("ingress decided by %v, want %s", names(res.Ingress.DecidedBy), tc.ingressBy)
			}
		})
	}
}

// TestBaselinesAloneBlockDNSAtKubeDNS documents why platform namespaces need their own policies: the
// baselines select kube-dns too, and the dns baseline is only the egress half.
func TestBaselinesAloneBlockDNSAtKubeDNS(t *testing.T) {
	e := engineFor(t, nil, namespace("batch", map[string]string{profileKey: "isolated"}))
	res := mustCheck(t, e, "batch/app=job", "kube-system/k8s-app=kube-dns", "53/UDP")
	if res.Allowed || !res.Egress.Allowed || res.Ingress.Allowed {
		t.Fatalf("want egress allowed and ingress denied at kube-dns, got %+v", res)
	}
	if !slices.Contains(names(res.Ingress.SelectedBy), "CiliumClusterwideNetworkPolicy netprofile-baseline-health-probes") ||
		!strings.Contains(res.Ingress.Explanation, "default deny") {
		t.Errorf("the explanation should name the baselines' default deny: %+v", res.Ingress)
	}
}

func TestExplicitDenyWins(t *testing.T) {
	deny := kubeSystem(t).DeepCopy()
	deny.Name, deny.Namespace = "no-https", "web"
	deny.Spec.EndpointSelector.MatchLabels = nil
	deny.Spec.Ingress = nil
	b := []byte(`[{"toEntities":["world"],"toPorts":[{"ports":[{"port":"443","protocol":"TCP"}]}]}]`)
	if err := yaml.Unmarshal(b, &deny.Spec.EgressDeny); err != nil {
		t.Fatal(err)
	}
	e := engineFor(t, []*ciliumv2.CiliumNetworkPolicy{deny}, namespace("web", map[string]string{profileKey: "standard", enforcementKey: "disabled"}))
	res := mustCheck(t, e, "web/app=site", "world", "443/TCP")
	if res.Allowed {
		t.Fatalf("a deny rule must beat the profile and even the escape hatch: %+v", res.Egress)
	}
	if !slices.Contains(names(res.Egress.DecidedBy), "CiliumNetworkPolicy web/no-https") {
		t.Errorf("egress decided by %v, want the deny policy", names(res.Egress.DecidedBy))
	}
}

func TestNoPolicyNoEnforcement(t *testing.T) {
	e, err := check.New(check.Policies{})
	if err != nil {
		t.Fatal(err)
	}
	res := mustCheck(t, e, "a/app=x", "b/app=y", "80/TCP")
	if !res.Allowed || res.Egress.Enforced || res.Ingress.Enforced {
		t.Errorf("without policies Cilium allows everything: %+v", res)
	}
}

func TestRejectsPoliciesCiliumWouldNotEnforce(t *testing.T) {
	bad := kubeSystem(t).DeepCopy()
	bad.Spec.Ingress[0].ToPorts[0].Ports[0].Port = "70000"
	if _, err := check.New(check.Policies{CNPs: []*ciliumv2.CiliumNetworkPolicy{bad}}); err == nil ||
		!strings.Contains(err.Error(), "kube-system/kube-system-default") {
		t.Errorf("err = %v, want the policy named", err)
	}
}

func TestParse(t *testing.T) {
	endpoints := map[string]struct {
		in      string
		want    string
		wantErr bool
	}{
		"a namespace":                {in: "my-app", want: "my-app"},
		"a namespace and pod labels": {in: "my-app/tier=web,app=api", want: "my-app/app=api,tier=web"},
		"an entity":                  {in: "kube-apiserver", want: "kube-apiserver"},
		"a namespace named like an entity, with a slash": {in: "host/", want: "host"},
		"a CIDR":                  {in: "cidr:203.0.113.9/24", want: "cidr:203.0.113.0/24"},
		"a bad namespace":         {in: "My_App", wantErr: true},
		"a label without a value": {in: "ns/app", wantErr: true},
		"empty":                   {in: "", wantErr: true},
	}
	for name, tc := range endpoints {
		t.Run("endpoint/"+name, func(t *testing.T) {
			ep, err := check.ParseEndpoint(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && ep.String() != tc.want {
				t.Errorf("= %q, want %q", ep, tc.want)
			}
		})
	}
	ports := map[string]struct {
		in, want string
		wantErr  bool
	}{
		"TCP by default":   {in: "443", want: "443/TCP"},
		"lower case proto": {in: "53/udp", want: "53/UDP"},
		"port 0":           {in: "0/TCP", wantErr: true},
		"out of range":     {in: "70000/TCP", wantErr: true},
		"unknown protocol": {in: "80/HTTP", wantErr: true},
	}
	for name, tc := range ports {
		t.Run("port/"+name, func(t *testing.T) {
			p, err := check.ParsePort(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if err == nil && p.String() != tc.want {
				t.Errorf("= %q, want %q", p, tc.want)
			}
		})
	}
}

// TestServiceAccountSelectors: a pod's service account is part of its identity, so a policy selecting it
// applies only to pods that name it.
func TestServiceAccountSelectors(t *testing.T) {
	sa := &ciliumv2.CiliumNetworkPolicy{}
	if err := yaml.UnmarshalStrict([]byte(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api-out, namespace: a}
spec:
  endpointSelector: {matchLabels: {io.cilium.k8s.policy.serviceaccount: api}}
  egress:
    - toEntities: [world]
      toPorts: [{ports: [{port: "443", protocol: TCP}]}]
`), sa); err != nil {
		t.Fatal(err)
	}
	e := engineFor(t, []*ciliumv2.CiliumNetworkPolicy{sa}, namespace("a", nil))
	if res := mustCheck(t, e, "a/io.cilium.k8s.policy.serviceaccount=api", "world", "443/TCP"); !res.Allowed {
		t.Errorf("the api service account should be allowed: %s", res.Egress.Explanation)
	}
	if res := mustCheck(t, e, "a/app=x", "world", "443/TCP"); res.Allowed {
		t.Errorf("the default service account should not be: %s", res.Egress.Explanation)
	}
}
