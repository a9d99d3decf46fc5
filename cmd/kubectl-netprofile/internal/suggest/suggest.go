// Package suggest finds, from a namespace's observed flows, the smallest profile of the catalogue and the
// fewest grants (SharedResources) under which every flow is allowed, decided with Cilium's engine against the
// rendered policy set exactly as replay judges flows.
//
// "Smallest" is the catalogue's own order (Order): a profile another contains comes first, then the one that
// names fewer peers, then fewer ports. The search: with every grant the namespace may have, judge the
// namespace's flows under each profile; the profiles that allow the most flows (ideally all) are the
// candidates, and the smallest of them is chosen. Then each grant is dropped in turn and kept only if a flow
// needs it. Flows no profile and grant allow need a platform policy or a new profile; they are listed with
// diagnose's cause and fix.
package suggest

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/replay"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// Input is what a suggestion is made from.
type Input struct {
	Namespace string
	// Flows are the observed flows; those with the namespace at one end are judged.
	Flows     *replay.Flows
	Catalogue *catalogue.Set
	Renderer  policy.Renderer
	// Base is the rest of the policy set: offline the rendered catalogue (provider halves, baselines, other
	// namespaces) and hand-written policies; live the cluster's, with enforcement on. The namespace's own
	// generated policies in it are replaced by each candidate's.
	Base replay.Set
	// Labels are the namespace's labels now: those that are not netprofile's are kept in every candidate.
	Labels     map[string]string
	Classifier *diagnose.Classifier
}

// Profile is one profile of the catalogue, in Order, with how many of the namespace's distinct flows it
// allows together with every grant.
type Profile struct {
	Name    string  `json:"name"`
	Breadth Breadth `json:"breadth"`
	Allowed int     `json:"allowed"`
}

// Grant is a grant the suggestion needs, and the flows that need it.
type Grant struct {
	Resource string   `json:"resource"`
	Flows    int      `json:"flows"`
	Examples []string `json:"examples"`
}

// Result is the suggestion.
type Result struct {
	Namespace string `json:"namespace"`
	// Flows is how many observed flows have the namespace at one end; Distinct how many distinct ones.
	Flows    int     `json:"flows"`
	Distinct int     `json:"distinct"`
	Profile  string  `json:"profile"`
	Grants   []Grant `json:"grants"`
	// Labels are netprofile's labels to put on the Namespace in git; Remove are grants (or a profile label)
	// it has and no observed flow needs.
	Labels map[string]string `json:"labels"`
	Remove []string          `json:"remove,omitempty"`
	// Enforcement is the enforcement label the namespace has now (audit mode, the escape hatch), to remove
	// once replay shows nothing would break.
	Enforcement string `json:"enforcement,omitempty"`
	// Profiles are every profile, smallest first.
	Profiles []Profile `json:"profiles"`
	// Unavailable are the SharedResources the namespace may not be granted, and why.
	Unavailable map[string]string `json:"unavailable,omitempty"`
	// NotAllowed are the flows no profile and grant allows: they need a platform policy or a new profile.
	NotAllowed []replay.Group `json:"notAllowed"`
	Ignored    replay.Ignored `json:"ignored"`
}

// AllAllowed reports whether the suggestion allows every observed flow.
func (r *Result) AllAllowed() bool { return len(r.NotAllowed) == 0 }

