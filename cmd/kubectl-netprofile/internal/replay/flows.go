package replay

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	flowpb "github.com/cilium/cilium/api/v1/flow"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	"github.com/netprofile/netprofile/pkg/check"
)

// Flow is a set of identical observed flows: the same ends (identities, and the address of what is not a
// pod), the same port and the same observed verdict. Judging it once judges them all.
type Flow struct {
	Src, Dst diagnose.Peer
	// From and To are the ends as Cilium's engine sees them (see Endpoint).
	From, To check.Endpoint
	Port     check.Port
	// Allowed: Hubble saw the flow go through (FORWARDED, AUDIT, REDIRECTED). Otherwise policy dropped it,
	// at DroppedAt ("egress" at the source or "ingress" at the destination), by a deny rule if DenyRule.
	Allowed   bool
	DroppedAt string
	DenyRule  bool
	// Count is how many flows Hubble reported; Verdicts counts them by verdict.
	Count    int
	Verdicts map[string]int
	// AllowedBy are the policies Hubble named as allowing it (egress_allowed_by, ingress_allowed_by).
	AllowedBy []string
	// Examples are up to five distinct "source -> destination" pairs (pods, names or addresses).
	Examples []string
}

// Observed says what Hubble saw, in words.
func (f *Flow) Observed() string {
	verdicts := make([]string, 0, len(f.Verdicts))
	for _, v := range slices.Sorted(maps.Keys(f.Verdicts)) {
		if len(f.Verdicts) == 1 {
			verdicts = append(verdicts, v)
		} else {
			verdicts = append(verdicts, fmt.Sprintf("%s %d", v, f.Verdicts[v]))
		}
	}
	s := strings.Join(verdicts, ", ")
	if !f.Allowed {
		s += " at " + f.DroppedAt
		if f.DenyRule {
			s += " (deny rule)"
		}
	}
	return s
}

// Flows are the observed flows, aggregated, and what was left out.
type Flows struct {
	List []*Flow
	// Total is how many flows the aggregated ones stand for.
	Total   int
	Ignored Ignored
}

// Ignored counts what replay leaves out, so the user knows it was seen.
type Ignored struct {
	// Replies are reply packets of allowed connections: policy is decided on the connection's first packet.
	Replies int `json:"replies,omitempty"`
	// L7 are L7 events (HTTP, DNS, Kafka): they repeat an L3/L4 flow, and L7 rules are not modelled.
	L7 int `json:"l7,omitempty"`
	// OtherDrops are drops for reasons other than policy, by reason.
	OtherDrops diagnose.Tally `json:"otherDrops,omitempty"`
	// OtherVerdicts are flows neither allowed nor dropped (traced, translated, error), by verdict.
	OtherVerdicts diagnose.Tally `json:"otherVerdicts,omitempty"`
	// NotJudged are flows the engine cannot judge, by why: ICMP and flows without a port, peers Hubble
	// could not identify.
	NotJudged diagnose.Tally `json:"notJudged,omitempty"`
	// NotFlows are events that are not flows (node status, lost events).
	NotFlows int `json:"notFlows,omitempty"`
}

func (ig Ignored) describe() string {
	var parts []string
	if ig.Replies > 0 {
		parts = append(parts, diagnose.Plural(ig.Replies, "reply", "replies"))
	}
	if ig.L7 > 0 {
		parts = append(parts, diagnose.Plural(ig.L7, "L7 event", "L7 events"))
	}
	if n := ig.OtherDrops.Total(); n > 0 {
		parts = append(parts, fmt.Sprintf("%s for other reasons than policy (%s)", diagnose.Plural(n, "drop", "drops"), ig.OtherDrops))
	}
	if n := ig.OtherVerdicts.Total(); n > 0 {
		parts = append(parts, fmt.Sprintf("%s neither allowed nor dropped (%s)", diagnose.Plural(n, "flow", "flows"), ig.OtherVerdicts))
	}
	if n := ig.NotJudged.Total(); n > 0 {
		parts = append(parts, fmt.Sprintf("%s the engine cannot judge (%s)", diagnose.Plural(n, "flow", "flows"), ig.NotJudged))
	}
	if ig.NotFlows > 0 {
		parts = append(parts, diagnose.Plural(ig.NotFlows, "non-flow event", "non-flow events"))
	}
	return strings.Join(parts, "; ")
}

const maxExamples = 5

