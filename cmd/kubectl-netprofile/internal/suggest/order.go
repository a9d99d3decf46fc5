package suggest

import (
	"cmp"
	"maps"
	"net/netip"
	"slices"

	"github.com/netprofile/netprofile/api/v1alpha1"
)

// Breadth is how much a profile allows, counted from its rules: Peers are the peers its rules name (each
// endpoints selector, entity, CIDR and FQDN, in both directions, and the namespace itself when same-namespace
// traffic is allowed); Ports are the ports allowed per peer, summed (anyPort counts 65535).
type Breadth struct {
	Peers int `json:"peers"`
	Ports int `json:"ports"`
}

const anyPort = 65535

func sameNamespace(p *v1alpha1.NetworkProfileSpec) bool {
	return p.AllowSameNamespace == nil || *p.AllowSameNamespace
}

func peers(r *v1alpha1.Rule) int {
	n := len(r.Entities) + len(r.CIDRs) + len(r.FQDNs)
	if r.Endpoints != nil {
		n++
	}
	return n
}

func ports(r *v1alpha1.Rule) int {
	if r.AnyPort {
		return anyPort
	}
	return len(r.Ports)
}

// BreadthOf counts what the profile allows.
func BreadthOf(p *v1alpha1.NetworkProfileSpec) Breadth {
	var b Breadth
	if sameNamespace(p) {
		b.Peers, b.Ports = 1, anyPort
	}
	for _, rules := range [][]v1alpha1.Rule{p.Ingress, p.Egress} {
		for i := range rules {
			b.Peers += peers(&rules[i])
			b.Ports += peers(&rules[i]) * ports(&rules[i])
		}
	}
	return b
}

// Contains reports whether profile a allows everything b allows: same-namespace traffic if b allows it, and
// each rule of b within one rule of a of the same direction (a peer a names or one of its entities
// includes, on ports a allows).
func Contains(a, b *v1alpha1.NetworkProfileSpec) bool {
	if sameNamespace(b) && !sameNamespace(a) {
		return false
	}
	within := func(outer, inner []v1alpha1.Rule) bool {
		for i := range inner {
			if !slices.ContainsFunc(outer, func(o v1alpha1.Rule) bool { return ruleContains(&o, &inner[i]) }) {
				return false
			}
		}
		return true
	}
	return within(a.Ingress, b.Ingress) && within(a.Egress, b.Egress)
}

// ruleContains: every peer and port of r is one of s's.
func ruleContains(s, r *v1alpha1.Rule) bool {
	if !s.AnyPort {
		if r.AnyPort {
			return false
		}
		for _, rp := range r.Ports {
			if !slices.ContainsFunc(s.Ports, func(sp v1alpha1.PortProtocol) bool {
				return sp.Port == rp.Port && (protocol(sp) == v1alpha1.ProtocolANY || protocol(sp) == protocol(rp))
			}) {
				return false
			}
		}
	}
	world, cluster := slices.Contains(s.Entities, v1alpha1.EntityWorld), slices.Contains(s.Entities, v1alpha1.EntityCluster)
	if peers(r) == 0 {
		return false
	}
	if r.Endpoints != nil && !cluster && (s.Endpoints == nil || s.Endpoints.Namespace != r.Endpoints.Namespace ||
		!subset(s.Endpoints.MatchLabels, r.Endpoints.MatchLabels)) {
		return false
	}
	for _, e := range r.Entities {
		// The cluster entity is everything in the cluster: every entity but world.
		if !slices.Contains(s.Entities, e) && (!cluster || e == v1alpha1.EntityWorld) {
			return false
		}
	}
	// world includes every CIDR and FQDN identity.
	for _, c := range r.CIDRs {
		if !world && !slices.ContainsFunc(s.CIDRs, func(o string) bool { return prefixWithin(o, c) }) {
			return false
		}
	}
	for _, f := range r.FQDNs {
		if !world && !slices.Contains(s.FQDNs, f) {
			return false
		}
	}
	return true
}

func protocol(p v1alpha1.PortProtocol) v1alpha1.Protocol {
	if p.Protocol == "" {
		return v1alpha1.ProtocolTCP
	}
	return p.Protocol
}

func prefixWithin(outer, inner string) bool {
	o, err := netip.ParsePrefix(outer)
	if err != nil {
		return false
	}
	i, err := netip.ParsePrefix(inner)
	return err == nil && o.Bits() <= i.Bits() && o.Contains(i.Addr())
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Order sorts the profiles from the one that allows least to the one that allows most: a profile another
// contains comes before it (Contains); among profiles neither of which contains the other, fewer peers
// first, then fewer ports, then by name (Breadth). "Smallest" is the first in this order.
func Order(profiles map[string]*v1alpha1.NetworkProfile) []string {
	names := slices.Sorted(maps.Keys(profiles))
	less := func(a, b string) int {
		ba, bb := BreadthOf(&profiles[a].Spec), BreadthOf(&profiles[b].Spec)
		return cmp.Or(cmp.Compare(ba.Peers, bb.Peers), cmp.Compare(ba.Ports, bb.Ports), cmp.Compare(a, b))
	}
	// strictly: a allows less than b.
	strictly := func(a, b string) bool {
		return Contains(&profiles[b].Spec, &profiles[a].Spec) && !Contains(&profiles[a].Spec, &profiles[b].Spec)
	}
	var out []string
	left := slices.Clone(names)
	for len(left) > 0 {
		// The profiles no other remaining one is strictly inside of, the smallest by breadth first.
		var minimal []string
		for _, a := range left {
			if !slices.ContainsFunc(left, func(b string) bool { return b != a && strictly(b, a) }) {
				minimal = append(minimal, a)
			}
		}
		slices.SortFunc(minimal, less)
		out = append(out, minimal[0])
		left = slices.DeleteFunc(left, func(s string) bool { return s == minimal[0] })
	}
	return out
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
