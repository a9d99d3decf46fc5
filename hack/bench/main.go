// Command bench measures netprofile against a real local kube-apiserver and etcd (built by hack/tools.sh),
// with the API server's own write ceiling, taken in the same run, as the yardstick:
//
//   - ceiling: a raw client-go program does the writes the manager has to do, with the manager's parallelism
//   - cold convergence: N labelled namespaces exist, bin/manager starts; time until all are Ready
//   - fan-out: every NetworkProfile in use changes; time until every namespace policy carries the change
//   - flip: every namespace is relabelled to another profile at once; time until all are re-rendered
//   - steady state: a restarted manager (a forced full resync, then more with --sync-period) for a minute:
//     write requests, from the manager's own rest_client_requests_total
//   - memory: the manager's peak RSS (VmHWM) and the cost per namespace
//   - latency: one namespace relabelled again and again, idle and during cold convergence and the fan-out; the
//     time from each label write to the condition that reports it, as percentiles
//
// It prints a Markdown table and writes it to -out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/netprofile/netprofile/test/testenv"
)

type options struct {
	sizes    []int
	workers  int
	manager  string
	out      string
	steady   time.Duration
	extraArg []string
	extraEnv []string
	// noCeiling skips the ceilings, for quick tuning runs; the table then has no ratios.
	noCeiling bool
	// profileDir receives the manager's heap profiles; profileServer adds kube-apiserver CPU profiles.
	profileDir    string
	profileServer bool
	// cheapest also times the ceilings with the cheapest verbs (create, merge patch), for reference.
	cheapest bool
	// ceilingMode sets every profile's spec.ceiling (Enforce or Report; "" keeps the catalogue's), to measure
	// what the profiles' ceilings cost.
	ceilingMode string
}

func main() {
	var (
		sizes = flag.String("n", "2000,5000", "namespace counts to run, comma separated")
		large = flag.Bool("large", false, "also run N=10000")
		o     options
		extra string
		env   string
	)
	flag.IntVar(&o.workers, "workers", 4, "the manager's --max-concurrent-reconciles, and the ceiling's parallelism")
	flag.StringVar(&o.manager, "manager", "bin/manager", "the manager binary")
	flag.StringVar(&o.out, "out", "bench-results.md", "where to write the table")
	flag.DurationVar(&o.steady, "steady", 60*time.Second, "length of the steady-state window")
	flag.StringVar(&o.profileDir, "profile", "", "directory for the manager's heap profiles (after cold convergence and after the flip)")
	flag.BoolVar(&o.profileServer, "profile-server", false, "with -profile, also record 10 s kube-apiserver CPU profiles during cold convergence and the fan-outs (costs the API server CPU)")
	flag.BoolVar(&o.cheapest, "cheapest", false, "also time the ceilings with the cheapest verbs (create, merge patch), for reference")
	flag.BoolVar(&o.noCeiling, "no-ceiling", false, "skip the ceilings (quick tuning runs of netprofile alone; no ratios)")
	flag.StringVar(&o.ceilingMode, "profile-ceiling", "", "set every profile's spec.ceiling to Enforce or Report (default: the catalogue's) to measure what the profiles' ceilings cost")
	flag.StringVar(&env, "manager-env", "", "extra environment of the manager, space separated K=V (e.g. GOMEMLIMIT=64MiB)")
	flag.StringVar(&extra, "manager-args", "", "extra manager flags, space separated")
	flag.Parse()
	ctrl.SetLogger(logr.Discard())
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: bad -n:", err)
			os.Exit(2)
		}
		o.sizes = append(o.sizes, n)
	}
	if *large {
		o.sizes = append(o.sizes, 10000)
	}
	o.extraArg = strings.Fields(extra)
	o.extraEnv = strings.Fields(env)
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	manager, err := filepath.Abs(o.manager)
	if err != nil {
		return err
	}
	o.manager = manager
	var results []result
	for _, n := range o.sizes {
		fmt.Fprintf(os.Stderr, "\n=== N=%d\n", n)
		r, err := runSize(o, n)
		if err != nil {
			return fmt.Errorf("run with N=%d: %w", n, err)
		}
		results = append(results, r)
	}
	table := render(o, results)
	fmt.Print(table)
	return os.WriteFile(o.out, []byte(table), 0o644)
}

func runSize(o options, n int) (res result, retErr error) {
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		return res, err
	}
	defer func() { retErr = errors.Join(retErr, env.Stop()) }()
	// Cancelled before the control plane stops, so the harness's watches end first.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	h, err := newHarness(ctx, env, o, n)
	if err != nil {
		return res, err
	}
	defer h.stopManager()
	res.n = n
	// Not `return res, h.measure(ctx, &res)`: the copy of res could be taken before measure fills it.
	err = h.measure(ctx, &res)
	return res, err
}
