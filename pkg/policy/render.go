package policy

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Catalogue is the cluster's NetworkProfiles, SharedResources and Baselines, by name.
type Catalogue struct {
	Profiles  map[string]*v1alpha1.NetworkProfile
	Resources map[string]*v1alpha1.SharedResource
	// Baselines count toward every ceiling: what they allow, a namespace has.
	Baselines map[string]*v1alpha1.Baseline
}

// DefaultClusterName is Cilium's own default cluster-name: the cluster netprofile renders for when neither
// --cluster-name nor Cilium's configuration says another.
const DefaultClusterName = "default"

// Renderer renders policies under one label contract, for one cluster.
type Renderer struct {
	Contract contract.Contract
	// PlatformNamespaces have hand-crafted policies; profiles and grants are refused there.
	PlatformNamespaces map[string]bool
	// ClusterName is the Cilium cluster the policies are for. Every pod peer netprofile renders names it, so
	// a peer means this cluster's pods whatever Cilium's policy-default-local-cluster says (before Cilium
	// 1.19, or with it off, a peer without the cluster key selects the pods of every cluster in a mesh).
	// Empty leaves the key out, for Cilium to decide.
	ClusterName string
	// ProtectedNamespaceLabels are Namespace label keys a namespace's own users cannot write: admission lets
	// only the platform set, change or remove them (the chart's admission.protectedNamespaceLabels). With
	// kubernetes.io/metadata.name they are what spec.consumers may select on without a tenant forging its way
	// in (TenantWritableKeys).
	ProtectedNamespaceLabels []string
}

// Applied is the namespace policy that stands: the selection its labels record, the hash of its rules and
// the parts its rules carry (Parts). Renderer.Namespace trusts a part of the selection only when its rules
// show it, so a label forged on the policy cannot make a refused label keep a grant that was never in force.
type Applied struct {
	Selection contract.Selection
	RulesHash string
	Parts     []string
}

// AppliedFrom reads what stands from a generated namespace policy's labels, its rules hash and its parts.
func (r Renderer) AppliedFrom(labels map[string]string, rulesHash string, parts []string) *Applied {
	sel, _ := r.Contract.Parse(labels)
	return &Applied{Selection: sel, RulesHash: rulesHash, Parts: parts}
}

// AppliedOf is AppliedFrom for a whole policy as read from the API server (rules and all).
func (r Renderer) AppliedOf(p *cilium.CiliumNetworkPolicy) *Applied {
	return r.AppliedFrom(p.Labels, RulesHash(p), Parts(append(api.Rules{p.Spec}, p.Specs...)))
}

// A profile's rule and each grant's rule carry their part in their description ("netprofile: profile
// standard: ...", "netprofile: access to postgres"), so what a standing policy was rendered from can be told
// after the platform has changed the profile or resource since.
const (
	profilePartPrefix = "netprofile: profile "
	accessPartPrefix  = "netprofile: access to "
)

