package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/pkg/catalogue"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

var (
	profiles  = testenv.FleetProfiles
	cnpGVR    = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}
	c         = contract.Default()
	writeVerb = map[string]bool{"POST": true, "PUT": true, "PATCH": true, "DELETE": true}
)

type harness struct {
	env    *testenv.Env
	o      options
	n      int
	c      client.Client
	cs     kubernetes.Interface
	dyn    dynamic.Interface
	names  []string
	set    *catalogue.Set
	watch  *watcher
	mgr    *exec.Cmd
	mgrLog *os.File
	mURL   string
	// pprofURL is the manager's pprof endpoint (-profile only).
	pprofURL string
	probe    *probe
	bg       sync.WaitGroup
}

func newHarness(ctx context.Context, env *testenv.Env, o options, n int) (*harness, error) {
	cfg := rest.CopyConfig(env.Config)
	// The harness and the ceiling must never be the bottleneck: no client-side rate limit.
	cfg.QPS, cfg.Burst = -1, 0
	scheme, err := controllers.NewScheme()
	if err != nil {
		return nil, err
	}
	h := &harness{env: env, o: o, n: n}
	if h.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if h.cs, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if h.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	h.probe = &probe{cs: h.cs}
	if h.set, err = catalogue.LoadPaths(filepath.Join(testenv.RepoRoot(), "config", "samples")); err != nil {
		return nil, err
	}
	if err := h.setCeilingMode(); err != nil {
		return nil, err
	}
	if err := h.setup(ctx, cfg); err != nil {
		return nil, err
	}
	return h, nil
}

// setup installs the default catalogue and N namespaces with mixed profiles and grants.
func (h *harness) setup(ctx context.Context, cfg *rest.Config) error {
	step("setup: catalogue, provider namespaces, %d labelled namespaces", h.n)
	for _, objs := range [][]client.Object{objects(h.set.Profiles), objects(h.set.Resources), objects(h.set.Baselines)} {
		for _, o := range objs {
			if err := h.c.Create(ctx, o); err != nil {
				return err
			}
		}
	}
	for _, ns := range []string{"database", "cache", "garage"} {
		if err := h.c.Create(ctx, testenv.PlatformNamespace(ns)); err != nil {
			return err
		}
	}
	if err := h.c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probeName, Labels: map[string]string{c.ProfileKey(): profiles[0]}}}); err != nil {
		return err
	}
	for i := range h.n {
		h.names = append(h.names, fmt.Sprintf("app-%05d", i))
	}
	err := parallel(ctx, 16, h.names, func(ctx context.Context, i int, name string) error {
		_, err := h.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: testenv.FleetLabels(i, 0)}}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	h.watch, err = newWatcher(ctx, cfg)
	return err
}

