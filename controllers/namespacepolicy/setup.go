package namespacepolicy

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/predicates"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// SetupWithManager registers the reconciler. Namespace label edits do not bump generation, so the Namespace
// watch compares labels (and annotations: the escape hatch's end decides when the ceiling returns), and its
// own conditions, which anyone who may write the Namespace's status can forge; informer resyncs (same
// resourceVersion) pass through so a resync re-checks every namespace. A record of a bypass changing reaches
// its namespace: whether a bypass lifts the ceiling is decided with it. A policy netprofile did
// not write coming or going in a profiled namespace reaches it, for its ceiling condition. Every change of a policy named netprofile-namespace reaches its namespace, whoever owns it
// (predicates.ReservedPolicy), and a SharedResource or Baseline going in or out of effect reaches the
// namespaces that depend on it. Those fan-outs are queued at low priority (predicates.FanOut): a catalogue
// change re-checks thousands of namespaces, and a person's own label change must not wait behind them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		Watches(&corev1.Namespace{}, r.namespaceEvents(), builder.WithPredicates(predicate.Or[client.Object](
			predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicates.Resync{},
			predicates.ConditionsChanged{Types: []corev1.NamespaceConditionType{conditions.Ready, conditions.Ceiling}}))).
		Watches(&corev1.ConfigMap{}, predicates.BypassRecord(r.RecordNamespace)).
		Watches(&cilium.CiliumNetworkPolicy{}, predicates.ReservedPolicy(ownership.ComponentNamespacePolicy),
			builder.WithPredicates(predicates.PolicyChanged{Component: ownership.ComponentNamespacePolicy})).
		Watches(&cilium.CiliumNetworkPolicy{}, handler.EnqueueRequestsFromMapFunc(r.profiledNamespaceOf),
			builder.WithPredicates(predicates.ComesOrGoes{}, predicate.NewPredicateFuncs(notGenerated))).
		Watches(&networkingv1.NetworkPolicy{}, handler.EnqueueRequestsFromMapFunc(r.profiledNamespaceOf),
			builder.OnlyMetadata, builder.WithPredicates(predicates.ComesOrGoes{})).
		Watches(&v1alpha1.NetworkProfile{}, predicates.FanOut(r.namespacesUsingProfile),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.SharedResource{}, predicates.FanOut(r.namespacesUsingResource),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicates.ReadyChanged{}))).
		Watches(&v1alpha1.Baseline{}, predicates.FanOut(r.managedNamespaces),
			builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicates.ReadyChanged{}))).
		Complete(r)
}

// namespaceEvents enqueues the namespace itself, as For would, and marks the namespaces of the informer's
// initial list as adopted before they are queued, so their first reconcile knows (see adoption).
func (r *Reconciler) namespaceEvents() handler.EventHandler {
	// Real time, not r.Clock: it is compared with the API server's timestamps.
	return adoptingHandler{EventHandler: &handler.EnqueueRequestForObject{}, adopting: &r.adopting, started: time.Now().Truncate(time.Second)}
}

// adoptingHandler is handler.EnqueueRequestForObject that also marks adopted namespaces.
type adoptingHandler struct {
	handler.EventHandler
	adopting *adoption
	started  time.Time
}

func (h adoptingHandler) Create(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	// Created before this process started (creationTimestamp has whole seconds): a namespace created while the
	// informer was listing was not adopted, it was just created.
	if e.IsInInitialList && e.Object.GetCreationTimestamp().Time.Before(h.started) {
		h.adopting.mark(e.Object.GetName())
	}
	h.EventHandler.Create(ctx, e, q)
}

// namespacesUsingProfile fans a profile change out to every namespace labelled with it.
func (r *Reconciler) namespacesUsingProfile(ctx context.Context, obj client.Object) []reconcile.Request {
	return r.namespacesWithLabel(ctx, r.Renderer.Contract.ProfileKey(), obj.GetName())
}

// namespacesUsingResource fans a SharedResource change out to every namespace with its access label (any
// value: a namespace refused for a missing resource is re-checked when the resource appears), and to its
// provider namespace, whose ceiling counts the provider half.
func (r *Reconciler) namespacesUsingResource(ctx context.Context, obj client.Object) []reconcile.Request {
	reqs := r.namespacesWithLabel(ctx, r.Renderer.Contract.AccessKey(obj.GetName()), "")
	if sr, ok := obj.(*v1alpha1.SharedResource); ok && sr.Spec.Provider.Namespace != "" {
		reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKey{Name: sr.Spec.Provider.Namespace}})
	}
	return reqs
}

// profiledNamespaceOf maps a policy netprofile did not generate to its namespace when that namespace has a
// profile: the policy is one its ceiling condition names.
func (r *Reconciler) profiledNamespaceOf(ctx context.Context, obj client.Object) []reconcile.Request {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: obj.GetNamespace()}, ns); err != nil {
		return nil
	}
	if _, ok := ns.Labels[r.Renderer.Contract.ProfileKey()]; !ok {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: ns.Name}}}
}

func notGenerated(obj client.Object) bool { return !ownership.Generated(obj) }

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
