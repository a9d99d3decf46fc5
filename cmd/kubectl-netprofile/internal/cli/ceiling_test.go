package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/cli"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

const (
	homelab    = "testdata/namespaces/homelab.yaml"
	monitoring = "testdata/platform/monitoring.yaml"
)

// tenantPolicies are what a namespace's own users can write, one document per profiled namespace: with
// Kubernetes' edit role a NetworkPolicy, where a platform lets them a CiliumNetworkPolicy. The issue's
// measurements used the same three.
var tenantPolicies = []struct{ name, doc string }{
	{"allow-all CiliumNetworkPolicy", `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: tenant-allow-all, namespace: NS}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [all]}]
  egress: [{toEntities: [all]}]
`},
	{"allow-all NetworkPolicy", `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tenant-allow-all, namespace: NS}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  ingress: [{}]
  egress: [{}]
`},
	{"world egress CiliumNetworkPolicy", `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: tenant-world, namespace: NS}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world]}]
`},
}

// loadPolicies decodes the policies of the files as the plugin reads its inputs (catalogue.LoadPaths), strictly,
// so a field the rendering printed and Cilium's types do not know fails the test instead of being dropped.
func loadPolicies(t *testing.T, paths ...string) check.Policies {
	t.Helper()
	set, err := catalogue.LoadPaths(paths...)
	if err != nil {
		t.Fatal(err)
	}
	var p check.Policies
	for _, d := range set.Other {
		var into any
		switch d.Kind {
		case ciliumv2.CNPKindDefinition:
			cnp := &ciliumv2.CiliumNetworkPolicy{}
			p.CNPs, into = append(p.CNPs, cnp), cnp
		case ciliumv2.CCNPKindDefinition:
			ccnp := &ciliumv2.CiliumClusterwideNetworkPolicy{}
			p.CCNPs, into = append(p.CCNPs, ccnp), ccnp
		case "NetworkPolicy":
			knp := &networkingv1.NetworkPolicy{}
			p.KNPs, into = append(p.KNPs, knp), knp
		default:
			t.Fatalf("%s: unexpected kind %s", d.Source, d.Kind)
		}
		if err := yaml.UnmarshalStrict(d.Raw, into); err != nil {
			t.Fatalf("%s: %v", d.Source, err)
		}
	}
	return p
}

func union(sets ...check.Policies) check.Policies {
	var out check.Policies
	for _, s := range sets {
		out.CNPs = append(out.CNPs, s.CNPs...)
		out.CCNPs = append(out.CCNPs, s.CCNPs...)
		out.KNPs = append(out.KNPs, s.KNPs...)
	}
	return out
}

// ceilingFlow is one flow of the matrix, as check's --from, --to and --port take it.
type ceilingFlow struct{ from, to, port string }

// ceilingMatrix is every flow the held-out matrix judges, for each namespace of apps: to and from every
// other one's pods, to world (several ports, external DNS resolvers), the API server, kube-dns and the shared
// resources' providers (their port and another), and into it from world, the gateways, Prometheus and another
// monitoring pod, the providers, and the health probes.
func ceilingMatrix(apps []string) []ceilingFlow {
	const (
		kubeDNS    = "kube-system/k8s-app=kube-dns"
		prometheus = "monitoring/app.kubernetes.io/name=prometheus"
		grafana    = "monitoring/app=grafana"
		internalGW = "istio-gateway/gateway.networking.k8s.io/gateway-name=internal"
		externalGW = "istio-gateway/gateway.networking.k8s.io/gateway-name=external"
	)
	providers := []struct{ pod, port string }{
		{"database/app=postgres", "5432/TCP"}, {"cache/app=dragonfly", "6379/TCP"}, {"garage/app=s3", "3900/TCP"},
	}
	var out []ceilingFlow
	for _, ns := range apps {
		web := ns + "/app=web"
		add := func(from, to string, ports ...string) {
			for _, p := range ports {
				out = append(out, ceilingFlow{from, to, p})
			}
		}
		add(web, ns+"/app=worker", "8080/TCP")
		for _, other := range apps {
			if other != ns {
				add(web, other+"/app=web", "8080/TCP", "15008/TCP")
			}
		}
		add(web, "world", "443/TCP", "80/TCP", "22/TCP", "8443/TCP")
		add(web, "cidr:1.1.1.1/32", "53/UDP")
		add(web, "cidr:8.8.8.8/32", "853/TCP")
		add("world", web, "443/TCP", "8080/TCP")
		add(web, "kube-apiserver", "6443/TCP", "443/TCP")
		add(web, kubeDNS, "53/UDP", "53/TCP", "9153/TCP")
		for _, p := range providers {
			add(web, p.pod, p.port, "8080/TCP")
			add(p.pod, web, "8080/TCP")
		}
		add(internalGW, web, "8080/TCP")
		add(externalGW, web, "8080/TCP")
		add(prometheus, web, "9090/TCP")
		add(grafana, web, "9090/TCP")
		add(web, internalGW, "8080/TCP")
		add(web, prometheus, "9090/TCP")
		add("host", web, "8080/TCP")
		add("cidr:169.254.7.127/32", web, "8080/TCP")
	}
	return out
}

