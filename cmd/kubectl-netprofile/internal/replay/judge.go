package replay

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Set is a policy set to judge observed flows against.
type Set struct {
	// Policies are the policies and the namespaces' labels. A namespace missing from NamespaceLabels keeps
	// the labels Hubble reported for it.
	Policies check.Policies
	// Namespaces are the namespaces whose policies the set holds in full; nil means every namespace (a whole
	// cluster). A pod's side of a flow in any other namespace is not judged: Hubble's observed verdict stands
	// for it (offline, the platform's namespaces and the apps not in -f are not part of the proposal).
	Namespaces map[string]bool
}

func (s Set) judges(namespace string) bool { return s.Namespaces == nil || s.Namespaces[namespace] }

// EnforcementOn is the policy set as it would be with enforcement on: without netprofile's allow-alls
// (the escape hatch's and audit mode's, ownership.AllowsAll). It returns the policies left out.
func EnforcementOn(p check.Policies) (check.Policies, []check.PolicyRef) {
	out := p
	out.CNPs = nil
	var removed []check.PolicyRef
	for _, cnp := range p.CNPs {
		if ownership.AllowsAll(cnp.Name) {
			removed = append(removed, check.PolicyRef{Kind: ciliumv2.CNPKindDefinition, Namespace: cnp.Namespace, Name: cnp.Name})
			continue
		}
		out.CNPs = append(out.CNPs, cnp)
	}
	return out, removed
}

// Side is the verdict of one side of a flow under the judged set: egress at the source, ingress at the
// destination.
type Side struct {
	Allowed bool `json:"allowed"`
	// Judged is false when the side belongs to a namespace outside the judged set: the observed verdict stands.
	Judged bool `json:"judged"`
	// Decision says in words who decides: the allowing policies, a deny rule, or the default deny.
	Decision string `json:"decision"`
	// DecidedBy are the policies whose rules decided (allowing rules, or deny rules).
	DecidedBy []check.PolicyRef `json:"decidedBy,omitempty"`
	// Ceiling: denied by netprofile's ceiling, that is, by the namespace's labels.
	Ceiling bool `json:"ceiling,omitempty"`
}

// Verdict is a flow's verdict under the judged set.
type Verdict struct {
	Allowed bool `json:"allowed"`
	Egress  Side `json:"egress"`
	Ingress Side `json:"ingress"`
	// Cause is, for a flow the set drops, what diagnose would say about the drop: the cause and the fix.
	Cause *diagnose.Cause `json:"cause,omitempty"`
}

// Judge decides each flow with Cilium's engine on both sides, as check does: egress at the source, ingress
// at the destination. Identical ends and ports are looked up once. A flow the set drops gets the cause and
// fix diagnose would give its drop, with the labels the judged set gives the namespaces.
func Judge(flows []*Flow, set Set, cls *diagnose.Classifier) ([]Verdict, error) {
	pols := set.Policies
	pols.NamespaceLabels = maps.Clone(set.Policies.NamespaceLabels)
	if pols.NamespaceLabels == nil {
		pols.NamespaceLabels = map[string]map[string]string{}
	}
	for _, f := range flows {
		for _, p := range []diagnose.Peer{f.Src, f.Dst} {
			if _, ok := pols.NamespaceLabels[p.Namespace]; p.IsPod() && !ok {
				pols.NamespaceLabels[p.Namespace] = p.NSLabels
			}
		}
	}
	engine, err := check.New(pols)
	if err != nil {
		return nil, err
	}
	// One lookup per distinct (source, destination, port).
	index := map[string]int{}
	var distinct []check.Flow
	at := make([]int, len(flows))
	for i, f := range flows {
		k := f.From.String() + "\x00" + f.To.String() + "\x00" + f.Port.String()
		j, ok := index[k]
		if !ok {
			j = len(distinct)
			index[k] = j
			distinct = append(distinct, check.Flow{From: f.From, To: f.To, Port: f.Port})
		}
		at[i] = j
	}
	results, err := engine.CheckAll(distinct)
	if err != nil {
		return nil, err
	}
	type causeKey struct {
		flow         int
		egress, deny bool
	}
	causes := map[causeKey]*diagnose.Cause{}
	out := make([]Verdict, len(flows))
	for i, f := range flows {
		res := results[at[i]]
		v := Verdict{
			Egress:  side(res.Egress, f.From, f.Src, "egress", set, f),
			Ingress: side(res.Ingress, f.To, f.Dst, "ingress", set, f),
		}
		v.Allowed = v.Egress.Allowed && v.Ingress.Allowed
		if !v.Allowed && cls != nil {
			// The datapath drops at the first side that denies: the source's egress, then the destination's
			// ingress.
			d := diagnose.Drop{Src: judgedPeer(f.Src, pols.NamespaceLabels), Dst: judgedPeer(f.Dst, pols.NamespaceLabels),
				Port: diagnose.Port{Number: uint32(f.Port.Number), Protocol: f.Port.Protocol}, Egress: !v.Egress.Allowed}
			denying := v.Ingress
			if d.Egress {
				denying = v.Egress
			}
			d.DenyRule = denying.Judged && len(denying.DecidedBy) > 0
			for _, r := range denying.DecidedBy {
				d.DeniedBy = append(d.DeniedBy, diagnose.PolicyName{Namespace: r.Namespace, Name: r.Name})
			}
			k := causeKey{flow: at[i], egress: d.Egress, deny: d.DenyRule}
			c, ok := causes[k]
			if !ok {
				cause := cls.Classify(d)
				c = &cause
				causes[k] = c
			}
			v.Cause = c
		}
		out[i] = v
	}
	return out, nil
}

