package diagnose

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Cause kinds: one per row of the seed's "Classify the Drop" table, plus what the table leaves out.
const (
	// KindBaselineMissing: a Baseline allows this flow (the DNS and Prometheus rows), so the baseline's policy
	// is missing, disabled or invalid. "Should not happen."
	KindBaselineMissing = "BaselineMissing"
	// KindMissingAccessLabel: a SharedResource covers this flow and the consumer lacks its access label (the
	// postgres and dragonfly rows).
	KindMissingAccessLabel = "MissingAccessLabel"
	// KindGrantNotApplied: the consumer has the access label, yet the flow is dropped.
	KindGrantNotApplied = "GrantNotApplied"
	// KindSwitchProfile: another profile allows this flow (the internet :443 and gateway ingress rows).
	KindSwitchProfile = "SwitchProfile"
	// KindProfileNotApplied: the namespace's own profile allows this flow, yet it is dropped.
	KindProfileNotApplied = "ProfileNotApplied"
	// KindDenyRule: an explicit deny rule dropped it; netprofile never writes those.
	KindDenyRule = "DenyRule"
	// KindPlatformPolicy: a platform namespace's hand-written policies do not allow it.
	KindPlatformPolicy = "PlatformPolicy"
	// KindSameNamespace: pods of one namespace were stopped from talking to each other.
	KindSameNamespace = "SameNamespace"
	// KindNotAllowed: nothing in the catalogue allows it; cross-namespace traffic is denied by design.
	KindNotAllowed = "NotAllowed"
)

// Cause is what a group of drops means and what to do about it.
type Cause struct {
	Kind string `json:"kind"`
	// Summary is the "likely cause" in words.
	Summary string `json:"summary"`
	// Fix says what to change.
	Fix string `json:"fix"`
	// Label is the exact label to add, when that is the fix.
	Label string `json:"label,omitempty"`
	// Profiles that would allow the flow, least privileged first.
	Profiles []string `json:"profiles,omitempty"`
	Baseline string   `json:"baseline,omitempty"`
	Resource string   `json:"resource,omitempty"`
}

// Classifier classifies drops against a catalogue.
type Classifier struct {
	Contract  contract.Contract
	Catalogue *catalogue.Set
	// PlatformNamespaces keep hand-crafted policies.
	PlatformNamespaces []string
}

// Drop is one policy drop (or a flow that would be dropped), its ends and where it is dropped.
type Drop struct {
	Src, Dst Peer
	Port     Port
	// Egress: dropped by the source's egress policy; else by the destination's ingress policy.
	Egress bool
	// DenyRule: a deny rule dropped it (Hubble's POLICY_DENY), not the default deny; DeniedBy names the
	// policies, when known. Netprofile's own ceiling denies what the labels do not allow: such a drop is
	// classified as the labels' (see heldByCeiling).
	DenyRule bool
	DeniedBy []PolicyName
}

// PolicyName names a namespaced or clusterwide (no namespace) policy.
type PolicyName struct{ Namespace, Name string }

// heldByCeiling reports whether a deny drop is netprofile's ceiling holding the local namespace to its labels:
// the only denying policy named is the local namespace's ceiling, or (Hubble before 1.16 names none) the local
// namespace has a profile that enforces its ceiling.
func (c *Classifier) heldByCeiling(d Drop) bool {
	local := d.local()
	if len(d.DeniedBy) > 0 {
		return !slices.ContainsFunc(d.DeniedBy, func(p PolicyName) bool {
			return p.Name != ownership.CeilingPolicyName || p.Namespace != local.Namespace
		})
	}
	profile := c.Catalogue.Profiles[local.NSLabels[c.Contract.ProfileKey()]]
	return local.IsPod() && profile != nil && profile.Spec.EnforcesCeiling()
}

// local is the end whose policy dropped the flow.
func (d Drop) local() Peer {
	if d.Egress {
		return d.Src
	}
	return d.Dst
}

// Classify says what a drop means and what to do about it, with the "Classify the Drop" table. The namespace
// labels of its ends (Peer.NSLabels) are the ones it judges: the profile and grants a namespace has.
func (c *Classifier) Classify(d Drop) Cause { return c.classify(d) }

