package namespacepolicy

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/predicates"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// SetupWithManager registers the reconciler. Namespace label edits do not bump generation, so the Namespace
// watch compares labels; informer resyncs (same resourceVersion) pass through so a resync re-checks every
// namespace. Every change of a policy named netprofile-namespace reaches its namespace, whoever owns it
// (predicates.ReservedPolicy), and a SharedResource or Baseline going in or out of effect reaches the
// namespaces that depend on it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		For(&corev1.Namespace{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.LabelChangedPredicate{}, predicates.Resync{}))).
		Watches(&cilium.CiliumNetworkPolicy{}, predicates.ReservedPolicy(ownership.ComponentNamespacePolicy),
			builder.WithPredicates(predicates.PolicyChanged{Component: ownership.ComponentNamespacePolicy})).
		Watches(&v1alpha1.NetworkProfile{}, handler.EnqueueRequestsFromMapFunc(r.namespacesUsingProfile),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.SharedResource{}, handler.EnqueueRequestsFromMapFunc(r.namespacesUsingResource),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicates.ReadyChanged{}))).
		Watches(&v1alpha1.Baseline{}, handler.EnqueueRequestsFromMapFunc(r.managedNamespaces),
			builder.WithPredicates(predicates.ReadyChanged{})).
		Complete(r)
}

// namespacesUsingProfile fans a profile change out to every namespace labelled with it.
func (r *Reconciler) namespacesUsingProfile(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.namespacesWithLabel(ctx, r.Renderer.Contract.ProfileKey(), obj.GetName())
}

// namespacesUsingResource fans a SharedResource change out to every namespace with its access label (any
// value: a namespace refused for a missing resource is re-checked when the resource appears).
func (r *Reconciler) namespacesUsingResource(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.namespacesWithLabel(ctx, r.Renderer.Contract.AccessKey(obj.GetName()), "")
}

// managedNamespaces are all namespaces with netprofile labels: a Baseline going in or out of effect changes
// what each of them reports.
func (r *Reconciler) managedNamespaces(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &corev1.NamespaceList{}
	if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list namespaces for fan-out")
		return nil
	}
	var reqs []reconcile.Request
	for i := range list.Items {
		if r.Renderer.Contract.Mentions(list.Items[i].Labels) {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
		}
	}
	return reqs
}

func (r *Reconciler) namespacesWithLabel(ctx context.Context, key, value string) []reconcile.Request {
	opts := []client.ListOption{client.HasLabels{key}}
	if value != "" {
		opts = []client.ListOption{client.MatchingLabels{key: value}}
	}
	list := &corev1.NamespaceList{}
	if err := r.Client.List(ctx, list, opts...); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Failed to list namespaces for fan-out", "label", key)
		return nil
	}
	reqs := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
	}
	return reqs
}
