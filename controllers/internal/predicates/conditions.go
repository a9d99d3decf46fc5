package predicates

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
)

// ConditionsChanged passes Namespace updates that change one of the conditions of Types (added, removed, or
// any field of it): a controller that watches its own conditions writes them again when someone else did.
// Its own writes pass too, once each; the reconcile they cause finds nothing to write, so they never loop.
type ConditionsChanged struct {
	predicate.Funcs
	Types []corev1.NamespaceConditionType
}

// Create passes nothing: a new Namespace is reconciled through the other predicates.
func (ConditionsChanged) Create(event.CreateEvent) bool { return false }

// Delete passes nothing.
func (ConditionsChanged) Delete(event.DeleteEvent) bool { return false }

// Generic passes nothing.
func (ConditionsChanged) Generic(event.GenericEvent) bool { return false }

// Update passes when a condition of Types differs.
func (p ConditionsChanged) Update(e event.UpdateEvent) bool {
	o, ok1 := e.ObjectOld.(*corev1.Namespace)
	n, ok2 := e.ObjectNew.(*corev1.Namespace)
	if !ok1 || !ok2 {
		return false
	}
	for _, t := range p.Types {
		if !slices.Equal(ofType(o.Status.Conditions, t), ofType(n.Status.Conditions, t)) {
			return true
		}
	}
	return false
}

// ofType is every condition of type t (the API server accepts duplicates; a forged second one counts too).
func ofType(conds []corev1.NamespaceCondition, t corev1.NamespaceConditionType) []corev1.NamespaceCondition {
	var out []corev1.NamespaceCondition
	for _, c := range conds {
		if c.Type == t {
			c.LastTransitionTime.Time = c.LastTransitionTime.UTC()
			out = append(out, c)
		}
	}
	return out
}
