package main

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"time"
)

type result struct {
	n                                 int
	ceilCold, ceilFanout, ceilFlip    time.Duration
	cheapCold, cheapFanout, cheapFlip time.Duration
	cold, fanout, flip                time.Duration
	coldWrites                        int
	steadyWrites, steadyReconciles    int
	rss                               int64
	// cpu is, per scenario, CPU time by process kind; ceilCPU the same for the apply ceiling's first run.
	cpu, ceilCPU [3]cpuUse
	// latency is the probe's samples: idle, during cold convergence, during the fan-out.
	latency [3]latencies
}

// render prints the table: each scenario with its ceiling and the ratio; memory per namespace from the
// difference between sizes, so the fixed cost of the binary does not hide in it.
func render(o options, results []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# netprofile bench\n\n%s, %d CPUs, %s; manager workers %d; steady-state window %s\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), runtime.Version(), o.workers, o.steady)
	if len(o.extraArg)+len(o.extraEnv) > 0 {
		fmt.Fprintf(&b, "Manager run with %s\n\n", strings.Join(append(slices.Clone(o.extraEnv), o.extraArg...), " "))
	}
	b.WriteString("Ceiling: the same policies and status writes from a raw client-go program with the same parallelism, using server-side apply " +
		"(the verb netprofile must use); the cheapest verbs (create, merge patch) are shown for reference with -cheapest. Each ceiling is the mean of a run " +
		"before and a run after netprofile's, on the same control plane.\n\n")
	b.WriteString("| N | scenario | ceiling (apply) | ceiling (cheapest verbs) | netprofile | ratio to ceiling | ratio to cheapest | CPU during the ceiling | CPU during netprofile's run |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		for _, row := range []struct {
			name               string
			ceil, cheap, taken time.Duration
			cpu, ceilCPU       cpuUse
		}{{"cold convergence", r.ceilCold, r.cheapCold, r.cold, r.cpu[0], r.ceilCPU[0]}, {"profile fan-out", r.ceilFanout, r.cheapFanout, r.fanout, r.cpu[1], r.ceilCPU[1]},
			{"relabel flip", r.ceilFlip, r.cheapFlip, r.flip, r.cpu[2], r.ceilCPU[2]}} {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.n, row.name, round(row.ceil), orDash(row.cheap), round(row.taken),
				ratio(row.taken, row.ceil), ratio(row.taken, row.cheap), row.ceilCPU, row.cpu)
		}
	}
	b.WriteString("\n| N | manager writes during cold start | steady-state writes (restart + resyncs) | namespace reconciles in the window | peak RSS | RSS per namespace |\n|---|---|---|---|---|---|\n")
	for i, r := range results {
		per := "-"
		if i > 0 && r.n > results[i-1].n {
			per = fmt.Sprintf("%.1f KiB", float64(r.rss-results[i-1].rss)/float64(r.n-results[i-1].n)/1024)
		}
		fmt.Fprintf(&b, "| %d | %d | %d | %d | %.1f MiB | %s |\n", r.n, r.coldWrites, r.steadyWrites, r.steadyReconciles, float64(r.rss)/(1<<20), per)
	}
	fmt.Fprintf(&b, "\nLatency of one person's change: the namespace %s is relabelled to another profile, %s after its previous change was reported; "+
		"each sample is the time from the label write to the Ready condition naming the new profile. During cold convergence the probe starts once the "+
		"manager has reconciled its first namespace.\n\n", probeName, probeEvery)
	b.WriteString("| N | idle | during cold convergence | during the profile fan-out |\n|---|---|---|---|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %d | %s | %s | %s |\n", r.n, r.latency[0], r.latency[1], r.latency[2])
	}
	return b.String()
}

func ratio(taken, ceiling time.Duration) string {
	if ceiling == 0 {
		return "-" // -no-ceiling
	}
	return fmt.Sprintf("%.2fx", taken.Seconds()/ceiling.Seconds())
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }

// orDash is round(d), or "-" for a ceiling not measured (-cheapest off).
func orDash(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return round(d).String()
}

// String prints CPU seconds by process kind: apiserver, etcd, manager, harness.
func (u cpuUse) String() string {
	return fmt.Sprintf("apiserver %.1fs, etcd %.1fs, manager %.1fs, harness %.1fs",
		u["kube-apiserver"].Seconds(), u["etcd"].Seconds(), u["manager"].Seconds(), u["bench"].Seconds())
}