func (h *harness) measure(ctx context.Context, res *result) error {
	if err := h.ceilings(ctx, res, "before"); err != nil {
		return err
	}

	step("cold convergence: starting the manager")
	start := time.Now()
	cpu0 := processCPU()
	if err := h.startManager(nil); err != nil {
		return err
	}
	// A person relabels the probe namespace throughout, from when the manager is ready (before that, nothing
	// of netprofile runs that could put the change first).
	var err error
	res.latency[1], err = h.probe.during(ctx, h.waitManagerReady, func() error {
		err := h.profileServer(ctx, "manager-cold", func() error {
			return h.watch.waitAll(ctx, h.names, func(ns *corev1.Namespace, p *metav1.PartialObjectMetadata) bool {
				return ready(ns, profiles[indexOf(ns.Name)%len(profiles)]) && p != nil
			})
		})
		res.cold = time.Since(start)
		return err
	})
	if err != nil {
		return fmt.Errorf("cold convergence: %w\n%s", err, h.tail())
	}
	res.coldWrites, _ = h.writes()
	res.cpu[0] = cpuSince(cpu0)
	step("cold convergence: %s (%d manager writes); probe %s", res.cold, res.coldWrites, res.latency[1])
	coldCat, fanCat := h.catalogues()
	if err := h.verify(ctx, coldCat, 0); err != nil {
		return fmt.Errorf("cold convergence: %w", err)
	}
	h.heapProfile(ctx, "cold")

	step("idle: relabelling the probe namespace %d times", idleSamples)
	if res.latency[0], err = h.probe.run(ctx, idleSamples, nil); err != nil {
		return fmt.Errorf("idle probe: %w\n%s", err, h.tail())
	}
	step("idle: probe %s", res.latency[0])

	step("fan-out: changing every NetworkProfile in use")
	req0 := h.requests()
	lat0 := h.serverLatency(ctx)
	start = time.Now()
	cpu0 = processCPU()
	gen0 := h.watch.generations(ctx, h.names)
	res.latency[2], err = h.probe.during(ctx, func() error { return nil }, func() error {
		for _, name := range profiles {
			p := &v1alpha1.NetworkProfile{}
			if err := h.c.Get(ctx, client.ObjectKey{Name: name}, p); err != nil {
				return err
			}
			if err := h.c.Update(ctx, fanOut(p)); err != nil {
				return err
			}
		}
		err := h.profileServer(ctx, "manager-fanout", func() error {
			// A new generation is a new spec: the fan-out's, as verify checks.
			return h.watch.waitAll(ctx, h.names, func(ns *corev1.Namespace, p *metav1.PartialObjectMetadata) bool {
				return p != nil && p.Generation > gen0[ns.Name]
			})
		})
		res.fanout = time.Since(start)
		return err
	})
	if err != nil {
		return fmt.Errorf("fan-out: %w\n%s", err, h.tail())
	}
	res.cpu[1] = cpuSince(cpu0)
	step("fan-out: %s; probe %s; manager requests before %v, after %v; server: %s", res.fanout, res.latency[2], req0, h.requests(), latencyDiff(lat0, h.serverLatency(ctx)))
	if err := h.verify(ctx, fanCat, 0); err != nil {
		return fmt.Errorf("fan-out: %w", err)
	}

	step("flip: relabelling every namespace to another profile at once")
	start = time.Now()
	cpu0 = processCPU()
	err = parallel(ctx, h.o.workers, h.names, func(ctx context.Context, i int, name string) error {
		patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{c.ProfileKey(): profiles[(i+1)%len(profiles)]}}})
		_, err := h.cs.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	if err != nil {
		return err
	}
	if err := h.watch.waitAll(ctx, h.names, func(ns *corev1.Namespace, p *metav1.PartialObjectMetadata) bool {
		want := profiles[(indexOf(ns.Name)+1)%len(profiles)]
		return ready(ns, want) && p != nil && p.Labels[c.ProfileKey()] == want
	}); err != nil {
		return fmt.Errorf("flip: %w\n%s", err, h.tail())
	}
	res.flip = time.Since(start)
	res.cpu[2] = cpuSince(cpu0)
	res.rss = h.peakRSS()
	step("flip: %s; manager peak RSS %d MiB (%s)", res.flip, res.rss>>20, h.rssNow())
	h.heapProfile(ctx, "flip")
	if err := h.verify(ctx, fanCat, 1); err != nil {
		return fmt.Errorf("flip: %w", err)
	}

	step("steady state: restarting the manager (--sync-period=20s), then %s", h.o.steady)
	h.stopManager()
	if err := h.startManager([]string{"--sync-period=20s"}); err != nil {
		return err
	}
	time.Sleep(h.o.steady) // The measurement is a time window: writes counted over it.
	res.steadyWrites, res.steadyReconciles = h.writes()
	if rss := h.peakRSS(); rss > res.rss {
		res.rss = rss
	}
	h.stopManager()
	// The same ceilings again, now that etcd holds everything the run wrote: the yardstick is their mean,
	// so neither side is measured on a fresher database.
	if err := h.ceilings(ctx, res, "after"); err != nil {
		return err
	}
	step("steady state: %d writes, %d namespace reconciles", res.steadyWrites, res.steadyReconciles)
	h.bg.Wait()
	return nil
}

