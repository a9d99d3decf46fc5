// Package nsdeletion reports a terminating Namespace whose deletion netprofile's own admission holds up: the
// chart's generated-policies policy lets only netprofile and admission.systemDeleters delete the Cilium policies
// it keeps, and a namespace controller that runs as a user not in that list can never empty the namespace.
// It says so where it is seen: a NetworkPolicyDeletionBlocked condition on the Namespace (naming the user to
// add), a Warning Event, and the since-gauge the metrics collector derives from that condition. It never
// deletes anything itself: emptying a namespace is the namespace controller's work, and a list that misses
// its user holds up the garbage collector too, which only the platform team can fix.
package nsdeletion

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/netprofile/netprofile/controllers/internal/nsstatus"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

const (
	// ControllerName names the controller in logs and metrics.
	ControllerName = "namespace-deletion"
	// FieldManager owns the NetworkPolicyDeletionBlocked condition.
	FieldManager = ownership.NamePrefix + ControllerName
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reports terminating Namespaces held up by netprofile's admission.
type Reconciler struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

// Reconcile writes the DeletionBlocked condition of a terminating namespace, or removes it once nothing
// holds the namespace up any more.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	policies := &cilium.CiliumNetworkPolicyList{}
	if err := r.Client.List(ctx, policies, client.InNamespace(ns.Name), client.UnsafeDisableDeepCopy); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list CiliumNetworkPolicies: %w", err)
	}
	var remaining []string
	for i := range policies.Items {
		if ownership.Protected(&policies.Items[i]) {
			remaining = append(remaining, policies.Items[i].Name)
		}
	}
	slices.Sort(remaining)
	w := nsstatus.Writer{Client: r.Client, FieldManager: FieldManager, Recorder: r.Recorder, Clock: r.Clock}
	var want []corev1.NamespaceCondition
	if c := conditions.DeletionBlockedCondition(ns, remaining); c != nil {
		want = append(want, *c)
	}
	return ctrl.Result{}, w.Report(ctx, ns, []corev1.NamespaceConditionType{conditions.DeletionBlocked}, want...)
}

// SetupWithManager registers the reconciler for terminating Namespaces: the namespace controller reports each
// attempt on the Namespace's status, which is when a refusal shows.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		For(&corev1.Namespace{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return o.GetDeletionTimestamp() != nil
		}))).
		Complete(r)
}
