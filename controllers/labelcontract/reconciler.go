// Package labelcontract publishes the LabelContract: what netprofile accepts on Namespaces (its settings and the
// names in the live catalogue), for the chart's admission policies and the kubectl plugin. It keeps the one
// object named after the label domain equal to what pkg/contract.Publish says, whoever edits it.
package labelcontract

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/policy"
)

// ControllerName names the controller in logs and metrics.
const ControllerName = "labelcontract"

// FieldManager writes the LabelContract.
const FieldManager = "netprofile-labelcontract"

// +kubebuilder:rbac:groups=network-policy.homelab,resources=labelcontracts,verbs=get;list;watch;create;update

// Reconciler publishes the LabelContract.
type Reconciler struct {
	Client   client.Client
	Contract contract.Contract
	Settings contract.Settings
	Clock    clock.Clock
}

// Reconcile writes the LabelContract when it differs from what the catalogue and the settings say, and comes
// back when the latest accepted until-annotation is due to be republished.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	profiles := &v1alpha1.NetworkProfileList{}
	if err := r.Client.List(ctx, profiles); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list NetworkProfiles: %w", err)
	}
	resources := &v1alpha1.SharedResourceList{}
	if err := r.Client.List(ctx, resources); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list SharedResources: %w", err)
	}
	baselines := &v1alpha1.BaselineList{}
	if err := r.Client.List(ctx, baselines); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list Baselines: %w", err)
	}
	// A label may name what exists and is not going away: the same as the renderer accepts.
	var profileNames, resourceNames []string
	cat := policy.Catalogue{Profiles: map[string]*v1alpha1.NetworkProfile{}, Resources: map[string]*v1alpha1.SharedResource{},
		Baselines: map[string]*v1alpha1.Baseline{}}
	for i := range profiles.Items {
		if p := &profiles.Items[i]; p.DeletionTimestamp.IsZero() {
			profileNames = append(profileNames, p.Name)
			cat.Profiles[p.Name] = p
		}
	}
	for i := range resources.Items {
		if sr := &resources.Items[i]; sr.DeletionTimestamp.IsZero() {
			resourceNames = append(resourceNames, sr.Name)
			cat.Resources[sr.Name] = sr
		}
	}
	for i := range baselines.Items {
		if b := &baselines.Items[i]; b.DeletionTimestamp.IsZero() {
			cat.Baselines[b.Name] = b
		}
	}

	current := &v1alpha1.LabelContract{}
	err := r.Client.Get(ctx, types.NamespacedName{Name: r.Contract.Domain()}, current)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("failed to read LabelContract %s: %w", r.Contract.Domain(), err)
	}
	found := err == nil
	var published *time.Time
	if found && current.Enforcement.UntilLatest != nil {
		published = &current.Enforcement.UntilLatest.Time
	}
	now := r.Clock.Now()
	until := contract.UntilLatest(published, now, r.Settings.MaxDisabled)
	desired := r.Contract.Publish(r.Settings, profileNames, resourceNames, policy.CatalogueNamespaces(cat), until)
	result := ctrl.Result{}
	if until != nil {
		result.RequeueAfter = until.Sub(now.Add(r.Settings.MaxDisabled)) + contract.UntilRefresh(r.Settings.MaxDisabled)
	}

	log := logf.FromContext(ctx)
	if !found {
		if err := r.Client.Create(ctx, desired, client.FieldOwner(FieldManager)); err != nil {
			return ctrl.Result{}, fmt.Errorf("failed to create LabelContract %s: %w", desired.Name, err)
		}
		log.Info("published the label contract", "profiles", len(profileNames), "sharedResources", len(resourceNames))
		return result, nil
	}
	// A full update, not an apply: what another writer added to a list is removed too, since the lists say
	// what admission accepts. The resourceVersion precondition makes a concurrent edit fail and retry.
	updated := desired.DeepCopy()
	updated.TypeMeta, updated.ObjectMeta = current.TypeMeta, *current.ObjectMeta.DeepCopy()
	if equality.Semantic.DeepEqual(current, updated) {
		return result, nil
	}
	if err := r.Client.Update(ctx, updated, client.FieldOwner(FieldManager)); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to update LabelContract %s: %w", desired.Name, err)
	}
	log.Info("published the label contract", "profiles", len(profileNames), "sharedResources", len(resourceNames))
	return result, nil
}

// SetupWithManager registers the reconciler: one key, enqueued by any change of the LabelContract, a
// NetworkProfile or a SharedResource (creation, deletion, or the start of a deletion).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	key := reconcile.Request{NamespacedName: types.NamespacedName{Name: r.Contract.Domain()}}
	one := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{key}
	})
	ours := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == r.Contract.Domain() })
	// Only existence matters, not specs: a spec edit keeps the name.
	existence := predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	}}
	opts.MaxConcurrentReconciles = 1
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		For(&v1alpha1.LabelContract{}, builder.WithPredicates(ours)).
		// The names come and go with the objects; the catalogue's namespaces change with their specs too.
		Watches(&v1alpha1.NetworkProfile{}, one, builder.WithPredicates(predicate.Or[client.Object](existence, predicate.GenerationChangedPredicate{}))).
		Watches(&v1alpha1.SharedResource{}, one, builder.WithPredicates(predicate.Or[client.Object](existence, predicate.GenerationChangedPredicate{}))).
		Watches(&v1alpha1.Baseline{}, one, builder.WithPredicates(predicate.Or[client.Object](existence, predicate.GenerationChangedPredicate{}))).
		// Once at start, for an empty catalogue with no LabelContract yet (nothing else would enqueue it).
		WatchesRawSource(source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
			q.Add(key)
			return nil
		})).
		Complete(r)
}