// ceilings time, before the manager runs, the writes the manager has to do in each scenario: the same
// policies (same rules, same sizes) and status writes, with the manager's parallelism, from a raw client-go
// program. They run twice: with server-side apply, the verb the manager must use, and with the cheapest
// verbs (create, merge patch), to show what server-side apply itself costs.
func (h *harness) ceilings(ctx context.Context, res *result, when string) error {
	if h.o.noCeiling {
		return nil
	}
	coldCat, fanCat := h.catalogues()
	cold, err := h.rendered(coldCat, 0)
	if err != nil {
		return err
	}
	fan, err := h.rendered(fanCat, 0)
	if err != nil {
		return err
	}
	flip, err := h.rendered(fanCat, 1)
	if err != nil {
		return err
	}
	verbs := []bool{false}
	if h.o.cheapest {
		verbs = append(verbs, true)
	}
	for _, cheapest := range verbs {
		var t [3]time.Duration
		name := "bench-ceiling-apply-" + when
		if cheapest {
			name = "bench-ceiling-cheap-" + when
		}
		// write writes a namespace's generated policies: the namespace policy at name, its ceiling beside it.
		write := func(ctx context.Context, ns string, objs []*unstructured.Unstructured, create bool) error {
			for j, u := range objs {
				u = u.DeepCopy()
				u.SetNamespace(ns)
				u.SetName(name + []string{"", "-ceiling"}[min(j, 1)])
				r := h.dyn.Resource(cnpGVR).Namespace(ns)
				var err error
				switch {
				case !cheapest:
					_, err = r.Apply(ctx, u.GetName(), u, metav1.ApplyOptions{FieldManager: "bench-ceiling", Force: true})
				case create:
					_, err = r.Create(ctx, u, metav1.CreateOptions{})
				default:
					_, err = r.Patch(ctx, u.GetName(), types.MergePatchType, []byte(`{"spec":`+mustJSON(u.Object["spec"])+`,"specs":`+mustJSON(u.Object["specs"])+`}`), metav1.PatchOptions{})
				}
				if err != nil {
					return err
				}
			}
			return nil
		}
		status := func(ctx context.Context, ns, message string) error {
			if cheapest {
				patch := `{"status":{"conditions":[{"type":"BenchCeiling","status":"True","reason":"Ceiling","message":` + mustJSON(message) + `,"lastTransitionTime":"` + time.Now().UTC().Format(time.RFC3339) + `"}]}}`
				_, err := h.cs.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{}, "status")
				return err
			}
			ac := corev1ac.Namespace(ns).WithStatus(corev1ac.NamespaceStatus().WithConditions(corev1ac.NamespaceCondition().
				WithType("BenchCeiling").WithStatus(corev1.ConditionTrue).WithReason("Ceiling").WithMessage(message).WithLastTransitionTime(metav1.Now())))
			_, err := h.cs.CoreV1().Namespaces().ApplyStatus(ctx, ac, metav1.ApplyOptions{FieldManager: "bench-ceiling", Force: true})
			return err
		}
		step("ceiling (%s): cold, fan-out, flip", name)
		var use [3]cpuUse
		cpu0 := processCPU()
		start := time.Now()
		err := h.profileServer(ctx, "ceiling-cold-"+name, func() error {
			return parallel(ctx, h.o.workers, h.names, func(ctx context.Context, i int, ns string) error {
				if err := write(ctx, ns, cold[i], true); err != nil {
					return err
				}
				return status(ctx, ns, "profile "+profiles[i%len(profiles)]+" applied "+name)
			})
		})
		if err != nil {
			return err
		}
		t[0] = time.Since(start)
		use[0], cpu0 = cpuSince(cpu0), processCPU()
		lat0 := h.serverLatency(ctx)
		start = time.Now()
		if err := h.profileServer(ctx, "ceiling-fanout-"+name, func() error {
			return parallel(ctx, h.o.workers, h.names, func(ctx context.Context, i int, ns string) error {
				return write(ctx, ns, fan[i], false)
			})
		}); err != nil {
			return err
		}
		t[1] = time.Since(start)
		use[1], cpu0 = cpuSince(cpu0), processCPU()
		step("ceiling fan-out server: %s", latencyDiff(lat0, h.serverLatency(ctx)))
		start = time.Now()
		err = parallel(ctx, h.o.workers, h.names, func(ctx context.Context, i int, ns string) error {
			patch := `{"metadata":{"labels":{"bench-flip":"` + name + `"}}}`
			if _, err := h.cs.CoreV1().Namespaces().Patch(ctx, ns, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				return err
			}
			if err := write(ctx, ns, flip[i], false); err != nil {
				return err
			}
			return status(ctx, ns, "profile "+profiles[(i+1)%len(profiles)]+" applied "+name)
		})
		if err != nil {
			return err
		}
		t[2] = time.Since(start)
		use[2] = cpuSince(cpu0)
		if !cheapest && when == "before" {
			res.ceilCPU = use
		}
		// Each ceiling is the mean of its run before and its run after netprofile's.
		for i, d := range []*time.Duration{&res.ceilCold, &res.ceilFanout, &res.ceilFlip} {
			if cheapest {
				d = []*time.Duration{&res.cheapCold, &res.cheapFanout, &res.cheapFlip}[i]
			}
			*d += t[i] / 2
		}
		step("ceiling (%s): cold %s, fan-out %s, flip %s", name, t[0], t[1], t[2])
		if err := parallel(ctx, 16, h.names, func(ctx context.Context, _ int, ns string) error {
			err := h.dyn.Resource(cnpGVR).Namespace(ns).Delete(ctx, name, metav1.DeleteOptions{})
			if err := h.dyn.Resource(cnpGVR).Namespace(ns).Delete(ctx, name+"-ceiling", metav1.DeleteOptions{}); client.IgnoreNotFound(err) != nil {
				return err
			}
			return err
		}); err != nil {
			return err
		}
	}
	return nil
}