func (c *Classifier) classify(d Drop) Cause {
	if d.DenyRule && !c.heldByCeiling(d) {
		return Cause{Kind: KindDenyRule,
			Summary: "an explicit deny rule (ingressDeny/egressDeny) dropped it",
			Fix: fmt.Sprintf("find the deny rule selecting %s and delete it (kubectl get cnp,ccnp -A -o yaml | grep -n Deny); deny beats every allow, even the escape hatch",
				d.local().Name())}
	}
	if cause, ok := c.baseline(d); ok {
		return cause
	}
	if cause, ok := c.resource(d); ok {
		return cause
	}
	if d.Src.IsPod() && d.Dst.IsPod() && d.Src.Namespace == d.Dst.Namespace {
		return Cause{Kind: KindSameNamespace,
			Summary: fmt.Sprintf("pods of %s may not talk to each other", d.Src.Namespace),
			Fix: fmt.Sprintf("the profile's policy allows same-namespace traffic unless the NetworkProfile sets allowSameNamespace: false; check `kubectl netprofile status %s`",
				d.Src.Namespace)}
	}
	if cause, ok := c.platform(d); ok {
		return cause
	}
	if cause, ok := c.profile(d); ok {
		return cause
	}
	return Cause{Kind: KindNotAllowed,
		Summary: fmt.Sprintf("no profile, access grant or baseline allows %s %s to %s on %s", d.Src.Name(), direction(d.Egress), d.Dst.Name(), d.Port),
		Fix: fmt.Sprintf("cross-namespace and external traffic is denied unless something allows it: if %s serves other namespaces, describe it as a SharedResource and grant it with an access label; for an external API, use a NetworkProfile with an fqdns or world rule on this port",
			d.Dst.Name())}
}

func direction(egress bool) string {
	if egress {
		return "egress"
	}
	return "ingress"
}

// baseline: the DNS and Prometheus rows. A baseline allows the flow, so the drop means its policy is gone.
func (c *Classifier) baseline(d Drop) (Cause, bool) {
	local, remote := d.local(), d.Dst
	if !d.Egress {
		remote = d.Src
	}
	for _, name := range slices.Sorted(maps.Keys(c.Catalogue.Baselines)) {
		b := c.Catalogue.Baselines[name]
		if !local.IsPod() || !subset(b.Spec.NamespaceSelector, local.NSLabels) {
			continue
		}
		rules := b.Spec.Ingress
		if d.Egress {
			rules = b.Spec.Egress
		}
		if !slices.ContainsFunc(rules, func(r v1alpha1.Rule) bool { return remote.matches(&r) && allows(&r, d.Port) }) {
			continue
		}
		state := "missing or invalid"
		if b.Spec.Enabled != nil && !*b.Spec.Enabled {
			state = "disabled (spec.enabled: false)"
		}
		policy := ownership.BaselinePolicyName(name)
		return Cause{Kind: KindBaselineMissing, Baseline: name,
			Summary: fmt.Sprintf("the %s baseline should allow this: its policy is %s (should not happen)", name, state),
			Fix: fmt.Sprintf("check the baseline: kubectl get baseline %s; kubectl get ccnp %s -o yaml (status: Valid); the operator recreates it unless the Baseline is disabled or rejected",
				name, policy)}, true
	}
	return Cause{}, false
}

// resource: the postgres and dragonfly rows. A SharedResource covers the flow, so the consumer needs its
// access label.
func (c *Classifier) resource(d Drop) (Cause, bool) {
	if !d.Src.IsPod() {
		return Cause{}, false
	}
	for _, name := range slices.Sorted(maps.Keys(c.Catalogue.Resources)) {
		sr := c.Catalogue.Resources[name]
		p := sr.Spec.Provider
		provided := (p.Namespace != "" && d.Dst.Namespace == p.Namespace && subset(p.PodSelector, d.Dst.Labels)) ||
			(p.Entity != "" && d.Dst.isEntity(p.Entity))
		if !provided || !slices.ContainsFunc(sr.Spec.Ports, func(pp v1alpha1.PortProtocol) bool { return portMatches(pp, d.Port) }) {
			continue
		}
		key := c.Contract.AccessKey(name)
		label := key + "=" + contract.AccessGranted
		if d.Src.NSLabels[key] == contract.AccessGranted {
			where := "the consumer's policy " + ownership.NamespacePolicyName + " in " + d.Src.Namespace
			if !d.Egress {
				where = "the provider's policy " + ownership.ProviderPolicyName(name) + " in " + d.Dst.Namespace
			}
			return Cause{Kind: KindGrantNotApplied, Resource: name, Label: label,
				Summary: fmt.Sprintf("%s has the %s access label, but %s is not letting it through", d.Src.Namespace, name, where),
				Fix: fmt.Sprintf("check `kubectl netprofile status %s` (NetworkPolicyReady) and `kubectl get sharedresource %s`; the label value must be exactly \"true\"",
					d.Src.Namespace, name)}, true
		}
		return Cause{Kind: KindMissingAccessLabel, Resource: name, Label: label,
			Summary: fmt.Sprintf("missing %s access label", name),
			Fix:     fmt.Sprintf("add the label %s: %q to Namespace %s (in git)", key, contract.AccessGranted, d.Src.Namespace)}, true
	}
	return Cause{}, false
}

