// Package predicates holds the event filters netprofile's controllers share.
package predicates

import (
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// OwnedPolicy passes the events of a component's generated policies that need a reconcile: spec edits, label
// edits, deletions and Cilium's Valid condition. Creations are netprofile's own writes (or, at start, objects
// whose owners are reconciled anyway), and other status churn is noise.
func OwnedPolicy(component string) predicate.Predicate {
	return predicate.And(Component(component), predicate.Funcs{CreateFunc: func(event.CreateEvent) bool { return false }},
		predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}, ValidConditionChanged{}))
}

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

// Component passes only objects of one netprofile component, so a controller is not woken by its
// sibling's policies in the same namespace.
func Component(component string) predicate.Predicate {
	return predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return obj.GetLabels()[ownership.ComponentLabel] == component
	})
}

// ValidConditionChanged passes updates that change the Valid condition the Cilium agent writes on a
// policy it could not import.
type ValidConditionChanged struct{ predicate.Funcs }

// Update passes when the Valid condition changed.
func (ValidConditionChanged) Update(e event.UpdateEvent) bool {
	return !equality.Semantic.DeepEqual(validCondition(e.ObjectOld), validCondition(e.ObjectNew))
}

func validCondition(obj client.Object) any {
	var conds []cilium.NetworkPolicyCondition
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		conds = p.Status.Conditions
	case *cilium.CiliumClusterwideNetworkPolicy:
		conds = p.Status.Conditions
	}
	for _, c := range conds {
		if c.Type == cilium.PolicyConditionValid {
			return [3]string{string(c.Status), c.Reason, c.Message}
		}
	}
	return nil
}