// catalogues are the default catalogue before and after the fan-out.
func (h *harness) catalogues() (cold, fan policy.Catalogue) {
	cold, fan = h.set.Catalogue(), h.set.Catalogue()
	fan.Profiles = map[string]*v1alpha1.NetworkProfile{}
	for name, p := range h.set.Profiles {
		fan.Profiles[name] = fanOut(p.DeepCopy())
	}
	return cold, fan
}

// offline is every namespace's generated policies after `flips` profile flips, rendered by netprofile's own
// code: the namespace policy, then the ceiling when the profile enforces one.
func (h *harness) offline(cat policy.Catalogue, flips int) ([][]*cilium.CiliumNetworkPolicy, error) {
	// The manager runs without --cluster-name and finds no Cilium ConfigMap: Cilium's default cluster name.
	renderer := policy.Renderer{Contract: c, ClusterName: policy.DefaultClusterName}
	out := make([][]*cilium.CiliumNetworkPolicy, h.n)
	for i, name := range h.names {
		r, err := renderer.Namespace(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: testenv.FleetLabels(i, flips)}}, cat, nil)
		if err != nil {
			return nil, err
		}
		if r.CeilingErr != nil {
			return nil, r.CeilingErr
		}
		out[i] = r.Policies
		if r.Ceiling != nil {
			out[i] = append(out[i], r.Ceiling)
		}
	}
	return out, nil
}

// rendered is offline as the objects the ceilings write.
func (h *harness) rendered(cat policy.Catalogue, flips int) ([][]*unstructured.Unstructured, error) {
	want, err := h.offline(cat, flips)
	if err != nil {
		return nil, err
	}
	out := make([][]*unstructured.Unstructured, h.n)
	for i, ps := range want {
		for _, p := range ps {
			u, err := toUnstructured(p)
			if err != nil {
				return nil, err
			}
			out[i] = append(out[i], u)
		}
	}
	return out, nil
}

