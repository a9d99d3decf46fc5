package diagnose

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	flowpb "github.com/cilium/cilium/api/v1/flow"
)

// Report is the diagnosis of a set of flows.
type Report struct {
	// PolicyDrops is how many flows policy dropped; Groups classify them.
	PolicyDrops int `json:"policyDrops"`
	// Audited is how many flows Cilium's audit mode (AUDIT verdict) let through that policy would have
	// dropped: would-be drops, classified in Groups like the others.
	Audited int     `json:"audited"`
	Groups  []Group `json:"groups"`
	Ignored Ignored `json:"ignored"`
}

// Ignored counts what the diagnosis left out, so the user knows it was seen.
type Ignored struct {
	Forwarded int `json:"forwarded"`
	// OtherDrops are drops for reasons other than policy, by reason.
	OtherDrops Tally `json:"otherDrops,omitempty"`
	// OtherVerdicts are flows neither forwarded, dropped nor audited (traced, translated...), by verdict.
	OtherVerdicts Tally `json:"otherVerdicts,omitempty"`
	// NotFlows are events that are not flows (node status, lost events).
	NotFlows int `json:"notFlows,omitempty"`
}

// Group is the policy drops (and would-be drops) with the same direction, peers, port and cause.
type Group struct {
	Direction string `json:"direction"`
	From      string `json:"from"`
	To        string `json:"to"`
	Port      string `json:"port"`
	Flows     int    `json:"flows"`
	// Audited of the Flows were AUDIT verdicts: let through by Cilium's audit mode, dropped once enforcing.
	Audited int `json:"audited,omitempty"`
	// Examples are up to five distinct source -> destination pairs, sorted.
	Examples []string `json:"examples"`
	Cause    Cause    `json:"cause"`
}

const maxExamples = 5

// IsPolicyDrop reports whether policy dropped the flow: POLICY_DENIED is the default deny, POLICY_DENY an
// explicit deny rule. The deprecated numeric field is read for older Hubble output.
func IsPolicyDrop(f *flowpb.Flow) bool {
	reason := DropReason(f)
	return f.GetVerdict() == flowpb.Verdict_DROPPED && (reason == flowpb.DropReason_POLICY_DENIED || reason == flowpb.DropReason_POLICY_DENY)
}

// DropReason is why Cilium dropped f.
func DropReason(f *flowpb.Flow) flowpb.DropReason {
	if reason := f.GetDropReasonDesc(); reason != flowpb.DropReason_DROP_REASON_UNKNOWN {
		return reason
	}
	// Hubble before drop_reason_desc set only the numeric field; captures from such clusters still parse.
	return flowpb.DropReason(f.GetDropReason()) //nolint:staticcheck // SA1019: read for older Hubble versions, see above
}

// DropOf reads a policy drop, or a flow Cilium's audit mode let through, as a Drop: its ends, its port and
// the side whose policy drops it.
func DropOf(f *flowpb.Flow) Drop {
	d := Drop{Port: PortOf(f)}
	d.Src, d.Dst = Ends(f)
	// Hubble leaves the direction unknown for some drops; a drop at a pod with no local source is ingress.
	d.Egress = f.GetTrafficDirection() == flowpb.TrafficDirection_EGRESS ||
		(f.GetTrafficDirection() == flowpb.TrafficDirection_TRAFFIC_DIRECTION_UNKNOWN && d.Src.IsPod())
	d.DenyRule = DropReason(f) == flowpb.DropReason_POLICY_DENY
	deniedBy := f.GetIngressDeniedBy()
	if d.Egress {
		deniedBy = f.GetEgressDeniedBy()
	}
	for _, p := range deniedBy {
		d.DeniedBy = append(d.DeniedBy, PolicyName{Namespace: p.GetNamespace(), Name: p.GetName()})
	}
	return d
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
		case f.GetVerdict() == flowpb.Verdict_AUDIT:
			// Cilium's audit mode: policy would have dropped it, and let it through.
			r.Audited++
		case f.GetVerdict() != flowpb.Verdict_DROPPED:
			r.Ignored.OtherVerdicts.Add(f.GetVerdict().String())
			continue
		case !IsPolicyDrop(f):
			r.Ignored.OtherDrops.Add(DropReason(f).String())
			continue
		default:
			r.PolicyDrops++
		}
		d := DropOf(f)
		cause := c.classify(d)
		k := key{direction(d.Egress), d.Src.Name(), d.Dst.Name(), d.Port.String(), cause.Kind, cause.Summary}
		g, ok := groups[k]
		if !ok {
			g = &Group{Direction: k.dir, From: k.from, To: k.to, Port: k.port, Cause: cause}
			groups[k], examples[k] = g, map[string]bool{}
		}
		g.Flows++
		if f.GetVerdict() == flowpb.Verdict_AUDIT {
			g.Audited++
		}
		examples[k][d.Src.Detail()+" -> "+d.Dst.Detail()] = true
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

// WriteText prints the report for people: a summary, what was ignored, then each group with its cause and fix.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	if r.Audited == 0 {
		terminal.Fprintf(&b, "%s dropped by policy, in %s.\n", plural(r.PolicyDrops, "flow"), plural(len(r.Groups), "group"))
	} else {
		terminal.Fprintf(&b, "%s dropped by policy and %d audited (AUDIT: let through by Cilium's audit mode, dropped once it enforces), in %s.\n",
			plural(r.PolicyDrops, "flow"), r.Audited, plural(len(r.Groups), "group"))
	}
	if ignored := r.Ignored.describe(); ignored != "" {
		terminal.Fprintf(&b, "Ignored: %s.\n", ignored)
	}
	for i, g := range r.Groups {
		flows := plural(g.Flows, "flow")
		if g.Audited > 0 {
			flows += fmt.Sprintf(" (%d audited)", g.Audited)
		}
		terminal.Fprintf(&b, "\n[%d] %s %s -> %s on %s: %s (e.g. %s)\n", i+1, g.Direction, g.From, g.To, g.Port,
			flows, strings.Join(g.Examples, ", "))
		terminal.Fprintf(&b, "    cause: %s\n", g.Cause.Summary)
		terminal.Fprintf(&b, "    fix:   %s\n", g.Cause.Fix)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (ig Ignored) describe() string {
	var parts []string
	if ig.Forwarded > 0 {
		parts = append(parts, plural(ig.Forwarded, "forwarded flow"))
	}
	if n := ig.OtherDrops.Total(); n > 0 {
		parts = append(parts, fmt.Sprintf("%s for other reasons than policy (%s)", plural(n, "drop"), ig.OtherDrops))
	}
	if n := ig.OtherVerdicts.Total(); n > 0 {
		parts = append(parts, fmt.Sprintf("%s neither forwarded nor dropped (%s)", plural(n, "flow"), ig.OtherVerdicts))
	}
	if ig.NotFlows > 0 {
		parts = append(parts, plural(ig.NotFlows, "non-flow event"))
	}
	return strings.Join(parts, "; ")
}
