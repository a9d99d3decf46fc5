// Package baseline is the Baseline reconciler: it renders each Baseline into its operator-owned
// CiliumClusterwideNetworkPolicy, repairs edits and deletions, deletes it when the Baseline is switched off,
// and reports on the Baseline whether the floor every namespace stands on is really in place.
package baseline

import (
	"context"
	"errors"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/apply"
	"github.com/netprofile/netprofile/controllers/internal/crstatus"
	"github.com/netprofile/netprofile/controllers/internal/nsmap"
	"github.com/netprofile/netprofile/controllers/internal/predicates"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

const (
	// ControllerName names the controller in logs and metrics.
	ControllerName = "baseline"
	// FieldManager owns the baseline policies.
	FieldManager = ownership.NamePrefix + ownership.ComponentBaseline
)

// +kubebuilder:rbac:groups=network-policy.homelab,resources=baselines,verbs=get;list;watch
// +kubebuilder:rbac:groups=network-policy.homelab,resources=baselines/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumclusterwidenetworkpolicies,verbs=get;list;watch;create;update;patch;delete

// Reconciler reconciles one Baseline.
type Reconciler struct {
	Client   client.Client
	Applier  apply.Applier
	Renderer policy.Renderer
	Status   crstatus.Writer
}

// Reconcile renders and applies the baseline, or deletes its policy when it is off or gone.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	current, err := apply.Current[cilium.CiliumClusterwideNetworkPolicy](ctx, r.Client, client.ObjectKey{Name: ownership.BaselinePolicyName(req.Name)})
	if err != nil {
		return ctrl.Result{}, err
	}
	b := &v1alpha1.Baseline{}
	if err := r.Client.Get(ctx, req.NamespacedName, b); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		// Deleted: its policy goes with it (the ownerReference would make the garbage collector do the same),
		// if netprofile wrote it; a copy someone else made at that name stays.
		if current != nil {
			if err := r.Applier.Delete(ctx, current, ""); err != nil && !apply.IsClash(err) {
				return ctrl.Result{}, err
			}
		}
		return ctrl.Result{}, nil
	}
	if !b.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	before := b.DeepCopy()

	ok, reason, msg, applyErr := r.reconcilePolicy(ctx, b, current)
	b.Status.ObservedGeneration = b.Generation
	transitioned := r.Status.SetReady(&b.Status.Conditions, b.Generation, ok, reason, msg)
	changed := !equality.Semantic.DeepEqual(before.Status, b.Status)
	return ctrl.Result{}, errors.Join(applyErr, r.Status.Update(ctx, before, b, b.Status.Conditions, changed, transitioned))
}

// reconcilePolicy brings the clusterwide policy in line and says how that went.
func (r *Reconciler) reconcilePolicy(ctx context.Context, b *v1alpha1.Baseline, current *cilium.CiliumClusterwideNetworkPolicy) (bool, string, string, error) {
	desired, err := r.Renderer.Baseline(b)
	if refusal, isRefusal := errors.AsType[*policy.Refusal](err); isRefusal {
		// Fail closed: the last good policy stays.
		kept := "no policy was applied"
		if current != nil {
			kept = "the last good CiliumClusterwideNetworkPolicy " + current.Name + " stays in place"
		}
		return false, conditions.ReasonInvalid, refusal.Message + "; " + kept, nil
	}
	if err != nil {
		return false, conditions.ReasonInvalid, err.Error(), err
	}
	if desired == nil {
		b.Status.Policy = ""
		if current != nil {
			if err := r.Applier.Delete(ctx, current, b.UID); err != nil && !apply.IsClash(err) {
				return false, conditions.ReasonBaselineDisabled, "switched off, but its policy could not be deleted: " + err.Error(), err
			}
		}
		return true, conditions.ReasonBaselineDisabled, "switched off (spec.enabled: false): no policy is applied", nil
	}

	if _, err := r.Applier.Apply(ctx, desired, b); err != nil {
		if apply.IsClash(err) {
			return false, conditions.ReasonNameClash, err.Error(), nil
		}
		return false, conditions.ReasonApplyFailed, "failed to apply the policy, retrying: " + err.Error(), err
	}
	b.Status.Policy = desired.Name
	if invalid := apply.Rejected(current); invalid != "" {
		return false, conditions.ReasonRejectedByAgent, invalid, nil
	}
	msg := fmt.Sprintf("CiliumClusterwideNetworkPolicy %s is applied", desired.Name)
	unmarked, err := nsmap.Unmarked(ctx, r.Client, r.Renderer, policy.CatalogueNamespaces(policy.Catalogue{Baselines: map[string]*v1alpha1.Baseline{b.Name: b}}))
	if err != nil {
		return false, conditions.ReasonBaselineApplied, msg, err
	}
	if len(unmarked) > 0 {
		return false, conditions.ReasonNamespacesNotMarked, conditions.UnmarkedPeersMessage(r.Renderer.Contract, msg, unmarked), nil
	}
	return true, conditions.ReasonBaselineApplied, msg, nil
}

// naming maps a namespace to the Baselines whose peers name it.
func (r *Reconciler) naming(ctx context.Context, ns client.Object) []reconcile.Request {
	list := &v1alpha1.BaselineList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		b := &list.Items[i]
		if slices.Contains(policy.CatalogueNamespaces(policy.Catalogue{Baselines: map[string]*v1alpha1.Baseline{b.Name: b}}), ns.GetName()) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: b.Name}})
		}
	}
	return out
}

// SetupWithManager registers the reconciler: Baseline spec changes, resyncs, and every change of a policy at
// the Baseline's reserved name, whoever owns it. The Baseline's own status writes do not wake it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		For(&v1alpha1.Baseline{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicates.Resync{}))).
		Watches(&cilium.CiliumClusterwideNetworkPolicy{}, predicates.ReservedPolicy(ownership.ComponentBaseline),
			builder.WithPredicates(predicates.PolicyChanged{Component: ownership.ComponentBaseline})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.naming), builder.WithPredicates(nsmap.MarkChanged(r.Renderer.Contract.PlatformKey()))).
		Complete(r)
}
