package policy

import (
	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Provider renders the provider half of a SharedResource: a policy in the provider namespace that lets in
// every namespace carrying the access label, and matching spec.consumers when the resource limits its
// consumers, on exactly the resource's ports. It returns nil for entity providers (the API server, say),
// which have no namespace to write into.
//
// Consumers are selected by Cilium's namespace-label selector rather than by a list of namespace names: the
// policy then never changes when consumers come and go (no write per label change, no window in which a new
// consumer's egress is open but the provider's ingress is not yet), and the label value must be exactly
// "true" to match, as the contract says. spec.consumers is translated into the same kind of selector, so a
// namespace relabelled out of it is shut out by Cilium at once, before any reconcile.
func (r Renderer) Provider(sr *v1alpha1.SharedResource) (*cilium.CiliumNetworkPolicy, error) {
	if err := ValidateResource(&sr.Spec); err != nil {
		return nil, refuse(conditions.ReasonResourceInvalid, "SharedResource %q is invalid: %v", sr.Name, err)
	}
	if sr.Spec.Provider.Namespace == "" {
		return nil, nil
	}
	who := "label " + r.Contract.AccessKey(sr.Name) + "=true"
	if limit := ConsumersText(&sr.Spec); limit != "" {
		who += ", in namespaces matching " + limit
	}
	cnp := &cilium.CiliumNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: cilium.SchemeGroupVersion.String(), Kind: cilium.CNPKindDefinition},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ownership.ProviderPolicyName(sr.Name),
			Namespace: sr.Spec.Provider.Namespace,
			Labels:    ownership.Labels(ownership.ComponentProvider, map[string]string{r.Contract.AccessKey(sr.Name): contract.AccessGranted}),
		},
		Spec: &api.Rule{
			EndpointSelector:  api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: copyMap(sr.Spec.Provider.PodSelector)}},
			Description:       describe("netprofile: consumers of "+sr.Name+" ("+who+")", sr.Spec.Description),
			EnableDefaultDeny: additive(),
			Ingress: []api.IngressRule{{
				IngressCommonRule: api.IngressCommonRule{FromEndpoints: []api.EndpointSelector{r.consumerPeer(sr)}},
				ToPorts:           portRules(sr.Spec.Ports, nil),
			}},
		},
	}
	if err := Validate(cnp); err != nil {
		return nil, refuse(conditions.ReasonPolicyInvalid, "%v", err)
	}
	return cnp, nil
}

// Baseline renders a Baseline into its clusterwide policy; nil when the Baseline is disabled. With
// spec.defaultDeny false the policy only adds its allowances (enableDefaultDeny false in both directions);
// otherwise it carries no enableDefaultDeny, and Cilium's default (default deny for every direction it has
// rules in) makes it the floor every selected endpoint stands on.
func (r Renderer) Baseline(b *v1alpha1.Baseline) (*cilium.CiliumClusterwideNetworkPolicy, error) {
	if b.Spec.Enabled != nil && !*b.Spec.Enabled {
		return nil, nil
	}
	if err := ValidateRules(b.Spec.Ingress, b.Spec.Egress, baselineAnyPort); err != nil {
		return nil, refuse(conditions.ReasonBaselineInvalid, "Baseline %q is invalid: %v", b.Name, err)
	}
	if len(b.Spec.Ingress)+len(b.Spec.Egress) == 0 {
		return nil, refuse(conditions.ReasonBaselineInvalid, "Baseline %q has no rules: a policy without ingress or egress is not enforced by Cilium", b.Name)
	}
	// Every endpoint Cilium manages, or those in the selected namespaces. Never a `{}` peer: in a clusterwide
	// policy that would mean every pod of every namespace.
	selector := &slimv1.LabelSelector{}
	for k, v := range b.Spec.NamespaceSelector {
		if selector.MatchLabels == nil {
			selector.MatchLabels = map[string]string{}
		}
		selector.MatchLabels[namespaceLabel(k)] = v
	}
	rule := &api.Rule{
		EndpointSelector: api.EndpointSelector{LabelSelector: selector},
		Description:      describe("netprofile: baseline "+b.Name, b.Spec.Description),
	}
	if !BaselineDefaultDeny(b) {
		rule.EnableDefaultDeny = additive()
	}
	for i := range b.Spec.Ingress {
		rule.Ingress = append(rule.Ingress, r.ingressRule(&b.Spec.Ingress[i]))
	}
	for i := range b.Spec.Egress {
		rule.Egress = append(rule.Egress, r.egressRule(&b.Spec.Egress[i]))
	}
	ccnp := &cilium.CiliumClusterwideNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: cilium.SchemeGroupVersion.String(), Kind: cilium.CCNPKindDefinition},
		ObjectMeta: metav1.ObjectMeta{
			Name:   ownership.BaselinePolicyName(b.Name),
			Labels: ownership.Labels(ownership.ComponentBaseline, nil),
		},
		Spec: rule,
	}
	if err := Validate(ccnp); err != nil {
		return nil, refuse(conditions.ReasonPolicyInvalid, "%v", err)
	}
	return ccnp, nil
}

// BaselineDefaultDeny reports whether a Baseline turns on default deny for what it selects: spec.defaultDeny,
// true when unset.
func BaselineDefaultDeny(b *v1alpha1.Baseline) bool {
	return b.Spec.DefaultDeny == nil || *b.Spec.DefaultDeny
}

// additive is the enableDefaultDeny of a policy that only adds allowances: it never switches the endpoints it
// selects into default deny, in either direction.
func additive() api.DefaultDenyConfig {
	return api.DefaultDenyConfig{Ingress: new(false), Egress: new(false)}
}

// AllowAll is the escape hatch's policy for a namespace: every entity in and out. It adds to the namespace's
// other policies and never replaces them, so re-enabling enforcement is deleting this one object.
func AllowAll(namespace string) *cilium.CiliumNetworkPolicy {
	all := api.EntitySlice{api.EntityAll}
	return &cilium.CiliumNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: cilium.SchemeGroupVersion.String(), Kind: cilium.CNPKindDefinition},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ownership.AllowAllPolicyName,
			Namespace: namespace,
			Labels:    ownership.Labels(ownership.ComponentEnforcement, nil),
		},
		Spec: &api.Rule{
			EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
			Description:      "netprofile: network policy enforcement is disabled for this namespace (escape hatch); remove the enforcement label to restore it",
			Ingress:          []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{FromEntities: all}}},
			Egress:           []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEntities: all}}},
		},
	}
}

func copyMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
