package replay_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/replay"
)

// cluster100k is an hour of a mid-sized cluster's Hubble output, 100,000 flows: 40 app namespaces of every
// profile (a third of them audit mode, some with the postgres grant), 5 workloads of 3 pods each, talking to
// the gateways, DNS, Prometheus, the database, 300 addresses on the internet and, sometimes, each other;
// a fifth of the flows are replies.
func cluster100k(b *testing.B) ([]byte, []*corev1.Namespace) {
	b.Helper()
	ht.Reset()
	rng := rand.New(rand.NewPCG(1, 2))
	profiles := []string{"isolated", "internal", "internal-egress", "standard"}
	var namespaces []*corev1.Namespace
	var pods [][]ht.Pod
	for n := range 40 {
		labels := map[string]string{ht.ProfileKey: profiles[n%4]}
		if n%3 == 0 {
			labels[ht.EnforcementKey] = "audit"
		}
		if n%5 == 0 {
			labels[ht.AccessKey("postgres")] = "true"
		}
		name := fmt.Sprintf("app-%02d", n)
		namespaces = append(namespaces, namespace(name, labels))
		var ps []ht.Pod
		for w := range 5 {
			for r := range 3 {
				ps = append(ps, pod(name, fmt.Sprintf("w%d-5c6b7-%05d", w, r), fmt.Sprintf("10.%d.%d.%d", 1+n/10, n%10*20+w, r+1),
					labels, "app", fmt.Sprintf("w%d", w), "app.kubernetes.io/part-of", name))
			}
		}
		pods = append(pods, ps)
	}
	var world []ht.External
	for i := range 300 {
		world = append(world, ht.World(fmt.Sprintf("203.0.%d.%d", i/250, i%250+1), fmt.Sprintf("api-%d.example.com.", i)))
	}
	flows := make([]*flowpb.Flow, 0, 100_000)
	for len(flows) < 100_000 {
		n := rng.IntN(len(pods))
		p := pods[n][rng.IntN(len(pods[n]))]
		var f *flowpb.Flow
		switch k := rng.IntN(100); {
		case k < 20:
			f = ht.Forwarded(internalGW, p, ht.TCP(8080))
		case k < 25:
			f = ht.Forwarded(externalGW, p, ht.TCP(8080))
		case k < 40:
			f = ht.Forwarded(p, coredns, ht.UDP(53))
		case k < 45:
			f = ht.Forwarded(prometheus, p, ht.TCP(9090))
		case k < 60:
			f = ht.Forwarded(p, pods[n][rng.IntN(len(pods[n]))], ht.TCP(9000))
		case k < 75:
			f = ht.Forwarded(p, world[rng.IntN(len(world))], ht.TCP(443))
		case k < 78:
			f = ht.Forwarded(p, postgres, ht.TCP(5432))
		case k < 80:
			o := pods[rng.IntN(len(pods))]
			f = ht.IngressDrop(p, o[rng.IntN(len(o))], ht.TCP(8080))
		default:
			f = ht.Reply(ht.Forwarded(p, coredns, ht.UDP(53)))
		}
		flows = append(flows, f)
	}
	lines, err := ht.Lines(flows...)
	if err != nil {
		b.Fatal(err)
	}
	return lines, namespaces
}

// BenchmarkReplay100k judges 100,000 flows, from Hubble's JSON to the text report, against the whole
// cluster with enforcement on (every namespace judged).
//
//	go test ./cmd/kubectl-netprofile/internal/replay -run '^$' -bench Replay100k -benchtime 3x
func BenchmarkReplay100k(b *testing.B) {
	lines, namespaces := cluster100k(b)
	set := proposed(b, namespaces...)
	set.Namespaces = nil // a whole cluster, as --live judges it
	cls := classifier(b)
	b.SetBytes(int64(len(lines)))
	b.ResetTimer()
	for range b.N {
		in, err := diagnose.Parse("flows", bytes.NewReader(lines))
		if err != nil {
			b.Fatal(err)
		}
		flows := replay.Aggregate(in)
		r, err := replay.Replay(flows, set, cls)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.WriteText(io.Discard); err != nil {
			b.Fatal(err)
		}
		if r.Flows+r.Ignored.Replies != 100_000 {
			b.Fatalf("judged %d flows and ignored %d replies, want 100,000", r.Flows, r.Ignored.Replies)
		}
		b.ReportMetric(float64(r.Distinct), "distinct")
	}
}