// Aggregate reads Hubble's flows into distinct flows with counts. Flows policy decides are kept: allowed
// (FORWARDED, AUDIT, REDIRECTED) and dropped by policy; replies, L7 events, other verdicts and drops, and what
// the engine cannot judge (ICMP, unidentified peers) are counted in Ignored.
func Aggregate(in *diagnose.Input) *Flows {
	out := &Flows{Ignored: Ignored{NotFlows: in.NotFlows}}
	byKey := map[string]*Flow{}
	unknown := map[string]string{} // flows whose ends cannot be mapped, and why
	var key strings.Builder
	for _, f := range in.Flows {
		var allowed bool
		switch v := f.GetVerdict(); {
		case f.GetType() == flowpb.FlowType_L7:
			out.Ignored.L7++
			continue
		case v == flowpb.Verdict_FORWARDED || v == flowpb.Verdict_AUDIT || v == flowpb.Verdict_REDIRECTED:
			if f.GetIsReply().GetValue() {
				out.Ignored.Replies++
				continue
			}
			allowed = true
		case v != flowpb.Verdict_DROPPED:
			out.Ignored.OtherVerdicts.Add(v.String())
			continue
		case !diagnose.IsPolicyDrop(f):
			out.Ignored.OtherDrops.Add(diagnose.DropReason(f).String())
			continue
		}
		port := diagnose.PortOf(f)
		if port.Number == 0 || port.Number > 65535 || (port.Protocol != "TCP" && port.Protocol != "UDP" && port.Protocol != "SCTP") {
			out.Ignored.NotJudged.Add(port.Protocol + " (no port)")
			continue
		}
		// Identical flows: the same identities (Hubble's labels), the same address for what is not a pod,
		// the same port and the same observed verdict.
		key.Reset()
		endKey(&key, f.GetSource(), f.GetIP().GetSource(), f.GetSourceNames())
		endKey(&key, f.GetDestination(), f.GetIP().GetDestination(), f.GetDestinationNames())
		key.WriteString(port.String())
		var drop diagnose.Drop
		if allowed {
			key.WriteString("|allowed")
		} else {
			drop = diagnose.DropOf(f)
			fmt.Fprintf(&key, "|dropped egress=%t deny=%t", drop.Egress, drop.DenyRule)
		}
		if why, ok := unknown[key.String()]; ok {
			out.Ignored.NotJudged.Add(why)
			continue
		}
		agg, ok := byKey[key.String()]
		if !ok {
			src, dst := diagnose.Ends(f)
			from, err := Endpoint(src)
			if err == nil {
				var to check.Endpoint
				to, err = Endpoint(dst)
				agg = &Flow{Src: src, Dst: dst, From: from, To: to, Allowed: allowed, DenyRule: drop.DenyRule,
					Port: check.Port{Number: uint16(port.Number), Protocol: port.Protocol}, Verdicts: map[string]int{}}
			}
			if err != nil {
				unknown[key.String()] = err.Error()
				out.Ignored.NotJudged.Add(err.Error())
				continue
			}
			if !allowed {
				agg.DroppedAt = "ingress"
				if drop.Egress {
					agg.DroppedAt = "egress"
				}
			}
			byKey[key.String()] = agg
			out.List = append(out.List, agg)
		}
		agg.Count++
		out.Total++
		agg.Verdicts[f.GetVerdict().String()]++
		for _, p := range f.GetEgressAllowedBy() {
			agg.AllowedBy = addOnce(agg.AllowedBy, policyName(p))
		}
		for _, p := range f.GetIngressAllowedBy() {
			agg.AllowedBy = addOnce(agg.AllowedBy, policyName(p))
		}
		if len(agg.Examples) < maxExamples {
			agg.Examples = addOnce(agg.Examples, detail(f.GetSource(), f.GetIP().GetSource(), f.GetSourceNames())+" -> "+
				detail(f.GetDestination(), f.GetIP().GetDestination(), f.GetDestinationNames()))
		}
	}
	return out
}

// endKey writes what tells one end's identity apart: Hubble's labels (which make the identity), and for what
// is not a pod the identity number, the address and the names.
func endKey(b *strings.Builder, ep *flowpb.Endpoint, ip string, names []string) {
	b.WriteString(ep.GetNamespace())
	b.WriteByte(0)
	for _, l := range ep.GetLabels() {
		b.WriteString(l)
		b.WriteByte(1)
	}
	if ep.GetNamespace() == "" {
		b.WriteString(strconv.FormatUint(uint64(ep.GetIdentity()), 10))
		b.WriteByte(0)
		b.WriteString(ip)
		for _, n := range names {
			b.WriteByte(1)
			b.WriteString(n)
		}
	}
	b.WriteByte(2)
}

// detail is diagnose's Peer.Detail, read straight off the flow: the pod, or the name or address.
func detail(ep *flowpb.Endpoint, ip string, names []string) string {
	switch {
	case ep.GetNamespace() != "" && ep.GetPodName() != "":
		return ep.GetNamespace() + "/" + ep.GetPodName()
	case len(names) > 0:
		return strings.TrimSuffix(names[0], ".")
	case ip != "":
		return ip
	case len(ep.GetLabels()) > 0:
		return strings.TrimPrefix(ep.GetLabels()[0], "reserved:")
	}
	return "unknown"
}

func policyName(p *flowpb.Policy) string {
	kind := p.GetKind()
	if kind == "" {
		kind = "policy"
	}
	if p.GetNamespace() == "" {
		return kind + " " + p.GetName()
	}
	return kind + " " + p.GetNamespace() + "/" + p.GetName()
}

func addOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