// Parts names the parts of a namespace policy's rules: "profile/<name>" and "access/<resource>".
func Parts(rules api.Rules) []string {
	var out []string
	for _, rule := range rules {
		if rule == nil {
			continue
		}
		for prefix, kind := range map[string]string{profilePartPrefix: "profile/", accessPartPrefix: "access/"} {
			rest, ok := strings.CutPrefix(rule.Description, prefix)
			if !ok {
				continue
			}
			name, _, _ := strings.Cut(rest, ":")
			out = append(out, kind+name)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// NamespaceResult is what a Namespace's labels render to.
type NamespaceResult struct {
	// Selection is what the labels ask for, without the labels that do not follow the contract.
	Selection contract.Selection
	// Effective is what Policies carry: the accepted labels, and for each refused one what stood before.
	Effective contract.Selection
	// Policies is the desired namespaced policy set; empty when the effective selection asks for nothing.
	Policies []*cilium.CiliumNetworkPolicy
	// Kept describes, for each refused label, what stays as it was ("profile \"standard\"", "no access to
	// dragonfly").
	Kept []string
	// KeepApplied means nothing can be rendered safely: the applied policy stays exactly as it is and
	// Policies is empty.
	KeepApplied bool
	// Ceiling is the policy that makes the effective selection and the Baselines the most the namespace can
	// have (see ceiling.go); nil when the effective profile does not enforce a ceiling or nothing would be
	// denied. The escape hatch and audit mode lift it: callers leave it out while either is open.
	Ceiling *cilium.CiliumNetworkPolicy
	// CeilingEnforced: the effective profile enforces a ceiling (even where Ceiling is nil because nothing is
	// left to deny, or CeilingErr kept the standing one).
	CeilingEnforced bool
	// CeilingGaps say what the ceiling cannot hold, as phrases ("egress to world on TCP 443 beyond ...").
	CeilingGaps []string
	// CeilingErr: the ceiling could not be computed (a Baseline or a provider half that does not render, or a
	// policy Cilium would reject). The standing ceiling stays as it is, as for any refusal.
	CeilingErr error
}

// Namespace renders the namespace policy of ns, given what stands (nil when nothing does). Bad input never
// opens traffic and never removes working access, but it blocks nothing else: a refused label keeps what
// it had in applied, and every other label takes effect, so a revocation or a stricter profile is applied
// while an unrelated label is wrong. A *Refusal error reports the refused labels; the result is still to be
// applied unless KeepApplied is set.
//
// A grant of a SharedResource whose spec.consumers does not admit ns is refused too (ConsumerNotAllowed), and
// so is a grant of a SharedResource that is gone (SharedResourceNotFound), but neither is bad input: the
// provider's owner narrowed who may use it, or deleted it, and a narrowing is applied. So the grant never
// opens and is withdrawn even where it stood, and a refusal of that kind alone never consults what stood. The
// provider half (Provider) admits namespaces by the same selector, and goes with its SharedResource, so both
// halves agree. The one exception is KeepApplied (bad input beside it, and what stood cannot be told from the
// standing policy's parts or rendered): the standing policy stays whole until that is fixed; the provider
// half still does not admit the namespace.
func (r Renderer) Namespace(ns *corev1.Namespace, cat Catalogue, applied *Applied) (NamespaceResult, error) {
	sel, problems := r.Contract.Parse(ns.Labels)
	res := NamespaceResult{Selection: sel}
	if r.PlatformNamespaces[ns.Name] && (!sel.IsEmpty() || len(problems) > 0) {
		res.KeepApplied = true
		return res, refuse(conditions.ReasonPlatformNamespace, "%s", r.platformMessage(ns.Name))
	}

	// Which parts are refused: the profile, and each grant, by name.
	var refusals []*Refusal
	profileRefused := false
	refusedGrants := map[string]bool{}
	if len(problems) > 0 {
		refusals = append(refusals, refuse(conditions.ReasonInvalidLabel, "%s", joinProblems(problems)))
		for _, p := range problems {
			if g, ok := strings.CutPrefix(p.Key, r.Contract.AccessPrefix()); ok {
				refusedGrants[g] = true
			} else if p.Key == r.Contract.ProfileKey() || sel.Profile == "" {
				// The profile label itself, or an unknown key under the domain beside no profile label: it may be
				// a misspelt profile label. Beside a good profile label it holds nothing up, so a stricter
				// profile applies.
				profileRefused = true
			}
		}
	}
	if sel.Profile != "" {
		if _, err := r.profile(sel.Profile, cat); err != nil {
			refusals = append(refusals, err)
			profileRefused = true
		}
	}
	// Grants the provider does not admit, and grants of a SharedResource that is gone: withdrawn, never kept.
	var denials []*Refusal
	deniedGrants := map[string]bool{}
	for _, g := range sel.Grants {
		if gone := r.gone(g, cat); gone != nil {
			denials = append(denials, gone)
			deniedGrants[g] = true
			continue
		}
		if err := r.resource(g, cat); err != nil {
			refusals = append(refusals, err)
			refusedGrants[g] = true
			continue
		}
		if err := r.admit(ns.Name, ns.Labels, g, cat); err != nil {
			denials = append(denials, err)
			deniedGrants[g] = true
		}
	}
	if len(refusals) == 0 {
		eff := contract.Selection{Profile: sel.Profile}
		for _, g := range sel.Grants {
			if !deniedGrants[g] {
				eff.Grants = append(eff.Grants, g)
			}
		}
		var cnp []*cilium.CiliumNetworkPolicy
		var err error
		if !eff.IsEmpty() || (applied != nil && !sel.IsEmpty()) {
			// Rendered even when every grant that stood is withdrawn: the namespace keeps its own default deny
			// and same-namespace traffic, and loses only what was withdrawn.
			cnp, err = r.render(ns.Name, eff, cat)
		}
		if err != nil {
			res.KeepApplied = true
			return res, err
		}
		res.Effective, res.Policies = eff, cnp
		r.withCeiling(ns, cat, &res)
		if len(denials) > 0 {
			return res, joinRefusals(denials)
		}
		return res, nil
	}
	refusal := joinRefusals(append(refusals, denials...))

	last := contract.Selection{}
	if applied != nil {
		var ok bool
		if last, ok = r.stood(ns.Name, applied, cat, profileRefused); !ok {
			res.KeepApplied = true
			return res, refusal
		}
	}
	eff := contract.Selection{Profile: sel.Profile}
	if profileRefused {
		eff.Profile = last.Profile
		res.Kept = append(res.Kept, keptProfile(last.Profile))
	}
	for _, g := range sel.Grants {
		if !refusedGrants[g] && !deniedGrants[g] {
			eff.Grants = append(eff.Grants, g)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(refusedGrants)) {
		switch {
		case !slices.Contains(last.Grants, g):
			res.Kept = append(res.Kept, "no access to "+g)
		case r.admit(ns.Name, ns.Labels, g, cat) != nil:
			// A bad label value does not keep a grant its provider no longer admits.
			res.Kept = append(res.Kept, "access to "+g+" withdrawn: SharedResource "+g+" no longer admits this namespace")
		default:
			eff.Grants = append(eff.Grants, g)
			res.Kept = append(res.Kept, "access to "+g)
		}
	}
	slices.Sort(eff.Grants)
	eff.Grants = slices.Compact(eff.Grants)
	var cnp []*cilium.CiliumNetworkPolicy
	var err error
	if !eff.IsEmpty() || applied != nil {
		// Bad input alone never puts a policy on a namespace that had none.
		cnp, err = r.render(ns.Name, eff, cat)
	}
	if err != nil {
		res.KeepApplied, res.Kept = true, nil
		return res, refusal
	}
	res.Effective, res.Policies = eff, cnp
	r.withCeiling(ns, cat, &res)
	return res, refusal
}

// stood is the selection the standing policy was rendered from, for the refused labels to keep their part of
// it. When rendering the selection its labels record gives exactly its rules, that selection. When not (the
// platform changed a profile or resource since, say narrowed it during an incident, or the labels were
// forged), each part counts only if the rules carry it, and a kept part is rendered from today's catalogue,
// so the platform's change applies to it too. false: what stood cannot be told or rendered any more (a
// profile that cannot be shown to have stood, or that is gone): the policy stays whole. The profile is looked
// at only when the profile label is refused (needProfile).
func (r Renderer) stood(namespace string, applied *Applied, cat Catalogue, needProfile bool) (contract.Selection, bool) {
	if stood, err := r.render(namespace, applied.Selection, cat); err == nil && rulesHash(stood) == applied.RulesHash {
		return applied.Selection, true
	}
	var sel contract.Selection
	for _, g := range applied.Selection.Grants {
		// A grant of a SharedResource that is gone is withdrawn (see gone), so it is no part of what a refused
		// label keeps.
		if slices.Contains(applied.Parts, "access/"+g) && r.gone(g, cat) == nil {
			sel.Grants = append(sel.Grants, g)
		}
	}
	if needProfile {
		profileParts := slices.DeleteFunc(slices.Clone(applied.Parts), func(p string) bool { return !strings.HasPrefix(p, "profile/") })
		switch p := applied.Selection.Profile; {
		case p != "" && slices.Equal(profileParts, []string{"profile/" + p}):
			sel.Profile = p
		case p == "" && len(profileParts) == 0 && len(sel.Grants) > 0:
			// A policy of grants alone.
		default:
			// A profile without rules of its own leaves no part to show, and a claim the rules contradict is
			// forged: neither is trusted, nor is "nothing" dropped in its place.
			return contract.Selection{}, false
		}
	}
	if _, err := r.render(namespace, sel, cat); err != nil {
		return contract.Selection{}, false
	}
	return sel, true
}

// withCeiling adds the ceiling of the effective profile, when it enforces one, computed from every allow rule
// that applies to the namespace's pods: its own policy, the Baselines that select it and the provider halves
// written into it.
func (r Renderer) withCeiling(ns *corev1.Namespace, cat Catalogue, res *NamespaceResult) {
	p := cat.Profiles[res.Effective.Profile]
	if res.KeepApplied || p == nil || !p.Spec.EnforcesCeiling() {
		return
	}
	res.CeilingEnforced = true
	var sources []ceilingSource
	for _, cnp := range res.Policies {
		sources = append(sources, ceilingSource{rules: rulesOf(cnp.Spec, cnp.Specs), namespaced: true, what: "NetworkProfile " + p.Name})
	}
	for _, name := range slices.Sorted(maps.Keys(cat.Baselines)) {
		b := cat.Baselines[name]
		if !BaselineSelects(b, ns.Labels) {
			continue
		}
		ccnp, err := r.Baseline(b)
		if err != nil {
			res.CeilingErr = fmt.Errorf("Baseline %s does not render: %w", name, err)
			return
		}
		if ccnp != nil {
			sources = append(sources, ceilingSource{rules: rulesOf(ccnp.Spec, ccnp.Specs), what: "Baseline " + name})
		}
	}
	for _, name := range slices.Sorted(maps.Keys(cat.Resources)) {
		if cat.Resources[name].Spec.Provider.Namespace != ns.Name {
			continue
		}
		cnp, err := r.Provider(cat.Resources[name])
		if err != nil {
			res.CeilingErr = fmt.Errorf("the provider policy of SharedResource %s does not render: %w", name, err)
			return
		}
		if cnp != nil {
			sources = append(sources, ceilingSource{rules: rulesOf(cnp.Spec, cnp.Specs), namespaced: true, what: "SharedResource " + name})
		}
	}
	res.Ceiling, res.CeilingGaps, res.CeilingErr = r.ceiling(ns.Name, p.Name, sources)
}

func rulesOf(spec *api.Rule, specs api.Rules) api.Rules {
	if spec == nil {
		return specs
	}
	return append(api.Rules{spec}, specs...)
}

func keptProfile(name string) string {
	if name == "" {
		return "no profile"
	}
	return fmt.Sprintf("profile %q", name)
}

// render renders a selection whose every part exists in the catalogue.
// An empty selection renders the namespace's own default deny with its same-namespace traffic: what a
// namespace that asks for something keeps when all of it is withdrawn.
func (r Renderer) render(namespace string, sel contract.Selection, cat Catalogue) ([]*cilium.CiliumNetworkPolicy, error) {
	rules := api.Rules{}
	profile, err := r.profile(sel.Profile, cat)
	if err != nil {
		return nil, err
	}
	if profile == nil || profile.Spec.AllowSameNamespace == nil || *profile.Spec.AllowSameNamespace {
		rules = append(rules, r.sameNamespaceRule())
	}
	if profile != nil {
		rule, err := r.ruleFromProfile(profile)
		if err != nil {
			return nil, refuse(conditions.ReasonProfileInvalid, "NetworkProfile %q is invalid: %v", profile.Name, err)
		}
		if rule != nil {
			rules = append(rules, rule)
		}
	}
	for _, name := range sel.Grants {
		if err := r.resource(name, cat); err != nil {
			return nil, err
		}
		rule, _ := r.consumerRule(cat.Resources[name])
		rules = append(rules, rule)
	}
	// The namespace policy is default-deny in both directions by itself, whatever the Baselines do: with
	// additive Baselines (spec.defaultDeny: false) it is the only thing that makes the namespace default-deny.
	// Cilium turns default deny on only for a direction a policy has rules in, so a direction nothing above
	// covers (a profile with allowSameNamespace: false that allows nothing at all, or nothing that way) gets a
	// rule that allows nothing.
	rules = append(rules, denyRest(rules)...)
	cnp := &cilium.CiliumNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: cilium.SchemeGroupVersion.String(), Kind: cilium.CNPKindDefinition},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ownership.NamespacePolicyName,
			Namespace: namespace,
			Labels:    ownership.Labels(ownership.ComponentNamespacePolicy, r.sourceLabels(sel)),
		},
		Specs: rules,
	}
	if err := Validate(cnp); err != nil {
		return nil, refuse(conditions.ReasonPolicyInvalid, "%v", err)
	}
	return []*cilium.CiliumNetworkPolicy{cnp}, nil
}

// gone refuses a grant of a SharedResource that does not exist or is being deleted. Not bad input: deleting
// a SharedResource is how the platform revokes it, so the grant is withdrawn even where it stood, as the
// provider half is (see the SharedResource controller). A label naming a resource that never existed is
// refused in the same words, and had nothing to withdraw.
func (r Renderer) gone(name string, cat Catalogue) *Refusal {
	sr, ok := cat.Resources[name]
	switch {
	case !ok:
		return refuse(conditions.ReasonResourceNotFound, "%s; this namespace has no access to %s (a grant that stood is withdrawn with its SharedResource)",
			r.resourceNotFound(name, slices.Collect(maps.Keys(cat.Resources))), name)
	case !sr.DeletionTimestamp.IsZero():
		return refuse(conditions.ReasonResourceNotFound, "SharedResource %q is being deleted (label %s); this namespace has no access to %s (a grant that stood is withdrawn with its SharedResource)",
			name, r.Contract.AccessKey(name), name)
	}
	return nil
}

// resource checks that a granted SharedResource exists and is valid.
func (r Renderer) resource(name string, cat Catalogue) *Refusal {
	sr, ok := cat.Resources[name]
	if !ok {
		return refuse(conditions.ReasonResourceNotFound, "%s", r.resourceNotFound(name, slices.Collect(maps.Keys(cat.Resources))))
	}
	if err := ValidateResource(&sr.Spec); err != nil {
		return refuse(conditions.ReasonResourceInvalid, "SharedResource %q is invalid: %v", name, err)
	}
	return nil
}

// rulesHash is the hash of a rendered namespace policy set (one policy or none).
func rulesHash(policies []*cilium.CiliumNetworkPolicy) string {
	if len(policies) == 0 {
		return ""
	}
	return RulesHash(policies[0])
}

// joinRefusals folds several refusals into one: the first one's reason, and their messages (the first ones,
// counting the rest).
func joinRefusals(refusals []*Refusal) *Refusal {
	msgs := make([]string, 0, len(refusals))
	for _, r := range refusals {
		msgs = append(msgs, r.Message)
	}
	return &Refusal{Reason: refusals[0].Reason, Message: conditions.Problems(msgs)}
}

// sourceLabels record on a generated policy which profile and grants it came from.
func (r Renderer) sourceLabels(sel contract.Selection) map[string]string {
	l := map[string]string{}
	if sel.Profile != "" {
		l[r.Contract.ProfileKey()] = sel.Profile
	}
	for _, g := range sel.Grants {
		l[r.Contract.AccessKey(g)] = contract.AccessGranted
	}
	return l
}

func (r Renderer) profile(name string, cat Catalogue) (*v1alpha1.NetworkProfile, *Refusal) {
	if name == "" {
		return nil, nil
	}
	p, ok := cat.Profiles[name]
	if !ok {
		return nil, refuse(conditions.ReasonProfileNotFound, "%s", r.profileNotFound(name, slices.Collect(maps.Keys(cat.Profiles))))
	}
	if !p.DeletionTimestamp.IsZero() {
		return nil, refuse(conditions.ReasonProfileNotFound, "NetworkProfile %q is being deleted (label %s=%s); known profiles: %s",
			name, r.Contract.ProfileKey(), name, known(slices.Collect(maps.Keys(cat.Profiles))))
	}
	return p, nil
}

// sameNamespaceRule allows all traffic between the pods of the policy's own namespace. The peers name no
// namespace: that is safe only because the policy is namespaced, and Cilium scopes them to its namespace.
func (r Renderer) sameNamespaceRule() *api.Rule {
	peer := r.pods(nil)
	return &api.Rule{
		EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
		Description:      "netprofile: pods of this namespace may talk to each other",
		Ingress:          []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{FromEndpoints: []api.EndpointSelector{peer}}}},
		Egress:           []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEndpoints: []api.EndpointSelector{peer}}}},
	}
}