// platform: platform namespaces keep hand-written policies, so a drop on their side is theirs to fix.
func (c *Classifier) platform(d Drop) (Cause, bool) {
	local := d.local()
	if !local.IsPod() || !slices.Contains(c.PlatformNamespaces, local.Namespace) {
		return Cause{}, false
	}
	return Cause{Kind: KindPlatformPolicy,
		Summary: fmt.Sprintf("%s is a platform namespace and its hand-written policies do not allow %s %s on %s", local.Namespace, direction(d.Egress), peerOf(d), d.Port),
		Fix: fmt.Sprintf("add the rule to %s's CiliumNetworkPolicy (through git), then run `kubectl netprofile lint` on it; profiles and grants are refused in platform namespaces",
			local.Namespace)}, true
}

func peerOf(d Drop) string {
	if d.Egress {
		return "to " + d.Dst.Name()
	}
	return "from " + d.Src.Name()
}

// profile: the internet :443 and gateway ingress rows. Another profile allows the flow.
func (c *Classifier) profile(d Drop) (Cause, bool) {
	local := d.local()
	if !local.IsPod() {
		return Cause{}, false
	}
	remote := d.Dst
	if !d.Egress {
		remote = d.Src
	}
	type candidate struct {
		name  string
		rules int
	}
	var candidates []candidate
	for name, p := range c.Catalogue.Profiles {
		rules := p.Spec.Ingress
		if d.Egress {
			rules = p.Spec.Egress
		}
		if slices.ContainsFunc(rules, func(r v1alpha1.Rule) bool { return remote.matches(&r) && allows(&r, d.Port) }) {
			candidates = append(candidates, candidate{name, len(p.Spec.Ingress) + len(p.Spec.Egress)})
		}
	}
	if len(candidates) == 0 {
		return Cause{}, false
	}
	// Least privilege first: the profile with fewest rules that still allows the flow.
	slices.SortFunc(candidates, func(a, b candidate) int { return cmp.Or(cmp.Compare(a.rules, b.rules), cmp.Compare(a.name, b.name)) })
	names := make([]string, 0, len(candidates))
	for _, cand := range candidates {
		names = append(names, cand.name)
	}
	current := local.NSLabels[c.Contract.ProfileKey()]
	if slices.Contains(names, current) {
		return Cause{Kind: KindProfileNotApplied, Profiles: names,
			Summary: fmt.Sprintf("profile %s allows this, but its policy is not in effect in %s", current, local.Namespace),
			Fix:     fmt.Sprintf("check `kubectl netprofile status %s` (NetworkPolicyReady) and `kubectl get cnp -n %s %s`", local.Namespace, local.Namespace, ownership.NamespacePolicyName)}, true
	}
	what := fmt.Sprintf("%s %s on %s", direction(d.Egress), peerOf(d), d.Port)
	switch {
	case d.Egress && remote.IsWorld() && d.Port.Number == 443:
		what = "HTTPS egress"
	case !d.Egress && remote.Namespace != "":
		what = "ingress from " + remote.Namespace
	}
	summary := fmt.Sprintf("profile %s does not allow %s", current, what)
	if current == "" {
		summary = fmt.Sprintf("%s has no profile, so nothing allows %s", local.Namespace, what)
	}
	return Cause{Kind: KindSwitchProfile, Profiles: names, Label: c.Contract.ProfileKey() + "=" + names[0],
		Summary: summary,
		Fix:     fmt.Sprintf("switch Namespace %s to profile %s (in git: %s: %s)", local.Namespace, orList(names), c.Contract.ProfileKey(), names[0])}, true
}

func orList(s []string) string {
	switch len(s) {
	case 1:
		return s[0]
	case 2:
		return s[0] + " or " + s[1]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
