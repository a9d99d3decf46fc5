package policy

import (
	"slices"
	"testing"
)

// member says whether an identity with these labels is selected by a term, with the semantics of
// Kubernetes label selectors (a NotIn matches a missing key).
func (t term) member(labels map[string]string) bool {
	for k, c := range t {
		v, ok := labels[k]
		switch {
		case c.exists > 0 && !ok, c.exists < 0 && ok:
			return false
		case c.in != nil && (!ok || !slices.Contains(c.in, v)):
			return false
		case ok && slices.Contains(c.notIn, v):
			return false
		}
	}
	return true
}

func (s terms) member(labels map[string]string) bool {
	return slices.ContainsFunc(s, func(t term) bool { return t.member(labels) })
}

// TestTermAlgebra checks minus, and and covers against membership on sample identities: the algebra must
// agree with what a label selector selects, or a ceiling would deny what it should not (or miss what it
// should deny).
func TestTermAlgebra(t *testing.T) {
	identities := []map[string]string{
		{podNamespaceKey: "app", "io.cilium.k8s.policy.cluster": "c"},
		{podNamespaceKey: "app", "io.cilium.k8s.policy.cluster": "c", "app": "web"},
		{podNamespaceKey: "gw", "io.cilium.k8s.policy.cluster": "c", "gw": "internal"},
		{podNamespaceKey: "gw", "io.cilium.k8s.policy.cluster": "c", "gw": "external"},
		{podNamespaceKey: "gw", "io.cilium.k8s.policy.cluster": "c"},
		{podNamespaceKey: "other", "io.cilium.k8s.policy.cluster": "c"},
		{podNamespaceKey: "other", "io.cilium.k8s.policy.cluster": "remote"},
		{"reserved:host": ""},
		{"reserved:host": "", "reserved:kube-apiserver": ""},
		{"reserved:kube-apiserver": ""},
		{"reserved:world": "", "cidr:10.0.0.0/8": ""},
		{"reserved:world": ""},
	}
	sets := map[string]terms{
		"same namespace":      {{podNamespaceKey: {in: []string{"app"}, exists: 1}}},
		"internal gateway":    {{podNamespaceKey: {in: []string{"gw"}, exists: 1}, "gw": {in: []string{"internal"}, exists: 1}}},
		"not the web pod":     {{"app": {notIn: []string{"web"}}}},
		"the API server":      {{"reserved:kube-apiserver": {exists: 1}}},
		"world but a CIDR":    {{"reserved:world": {exists: 1}, "cidr:10.0.0.0/8": {exists: -1}}},
		"two namespaces":      {{podNamespaceKey: {in: []string{"app", "other"}, exists: 1}}},
		"no cluster key":      {{"io.cilium.k8s.policy.cluster": {exists: -1}}},
		"a namespace, no web": {{podNamespaceKey: {in: []string{"app"}, exists: 1}, "app": {notIn: []string{"web"}}}},
	}
	u := universe()
	for an, a := range sets {
		for bn, b := range sets {
			for _, id := range identities {
				inA, inB := a.member(id), b.member(id)
				diff := a
				for _, bt := range b {
					diff = diff.minus(bt)
				}
				if got := diff.member(id); got != (inA && !inB) {
					t.Errorf("(%s) minus (%s) on %v: %v, want %v", an, bn, id, got, inA && !inB)
				}
				var both terms
				for _, at := range a {
					for _, bt := range b {
						if x, ok := at.and(bt); ok {
							both = append(both, x)
						}
					}
				}
				if got := both.member(id); got != (inA && inB) {
					t.Errorf("(%s) and (%s) on %v: %v, want %v", an, bn, id, got, inA && inB)
				}
			}
			if len(a) == 1 && len(b) == 1 && a[0].covers(b[0]) {
				for _, id := range identities {
					if a.member(id) && !b.member(id) {
						t.Errorf("(%s) covers (%s) but %v is only in the first", an, bn, id)
					}
				}
			}
		}
	}
	// Every sample identity is in the universe; none is left when everything is taken out.
	for _, id := range identities {
		if !u.member(id) {
			t.Errorf("universe misses %v", id)
		}
	}
}

// TestSelectorRoundTrip: a term written as a label selector reads back as the same term.
func TestSelectorRoundTrip(t *testing.T) {
	for _, tm := range []term{
		{podNamespaceKey: {in: []string{"a"}, exists: 1}, "app": {notIn: []string{"x", "y"}}},
		{podNamespaceKey: {exists: 1, notIn: []string{"a", "b"}}},
		{"reserved:host": {exists: 1}, "reserved:kube-apiserver": {exists: -1}},
		{"k": {in: []string{"a", "b"}, exists: 1}},
	} {
		back, ok := termOf(reservedAsExists(tm.selector()))
		if !ok || !back.covers(tm) || !tm.covers(back) {
			t.Errorf("%v read back as %v", tm, back)
		}
	}
}