// denyRest returns a rule that allows nothing and turns on default deny (`ingress: [{}]`, `egress: [{}]`) for
// each direction none of rules has a section in; nil when both are covered. An empty rule allows nothing: it
// has no peer and no port, so it is not a deny rule and the escape hatch's allow-all still lifts it.
func denyRest(rules api.Rules) api.Rules {
	ingress := slices.ContainsFunc(rules, func(r *api.Rule) bool { return len(r.Ingress) > 0 })
	egress := slices.ContainsFunc(rules, func(r *api.Rule) bool { return len(r.Egress) > 0 })
	if ingress && egress {
		return nil
	}
	rule := &api.Rule{EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}}}
	var dirs []string
	if !ingress {
		rule.Ingress = []api.IngressRule{{}}
		dirs = append(dirs, "ingress")
	}
	if !egress {
		rule.Egress = []api.EgressRule{{}}
		dirs = append(dirs, "egress")
	}
	rule.Description = "netprofile: default deny for " + strings.Join(dirs, " and ") + ": nothing else is allowed"
	return api.Rules{rule}
}

// ruleFromProfile renders a profile's own rules; nil when it has none.
func (r Renderer) ruleFromProfile(p *v1alpha1.NetworkProfile) (*api.Rule, error) {
	if err := ValidateRules(p.Spec.Ingress, p.Spec.Egress, profileAnyPort); err != nil {
		return nil, err
	}
	if len(p.Spec.Ingress)+len(p.Spec.Egress) == 0 {
		return nil, nil
	}
	rule := &api.Rule{
		EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
		Description:      describe(profilePartPrefix+p.Name, p.Spec.Description),
	}
	for i := range p.Spec.Ingress {
		rule.Ingress = append(rule.Ingress, r.ingressRule(&p.Spec.Ingress[i]))
	}
	for i := range p.Spec.Egress {
		rule.Egress = append(rule.Egress, r.egressRule(&p.Spec.Egress[i]))
	}
	return rule, nil
}

