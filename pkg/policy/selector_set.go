package policy

import (
	"maps"
	"slices"
	"strings"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
)

// This file is a small algebra of Cilium identity selectors, enough to compute "every identity except these"
// for the ceiling's deny rules. A term is a conjunction of constraints, one per label key, as one Kubernetes
// label selector expresses it; a set of terms is their union, as a list of toEndpoints selectors is. Terms are
// only ever dropped when they provably select nothing or are covered by another term, so whatever the
// simplification misses costs a longer policy, never a wrong one.

// constraint is what one label key must satisfy: In (when in is not nil), NotIn, and whether the key exists
// (exists: 0 no constraint, 1 must exist, -1 must not).
type constraint struct {
	in     []string
	notIn  []string
	exists int
}

// term is a conjunction of constraints by label key (keys as Cilium writes them, with an optional source
// prefix such as "reserved:" or "cidr:").
type term map[string]constraint

// normal returns c simplified, and false when nothing can satisfy it.
func (c constraint) normal() (constraint, bool) {
	c.in, c.notIn = sortedSet(c.in), sortedSet(c.notIn)
	switch {
	case c.in != nil && c.exists < 0:
		return c, false
	case c.in != nil:
		c.in = slices.DeleteFunc(c.in, func(v string) bool { return slices.Contains(c.notIn, v) })
		if len(c.in) == 0 {
			return c, false
		}
		c.notIn, c.exists = nil, 1
	case c.exists < 0:
		c.notIn = nil
	}
	return c, true
}

