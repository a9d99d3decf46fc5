// Package ownership is the single rule for which Cilium policies netprofile owns: the reserved names, who
// the owner of each name is, the labels that index them, and the decision every reconciler and the kubectl
// plugin take through Decide before they write or delete anything. Nothing outside this package decides
// whether an object is netprofile's.
//
// The rule:
//
//   - A name is reserved for one component and one owner: netprofile-namespace, netprofile-ceiling,
//     netprofile-enforcement-disabled and netprofile-enforcement-audit in a namespace belong to that Namespace, netprofile-provider-<r> to the
//     SharedResource <r> (written into its provider Namespace), netprofile-baseline-<b> to the Baseline <b>.
//     A watch maps every event on a reserved name to its owner, whatever the object's labels say.
//   - An object at a reserved name is Owned when it carries a controller reference to its owner's UID.
//   - It is Orphaned when it lost that reference (removed by hand, or left by a deleted owner) but one of
//     netprofile's field managers for the component still manages fields of it: netprofile wrote it, so
//     netprofile takes it back (adopts it when it is wanted, deletes it when it is not).
//   - Anything else is Foreign: hand-written, or a copy another tool (GitOps) created with netprofile's
//     labels. It is never modified or deleted; where netprofile wants the name it is a reported clash.
//
// Labels are an index for listing and metrics and are repaired like any other field; they are never
// evidence of ownership, because anyone who can write a policy can write them.
package ownership

import (
	"cmp"
	"reflect"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// Ownership labels on every object netprofile generates.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "netprofile"
	// ComponentLabel says which netprofile controller writes the object.
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
	// AuditPolicyName is the audit mode's allow-all: the namespace's policies stay in place, and what they
	// would drop is forwarded with this policy as the only one allowing it.
	AuditPolicyName = NamePrefix + "enforcement-audit"
	// CeilingPolicyName is the deny policy that makes a namespace's profile, grants and the baselines the
	// most it can have, whatever other policies in it allow. The namespace policy's controller writes it.
	CeilingPolicyName = NamePrefix + "ceiling"

	providerPrefix = NamePrefix + "provider-"
	baselinePrefix = NamePrefix + "baseline-"
)

// ProviderPolicyName is the policy in a provider namespace that lets consumers of a SharedResource in.
func ProviderPolicyName(resource string) string { return providerPrefix + resource }

// BaselinePolicyName is the clusterwide policy of a Baseline.
func BaselinePolicyName(baseline string) string { return baselinePrefix + baseline }

// FieldManager is the server-side apply field manager under which a component writes its policies.
func FieldManager(component string) string { return NamePrefix + component }

// namespaceNames are the names reserved in every namespace, owned by that Namespace, with the component that
// writes each. Reserved and NamespaceNames both read it, so a new per-namespace policy is added here once.
var namespaceNames = []struct{ name, component string }{
	{NamespacePolicyName, ComponentNamespacePolicy},
	{CeilingPolicyName, ComponentNamespacePolicy},
	{AllowAllPolicyName, ComponentEnforcement},
	{AuditPolicyName, ComponentEnforcement},
}

// NamespaceNames are the policy names reserved in every namespace for the Namespace itself, sorted: what
// netprofile may have written into a namespace whatever it renders there now, and so what it deletes there
// when it no longer renders them.
func NamespaceNames() []string {
	out := make([]string, 0, len(namespaceNames))
	for _, n := range namespaceNames {
		out = append(out, n.name)
	}
	slices.Sort(out)
	return out
}

// Reserved says which component and owner a policy name is reserved for. namespaced tells the two policy
// kinds apart (the names of namespaced and clusterwide policies are reserved separately). The owner is the
// Namespace of the object for the namespace-policy and enforcement components, the SharedResource for
// provider halves and the Baseline for baselines.
func Reserved(name string, namespaced bool) (component, owner string, ok bool) {
	if !namespaced {
		if b, ok := strings.CutPrefix(name, baselinePrefix); ok && b != "" {
			return ComponentBaseline, b, true
		}
		return "", "", false
	}
	for _, n := range namespaceNames {
		if n.name == name {
			return n.component, "", true
		}
	}
	if r, ok := strings.CutPrefix(name, providerPrefix); ok && r != "" {
		return ComponentProvider, r, true
	}
	return "", "", false
}