// Suggest searches the catalogue for the smallest profile and grants that allow the namespace's flows.
func Suggest(in Input) (*Result, error) {
	c := in.Renderer.Contract
	res := &Result{Namespace: in.Namespace, Ignored: in.Flows.Ignored, Grants: []Grant{}, NotAllowed: []replay.Group{}}
	var flows []*replay.Flow
	for _, f := range in.Flows.List {
		if (f.Src.IsPod() && f.Src.Namespace == in.Namespace) || (f.Dst.IsPod() && f.Dst.Namespace == in.Namespace) {
			flows = append(flows, f)
			res.Flows += f.Count
		}
	}
	res.Distinct = len(flows)
	if len(flows) == 0 {
		return nil, fmt.Errorf("no flow in the input has namespace %s at either end (hubble observe --namespace %s)", in.Namespace, in.Namespace)
	}
	if in.Renderer.PlatformNamespaces[in.Namespace] {
		return nil, fmt.Errorf("%s is a platform namespace: profiles and grants are refused there; it keeps hand-written policies (kubectl netprofile lint)", in.Namespace)
	}
	order := Order(in.Catalogue.Profiles)
	if len(order) == 0 {
		return nil, fmt.Errorf("the catalogue has no NetworkProfile")
	}

	// The grants the namespace may have: those that render for it without a refusal.
	var grants []string
	for _, r := range slices.Sorted(maps.Keys(in.Catalogue.Resources)) {
		if _, problems := render(in, labels(c, in.Labels, order[0], []string{r})); len(problems) > 0 {
			if res.Unavailable == nil {
				res.Unavailable = map[string]string{}
			}
			res.Unavailable[r] = problems[0].Message
			continue
		}
		grants = append(grants, r)
	}

	judge := func(profile string, grants []string) ([]bool, error) {
		set, problems := candidate(in, profile, grants)
		if len(problems) > 0 {
			return nil, fmt.Errorf("profile %s with grants %v does not render for %s: %s", profile, grants, in.Namespace, problems[0])
		}
		verdicts, err := replay.Judge(flows, set, nil)
		if err != nil {
			return nil, err
		}
		allowed := make([]bool, len(verdicts))
		for i, v := range verdicts {
			allowed[i] = v.Allowed
		}
		return allowed, nil
	}
	count := func(allowed []bool) int {
		n := 0
		for _, a := range allowed {
			if a {
				n++
			}
		}
		return n
	}

	// Every profile with every grant; the smallest that allows the most.
	var best []bool
	for _, p := range order {
		allowed, err := judge(p, grants)
		if err != nil {
			return nil, err
		}
		res.Profiles = append(res.Profiles, Profile{Name: p, Breadth: BreadthOf(&in.Catalogue.Profiles[p].Spec), Allowed: count(allowed)})
		if best == nil || count(allowed) > count(best) {
			res.Profile, best = p, allowed
		}
	}
	// Then the fewest grants: drop each one no flow needs.
	kept := slices.Clone(grants)
	for _, g := range grants {
		without := slices.DeleteFunc(slices.Clone(kept), func(s string) bool { return s == g })
		allowed, err := judge(res.Profile, without)
		if err != nil {
			return nil, err
		}
		if count(allowed) == count(best) {
			kept = without
			continue
		}
		grant := Grant{Resource: g, Examples: []string{}}
		for i, f := range flows {
			if best[i] && !allowed[i] {
				grant.Flows += f.Count
				for _, e := range f.Examples {
					if len(grant.Examples) < 3 {
						grant.Examples = append(grant.Examples, e)
					}
				}
			}
		}
		res.Grants = append(res.Grants, grant)
	}

	chosen := labels(c, nil, res.Profile, kept)
	res.Labels = chosen
	for _, k := range slices.Sorted(maps.Keys(in.Labels)) {
		switch _, keep := chosen[k]; {
		case k == c.EnforcementKey():
			res.Enforcement = k + "=" + in.Labels[k]
		case !keep && (k == c.ProfileKey() || strings.HasPrefix(k, c.AccessPrefix())):
			res.Remove = append(res.Remove, k)
		}
	}

	// What nothing allows, in replay's and diagnose's words, under the suggestion.
	var left []*replay.Flow
	for i, f := range flows {
		if !best[i] {
			left = append(left, f)
		}
	}
	if len(left) > 0 {
		set, _ := candidate(in, res.Profile, kept)
		rep, err := replay.Replay(&replay.Flows{List: left}, set, in.Classifier)
		if err != nil {
			return nil, err
		}
		res.NotAllowed = rep.Groups
	}
	return res, nil
}

// labels are the namespace's labels for a candidate: those that are not netprofile's, the profile and the
// grants.
func labels(c contract.Contract, current map[string]string, profile string, grants []string) map[string]string {
	out := map[string]string{}
	for k, v := range current {
		if k != c.ProfileKey() && k != c.EnforcementKey() && !strings.HasPrefix(k, c.AccessPrefix()) {
			out[k] = v
		}
	}
	out[c.ProfileKey()] = profile
	for _, g := range grants {
		out[c.AccessKey(g)] = contract.AccessGranted
	}
	return out
}

// render is the namespace's own policies for a candidate's labels.
func render(in Input, labels map[string]string) (*desired.Set, []desired.Problem) {
	set := desired.Compute(desired.Input{
		Renderer: in.Renderer, Catalogue: in.Catalogue, Scope: desired.Scope{Namespaces: true},
		Namespaces: []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: in.Namespace, Labels: labels}}},
		Now:        time.Now(), Thresholds: enforcement.DefaultThresholds,
	})
	return set, set.Problems
}

// candidate is the base set with the namespace's own generated policies replaced by the candidate's.
func candidate(in Input, profile string, grants []string) (replay.Set, []desired.Problem) {
	l := labels(in.Renderer.Contract, in.Labels, profile, grants)
	rendered, problems := render(in, l)
	set := in.Base
	pols := set.Policies
	pols.CNPs = nil
	for _, p := range in.Base.Policies.CNPs {
		if comp, _, ok := ownership.Reserved(p.Name, true); ok && p.Namespace == in.Namespace &&
			(comp == ownership.ComponentNamespacePolicy || comp == ownership.ComponentEnforcement) {
			continue
		}
		pols.CNPs = append(pols.CNPs, p)
	}
	pols.CNPs = append(pols.CNPs, rendered.CNPs...)
	pols, _ = replay.EnforcementOn(pols)
	pols.NamespaceLabels = maps.Clone(in.Base.Policies.NamespaceLabels)
	if pols.NamespaceLabels == nil {
		pols.NamespaceLabels = map[string]map[string]string{}
	}
	pols.NamespaceLabels[in.Namespace] = l
	set.Policies = pols
	if set.Namespaces != nil {
		set.Namespaces = maps.Clone(set.Namespaces)
		set.Namespaces[in.Namespace] = true
	}
	return set, problems
}

// YAML is the Namespace with the suggested labels, to put in git.
func (r *Result) YAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n  labels:\n", r.Namespace)
	grant := func(k string) int {
		if strings.HasPrefix(k, "access.") {
			return 1
		}
		return 0
	}
	keys := slices.SortedFunc(maps.Keys(r.Labels), func(a, b string) int {
		// The profile first, then the grants.
		return cmp.Or(cmp.Compare(grant(a), grant(b)), cmp.Compare(a, b))
	})
	for _, k := range keys {
		// One label at a time, quoted where YAML needs it ("true").
		line, err := yaml.Marshal(map[string]string{k: r.Labels[k]})
		if err != nil {
			line = []byte(fmt.Sprintf("%s: %q\n", k, r.Labels[k]))
		}
		b.WriteString("    " + string(line))
	}
	return b.String()
}
