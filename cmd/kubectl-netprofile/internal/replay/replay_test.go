package replay_test

import (
	"bytes"
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/replay"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

var update = flag.Bool("update", false, "rewrite the testdata captures and reports")

// The cluster of the tests: gateways, platform services, and app namespaces with the labels Hubble reports.
var (
	internalGW = ht.InternalGateway
	externalGW = ht.ExternalGateway
	coredns    = ht.CoreDNS
	prometheus = ht.Prometheus
	postgres   = ht.Postgres
	github     = ht.World("140.82.112.3", "api.github.com.")
	host       = ht.Reserved(1, "10.0.0.1", "reserved:host")
	apiServer  = ht.Reserved(7, "10.0.0.2", "reserved:kube-apiserver", "reserved:remote-node")
	auditLabel = map[string]string{ht.ProfileKey: "internal", ht.EnforcementKey: "audit"}
)

func pod(ns, name, ip string, nsLabels map[string]string, labels ...string) ht.Pod {
	l := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		l[labels[i]] = labels[i+1]
	}
	return ht.Pod{Namespace: ns, Name: name, IP: ip, Labels: l, NSLabels: nsLabels}
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func classifier(t testing.TB) *diagnose.Classifier {
	t.Helper()
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	return &diagnose.Classifier{Contract: contract.Default(), Catalogue: cat, PlatformNamespaces: policy.DefaultPlatformNamespaces}
}

// proposed is the offline set: the shipped catalogue rendered for the namespaces, with enforcement on.
func proposed(t testing.TB, namespaces ...*corev1.Namespace) replay.Set {
	t.Helper()
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	set, _, _ := replay.Proposed(desired.Input{
		Renderer:   policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName},
		Namespaces: namespaces, Catalogue: cat, Scope: desired.All, Now: time.Now(), Thresholds: enforcement.DefaultThresholds,
	}, check.Policies{})
	return set
}