// AllowsAll reports whether a namespaced policy name is one of netprofile's allow-alls (escape hatch or audit
// mode): the policy set "as it would be with enforcement on" is the generated one without them.
func AllowsAll(name string) bool { return name == AllowAllPolicyName || name == AuditPolicyName }

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

// Selector selects every object labelled as netprofile's: an index for metrics and listings, not a decision.
func Selector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue})
}

// ComponentSelector selects the objects labelled as one component's: an index, not a decision.
func ComponentSelector(component string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{ManagedByLabel: ManagedByValue, ComponentLabel: component})
}

// Verdict is what netprofile may do with an object at one of its reserved names.
type Verdict int

const (
	// Missing: nothing by that name; netprofile may create it.
	Missing Verdict = iota
	// Owned: netprofile's, with a controller reference to its owner; repaired in place, deleted when unwanted.
	Owned
	// Orphaned: netprofile wrote it but the controller reference is gone or names another owner; netprofile
	// takes it back (adopts or deletes it).
	Orphaned
	// Foreign: not netprofile's; never modified or deleted.
	Foreign
)

func (v Verdict) String() string {
	return [...]string{"missing", "owned", "orphaned", "foreign"}[v]
}

// Decide applies the ownership rule to obj (nil, or a nil pointer, when absent), an object at a name reserved for component,
// whose owner has ownerUID ("" when the owner is gone or unknown).
func Decide(obj metav1.Object, component string, ownerUID types.UID) Verdict {
	if obj == nil || reflect.ValueOf(obj).IsNil() {
		return Missing
	}
	if ref := metav1.GetControllerOfNoCopy(obj); ref != nil && ownerUID != "" && ref.UID == ownerUID {
		return Owned
	}
	if WrittenBy(obj, component) {
		return Orphaned
	}
	return Foreign
}

// Ours reports whether netprofile may write or delete obj: Owned or Orphaned.
func Ours(obj metav1.Object, component string, ownerUID types.UID) bool {
	v := Decide(obj, component, ownerUID)
	return v == Owned || v == Orphaned
}

// WrittenBy reports whether the component's field manager manages fields of obj's main resource (status
// writers, such as the Cilium agent, do not count).
func WrittenBy(obj metav1.Object, component string) bool {
	manager := FieldManager(component)
	for _, f := range obj.GetManagedFields() {
		if f.Manager == manager && f.Subresource == "" {
			return true
		}
	}
	return false
}

// OtherWriters are the field managers besides netprofile's that wrote obj's main resource, the most recent
// first: who to name when netprofile reverts an edit.
func OtherWriters(obj metav1.Object) []string {
	entries := make([]metav1.ManagedFieldsEntry, 0, len(obj.GetManagedFields()))
	for _, f := range obj.GetManagedFields() {
		if f.Subresource == "" && !strings.HasPrefix(f.Manager, NamePrefix) {
			entries = append(entries, f)
		}
	}
	slices.SortStableFunc(entries, func(a, b metav1.ManagedFieldsEntry) int {
		return -cmp.Compare(unix(a.Time), unix(b.Time))
	})
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		if !slices.Contains(out, e.Manager) {
			out = append(out, e.Manager)
		}
	}
	return out
}

func unix(t *metav1.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}

// Poses reports whether obj carries netprofile's managed-by label. It is never proof of ownership (whoever
// may write an object may set it; Decide never reads it): it only tells a foreign object at a reserved name
// that passes itself off as netprofile's, which is reported as a clash, from someone's own policy there,
// which is left unmentioned.
func Poses(obj metav1.Object) bool {
	return obj.GetLabels()[ManagedByLabel] == ManagedByValue
}

// Generated reports whether a namespaced policy is one netprofile generated: at a reserved name, and written
// by that name's component. A hand-written policy at a reserved name is not.
func Generated(obj metav1.Object) bool {
	comp, _, ok := Reserved(obj.GetName(), obj.GetNamespace() != "")
	return ok && WrittenBy(obj, comp)
}