// verify reads every namespace's generated policy whole from the API server and compares its rules and
// labels with the offline render: a scenario has converged only if every policy is exactly what netprofile's
// own code renders for that namespace. It runs after the scenario's clock stopped.
func (h *harness) verify(ctx context.Context, cat policy.Catalogue, flips int) error {
	want, err := h.offline(cat, flips)
	if err != nil {
		return err
	}
	list := &cilium.CiliumNetworkPolicyList{}
	if err := h.c.List(ctx, list, client.MatchingLabelsSelector{Selector: ownership.ComponentSelector(ownership.ComponentNamespacePolicy)}); err != nil {
		return err
	}
	live := make(map[string]*cilium.CiliumNetworkPolicy, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		live[p.Namespace+"/"+p.Name] = p
	}
	var wrong []string
	policies := 0
	for i, name := range h.names {
		for _, w := range want[i] {
			got := live[name+"/"+w.Name]
			policies++
			if got == nil || policy.RulesHash(got) != policy.RulesHash(w) || !maps.Equal(got.Labels, w.Labels) {
				wrong = append(wrong, name+"/"+w.Name)
			}
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("%d of %d generated policies differ from their offline render, e.g. %s", len(wrong), policies, wrong[0])
	}
	step("verified: all %d generated policies of %d namespaces equal their offline render", policies, h.n)
	return nil
}

// setCeilingMode sets every profile's ceiling mode (-profile-ceiling), to measure what the ceiling costs.
func (h *harness) setCeilingMode() error {
	switch h.o.ceilingMode {
	case "", string(v1alpha1.CeilingEnforce), string(v1alpha1.CeilingReport):
	default:
		return fmt.Errorf("-profile-ceiling %q: use Enforce or Report", h.o.ceilingMode)
	}
	for _, p := range h.set.Profiles {
		if h.o.ceilingMode != "" {
			p.Spec.Ceiling = v1alpha1.CeilingMode(h.o.ceilingMode)
		}
	}
	return nil
}

// fanOut is the change the fan-out scenario makes to every profile.
func fanOut(p *v1alpha1.NetworkProfile) *v1alpha1.NetworkProfile {
	p.Spec.Egress = append(p.Spec.Egress, v1alpha1.Rule{Description: "bench fan-out",
		Entities: []v1alpha1.Entity{v1alpha1.EntityWorld}, Ports: []v1alpha1.PortProtocol{{Port: 8443, Protocol: v1alpha1.ProtocolTCP}}})
	return p
}

func (h *harness) startManager(extra []string) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	_ = l.Close()
	h.mURL = "http://" + addr + "/metrics"
	if h.mgrLog, err = os.CreateTemp("", "netprofile-bench-manager-*.log"); err != nil {
		return err
	}
	args := append([]string{"--kubeconfig=" + h.env.Kubeconfig, "--metrics-secure=false", "--metrics-bind-address=" + addr,
		"--health-probe-bind-address=0", fmt.Sprintf("--max-concurrent-reconciles=%d", h.o.workers)}, h.o.extraArg...)
	if h.o.profileDir != "" {
		pprofAddr, err := testenv.FreeAddr()
		if err != nil {
			return err
		}
		h.pprofURL = "http://" + pprofAddr + "/debug/pprof/heap"
		args = append(args, "--pprof-bind-address="+pprofAddr)
	}
	h.mgr = exec.Command(h.o.manager, append(args, extra...)...)
	managerComm = filepath.Base(h.o.manager)[:min(15, len(filepath.Base(h.o.manager)))]
	h.mgr.Env = append(os.Environ(), h.o.extraEnv...)
	h.mgr.Stdout, h.mgr.Stderr = h.mgrLog, h.mgrLog
	return h.mgr.Start()
}

func (h *harness) stopManager() {
	if h.mgr == nil || h.mgr.Process == nil {
		return
	}
	_ = h.mgr.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = h.mgr.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = h.mgr.Process.Kill()
		<-done
	}
	h.mgr = nil
}

