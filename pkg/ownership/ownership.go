// Package ownership is the single source of truth for which Cilium policies netprofile owns: the reserved
// names, the labels that mark them, and the pure selection of stale objects to prune. Nothing outside this
// package decides whether an object is ours.
package ownership

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Ownership labels on every object netprofile generates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "netprofile"
	// ComponentLabel says which netprofile controller owns the object, so one controller never prunes
	// another's policies in the same namespace.
	ComponentLabel = "app.kubernetes.io/component"
)

// Components, one per controller that writes policies.
const (
	ComponentNamespacePolicy = "namespace-policy"
	ComponentEnforcement     = "enforcement"
	ComponentProvider        = "provider"
	ComponentBaseline        = "baseline"
)

// NamePrefix is reserved: every generated policy's name starts with it, and hand-written policies with such a
// name are reported as clashes instead of being taken over.
const NamePrefix = "netprofile-"

// Generated policy names.
const (
	// NamespacePolicyName is the namespaced policy that carries a Namespace's profile and grants. The name does
	// not depend on the profile, so a profile change updates it in place.
	NamespacePolicyName = NamePrefix + "namespace"
	// AllowAllPolicyName is the escape hatch's allow-all policy.
	AllowAllPolicyName = NamePrefix + "enforcement-disabled"
)

// ProviderPolicyName is the policy in a provider namespace that lets consumers of a SharedResource in.
func ProviderPolicyName(resource string) string { return NamePrefix + "provider-" + resource }

// BaselinePolicyName is the clusterwide policy of a Baseline.
func BaselinePolicyName(baseline string) string { return NamePrefix + "baseline-" + baseline }

// Labels are the ownership labels for an object of a component, merged with extra (which may not override
// them).
func Labels(component string, extra map[string]string) map[string]string {
	out := make(map[string]string, len(extra)+2)
	for k, v := range extra {
		out[k] = v
	}
	out[ManagedByLabel] = ManagedByValue
	out[ComponentLabel] = component
	return out
}

// Selector selects every object netprofile owns; the manager's cache of policies is restricted to it.
func Selector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})
}

// ComponentSelector selects the objects of one component.
func ComponentSelector(component string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue, ComponentLabel: component})
}

// IsOwned reports whether obj is netprofile's object of the component: it carries our labels and, when owner
// is non-nil, a controller reference to owner. A hand-written object never passes, even with our name.
func IsOwned(obj metav1.Object, component string, owner metav1.Object) bool {
	l := obj.GetLabels()
	if l[ManagedByLabel] != ManagedByValue || l[ComponentLabel] != component {
		return false
	}
	if owner == nil {
		return true
	}
	return IsControlledBy(obj, owner)
}

// IsControlledBy reports whether obj has a controller reference to owner's UID.
func IsControlledBy(obj, owner metav1.Object) bool {
	ref := metav1.GetControllerOfNoCopy(obj)
	return ref != nil && ref.UID == owner.GetUID()
}

// SelectStale returns the objects to prune: owned by the component (by IsOwned), with a reserved name, and not
// in keep. It can never return an object netprofile does not own.
func SelectStale[T metav1.Object](items []T, component string, owner metav1.Object, keep map[string]bool) []T {
	var stale []T
	for _, obj := range items {
		if keep[obj.GetName()] || !strings.HasPrefix(obj.GetName(), NamePrefix) || !IsOwned(obj, component, owner) {
			continue
		}
		stale = append(stale, obj)
	}
	return stale
}