// consumerRule is the consumer half of an access grant: egress to the provider on exactly its ports.
func (r Renderer) consumerRule(sr *v1alpha1.SharedResource) (*api.Rule, error) {
	if err := ValidateResource(&sr.Spec); err != nil {
		return nil, err
	}
	egress := api.EgressRule{ToPorts: portRules(sr.Spec.Ports, nil)}
	if sr.Spec.Provider.Entity != "" {
		egress.ToEntities = api.EntitySlice{api.Entity(sr.Spec.Provider.Entity)}
	} else {
		egress.ToEndpoints = []api.EndpointSelector{r.endpoints(sr.Spec.Provider.Namespace, sr.Spec.Provider.PodSelector)}
	}
	return &api.Rule{
		EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
		Description:      describe(accessPartPrefix+sr.Name, sr.Spec.Description),
		Egress:           []api.EgressRule{egress},
	}, nil
}

func (r Renderer) ingressRule(rule *v1alpha1.Rule) api.IngressRule {
	in := api.IngressRule{ToPorts: portRules(rule.Ports, rule.DNS)}
	switch {
	case rule.Endpoints != nil:
		in.FromEndpoints = []api.EndpointSelector{r.endpoints(rule.Endpoints.Namespace, rule.Endpoints.MatchLabels)}
	case len(rule.Entities) > 0:
		in.FromEntities = entities(rule.Entities)
	case len(rule.CIDRs) > 0:
		in.FromCIDRSet = cidrs(rule.CIDRs)
	}
	return in
}