func (f ceilingFlow) String() string { return fmt.Sprintf("%s -> %s %s", f.from, f.to, f.port) }

// verdict is both sides of a flow: a tenant's policies may only change the side of their own namespace, and
// that side must not change either.
type verdict struct{ egress, ingress bool }

func (v verdict) allowed() bool { return v.egress && v.ingress }

func judge(t *testing.T, pols check.Policies, nsLabels map[string]map[string]string, matrix []ceilingFlow) []verdict {
	t.Helper()
	flows := make([]check.Flow, len(matrix))
	for i, f := range matrix {
		from, err := check.ParseEndpoint(f.from)
		if err != nil {
			t.Fatal(err)
		}
		to, err := check.ParseEndpoint(f.to)
		if err != nil {
			t.Fatal(err)
		}
		port, err := check.ParsePort(f.port)
		if err != nil {
			t.Fatal(err)
		}
		flows[i] = check.Flow{From: from, To: to, Port: port}
	}
	pols.NamespaceLabels = nsLabels
	e, err := check.New(pols)
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.CheckAll(flows)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]verdict, len(res))
	for i, r := range res {
		out[i] = verdict{r.Egress.Allowed, r.Ingress.Allowed}
	}
	return out
}

// TestRenderedCeilingHoldsAgainstTenantPolicies is issue 21's proof at the command line: what `render` prints
// for a homelab-sized inventory, judged by Cilium's engine with the platform's own policies, gives every flow
// of the matrix the same verdict, on both sides, with tenant allow-all policies in every profiled namespace as
// without them. The same tenant policies against the rendering with its ceilings removed do open forbidden
// flows, so the ceilings are what holds; and `check`, given the tenant CiliumNetworkPolicies, answers as the
// labels do and names the ceiling where it denies what a tenant opened.
func TestRenderedCeilingHoldsAgainstTenantPolicies(t *testing.T) {
	r := run(t, "", "render", "-f", homelab, "--cluster-policies")
	if r.code != 0 {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	dir := t.TempDir()
	renderedFile := filepath.Join(dir, "rendered.yaml")
	if err := os.WriteFile(renderedFile, []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}

	inventory, err := catalogue.LoadPaths(homelab)
	if err != nil {
		t.Fatal(err)
	}
	c := contract.Default()
	nsLabels := map[string]map[string]string{}
	var apps, profiled []string
	for _, ns := range inventory.Namespaces {
		nsLabels[ns.Name] = ns.Labels
		if _, ok := ns.Labels[c.ProfileKey()]; ok {
			profiled = append(profiled, ns.Name)
		}
		if ns.Labels[c.PlatformKey()] != contract.PlatformMarked {
			apps = append(apps, ns.Name)
		}
	}

	type tenantSet struct {
		name string
		pols check.Policies
	}
	tenants := make([]tenantSet, 0, len(tenantPolicies)+1)
	var tenantFiles []string
	for i, tp := range tenantPolicies {
		docs := make([]string, len(profiled))
		for j, ns := range profiled {
			docs[j] = strings.ReplaceAll(tp.doc, "namespace: NS", "namespace: "+ns)
		}
		file := filepath.Join(dir, fmt.Sprintf("tenant-%d.yaml", i))
		if err := os.WriteFile(file, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		tenants = append(tenants, tenantSet{tp.name, loadPolicies(t, file)})
		tenantFiles = append(tenantFiles, file)
	}

	platform := loadPolicies(t, kubeSystem, istioGateway, monitoring)
	rendered := loadPolicies(t, renderedFile)
	var ceilings []string
	unheld := rendered
	unheld.CNPs = slices.DeleteFunc(slices.Clone(rendered.CNPs), func(p *ciliumv2.CiliumNetworkPolicy) bool {
		if p.Name == ownership.CeilingPolicyName {
			ceilings = append(ceilings, p.Namespace)
		}
		return p.Name == ownership.CeilingPolicyName
	})
	slices.Sort(ceilings)
	if want := slices.Sorted(slices.Values(profiled)); !slices.Equal(ceilings, want) {
		t.Fatalf("ceilings rendered in %v, want one in every profiled namespace %v", ceilings, want)
	}

	matrix := ceilingMatrix(apps)
	held := judge(t, union(rendered, platform), nsLabels, matrix)
	forbidden := 0
	for _, v := range held {
		if !v.allowed() {
			forbidden++
		}
	}
	if forbidden == 0 || forbidden == len(held) {
		t.Fatalf("%d of %d flows forbidden: the matrix does not tell allowed from forbidden", forbidden, len(held))
	}
	for i, v := range judge(t, union(unheld, platform), nsLabels, matrix) {
		if v != held[i] {
			t.Errorf("%s: %+v with the ceilings, %+v without: a ceiling must only hold what others add", matrix[i], held[i], v)
		}
	}

	tenants = append(tenants, tenantSet{"three policies", union(tenants[0].pols, tenants[1].pols, tenants[2].pols)})
	openedBy := make([][]int, len(tenants)) // forbidden flows each tenant set opens without the ceilings
	for i, v := range tenants {
		for j, got := range judge(t, union(rendered, platform, v.pols), nsLabels, matrix) {
			if got != held[j] {
				t.Errorf("with the tenants' %s: %s is %+v, by the labels %+v", v.name, matrix[j], got, held[j])
			}
		}
		for j, got := range judge(t, union(unheld, platform, v.pols), nsLabels, matrix) {
			if got.allowed() && !held[j].allowed() {
				openedBy[i] = append(openedBy[i], j)
			}
		}
		if len(openedBy[i]) == 0 {
			t.Errorf("without the ceilings the tenants' %s open no forbidden flow: they do not test the ceiling", v.name)
		}
		t.Logf("tenants' %s: %d forbidden flows opened without the ceilings, 0 with them", v.name, len(openedBy[i]))
	}
	t.Logf("%d flows (%d namespaces, %d profiled), %d forbidden by the labels", len(matrix), len(apps), len(profiled), forbidden)

	// The command itself, on one flow of each kind (what talks to what), with each tenant policy as --policies
	// reads it from a file: a forbidden flow a tenant would open is denied by the ceiling, an allowed one stays
	// allowed, and the tenant's policy is among those that select the profiled end, so the file was read.
	for i, tp := range tenantPolicies {
		policies := strings.Join([]string{kubeSystem, istioGateway, monitoring, tenantFiles[i]}, ",")
		var sample []int
		seen := map[string]bool{}
		for _, idx := range [][]int{openedBy[i], allowedIndexes(held)} {
			for _, j := range idx {
				if k := flowKind(matrix[j], held[j]); !seen[k] {
					seen[k] = true
					sample = append(sample, j)
				}
			}
		}
		tenant := tenants[i].pols
		for _, j := range sample {
			f := matrix[j]
			got := run(t, "", "check", "-f", homelab, "--policies", policies, "--from", f.from, "--to", f.to, "--port", f.port, "-o", "json")
			want := cli.ExitFindings
			if held[j].allowed() {
				want = cli.ExitOK
			}
			if got.code != want {
				t.Errorf("check with the tenants' %s, %s: exit %d, want %d\n%s%s", tp.name, f, got.code, want, got.stdout, got.stderr)
				continue
			}
			var res check.Result
			if err := json.Unmarshal([]byte(got.stdout), &res); err != nil {
				t.Fatalf("check -o json: %v\n%s", err, got.stdout)
			}
			if want == cli.ExitFindings && !res.Egress.Ceiling && !res.Ingress.Ceiling {
				t.Errorf("check with the tenants' %s, %s: denied, but not by the ceiling:\n%s", tp.name, f, got.stdout)
			}
			for _, side := range []struct {
				ep      check.Endpoint
				dir     check.Direction
				ingress bool
			}{{res.From, res.Egress, false}, {res.To, res.Ingress, true}} {
				if ref, ok := selects(tenant, side.ep, side.ingress); ok && !slices.Contains(side.dir.SelectedBy, ref) {
					t.Errorf("check with the tenants' %s, %s: %s is not selected by %s: the file was not read\n%s", tp.name, f, side.ep, ref, got.stdout)
				}
			}
		}
		t.Logf("check with the tenants' %s agrees on %d flows, one of each kind", tp.name, len(sample))
	}
}

// selects is the tenant policy that selects ep in the direction, when ep is a pod of its namespace: every
// tenant policy selects all pods of its namespace, in the directions it has rules for.
func selects(tenant check.Policies, ep check.Endpoint, ingress bool) (check.PolicyRef, bool) {
	if !ep.IsPod() {
		return check.PolicyRef{}, false
	}
	for _, p := range tenant.CNPs {
		if p.Namespace == ep.Namespace && (ingress && len(p.Spec.Ingress) > 0 || !ingress && len(p.Spec.Egress) > 0) {
			return check.PolicyRef{Kind: ciliumv2.CNPKindDefinition, Namespace: p.Namespace, Name: p.Name}, true
		}
	}
	for _, p := range tenant.KNPs {
		if p.Namespace == ep.Namespace && (ingress && len(p.Spec.Ingress) > 0 || !ingress && len(p.Spec.Egress) > 0) {
			return check.PolicyRef{Kind: "NetworkPolicy", Namespace: p.Namespace, Name: p.Name}, true
		}
	}
	return check.PolicyRef{}, false
}

func allowedIndexes(vs []verdict) []int {
	var out []int
	for i, v := range vs {
		if v.allowed() {
			out = append(out, i)
		}
	}
	return out
}

// flowKind groups flows by what talks to what: an entity or an address by its kind, a pod by its namespace when
// that is the platform's, any other pod as an app.
func flowKind(f ceilingFlow, v verdict) string {
	kind := func(ep string) string {
		switch ns, _, pod := strings.Cut(ep, "/"); {
		case strings.HasPrefix(ep, "cidr:"):
			return "cidr"
		case !pod:
			return ep
		case slices.Contains(policy.DefaultPlatformNamespaces, ns):
			return ep
		default:
			return "app"
		}
	}
	return fmt.Sprintf("%s>%s allowed=%v", kind(f.from), kind(f.to), v.allowed())
}
