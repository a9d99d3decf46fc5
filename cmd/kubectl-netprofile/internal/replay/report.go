package replay

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
)

// Outcome is what the judged set changes for a flow.
type Outcome string

const (
	// WouldBreak: Hubble saw it allowed (FORWARDED, or AUDIT), the judged set drops it.
	WouldBreak Outcome = "wouldBreak"
	// WouldFix: policy dropped it, the judged set allows it.
	WouldFix Outcome = "wouldFix"
	// StillAllowed and StillDropped: no change.
	StillAllowed Outcome = "allowed"
	StillDropped Outcome = "dropped"
)

var outcomeOrder = []Outcome{WouldBreak, WouldFix, StillDropped, StillAllowed}

// Group is the flows with the same outcome between the same namespaces (or entities) on the same port, decided
// the same way.
type Group struct {
	Outcome Outcome `json:"outcome"`
	// From and To are namespaces, entities or world, as diagnose names them.
	From string `json:"from"`
	To   string `json:"to"`
	Port string `json:"port"`
	// Flows is how many flows Hubble reported; Distinct how many distinct ones (identities, addresses).
	Flows    int `json:"flows"`
	Distinct int `json:"distinct"`
	// Observed is what Hubble saw: the verdicts, and for drops where.
	Observed string `json:"observed"`
	// ObservedAllowedBy are the policies Hubble named as allowing them.
	ObservedAllowedBy []string `json:"observedAllowedBy,omitempty"`
	Examples          []string `json:"examples"`
	Egress            Side     `json:"egress"`
	Ingress           Side     `json:"ingress"`
	// Cause is, for flows the judged set drops, the cause and the fix in diagnose's words.
	Cause *diagnose.Cause `json:"cause,omitempty"`
}

// Report is the replay of observed flows against a policy set.
type Report struct {
	// Against describes the judged set.
	Against string `json:"against"`
	// Flows is how many flows were judged; Distinct how many distinct ones.
	Flows    int `json:"flows"`
	Distinct int `json:"distinct"`
	// WouldBreak, WouldFix and Unchanged count flows.
	WouldBreak int     `json:"wouldBreak"`
	WouldFix   int     `json:"wouldFix"`
	Unchanged  int     `json:"unchanged"`
	Groups     []Group `json:"groups"`
	Ignored    Ignored `json:"ignored"`
	// Left are the allow-all policies left out to judge the set with enforcement on.
	Left []string `json:"leftOut,omitempty"`
}

// Replay judges the flows against the set and groups them by outcome.
func Replay(flows *Flows, set Set, cls *diagnose.Classifier) (*Report, error) {
	verdicts, err := Judge(flows.List, set, cls)
	if err != nil {
		return nil, err
	}
	r := &Report{Flows: flows.Total, Distinct: len(flows.List), Ignored: flows.Ignored, Groups: []Group{}}
	type key struct {
		outcome                   Outcome
		from, to, port            string
		egress, ingress, observed string
		kind, summary             string
	}
	groups := map[key]*Group{}
	observed := map[key]*Flow{} // the group's observed verdicts, summed
	var order []key
	for i, f := range flows.List {
		v := verdicts[i]
		var outcome Outcome
		switch {
		case f.Allowed && v.Allowed:
			outcome = StillAllowed
		case f.Allowed:
			outcome = WouldBreak
		case v.Allowed:
			outcome = WouldFix
		default:
			outcome = StillDropped
		}
		switch outcome {
		case WouldBreak:
			r.WouldBreak += f.Count
		case WouldFix:
			r.WouldFix += f.Count
		default:
			r.Unchanged += f.Count
		}
		k := key{outcome: outcome, from: f.Src.Name(), to: f.Dst.Name(), port: f.Port.String(),
			egress: v.Egress.Decision, ingress: v.Ingress.Decision, observed: f.DroppedAt + fmt.Sprint(f.DenyRule)}
		if v.Cause != nil {
			k.kind, k.summary = v.Cause.Kind, v.Cause.Summary
		}
		g, ok := groups[k]
		if !ok {
			g = &Group{Outcome: outcome, From: k.from, To: k.to, Port: k.port,
				Egress: v.Egress, Ingress: v.Ingress, Cause: v.Cause, Examples: []string{}}
			groups[k] = g
			observed[k] = &Flow{Allowed: f.Allowed, DroppedAt: f.DroppedAt, DenyRule: f.DenyRule, Verdicts: map[string]int{}}
			order = append(order, k)
		}
		for verdict, n := range f.Verdicts {
			observed[k].Verdicts[verdict] += n
		}
		g.Flows += f.Count
		g.Distinct++
		for _, p := range f.AllowedBy {
			g.ObservedAllowedBy = addOnce(g.ObservedAllowedBy, p)
		}
		for _, e := range f.Examples {
			if len(g.Examples) < maxExamples {
				g.Examples = addOnce(g.Examples, e)
			}
		}
	}
	for _, k := range order {
		g := groups[k]
		g.Observed = observed[k].Observed()
		slices.Sort(g.ObservedAllowedBy)
		slices.Sort(g.Examples)
		r.Groups = append(r.Groups, *g)
	}
	// Outcome first (what breaks at the top), most flows first, then a stable order.
	slices.SortFunc(r.Groups, func(a, b Group) int {
		return cmp.Or(cmp.Compare(slices.Index(outcomeOrder, a.Outcome), slices.Index(outcomeOrder, b.Outcome)),
			-cmp.Compare(a.Flows, b.Flows), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Port, b.Port),
			cmp.Compare(a.Egress.Decision, b.Egress.Decision), cmp.Compare(a.Ingress.Decision, b.Ingress.Decision),
			cmp.Compare(a.Observed, b.Observed))
	})
	return r, nil
}