func (r Renderer) egressRule(rule *v1alpha1.Rule) api.EgressRule {
	out := api.EgressRule{ToPorts: portRules(rule.Ports, rule.DNS)}
	switch {
	case rule.Endpoints != nil:
		out.ToEndpoints = []api.EndpointSelector{r.endpoints(rule.Endpoints.Namespace, rule.Endpoints.MatchLabels)}
	case len(rule.Entities) > 0:
		out.ToEntities = entities(rule.Entities)
	case len(rule.CIDRs) > 0:
		out.ToCIDRSet = cidrs(rule.CIDRs)
	case len(rule.FQDNs) > 0:
		for _, f := range rule.FQDNs {
			out.ToFQDNs = append(out.ToFQDNs, api.FQDNSelector{MatchName: f.MatchName, MatchPattern: f.MatchPattern})
		}
	}
	return out
}

// endpoints selects pods in a namespace. The namespace is always explicit, so the selector means the same in
// a namespaced and in a clusterwide policy. Unless the namespace is built in, its pods count only while it
// carries the platform mark: whoever creates a namespace of that name first gets nothing by it.
func (r Renderer) endpoints(namespace string, matchLabels map[string]string) api.EndpointSelector {
	m := make(map[string]string, len(matchLabels)+2)
	maps.Copy(m, matchLabels)
	m[ciliumio.PodNamespaceLabel] = namespace
	if NeedsMark(namespace) {
		m[ciliumio.PodNamespaceMetaLabelsPrefix+r.Contract.PlatformKey()] = contract.PlatformMarked
	}
	return r.pods(m)
}