// waitManagerReady returns once the manager's namespace controller has reconciled: its handler is on the
// informer and every later change reaches its queue as a change. (The readiness probe passes earlier, once the
// informers that exist have synced, and a change before the controller's initial list is part of that list.)
func (h *harness) waitManagerReady() error {
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if _, reconciles := h.writes(); reconciles > 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond) // Polling a local endpoint; no event to wait on.
	}
	return fmt.Errorf("the manager never reconciled a namespace\n%s", h.tail())
}

// heapProfile, with -profile, saves the manager's heap profile (go tool pprof -top reads it), after the clock
// of the scenario stopped.
func (h *harness) heapProfile(ctx context.Context, name string) {
	dir := h.o.profileDir
	if dir == "" || h.pprofURL == "" {
		return
	}
	// The profile, and the same as text with the runtime's memory statistics at its end.
	for suffix, query := range map[string]string{"prof": "", "txt": "?debug=1"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.pprofURL+query, nil)
		if err != nil {
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			step("heap profile: %v", err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("manager-heap-%s-%d.%s", name, h.n, suffix)), b, 0o644)
	}
}

func (h *harness) tail() string {
	b, _ := os.ReadFile(h.mgrLog.Name())
	lines := strings.Split(string(b), "\n")
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return "manager log (" + h.mgrLog.Name() + "):\n" + strings.Join(lines, "\n")
}

// processCPU is the CPU time so far of this harness and its own descendants (its control plane and
// manager), by kind: kube-apiserver, etcd, manager, bench. Processes of anything else on the machine (another
// test suite's control plane, say) are not counted, however they are named.
func processCPU() map[string]time.Duration {
	const tick = 10 * time.Millisecond // USER_HZ
	type proc struct {
		ppid int
		comm string
		cpu  time.Duration
	}
	procs := map[int]proc{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range dirs {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		open, closing := strings.IndexByte(string(b), '('), strings.LastIndexByte(string(b), ')')
		if open < 0 || closing < open {
			continue
		}
		pid, errP := strconv.Atoi(strings.TrimSpace(string(b[:open])))
		// ppid is the 2nd field after the command name; utime and stime the 12th and 13th.
		f := strings.Fields(string(b[closing+1:]))
		if errP != nil || len(f) <= 13 {
			continue
		}
		ppid, errPP := strconv.Atoi(f[1])
		u, errU := strconv.ParseInt(f[11], 10, 64)
		s, errS := strconv.ParseInt(f[12], 10, 64)
		if errPP != nil || errU != nil || errS != nil {
			continue // as an unreadable file: the process is exiting
		}
		procs[pid] = proc{ppid: ppid, comm: string(b[open+1 : closing]), cpu: time.Duration(u+s) * tick}
	}
	self := os.Getpid()
	mine := func(pid int) bool {
		for depth := 0; pid > 1 && depth < 64; depth++ {
			if pid == self {
				return true
			}
			pid = procs[pid].ppid
		}
		return false
	}
	out := map[string]time.Duration{}
	for pid, p := range procs {
		if !mine(pid) {
			continue
		}
		kind := p.comm
		switch {
		case pid == self:
			kind = "bench"
		case p.comm == managerComm:
			kind = "manager"
		}
		out[kind] += p.cpu
	}
	return out
}

// managerComm is the manager's command name as /proc shows it (the binary's name, cut to 15 bytes).
var managerComm = "manager"

// cpuUse is CPU time spent per process kind between two samples.
type cpuUse map[string]time.Duration

func cpuSince(before map[string]time.Duration) cpuUse {
	after := processCPU()
	out := cpuUse{}
	for k, v := range after {
		out[k] = v - before[k]
	}
	return out
}

// peakRSS is the manager's peak resident set size (VmHWM), in bytes.
func (h *harness) peakRSS() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.mgr.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}

// rssNow is the manager's resident memory now, anonymous (heap, stacks) and file-backed (its mapped code).
func (h *harness) rssNow() string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", h.mgr.Process.Pid))
	if err != nil {
		return ""
	}
	var parts []string
	for _, line := range strings.Split(string(b), "\n") {
		for _, k := range []string{"RssAnon:", "RssFile:"} {
			if v, ok := strings.CutPrefix(line, k); ok {
				parts = append(parts, k+" "+strings.TrimSpace(v))
			}
		}
	}
	return strings.Join(parts, ", ")
}

