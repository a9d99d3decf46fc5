// Package desired computes, offline, the whole policy set netprofile's controllers would generate for a set of
// Namespaces and a catalogue: each namespace's policy and ceiling, the escape hatch's allow-all, the provider
// halves of the shared resources and the baselines. It calls the same pkg/policy functions as the controllers, so what
// the kubectl plugin renders, diffs and checks is what the operator applies.
package desired

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/pkg/catalogue"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

// Scope says which parts of the policy set to compute.
type Scope struct {
	// Namespaces: each namespace's policy and, where enforcement is disabled or audited, its allow-all.
	Namespaces bool
	// Cluster: the provider halves of the shared resources and the baselines, which do not depend on any
	// namespace.
	Cluster bool
}

// All is every part of the policy set.
var All = Scope{Namespaces: true, Cluster: true}

// Problem is an object netprofile would refuse to render, with the condition reason it would report.
type Problem struct {
	// Object names what is wrong, such as "Namespace my-app" or "Baseline dns".
	Object  string `json:"object"`
	Reason  string `json:"reason"`
	Message string `json:"message"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Object, p.Reason, p.Message) }

// Set is a computed policy set, sorted: namespaced policies by namespace and name, then clusterwide ones by
// name.
type Set struct {
	CNPs  []*ciliumv2.CiliumNetworkPolicy
	CCNPs []*ciliumv2.CiliumClusterwideNetworkPolicy
	// Lifted are the ceilings the escape hatch or audit mode lifts right now: not in CNPs, but in force again
	// the moment enforcement is (what "with enforcement on" judges).
	Lifted []*ciliumv2.CiliumNetworkPolicy
	// Problems are the refusals; for a refused namespace nothing is rendered (the operator would keep what it
	// applied before).
	Problems []Problem
}

// Objects returns every policy, CNPs first, for printing.
func (s *Set) Objects() []any {
	out := make([]any, 0, len(s.CNPs)+len(s.CCNPs))
	for _, p := range s.CNPs {
		out = append(out, p)
	}
	for _, p := range s.CCNPs {
		out = append(out, p)
	}
	return out
}

// Input is what the policy set is computed from.
type Input struct {
	Renderer   policy.Renderer
	Namespaces []*corev1.Namespace
	Catalogue  *catalogue.Set
	Scope      Scope
	// Now and Thresholds decide whether an escape hatch with an end (the enforcement-disabled-until
	// annotation, or the manager's maximum) is still open, exactly as the enforcement controller decides.
	Now        time.Time
	Thresholds enforcement.Thresholds
}

// Compute renders the scope of the policy set. It never stops at a refusal: every problem is collected, and
// everything that renders is returned.
func Compute(in Input) *Set {
	out := &Set{}
	r, cat, scope := in.Renderer, in.Catalogue, in.Scope
	if scope.Namespaces {
		sorted := slices.Clone(in.Namespaces)
		slices.SortFunc(sorted, func(a, b *corev1.Namespace) int { return cmp.Compare(a.Name, b.Name) })
		for _, ns := range sorted {
			out.addNamespace(in, ns)
		}
	}
	if scope.Cluster {
		for _, name := range slices.Sorted(maps.Keys(cat.Resources)) {
			cnp, err := r.Provider(cat.Resources[name])
			if err != nil {
				out.problem("SharedResource "+name, err)
				continue
			}
			if cnp != nil {
				out.addCNP("SharedResource "+name, cnp)
			}
		}
		for _, name := range slices.Sorted(maps.Keys(cat.Baselines)) {
			ccnp, err := r.Baseline(cat.Baselines[name])
			if err != nil {
				out.problem("Baseline "+name, err)
				continue
			}
			if ccnp != nil {
				c, err := compat.CCNP(ccnp)
				if err != nil {
					out.problem("Baseline "+name, err)
					continue
				}
				out.CCNPs = append(out.CCNPs, c)
			}
		}
	}
	slices.SortStableFunc(out.CNPs, func(a, b *ciliumv2.CiliumNetworkPolicy) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// addCNP adds a rendered policy in Cilium's own types, which the CLI's consumers (Cilium's policy engine, the
// live diff, lint) take; the wire format is the same.
func (s *Set) addCNP(object string, p *cilium.CiliumNetworkPolicy) {
	c, err := compat.CNP(p)
	if err != nil {
		s.problem(object, err)
		return
	}
	s.CNPs = append(s.CNPs, c)
}

func (s *Set) addNamespace(in Input, ns *corev1.Namespace) {
	object := "Namespace " + ns.Name
	// Offline nothing stands yet: a refused label keeps nothing, exactly as for a new namespace.
	res, err := in.Renderer.Namespace(ns, in.Catalogue.Catalogue(), nil)
	if err != nil {
		s.problem(object, err)
	}
	if !res.KeepApplied {
		for _, p := range res.Policies {
			s.addCNP(object, p)
		}
	}
	if res.CeilingErr != nil {
		s.problem(object, res.CeilingErr)
	}
	st := enforcement.Evaluate(in.Renderer.Contract, ns, in.Now, in.Thresholds)
	if res.Ceiling != nil {
		if c, err := compat.CNP(res.Ceiling); err != nil {
			s.problem(object, err)
		} else if st.LiftsCeiling() {
			s.Lifted = append(s.Lifted, c)
		} else {
			s.CNPs = append(s.CNPs, c)
		}
	}
	if st.Bypassed() {
		s.addCNP(object, policy.AllowAll(ns.Name))
	}
	if st.Auditing() {
		s.addCNP(object, policy.Audit(ns.Name))
	}
	if c := enforcement.Condition(in.Renderer.Contract, st, in.Thresholds); c != nil && (c.Status == corev1.ConditionFalse || st.Label == enforcement.Invalid) {
		s.Problems = append(s.Problems, Problem{Object: object, Reason: c.Reason, Message: c.Message})
	}
	if c := enforcement.AuditCondition(in.Renderer.Contract, st); c != nil && c.Status == corev1.ConditionFalse {
		s.Problems = append(s.Problems, Problem{Object: object, Reason: c.Reason, Message: c.Message})
	}
}

func (s *Set) problem(object string, err error) {
	var refusal *policy.Refusal
	if errors.As(err, &refusal) {
		s.Problems = append(s.Problems, Problem{Object: object, Reason: refusal.Reason, Message: refusal.Message})
		return
	}
	s.Problems = append(s.Problems, Problem{Object: object, Reason: "RenderFailed", Message: err.Error()})
}

// NamespaceLabels are the labels each namespace is judged with offline: the given namespaces' own, and for
// every other namespace the catalogue names, the platform mark, as the README's installation sets it. A
// check against the cluster reads every namespace's real labels instead, so an unmarked or squatted
// catalogue namespace shows there as what it is.
func (in Input) NamespaceLabels() map[string]map[string]string {
	out := map[string]map[string]string{}
	if in.Catalogue != nil {
		for _, name := range policy.CatalogueNamespaces(in.Catalogue.Catalogue()) {
			if policy.NeedsMark(name) {
				out[name] = map[string]string{in.Renderer.Contract.PlatformKey(): contract.PlatformMarked}
			}
		}
	}
	for _, ns := range in.Namespaces {
		out[ns.Name] = ns.Labels
	}
	return out
}