// Breaks reports whether anything would break.
func (r *Report) Breaks() bool { return r.WouldBreak > 0 }

var headings = map[Outcome]string{
	WouldBreak:   "WOULD BREAK: allowed now, dropped by the judged policies",
	WouldFix:     "WOULD BE FIXED: dropped now, allowed by the judged policies",
	StillDropped: "UNCHANGED, DROPPED: dropped now and by the judged policies",
	StillAllowed: "UNCHANGED, ALLOWED",
}

// WriteText prints the report for people: a summary, what was ignored, then the groups by outcome, each with
// an example, the deciding policies and, for what is dropped, diagnose's cause and fix. Unchanged allowed
// flows get one line per group.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	terminal.Fprintf(&b, "Replayed %s (%d distinct) against %s: %s would break, %s would be fixed, %s unchanged.\n",
		diagnose.Plural(r.Flows, "flow", "flows"), r.Distinct, r.Against, diagnose.Plural(r.WouldBreak, "flow", "flows"),
		diagnose.Plural(r.WouldFix, "flow", "flows"), diagnose.Plural(r.Unchanged, "flow", "flows"))
	if len(r.Left) > 0 {
		terminal.Fprintf(&b, "Left out to judge with enforcement on: %s.\n", strings.Join(r.Left, ", "))
	}
	if ignored := r.Ignored.describe(); ignored != "" {
		terminal.Fprintf(&b, "Ignored: %s.\n", ignored)
	}
	n := 0
	for _, outcome := range outcomeOrder {
		first := true
		for _, g := range r.Groups {
			if g.Outcome != outcome {
				continue
			}
			if first {
				terminal.Fprintf(&b, "\n%s\n", headings[outcome])
				first = false
			}
			n++
			if outcome == StillAllowed {
				terminal.Fprintf(&b, "[%d] %s -> %s on %s: %s; egress: %s; ingress: %s\n", n, g.From, g.To, g.Port,
					diagnose.Plural(g.Flows, "flow", "flows"), g.Egress.Decision, g.Ingress.Decision)
				continue
			}
			terminal.Fprintf(&b, "[%d] %s -> %s on %s: %s (e.g. %s)\n", n, g.From, g.To, g.Port, diagnose.Plural(g.Flows, "flow", "flows"),
				strings.Join(g.Examples, ", "))
			observed := g.Observed
			if len(g.ObservedAllowedBy) > 0 {
				observed += ", allowed by " + strings.Join(g.ObservedAllowedBy, ", ")
			}
			terminal.Fprintf(&b, "    observed: %s\n", observed)
			g.WriteJudgement(&b)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJudgement prints, indented under a group's headline, how each side decides its flows and, where they
// are dropped, diagnose's cause and fix. replay and suggest print groups the same way.
func (g Group) WriteJudgement(w io.Writer) {
	terminal.Fprintf(w, "    egress:   %s\n", g.Egress.Decision)
	terminal.Fprintf(w, "    ingress:  %s\n", g.Ingress.Decision)
	if g.Cause != nil {
		terminal.Fprintf(w, "    cause:    %s\n", g.Cause.Summary)
		terminal.Fprintf(w, "    fix:      %s\n", g.Cause.Fix)
	}
}
