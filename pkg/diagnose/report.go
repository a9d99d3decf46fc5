package diagnose

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	flowpb "github.com/cilium/cilium/api/v1/flow"
)

// Report is the diagnosis of a set of flows.
type Report struct {
	// PolicyDrops is how many flows policy dropped; Groups classify them.
	PolicyDrops int     `json:"policyDrops"`
	Groups      []Group `json:"groups"`
	Ignored     Ignored `json:"ignored"`
}

// Ignored counts what the diagnosis left out, so the user knows it was seen.
type Ignored struct {
	Forwarded int `json:"forwarded"`
	// OtherDrops are drops for reasons other than policy, by reason.
	OtherDrops map[string]int `json:"otherDrops,omitempty"`
	// OtherVerdicts are flows neither forwarded nor dropped (audit, traced, translated...), by verdict.
	OtherVerdicts map[string]int `json:"otherVerdicts,omitempty"`
	// NotFlows are events that are not flows (node status, lost events).
	NotFlows int `json:"notFlows,omitempty"`
}

// Group is the policy drops with the same direction, peers, port and cause.
type Group struct {
	Direction string `json:"direction"`
	From      string `json:"from"`
	To        string `json:"to"`
	Port      string `json:"port"`
	Flows     int    `json:"flows"`
	// Examples are up to five distinct source -> destination pairs, sorted.
	Examples []string `json:"examples"`
	Cause    Cause    `json:"cause"`
}

const maxExamples = 5

// isPolicyDrop: POLICY_DENIED is the default deny, POLICY_DENY an explicit deny rule. The deprecated numeric
// field is read for older Hubble output.
func isPolicyDrop(f *flowpb.Flow) bool {
	reason := f.GetDropReasonDesc()
	if reason == flowpb.DropReason_DROP_REASON_UNKNOWN {
		reason = flowpb.DropReason(f.GetDropReason())
	}
	return reason == flowpb.DropReason_POLICY_DENIED || reason == flowpb.DropReason_POLICY_DENY
}

// Diagnose classifies the policy drops of the input.
func (c *Classifier) Diagnose(in *Input) *Report {
	r := &Report{Ignored: Ignored{NotFlows: in.NotFlows}}
	type key struct{ dir, from, to, port, kind, summary string }
	groups := map[key]*Group{}
	examples := map[key]map[string]bool{}
	for _, f := range in.Flows {
		switch {
		case f.GetVerdict() == flowpb.Verdict_FORWARDED:
			r.Ignored.Forwarded++
			continue
		case f.GetVerdict() != flowpb.Verdict_DROPPED:
			r.Ignored.OtherVerdicts = inc(r.Ignored.OtherVerdicts, f.GetVerdict().String())
			continue
		case !isPolicyDrop(f):
			reason := f.GetDropReasonDesc().String()
			if f.GetDropReasonDesc() == flowpb.DropReason_DROP_REASON_UNKNOWN {
				reason = flowpb.DropReason(f.GetDropReason()).String()
			}
			r.Ignored.OtherDrops = inc(r.Ignored.OtherDrops, reason)
			continue
		}
		r.PolicyDrops++
		d := drop{flow: f, port: portOf(f),
			src: newPeer(f.GetSource(), f.GetIP().GetSource(), f.GetSourceNames()),
			dst: newPeer(f.GetDestination(), f.GetIP().GetDestination(), f.GetDestinationNames())}
		// Hubble leaves the direction unknown for some drops; a drop at a pod with no local source is ingress.
		d.egress = f.GetTrafficDirection() == flowpb.TrafficDirection_EGRESS ||
			(f.GetTrafficDirection() == flowpb.TrafficDirection_TRAFFIC_DIRECTION_UNKNOWN && d.src.isPod())
		cause := c.classify(d)
		k := key{direction(d.egress), d.src.name(), d.dst.name(), d.port.String(), cause.Kind, cause.Summary}
		g, ok := groups[k]
		if !ok {
			g = &Group{Direction: k.dir, From: k.from, To: k.to, Port: k.port, Cause: cause}
			groups[k], examples[k] = g, map[string]bool{}
		}
		g.Flows++
		examples[k][d.src.detail()+" -> "+d.dst.detail()] = true
	}
	for k, g := range groups {
		g.Examples = slices.Sorted(maps.Keys(examples[k]))
		if len(g.Examples) > maxExamples {
			g.Examples = g.Examples[:maxExamples]
		}
		r.Groups = append(r.Groups, *g)
	}
	// Most drops first; ties in a stable order.
	slices.SortFunc(r.Groups, func(a, b Group) int {
		return cmp.Or(-cmp.Compare(a.Flows, b.Flows), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To),
			cmp.Compare(a.Port, b.Port), cmp.Compare(a.Direction, b.Direction), cmp.Compare(a.Cause.Summary, b.Cause.Summary))
	})
	return r
}

func inc(m map[string]int, k string) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	m[k]++
	return m
}

// WriteText prints the report for people: a summary, what was ignored, then each group with its cause and fix.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s dropped by policy, in %s.\n", plural(r.PolicyDrops, "flow"), plural(len(r.Groups), "group"))
	if ignored := r.Ignored.describe(); ignored != "" {
		fmt.Fprintf(&b, "Ignored: %s.\n", ignored)
	}
	for i, g := range r.Groups {
		fmt.Fprintf(&b, "\n[%d] %s %s -> %s on %s: %s (e.g. %s)\n", i+1, g.Direction, g.From, g.To, g.Port,
			plural(g.Flows, "flow"), strings.Join(g.Examples, ", "))
		fmt.Fprintf(&b, "    cause: %s\n", g.Cause.Summary)
		fmt.Fprintf(&b, "    fix:   %s\n", g.Cause.Fix)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (ig Ignored) describe() string {
	var parts []string
	if ig.Forwarded > 0 {
		parts = append(parts, plural(ig.Forwarded, "forwarded flow"))
	}
	if n := sum(ig.OtherDrops); n > 0 {
		parts = append(parts, fmt.Sprintf("%s for other reasons than policy (%s)", plural(n, "drop"), counts(ig.OtherDrops)))
	}
	if n := sum(ig.OtherVerdicts); n > 0 {
		parts = append(parts, fmt.Sprintf("%s neither forwarded nor dropped (%s)", plural(n, "flow"), counts(ig.OtherVerdicts)))
	}
	if ig.NotFlows > 0 {
		parts = append(parts, plural(ig.NotFlows, "non-flow event"))
	}
	return strings.Join(parts, "; ")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func counts(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s: %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
