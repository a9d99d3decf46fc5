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
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Catalogue is the cluster's NetworkProfiles and SharedResources, by name.
type Catalogue struct {
	Profiles  map[string]*v1alpha1.NetworkProfile
	Resources map[string]*v1alpha1.SharedResource
}

// Renderer renders policies under one label contract.
type Renderer struct {
	Contract contract.Contract
	// PlatformNamespaces have hand-crafted policies; profiles and grants are refused there.
	PlatformNamespaces map[string]bool
}

// NamespaceResult is what a Namespace's labels render to.
type NamespaceResult struct {
	Selection contract.Selection
	// Policies is the desired namespaced policy set; empty when the labels ask for nothing.
	Policies []*cilium.CiliumNetworkPolicy
}

// Namespace renders the namespace policy of ns. A *Refusal error means bad input: the caller keeps the
// policies it has and reports the refusal; it must not prune.
func (r Renderer) Namespace(ns *corev1.Namespace, cat Catalogue) (NamespaceResult, error) {
	sel, problems := r.Contract.Parse(ns.Labels)
	res := NamespaceResult{Selection: sel}
	if len(problems) > 0 {
		return res, refuse(ReasonInvalidLabel, "%s", joinProblems(problems))
	}
	if sel.IsEmpty() {
		return res, nil
	}
	if r.PlatformNamespaces[ns.Name] {
		return res, refuse(ReasonPlatformNamespace,
			"%s is a platform namespace: it keeps its hand-crafted policies, so profiles and access grants are refused here; remove the %s labels",
			ns.Name, r.Contract.Domain())
	}

	rules := api.Rules{}
	profile, err := r.profile(sel.Profile, cat)
	if err != nil {
		return res, err
	}
	if profile == nil || profile.Spec.AllowSameNamespace == nil || *profile.Spec.AllowSameNamespace {
		rules = append(rules, sameNamespaceRule())
	}
	if profile != nil {
		rule, err := ruleFromProfile(profile)
		if err != nil {
			return res, refuse(ReasonProfileInvalid, "NetworkProfile %q is invalid: %v", profile.Name, err)
		}
		if rule != nil {
			rules = append(rules, rule)
		}
	}
	for _, name := range sel.Grants {
		sr, ok := cat.Resources[name]
		if !ok {
			return res, refuse(ReasonResourceNotFound, "SharedResource %q does not exist (label %s); known resources: %s",
				name, r.Contract.AccessKey(name), known(cat.Resources))
		}
		rule, err := consumerRule(sr)
		if err != nil {
			return res, refuse(ReasonResourceInvalid, "SharedResource %q is invalid: %v", name, err)
		}
		rules = append(rules, rule)
	}
	if len(rules) == 0 {
		// Only a profile that allows nothing at all gets here: the baselines' default deny is its policy.
		return res, nil
	}

	cnp := &cilium.CiliumNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: cilium.SchemeGroupVersion.String(), Kind: cilium.CNPKindDefinition},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ownership.NamespacePolicyName,
			Namespace: ns.Name,
			Labels:    ownership.Labels(ownership.ComponentNamespacePolicy, r.sourceLabels(sel)),
		},
		Specs: rules,
	}
	if err := Validate(cnp); err != nil {
		return res, refuse(ReasonPolicyInvalid, "%v", err)
	}
	res.Policies = []*cilium.CiliumNetworkPolicy{cnp}
	return res, nil
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

func (r Renderer) profile(name string, cat Catalogue) (*v1alpha1.NetworkProfile, error) {
	if name == "" {
		return nil, nil
	}
	p, ok := cat.Profiles[name]
	if !ok {
		return nil, refuse(ReasonProfileNotFound, "NetworkProfile %q does not exist (label %s=%s); known profiles: %s",
			name, r.Contract.ProfileKey(), name, known(cat.Profiles))
	}
	if !p.DeletionTimestamp.IsZero() {
		return nil, refuse(ReasonProfileNotFound, "NetworkProfile %q is being deleted (label %s=%s); known profiles: %s",
			name, r.Contract.ProfileKey(), name, known(cat.Profiles))
	}
	return p, nil
}

// sameNamespaceRule allows all traffic between the pods of the policy's own namespace. The `{}` peers are
// safe only because the policy is namespaced: Cilium scopes them to the policy's namespace.
func sameNamespaceRule() *api.Rule {
	all := api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}}
	return &api.Rule{
		EndpointSelector: all,
		Description:      "netprofile: pods of this namespace may talk to each other",
		Ingress:          []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{FromEndpoints: []api.EndpointSelector{all}}}},
		Egress:           []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEndpoints: []api.EndpointSelector{all}}}},
	}
}