// judgedPeer is the peer with the labels the judged set gives its namespace, which is what the classifier
// reads (the profile, the grants).
func judgedPeer(p diagnose.Peer, nsLabels map[string]map[string]string) diagnose.Peer {
	if !p.IsPod() {
		return p
	}
	labels := maps.Clone(nsLabels[p.Namespace])
	if labels == nil {
		labels = map[string]string{}
	}
	labels["kubernetes.io/metadata.name"] = p.Namespace
	p.NSLabels = labels
	return p
}

// side is one side's verdict: the engine's, or, for a pod in a namespace outside the judged set, the one
// Hubble observed.
func side(d check.Direction, ep check.Endpoint, p diagnose.Peer, dir string, set Set, f *Flow) Side {
	if p.IsPod() && !set.judges(p.Namespace) {
		allowed := f.Allowed || f.DroppedAt != dir
		s := Side{Allowed: allowed, Decision: fmt.Sprintf("not judged: %s is not in the judged policy set; allowed, as observed", p.Namespace)}
		if !allowed {
			s.Decision = fmt.Sprintf("not judged: %s is not in the judged policy set; dropped, as observed", p.Namespace)
		}
		return s
	}
	s := Side{Allowed: d.Allowed, Judged: true, DecidedBy: d.DecidedBy, Ceiling: d.Ceiling}
	switch {
	case !ep.IsPod():
		s.Decision = "no policy: not a Cilium endpoint"
	case d.Allowed && len(d.DecidedBy) > 0:
		s.Decision = "allowed by " + refs(d.DecidedBy)
	case d.Allowed && !d.Enforced:
		s.Decision = "allowed: no default-deny policy selects it for " + dir + " (additive ones only add), so Cilium does not enforce it"
	case d.Allowed:
		s.Decision = "allowed"
	case d.Ceiling:
		s.Decision = "denied: the labels do not allow it (held by the ceiling, " + refs(d.DecidedBy) + ")"
	case len(d.DecidedBy) > 0:
		s.Decision = "denied by a deny rule of " + refs(d.DecidedBy)
	default:
		s.Decision = fmt.Sprintf("default deny: no policy allows it (selected for %s by %s)", dir, refs(d.SelectedBy))
	}
	return s
}

func refs(rs []check.PolicyRef) string {
	s := make([]string, 0, len(rs))
	for _, r := range rs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}

// Proposed is the policy set offline: what the operator renders for the namespaces with the catalogue of in
// (each namespace's policy, the provider halves, the baselines: in.Scope), with enforcement on, plus
// hand-written policies (hand: Cilium's kinds and NetworkPolicies). It judges the namespaces of the manifests
// and the namespaces of the hand-written namespaced policies; every other namespace keeps its observed
// verdicts. It returns the refusals of the rendering and the allow-alls it left out.
func Proposed(in desired.Input, hand check.Policies) (Set, []desired.Problem, []check.PolicyRef) {
	rendered := desired.Compute(in)
	// With enforcement on, the ceilings the escape hatch and audit mode lift are back.
	enforcing := append(slices.Clone(rendered.CNPs), rendered.Lifted...)
	pols := check.Policies{CNPs: append(enforcing, hand.CNPs...), CCNPs: append(slices.Clone(rendered.CCNPs), hand.CCNPs...),
		KNPs: slices.Clone(hand.KNPs), Cluster: in.Renderer.ClusterName, NamespaceLabels: map[string]map[string]string{}}
	set := Set{Namespaces: map[string]bool{}}
	for _, ns := range in.Namespaces {
		pols.NamespaceLabels[ns.Name] = ns.Labels
		set.Namespaces[ns.Name] = true
	}
	for _, p := range hand.CNPs {
		set.Namespaces[p.Namespace] = true
	}
	for _, p := range hand.KNPs {
		set.Namespaces[p.Namespace] = true
	}
	var removed []check.PolicyRef
	set.Policies, removed = EnforcementOn(pols)
	return set, rendered.Problems, removed
}
