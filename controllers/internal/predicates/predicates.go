// Package predicates holds the event filters and mappings netprofile's controllers share.
package predicates

import (
	"context"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/api/equality"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/apply"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// ReservedPolicy maps every event of a Cilium policy at a name reserved for component to that name's owner
// (ownership.Reserved), whatever the object's labels or owner references say: an edit that also changes
// netprofile's labels, a removed owner reference, and a hand-written policy that clashes, then goes, all
// reach the owner's reconciler. Namespaced owners (the namespace-policy and enforcement components) are
// requested by the policy's namespace.
func ReservedPolicy(component string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		comp, owner, ok := ownership.Reserved(obj.GetName(), obj.GetNamespace() != "")
		if !ok || comp != component {
			return nil
		}
		if owner == "" {
			owner = obj.GetNamespace()
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: owner}}}
	})
}

// PolicyChanged passes the policy events a reconcile must see: any change of what netprofile decides with
// (rules, labels, annotations, owner references, finalizers, deletion, Cilium's Valid condition), deletions, and the
// creation of an object netprofile did not write (a clash to report). netprofile's own creations, and the
// per-node status churn of the Cilium agents, do not pass.
type PolicyChanged struct {
	predicate.Funcs
	Component string
}

// Create passes objects that netprofile's component did not write.
func (p PolicyChanged) Create(e event.CreateEvent) bool {
	return !ownership.WrittenBy(e.Object, p.Component)
}

// Update passes changes of what netprofile decides with.
func (PolicyChanged) Update(e event.UpdateEvent) bool {
	o, n := e.ObjectOld, e.ObjectNew
	if o == nil || n == nil {
		return true
	}
	return o.GetGeneration() != n.GetGeneration() || apply.CachedRulesHash(o) != apply.CachedRulesHash(n) ||
		apply.CachedAnnotationsHash(o) != apply.CachedAnnotationsHash(n) ||
		!maps.Equal(o.GetLabels(), n.GetLabels()) ||
		!equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences()) ||
		!slices.Equal(o.GetFinalizers(), n.GetFinalizers()) ||
		!o.GetDeletionTimestamp().Equal(n.GetDeletionTimestamp()) ||
		!equality.Semantic.DeepEqual(validCondition(o), validCondition(n))
}

// Delete passes.
func (PolicyChanged) Delete(event.DeleteEvent) bool { return true }

// ComesOrGoes passes creations and deletions only: for watches that care which objects exist, not what
// they say.
type ComesOrGoes struct{ predicate.Funcs }

// Update passes nothing.
func (ComesOrGoes) Update(event.UpdateEvent) bool { return false }

// Generic passes nothing.
func (ComesOrGoes) Generic(event.GenericEvent) bool { return false }

// Resync passes the informer's periodic resync (an update whose object did not change), so a
// --sync-period resync re-checks everything even through predicates that compare fields.
type Resync struct{ predicate.Funcs }

// Update passes resyncs only.
func (Resync) Update(e event.UpdateEvent) bool {
	return e.ObjectOld != nil && e.ObjectNew != nil && e.ObjectOld.GetResourceVersion() == e.ObjectNew.GetResourceVersion()
}

// Create passes.
func (Resync) Create(event.CreateEvent) bool { return true }

// Delete passes.
func (Resync) Delete(event.DeleteEvent) bool { return true }

// ReadyChanged passes updates of a Baseline or SharedResource whose Ready condition changed status or
// reason, and deletions: what the namespaces depending on it report changes with it.
type ReadyChanged struct{ predicate.Funcs }

// Create does not pass: a new object reports Ready with its first reconcile.
func (ReadyChanged) Create(event.CreateEvent) bool { return false }

// Update passes when Ready changed.
func (ReadyChanged) Update(e event.UpdateEvent) bool {
	return readyOf(e.ObjectOld) != readyOf(e.ObjectNew)
}

// readyOf is the status and reason of the Ready condition of a Baseline or SharedResource ("" when absent).
func readyOf(obj client.Object) [2]string {
	var conds []metav1.Condition
	switch o := obj.(type) {
	case *v1alpha1.Baseline:
		conds = o.Status.Conditions
	case *v1alpha1.SharedResource:
		conds = o.Status.Conditions
	}
	if c := apimeta.FindStatusCondition(conds, "Ready"); c != nil {
		return [2]string{string(c.Status), c.Reason}
	}
	return [2]string{}
}

// validCondition is what netprofile reads of the Valid condition: Cilium's verdict, or the note that one
// not written by Cilium is ignored.
func validCondition(obj client.Object) any {
	if c := apply.ValidCondition(obj); c != nil {
		return [3]string{string(c.Status), c.Reason, c.Message}
	}
	return apply.IgnoredValid(obj)
}