// ruleFromProfile renders a profile's own rules; nil when it has none.
func ruleFromProfile(p *v1alpha1.NetworkProfile) (*api.Rule, error) {
	if err := ValidateRules(p.Spec.Ingress, p.Spec.Egress, profileAnyPort); err != nil {
		return nil, err
	}
	if len(p.Spec.Ingress)+len(p.Spec.Egress) == 0 {
		return nil, nil
	}
	rule := &api.Rule{
		EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
		Description:      describe("netprofile: profile "+p.Name, p.Spec.Description),
	}
	for i := range p.Spec.Ingress {
		rule.Ingress = append(rule.Ingress, ingressRule(&p.Spec.Ingress[i]))
	}
	for i := range p.Spec.Egress {
		rule.Egress = append(rule.Egress, egressRule(&p.Spec.Egress[i]))
	}
	return rule, nil
}

// consumerRule is the consumer half of an access grant: egress to the provider on exactly its ports.
func consumerRule(sr *v1alpha1.SharedResource) (*api.Rule, error) {
	if err := ValidateResource(&sr.Spec); err != nil {
		return nil, err
	}
	egress := api.EgressRule{ToPorts: portRules(sr.Spec.Ports, nil)}
	if sr.Spec.Provider.Entity != "" {
		egress.ToEntities = api.EntitySlice{api.Entity(sr.Spec.Provider.Entity)}
	} else {
		egress.ToEndpoints = []api.EndpointSelector{endpoints(sr.Spec.Provider.Namespace, sr.Spec.Provider.PodSelector)}
	}
	return &api.Rule{
		EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
		Description:      describe("netprofile: access to "+sr.Name, sr.Spec.Description),
		Egress:           []api.EgressRule{egress},
	}, nil
}

func ingressRule(r *v1alpha1.Rule) api.IngressRule {
	in := api.IngressRule{ToPorts: portRules(r.Ports, r.DNS)}
	switch {
	case r.Endpoints != nil:
		in.FromEndpoints = []api.EndpointSelector{endpoints(r.Endpoints.Namespace, r.Endpoints.MatchLabels)}
	case len(r.Entities) > 0:
		in.FromEntities = entities(r.Entities)
	case len(r.CIDRs) > 0:
		in.FromCIDRSet = cidrs(r.CIDRs)
	}
	return in
}

func egressRule(r *v1alpha1.Rule) api.EgressRule {
	out := api.EgressRule{ToPorts: portRules(r.Ports, r.DNS)}
	switch {
	case r.Endpoints != nil:
		out.ToEndpoints = []api.EndpointSelector{endpoints(r.Endpoints.Namespace, r.Endpoints.MatchLabels)}
	case len(r.Entities) > 0:
		out.ToEntities = entities(r.Entities)
	case len(r.CIDRs) > 0:
		out.ToCIDRSet = cidrs(r.CIDRs)
	case len(r.FQDNs) > 0:
		for _, f := range r.FQDNs {
			out.ToFQDNs = append(out.ToFQDNs, api.FQDNSelector{MatchName: f.MatchName, MatchPattern: f.MatchPattern})
		}
	}
	return out
}

// endpoints selects pods in a namespace. The namespace is always explicit, so the selector means the same in
// a namespaced and in a clusterwide policy.
func endpoints(namespace string, matchLabels map[string]string) api.EndpointSelector {
	m := make(map[string]string, len(matchLabels)+1)
	maps.Copy(m, matchLabels)
	m[ciliumio.PodNamespaceLabel] = namespace
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

func known[T any](m map[string]T) string {
	if len(m) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(m)), ", ")
}

func joinProblems(problems []contract.Problem) string {
	s := make([]string, 0, len(problems))
	for _, p := range problems {
		s = append(s, p.String())
	}
	return strings.Join(s, "; ")
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

// Refusal reasons, used as condition reasons on the Namespace.
const (
	ReasonInvalidLabel      = "InvalidLabel"
	ReasonPlatformNamespace = "PlatformNamespace"
	ReasonProfileNotFound   = "ProfileNotFound"
	ReasonProfileInvalid    = "ProfileInvalid"
	ReasonResourceNotFound  = "SharedResourceNotFound"
	ReasonResourceInvalid   = "SharedResourceInvalid"
	ReasonPolicyInvalid     = "PolicyRejectedByValidation"
	ReasonBaselineInvalid   = "BaselineInvalid"
)