// pods is the one maker of pod peer selectors: matchLabels, and the cluster the renderer is for (see
// Renderer.ClusterName).
func (r Renderer) pods(matchLabels map[string]string) api.EndpointSelector {
	m := maps.Clone(matchLabels)
	if r.ClusterName != "" {
		if m == nil {
			m = map[string]string{}
		}
		m[ciliumio.PolicyLabelCluster] = r.ClusterName
	}
	return api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: m}}
}

func entities(in []v1alpha1.Entity) api.EntitySlice {
	out := make(api.EntitySlice, 0, len(in))
	for _, e := range in {
		out = append(out, api.Entity(e))
	}
	return out
}

func cidrs(in []string) api.CIDRRuleSlice {
	out := make(api.CIDRRuleSlice, 0, len(in))
	for _, c := range in {
		out = append(out, api.CIDRRule{Cidr: api.CIDR(c)})
	}
	return out
}

// portRules renders explicit ports; nil (any port) only when the rule has none, which validation allows
// only for anyPort rules.
func portRules(ports []v1alpha1.PortProtocol, dns []v1alpha1.DNSMatch) api.PortRules {
	if len(ports) == 0 {
		return nil
	}
	pr := api.PortRule{}
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = v1alpha1.ProtocolTCP
		}
		pr.Ports = append(pr.Ports, api.PortProtocol{Port: strconv.Itoa(int(p.Port)), Protocol: api.L4Proto(proto)})
	}
	if len(dns) > 0 {
		pr.Rules = &api.L7Rules{}
		for _, d := range dns {
			pr.Rules.DNS = append(pr.Rules.DNS, api.PortRuleDNS{MatchPattern: d.MatchPattern})
		}
	}
	return api.PortRules{pr}
}

func describe(prefix, description string) string {
	if description == "" {
		return prefix
	}
	return prefix + ": " + description
}

// known lists names for a message, sorted; the admission policies list them the same way.
func known(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(slices.Values(names)), ", ")
}

func joinProblems(problems []contract.Problem) string {
	s := make([]string, 0, len(problems))
	for _, p := range problems {
		s = append(s, p.String())
	}
	return conditions.Problems(s)
}

// Refusal is bad input: the labels or the catalogue ask for something netprofile will not render. Its Reason
// is a condition reason; its message says what to fix.
type Refusal struct {
	Reason  string
	Message string
}

func (r *Refusal) Error() string { return r.Message }

func refuse(reason, format string, args ...any) *Refusal {
	return &Refusal{Reason: reason, Message: fmt.Sprintf(format, args...)}
}