func sortedSet(s []string) []string {
	if s == nil {
		return nil
	}
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

// and is the conjunction of two constraints on one key.
func (c constraint) and(o constraint) (constraint, bool) {
	out := constraint{notIn: append(slices.Clone(c.notIn), o.notIn...)}
	switch {
	case c.in != nil && o.in != nil:
		out.in = []string{}
		for _, v := range c.in {
			if slices.Contains(o.in, v) {
				out.in = append(out.in, v)
			}
		}
	case c.in != nil:
		out.in = slices.Clone(c.in)
	case o.in != nil:
		out.in = slices.Clone(o.in)
	}
	switch {
	case c.exists != 0 && o.exists != 0 && c.exists != o.exists:
		return out, false
	case c.exists != 0:
		out.exists = c.exists
	default:
		out.exists = o.exists
	}
	return out.normal()
}

// not is the negation of a constraint as disjoint alternatives.
func (c constraint) not() []constraint {
	switch {
	case c.in != nil:
		return []constraint{{notIn: c.in}}
	case c.exists > 0 && len(c.notIn) > 0:
		return []constraint{{exists: -1}, {in: c.notIn}}
	case c.exists > 0:
		return []constraint{{exists: -1}}
	case c.exists < 0:
		return []constraint{{exists: 1}}
	case len(c.notIn) > 0:
		return []constraint{{in: c.notIn}}
	}
	return nil // no constraint: its negation selects nothing
}

// covers reports whether every value c allows is allowed by o.
func (c constraint) covers(o constraint) bool {
	switch {
	case o.exists < 0:
		return c.exists < 0
	case o.in != nil:
		return c.in != nil && !slices.ContainsFunc(c.in, func(v string) bool { return !slices.Contains(o.in, v) })
	}
	if o.exists > 0 && c.exists <= 0 && c.in == nil {
		return false
	}
	if c.in != nil {
		return !slices.ContainsFunc(c.in, func(v string) bool { return slices.Contains(o.notIn, v) })
	}
	if c.exists < 0 {
		return true // a missing key is in every NotIn
	}
	return !slices.ContainsFunc(o.notIn, func(v string) bool { return !slices.Contains(c.notIn, v) })
}

// exclusive says which keys no identity carries together. A pod's identity carries no reserved label; each
// reserved identity carries one reserved label, but for the API server's, which joins the host, a remote node
// or (outside the cluster) a world address. CIDR labels belong to world addresses only.
func exclusive(a, b string) bool {
	kind := func(k string) string {
		switch {
		case k == podNamespaceKey:
			return "pod"
		case strings.HasPrefix(k, "cidr:"), k == "reserved:world", k == "reserved:world-ipv4", k == "reserved:world-ipv6":
			return "world"
		case strings.HasPrefix(k, "reserved:"):
			return k
		}
		return "" // any other label: assume nothing
	}
	ka, kb := kind(a), kind(b)
	switch {
	case ka == "" || kb == "" || ka == kb:
		return false
	case ka == "reserved:kube-apiserver":
		return !apiServerJoins(kb)
	case kb == "reserved:kube-apiserver":
		return !apiServerJoins(ka)
	}
	return true
}

func apiServerJoins(kind string) bool {
	return kind == "world" || kind == "reserved:host" || kind == "reserved:remote-node"
}

// and is the conjunction of two terms; false when it selects nothing.
func (t term) and(o term) (term, bool) {
	out := maps.Clone(t)
	for k, c := range o {
		if old, ok := out[k]; ok {
			merged, ok := old.and(c)
			if !ok {
				return nil, false
			}
			out[k] = merged
			continue
		}
		n, ok := c.normal()
		if !ok {
			return nil, false
		}
		out[k] = n
	}
	present := make([]string, 0, len(out))
	for k, c := range out {
		if c.exists > 0 {
			present = append(present, k)
		}
	}
	for i, a := range present {
		for _, b := range present[i+1:] {
			if exclusive(a, b) {
				return nil, false
			}
		}
	}
	return out, true
}

// covers reports whether every identity t selects is selected by o.
func (t term) covers(o term) bool {
	for k, oc := range o {
		c, ok := t[k]
		if !ok {
			c = constraint{}
		}
		if !c.covers(oc) {
			return false
		}
	}
	return true
}

// minus is t without the identities o selects, as disjoint terms: t∧¬o1, t∧o1∧¬o2, ... in key order.
func (t term) minus(o term) []term {
	if _, ok := t.and(o); !ok {
		return []term{t} // disjoint
	}
	var out []term
	prefix := term{}
	for _, k := range keyOrder(o) {
		for _, neg := range o[k].not() {
			if next, ok := t.and(prefix); ok {
				if next, ok = next.and(term{k: neg}); ok {
					out = append(out, next)
				}
			}
		}
		prefix[k] = o[k]
	}
	return out
}

// keyOrder puts the namespace first, so a difference reads namespace by namespace.
func keyOrder(t term) []string {
	keys := slices.Sorted(maps.Keys(t))
	slices.SortStableFunc(keys, func(a, b string) int {
		switch {
		case a == podNamespaceKey:
			return -1
		case b == podNamespaceKey:
			return 1
		}
		return 0
	})
	return keys
}

// terms is a union of terms.
type terms []term

// minus removes what o selects from every term.
func (s terms) minus(o term) terms {
	var out terms
	for _, t := range s {
		out = append(out, t.minus(o)...)
	}
	return out.simplify()
}

// simplify drops terms covered by another term (the first of two equal ones stays).
func (s terms) simplify() terms {
	var out terms
	for i, t := range s {
		covered := false
		for j, o := range s {
			if i != j && t.covers(o) && (!o.covers(t) || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, t)
		}
	}
	return out
}

// selector renders a term as a Kubernetes label selector in Cilium's key syntax.
func (t term) selector() *slimv1.LabelSelector {
	sel := &slimv1.LabelSelector{}
	for _, k := range keyOrder(t) {
		c := t[k]
		switch {
		case len(c.in) == 1:
			if sel.MatchLabels == nil {
				sel.MatchLabels = map[string]string{}
			}
			sel.MatchLabels[k] = c.in[0]
		case c.in != nil:
			sel.MatchExpressions = append(sel.MatchExpressions, requirement(k, slimv1.LabelSelectorOpIn, c.in))
		case c.exists < 0:
			sel.MatchExpressions = append(sel.MatchExpressions, requirement(k, slimv1.LabelSelectorOpDoesNotExist, nil))
		default:
			if c.exists > 0 {
				if strings.HasPrefix(k, "reserved:") && len(c.notIn) == 0 {
					// Reserved labels have no value; a match on the empty value is how Cilium writes them.
					if sel.MatchLabels == nil {
						sel.MatchLabels = map[string]string{}
					}
					sel.MatchLabels[k] = ""
				} else {
					sel.MatchExpressions = append(sel.MatchExpressions, requirement(k, slimv1.LabelSelectorOpExists, nil))
				}
			}
			if len(c.notIn) > 0 {
				sel.MatchExpressions = append(sel.MatchExpressions, requirement(k, slimv1.LabelSelectorOpNotIn, c.notIn))
			}
		}
	}
	return sel
}

func requirement(key string, op slimv1.LabelSelectorOperator, values []string) slimv1.LabelSelectorRequirement {
	return slimv1.LabelSelectorRequirement{Key: key, Operator: op, Values: slices.Clone(values)}
}

// termOf reads a Kubernetes label selector into a term.
func termOf(sel *slimv1.LabelSelector) (term, bool) {
	t := term{}
	if sel == nil {
		return t, true
	}
	add := func(k string, c constraint) bool {
		merged, ok := t.and(term{k: c})
		if ok {
			t = merged
		}
		return ok
	}
	for k, v := range sel.MatchLabels {
		if !add(k, constraint{in: []string{v}}) {
			return nil, false
		}
	}
	for _, r := range sel.MatchExpressions {
		var c constraint
		switch r.Operator {
		case slimv1.LabelSelectorOpIn:
			c.in = slices.Clone(r.Values)
			if c.in == nil {
				c.in = []string{}
			}
		case slimv1.LabelSelectorOpNotIn:
			c.notIn = slices.Clone(r.Values)
		case slimv1.LabelSelectorOpExists:
			c.exists = 1
		case slimv1.LabelSelectorOpDoesNotExist:
			c.exists = -1
		}
		if !add(r.Key, c) {
			return nil, false
		}
	}
	return t, true
}
