package main

import (
	"fmt"
	"runtime"
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
	// cpu is, per scenario, the manager's CPU time and the whole machine's busy CPU time.
	cpu [3][2]time.Duration
}

// render prints the table: each scenario with its ceiling and the ratio; memory per namespace from the
// difference between sizes, so the fixed cost of the binary does not hide in it.
func render(o options, results []result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# netprofile bench\n\n%s, %d CPUs, %s; manager workers %d; steady-state window %s\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), runtime.Version(), o.workers, o.steady)
	b.WriteString("Ceiling: the same policies and status writes from a raw client-go program with the same parallelism, using server-side apply " +
		"(the verb netprofile must use); the cheapest verbs (create, merge patch) are shown for reference.\n\n")
	b.WriteString("| N | scenario | ceiling (apply) | ceiling (cheapest verbs) | netprofile | ratio to ceiling | ratio to cheapest | CPU: manager / machine |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range results {
		for _, row := range []struct {
			name               string
			ceil, cheap, taken time.Duration
			cpu                [2]time.Duration
		}{{"cold convergence", r.ceilCold, r.cheapCold, r.cold, r.cpu[0]}, {"profile fan-out", r.ceilFanout, r.cheapFanout, r.fanout, r.cpu[1]}, {"relabel flip", r.ceilFlip, r.cheapFlip, r.flip, r.cpu[2]}} {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %.2fx | %.2fx | %s / %s |\n", r.n, row.name, round(row.ceil), round(row.cheap), round(row.taken),
				row.taken.Seconds()/row.ceil.Seconds(), row.taken.Seconds()/row.cheap.Seconds(), round(row.cpu[0]), round(row.cpu[1]))
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
	return b.String()
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