// parse runs the whole path from Cilium's flow types: Hubble JSON lines, diagnose.Parse, Aggregate.
func parse(t testing.TB, flows ...*flowpb.Flow) *replay.Flows {
	t.Helper()
	b, err := ht.Lines(flows...)
	if err != nil {
		t.Fatal(err)
	}
	in, err := diagnose.Parse("flows", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return replay.Aggregate(in)
}

func run(t *testing.T, set replay.Set, flows ...*flowpb.Flow) *replay.Report {
	t.Helper()
	r, err := replay.Replay(parse(t, flows...), set, classifier(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// summary is "outcome from -> to port" per group.
func summary(r *replay.Report) []string {
	var out []string
	for _, g := range r.Groups {
		out = append(out, string(g.Outcome)+" "+g.From+" -> "+g.To+" "+g.Port)
	}
	slices.Sort(out)
	return out
}

func group(t *testing.T, r *replay.Report, outcome replay.Outcome, from, to, port string) replay.Group {
	t.Helper()
	for _, g := range r.Groups {
		if g.Outcome == outcome && g.From == from && g.To == to && g.Port == port {
			return g
		}
	}
	t.Fatalf("no %s group %s -> %s on %s in %v", outcome, from, to, port, summary(r))
	return replay.Group{}
}

// shopFlows is a standard namespace that calls the database without the postgres grant (dropped).
func shopFlows() []*flowpb.Flow {
	ht.Reset()
	standard := map[string]string{ht.ProfileKey: "standard"}
	web := pod("shop", "web-5c6b7-k8j2m", "10.0.2.31", standard, "app", "web")
	api := pod("shop", "api-7d9f8-x2x4q", "10.0.2.33", standard, "app", "api")
	return slices.Concat(
		ht.Times(4, func() *flowpb.Flow { return ht.Forwarded(internalGW, web, ht.TCP(8080)) }),
		ht.Times(7, func() *flowpb.Flow { return ht.Forwarded(externalGW, web, ht.TCP(8080)) }),
		ht.Times(2, func() *flowpb.Flow { return ht.Forwarded(api, github, ht.TCP(443)) }),
		ht.Times(3, func() *flowpb.Flow { return ht.Forwarded(web, api, ht.TCP(9000)) }),
		ht.Times(5, func() *flowpb.Flow { return ht.EgressDrop(api, postgres, ht.TCP(5432)) }),
		ht.Times(1, func() *flowpb.Flow { return ht.EgressDrop(api, ht.World("151.101.0.223", "pypi.org"), ht.TCP(80)) }),
	)
}

// auditFlows is a namespace in netprofile's audit mode, profile internal: Hubble forwards everything, and
// what only the audit allow-all allowed carries it in egress_allowed_by / ingress_allowed_by.
func auditFlows() []*flowpb.Flow {
	ht.Reset()
	web := pod("dash", "web-5c6b7-k8j2m", "10.0.2.31", auditLabel, "app", "web")
	web2 := pod("dash", "web-5c6b7-x7x7x", "10.0.2.32", auditLabel, "app", "web")
	api := pod("dash", "api-7d9f8-x2x4q", "10.0.2.33", auditLabel, "app", "api")
	audit := func(f *flowpb.Flow, egress bool) *flowpb.Flow {
		return ht.AllowedBy(f, egress, "CiliumNetworkPolicy", "dash", "netprofile-enforcement-audit")
	}
	var flows []*flowpb.Flow
	add := func(n int, f func() *flowpb.Flow) { flows = append(flows, ht.Times(n, f)...) }
	// What profile internal and the baselines allow.
	add(3, func() *flowpb.Flow { return ht.Forwarded(internalGW, web, ht.TCP(8080)) })
	add(2, func() *flowpb.Flow { return ht.Forwarded(internalGW, web2, ht.TCP(8080)) })
	add(4, func() *flowpb.Flow { return ht.Forwarded(web, api, ht.TCP(9000)) })
	add(2, func() *flowpb.Flow { return ht.Forwarded(web, coredns, ht.UDP(53)) })
	add(1, func() *flowpb.Flow { return ht.Forwarded(prometheus, api, ht.TCP(9090)) })
	add(1, func() *flowpb.Flow { return ht.Forwarded(host, web, ht.TCP(8080)) })
	// What only the audit allow-all allowed.
	add(5, func() *flowpb.Flow { return audit(ht.Forwarded(api, github, ht.TCP(443)), true) })
	add(1, func() *flowpb.Flow {
		return audit(ht.Forwarded(api, ht.World("140.82.112.4", "codeload.github.com"), ht.TCP(443)), true)
	})
	add(2, func() *flowpb.Flow { return audit(ht.Forwarded(externalGW, web, ht.TCP(8080)), false) })
	add(3, func() *flowpb.Flow { return audit(ht.Forwarded(api, postgres, ht.TCP(5432)), true) })
	add(1, func() *flowpb.Flow { return audit(ht.Forwarded(api, apiServer, ht.TCP(6443)), true) })
	// Left out: replies, ICMP, another drop reason.
	flows = append(flows,
		ht.Reply(ht.Forwarded(api, postgres, ht.TCP(5432))),
		ht.Flow(flowpb.Verdict_FORWARDED, 0, flowpb.TrafficDirection_EGRESS, web, api, ht.ICMP),
		ht.Flow(flowpb.Verdict_DROPPED, flowpb.DropReason_CT_MAP_INSERTION_FAILED, flowpb.TrafficDirection_EGRESS, web, api, ht.TCP(9000)))
	return flows
}

// TestAuditNamespace: judged against its own profile with enforcement on, an audit namespace's forwarded
// flows break exactly where the profile does not allow them, each with diagnose's fix.
func TestAuditNamespace(t *testing.T) {
	r := run(t, proposed(t, namespace("dash", auditLabel)), auditFlows()...)
	want := []string{
		"allowed dash -> dash 9000/TCP",
		"allowed dash -> kube-system 53/UDP",
		"allowed host -> dash 8080/TCP",
		"allowed istio-gateway -> dash 8080/TCP",
		"allowed monitoring -> dash 9090/TCP",
		"wouldBreak dash -> database 5432/TCP",
		"wouldBreak dash -> kube-apiserver 6443/TCP",
		"wouldBreak dash -> world 443/TCP",
		"wouldBreak istio-gateway -> dash 8080/TCP",
	}
	if got := summary(r); !slices.Equal(got, want) {
		t.Errorf("groups:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if r.WouldBreak != 5+1+2+3+1 || r.WouldFix != 0 || r.Unchanged != 3+2+4+2+1+1 || !r.Breaks() {
		t.Errorf("would break %d, fix %d, unchanged %d", r.WouldBreak, r.WouldFix, r.Unchanged)
	}
	if r.Ignored.Replies != 1 || r.Ignored.NotJudged["ICMP (no port)"] != 1 || r.Ignored.OtherDrops["CT_MAP_INSERTION_FAILED"] != 1 {
		t.Errorf("ignored = %+v", r.Ignored)
	}

	https := group(t, r, replay.WouldBreak, "dash", "world", "443/TCP")
	if https.Flows != 6 || https.Distinct != 2 || https.Cause == nil || https.Cause.Kind != diagnose.KindSwitchProfile ||
		https.Cause.Label != "network-policy.homelab/profile=internal-egress" ||
		!strings.HasPrefix(https.Egress.Decision, "denied: the labels do not allow it") || !https.Egress.Ceiling ||
		!slices.Equal(https.ObservedAllowedBy, []string{"CiliumNetworkPolicy dash/netprofile-enforcement-audit"}) {
		t.Errorf("HTTPS: %+v", https)
	}
	external := group(t, r, replay.WouldBreak, "istio-gateway", "dash", "8080/TCP")
	if external.Cause == nil || external.Cause.Kind != diagnose.KindSwitchProfile || external.Cause.Profiles[0] != "standard" ||
		external.Ingress.Allowed || !external.Egress.Allowed || external.Egress.Judged {
		t.Errorf("external gateway: %+v", external)
	}
	pg := group(t, r, replay.WouldBreak, "dash", "database", "5432/TCP")
	if pg.Cause == nil || pg.Cause.Label != "access.network-policy.homelab/postgres=true" {
		t.Errorf("postgres: %+v", pg.Cause)
	}
	kubeAPI := group(t, r, replay.WouldBreak, "dash", "kube-apiserver", "6443/TCP")
	if kubeAPI.Cause == nil || kubeAPI.Cause.Label != "access.network-policy.homelab/kube-api=true" {
		t.Errorf("kube-apiserver: %+v", kubeAPI.Cause)
	}
	gw := group(t, r, replay.StillAllowed, "istio-gateway", "dash", "8080/TCP")
	if gw.Flows != 5 || gw.Distinct != 1 || gw.Ingress.Decision != "allowed by CiliumNetworkPolicy dash/netprofile-namespace" {
		t.Errorf("internal gateway: %+v", gw)
	}

	// With the grants and the profile the fixes name, nothing breaks.
	fixed := run(t, proposed(t, namespace("dash", map[string]string{ht.ProfileKey: "standard", ht.EnforcementKey: "audit",
		ht.AccessKey("postgres"): "true", ht.AccessKey("kube-api"): "true"})), auditFlows()...)
	if fixed.Breaks() {
		t.Errorf("with standard, postgres and kube-api: %v", summary(fixed))
	}
	// The escape hatch's allow-all is left out too: enforcement on means without it.
	hatch := run(t, proposed(t, namespace("dash", map[string]string{ht.ProfileKey: "internal", ht.EnforcementKey: "disabled"})), auditFlows()...)
	if !reflect.DeepEqual(summary(hatch), want) {
		t.Errorf("with the escape hatch open: %v", summary(hatch))
	}
}

// TestProposedProfileChange: -f moves shop from standard to internal and grants postgres. What standard
// allowed and internal does not would break; the dropped database traffic would be fixed.
func TestProposedProfileChange(t *testing.T) {
	flows := shopFlows()
	r := run(t, proposed(t, namespace("shop", map[string]string{ht.ProfileKey: "internal", ht.AccessKey("postgres"): "true"})), flows...)
	want := []string{
		"allowed istio-gateway -> shop 8080/TCP",
		"allowed shop -> shop 9000/TCP",
		"dropped shop -> world 80/TCP",
		"wouldBreak istio-gateway -> shop 8080/TCP",
		"wouldBreak shop -> world 443/TCP",
		"wouldFix shop -> database 5432/TCP",
	}
	if got := summary(r); !slices.Equal(got, want) {
		t.Errorf("groups:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if r.WouldBreak != 9 || r.WouldFix != 5 || r.Unchanged != 8 {
		t.Errorf("would break %d, fix %d, unchanged %d", r.WouldBreak, r.WouldFix, r.Unchanged)
	}
	https := group(t, r, replay.WouldBreak, "shop", "world", "443/TCP")
	if https.Cause == nil || https.Cause.Summary != "profile internal does not allow HTTPS egress" {
		t.Errorf("the cause should name the proposed profile: %+v", https.Cause)
	}
	fix := group(t, r, replay.WouldFix, "shop", "database", "5432/TCP")
	if fix.Egress.Decision != "allowed by CiliumNetworkPolicy shop/netprofile-namespace" || fix.Cause != nil ||
		fix.Observed != "DROPPED at egress" || fix.Ingress.Judged {
		t.Errorf("fix: %+v", fix)
	}

	var text bytes.Buffer
	r.Against = "the proposed namespaces"
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"Replayed 22 flows (6 distinct) against the proposed namespaces: 9 flows would break, 5 flows would be fixed, 8 flows unchanged.",
		"WOULD BREAK: allowed now, dropped by the judged policies\n[1] istio-gateway -> shop on 8080/TCP: 7 flows (e.g. istio-gateway/external-istio-7f9c4-r3t4y -> shop/web-5c6b7-k8j2m)",
		"    fix:      switch Namespace shop to profile standard (in git: network-policy.homelab/profile: standard)",
		"WOULD BE FIXED: dropped now, allowed by the judged policies\n[3] shop -> database on 5432/TCP: 5 flows",
		"UNCHANGED, ALLOWED\n[5] istio-gateway -> shop on 8080/TCP: 4 flows; egress: not judged: istio-gateway is not in the judged policy set; allowed, as observed; ingress: allowed by CiliumNetworkPolicy shop/netprofile-namespace",
	} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("report does not say %q:\n%s", s, text.String())
		}
	}
}

// TestEndpoints maps what Hubble reports to what Cilium's engine needs: reserved identities, CIDR and FQDN
// identities, pods of another cluster name.
func TestEndpoints(t *testing.T) {
	ep := func(identity uint32, ns string, labels ...string) *flowpb.Endpoint {
		return &flowpb.Endpoint{Identity: identity, Namespace: ns, Labels: labels}
	}
	cases := map[string]struct {
		ep    *flowpb.Endpoint
		ip    string
		names []string
		want  check.Endpoint
		err   bool
	}{
		"a pod: its labels and its cluster": {
			ep: ep(40001, "shop", "k8s:app=api", "k8s:io.cilium.k8s.policy.cluster=prod", "k8s:io.cilium.k8s.policy.serviceaccount=api",
				"k8s:io.kubernetes.pod.namespace=shop", "k8s:io.cilium.k8s.namespace.labels.team=a"),
			ip:   "10.0.2.33",
			want: check.Endpoint{Namespace: "shop", Labels: map[string]string{"app": "api", "io.cilium.k8s.policy.serviceaccount": "api"}, Cluster: "prod"},
		},
		"world with an address: a CIDR identity, so the judged set's CIDR selectors apply": {
			ep: ep(2, "", "reserved:world"), ip: "140.82.112.3", names: []string{"api.github.com."},
			want: check.Endpoint{CIDR: "140.82.112.3/32", Names: []string{"api.github.com"}},
		},
		"world without an address": {ep: ep(2, "", "reserved:world"), want: check.Endpoint{Entity: "world"}},
		"world-ipv6":               {ep: ep(10, "", "reserved:world-ipv6"), ip: "2001:db8::7", want: check.Endpoint{CIDR: "2001:db8::7/128"}},
		"a CIDR identity: the address, not the observed selector": {
			ep: ep(16777217, "", "cidr:198.51.100.0/24", "reserved:world"), ip: "198.51.100.20", want: check.Endpoint{CIDR: "198.51.100.20/32"},
		},
		"an FQDN identity: the address and its names": {
			ep: ep(16777218, "", "fqdn:*.github.com", "reserved:world"), ip: "140.82.112.4", names: []string{"codeload.github.com."},
			want: check.Endpoint{CIDR: "140.82.112.4/32", Names: []string{"codeload.github.com"}},
		},
		"an API server outside the cluster": {
			ep: ep(16777219, "", "reserved:kube-apiserver", "reserved:world"), ip: "203.0.113.10",
			want: check.Endpoint{CIDR: "203.0.113.10/32", Entities: []string{"kube-apiserver"}},
		},
		"the host":                               {ep: ep(1, "", "reserved:host"), ip: "10.0.0.1", want: check.Endpoint{Entity: "host"}},
		"the host running the API server":        {ep: ep(1, "", "reserved:host", "reserved:kube-apiserver"), want: check.Endpoint{Entity: "host", Entities: []string{"kube-apiserver"}}},
		"a remote node running the API server":   {ep: ep(7, "", "reserved:kube-apiserver", "reserved:remote-node"), want: check.Endpoint{Entity: "kube-apiserver"}},
		"the kube-apiserver identity, unlabeled": {ep: ep(7, ""), want: check.Endpoint{Entity: "kube-apiserver"}},
		"a remote node":                          {ep: ep(6, "", "reserved:remote-node"), want: check.Endpoint{Entity: "remote-node"}},
		"health":                                 {ep: ep(4, "", "reserved:health"), want: check.Endpoint{Entity: "health"}},
		"the host, unlabeled":                    {ep: ep(1, ""), want: check.Endpoint{Entity: "host"}},
		"ingress":                                {ep: ep(8, "", "reserved:ingress"), want: check.Endpoint{Entity: "ingress"}},
		"nothing known":                          {ep: ep(0, ""), err: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := replay.Endpoint(diagnose.NewPeer(tc.ep, tc.ip, tc.names))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("= %#v\nwant %#v", got, tc.want)
			}
		})
	}
}

// TestEndpointsDecide: the mapped ends are decided as the agent decides them.
func TestEndpointsDecide(t *testing.T) {
	labels := map[string]string{ht.ProfileKey: "isolated", ht.AccessKey("kube-api"): "true"}
	job := pod("batch", "job-5c6b7-k8j2m", "10.0.7.7", labels, "app", "job")
	r := run(t, proposed(t, namespace("batch", labels)),
		ht.Forwarded(job, ht.Reserved(1, "10.0.0.1", "reserved:host", "reserved:kube-apiserver"), ht.TCP(6443)),
		ht.Forwarded(job, apiServer, ht.TCP(443)),
		ht.Forwarded(job, ht.Reserved(1, "10.0.0.1", "reserved:host"), ht.TCP(10250)),
		ht.Forwarded(job, ht.FQDN("140.82.112.3", "*.github.com", "api.github.com."), ht.TCP(443)),
		ht.Forwarded(host, job, ht.TCP(8080)),
		ht.Forwarded(ht.Reserved(6, "10.0.1.1", "reserved:remote-node"), job, ht.TCP(8080)),
		ht.Forwarded(ht.World("198.51.100.9"), job, ht.TCP(8080)),
		// Hubble names each pod's cluster: the judged set's (policy.DefaultClusterName here) is this cluster's,
		// and a pod of another cluster of the mesh is judged as one.
		ht.Forwarded(ht.Pod{Namespace: "batch", Name: "job-5c6b7-p9p9p", IP: "10.0.7.8", Labels: map[string]string{"app": "job"}, NSLabels: labels,
			Cluster: policy.DefaultClusterName}, ht.Pod{Namespace: "batch", Name: "worker-5c6b7-k2k2k", IP: "10.0.7.9", Labels: map[string]string{"app": "worker"},
			NSLabels: labels, Cluster: policy.DefaultClusterName}, ht.TCP(9000)),
		ht.Forwarded(ht.Pod{Namespace: "batch", Name: "job-5c6b7-q8q8q", IP: "10.9.7.8", Labels: map[string]string{"app": "job"}, NSLabels: labels,
			Cluster: "prod"}, ht.Pod{Namespace: "batch", Name: "worker-5c6b7-k2k2k", IP: "10.0.7.9", Labels: map[string]string{"app": "worker"},
			NSLabels: labels, Cluster: policy.DefaultClusterName}, ht.TCP(9001)),
	)
	want := []string{
		"allowed batch -> batch 9000/TCP",
		"allowed batch -> host 6443/TCP", // the host is kube-apiserver too: the kube-api grant
		"allowed batch -> kube-apiserver 443/TCP",
		"allowed host -> batch 8080/TCP",        // health probes
		"allowed remote-node -> batch 8080/TCP", // health probes
		"wouldBreak batch -> batch 9001/TCP",    // from batch of cluster prod
		"wouldBreak batch -> host 10250/TCP",
		"wouldBreak batch -> world 443/TCP",
		"wouldBreak world -> batch 8080/TCP",
	}
	if got := summary(r); !slices.Equal(got, want) {
		t.Errorf("groups:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestCapture keeps the captures in testdata current: the audit namespace's flows (audit.jsonl) and the
// standard namespace's (shop.jsonl) as Hubble prints them, for the plugin's tests and the README.
func TestCapture(t *testing.T) {
	for file, flows := range map[string][]*flowpb.Flow{"testdata/audit.jsonl": auditFlows(), "testdata/shop.jsonl": shopFlows()} {
		b, err := ht.Lines(flows...)
		if err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(file, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s is stale: run go test ./cmd/kubectl-netprofile/internal/replay -run TestCapture -update", file)
		}
	}
}