// serverLatency is the API server's own count and total duration of requests so far, by verb and resource.
func (h *harness) serverLatency(ctx context.Context) map[string][2]float64 {
	out := map[string][2]float64{}
	raw, err := h.cs.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		return out
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(raw)))
	if err != nil {
		return out
	}
	for _, m := range families["apiserver_request_duration_seconds"].GetMetric() {
		var verb, resource, sub string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "verb":
				verb = l.GetValue()
			case "resource":
				resource = l.GetValue()
			case "subresource":
				sub = l.GetValue()
			}
		}
		k := verb + " " + resource + "/" + sub
		v := out[k]
		v[0] += float64(m.GetHistogram().GetSampleCount())
		v[1] += m.GetHistogram().GetSampleSum()
		out[k] = v
	}
	return out
}

func latencyDiff(a, b map[string][2]float64) string {
	var parts []string
	for k, v := range b {
		n, sum := v[0]-a[k][0], v[1]-a[k][1]
		if n >= 50 {
			parts = append(parts, fmt.Sprintf("%s n=%.0f avg=%.1fms", k, n, 1000*sum/n))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

// profileServer, with -profile-server, records a CPU profile of kube-apiserver while fn runs (it costs the API
// server CPU: not for runs whose ratios count). The profile is written in the background (h.bg), so it does
// not lengthen what is timed.
func (h *harness) profileServer(ctx context.Context, name string, fn func() error) error {
	dir := h.o.profileDir
	if dir == "" || !h.o.profileServer {
		return fn()
	}
	h.bg.Add(1)
	go func() {
		defer h.bg.Done()
		raw, _ := h.cs.CoreV1().RESTClient().Get().AbsPath("/debug/pprof/profile").Param("seconds", "10").DoRaw(ctx)
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("apiserver-%s-%d.prof", name, h.n)), raw, 0o644)
	}()
	return fn()
}

// requests is the manager's API requests so far, by method.
func (h *harness) requests() map[string]int {
	out := map[string]int{}
	resp, err := http.Get(h.mURL)
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return out
	}
	for _, m := range families["rest_client_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" {
				out[l.GetValue()] += int(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

// writes scrapes the manager's own client metrics: write requests it sent, and namespace reconciles.
func (h *harness) writes() (writes, reconciles int) {
	resp, err := http.Get(h.mURL)
	if err != nil {
		return -1, -1
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return -1, -1
	}
	for _, m := range families["rest_client_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "method" && writeVerb[l.GetValue()] {
				writes += int(m.GetCounter().GetValue())
			}
		}
	}
	for _, m := range families["controller_runtime_reconcile_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "controller" && l.GetValue() == "namespace-policy" {
				reconciles += int(m.GetCounter().GetValue())
			}
		}
	}
	return writes, reconciles
}

func ready(ns *corev1.Namespace, profile string) bool {
	cond := conditions.Find(ns.Status.Conditions, conditions.Ready)
	return cond != nil && cond.Status == corev1.ConditionTrue && strings.Contains(cond.Message, fmt.Sprintf("profile %q", profile))
}

func indexOf(name string) int {
	var i int
	// Only the harness's own names reach here; any other would silently expect the wrong profile.
	if _, err := fmt.Sscanf(name, "app-%05d", &i); err != nil {
		panic(fmt.Sprintf("indexOf(%q): not a namespace the harness created: %v", name, err))
	}
	return i
}

// parallel runs fn over items with w workers, stopping at the first error.
func parallel(ctx context.Context, w int, items []string, fn func(ctx context.Context, i int, item string) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, w)
	for range w {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(items) || ctx.Err() != nil {
					return
				}
				if err := fn(ctx, i, items[i]); err != nil {
					errs <- fmt.Errorf("%s: %w", items[i], err)
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	m, err := policy.Clean(obj)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func objects[T client.Object](m map[string]T) []client.Object {
	out := make([]client.Object, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func step(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
