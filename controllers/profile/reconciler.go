// Package profile is the NetworkProfile status reconciler: whether a profile renders to policies Cilium
// accepts (an invalid profile that slipped past admission is refused here and on every namespace using it),
// and how many namespaces use it.
package profile

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/crstatus"
	"github.com/netprofile/netprofile/controllers/internal/nsmap"
	"github.com/netprofile/netprofile/controllers/internal/predicates"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/policy"
)

// ControllerName names the controller in logs and metrics.
const ControllerName = "networkprofile"

// +kubebuilder:rbac:groups=network-policy.homelab,resources=networkprofiles,verbs=get;list;watch
// +kubebuilder:rbac:groups=network-policy.homelab,resources=networkprofiles/status,verbs=get;patch

// Reconciler reconciles a NetworkProfile's status.
type Reconciler struct {
	Client   client.Client
	Renderer policy.Renderer
	Status   crstatus.Writer
}

// Reconcile validates the profile by rendering it, and counts its namespaces.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	p := &v1alpha1.NetworkProfile{}
	if err := r.Client.Get(ctx, req.NamespacedName, p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	count, err := r.namespaces(ctx, p.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	before := p.DeepCopy()

	// Render as a namespace using it would: the same code, so "Ready" means "namespaces get this".
	probe := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "netprofile-validation", Labels: map[string]string{r.Renderer.Contract.ProfileKey(): p.Name}}}
	_, renderErr := r.Renderer.Namespace(probe, policy.Catalogue{Profiles: map[string]*v1alpha1.NetworkProfile{p.Name: p}}, nil)
	ok, reason, msg := true, conditions.ReasonValid, fmt.Sprintf("renders to policies Cilium accepts; used by %d namespaces", count)
	if renderErr != nil {
		ok, reason, msg = false, conditions.ReasonInvalid, renderErr.Error()+"; namespaces using it keep their last good policies"
	} else {
		unmarked, err := nsmap.Unmarked(ctx, r.Client, r.Renderer, policy.CatalogueNamespaces(policy.Catalogue{Profiles: map[string]*v1alpha1.NetworkProfile{p.Name: p}}))
		if err != nil {
			return ctrl.Result{}, err
		}
		if len(unmarked) > 0 {
			ok, reason, msg = false, conditions.ReasonNamespacesNotMarked, conditions.UnmarkedPeersMessage(r.Renderer.Contract, msg, unmarked)
		}
	}
	p.Status.ObservedGeneration = p.Generation
	p.Status.Namespaces = count
	transitioned := r.Status.SetReady(&p.Status.Conditions, p.Generation, ok, reason, msg)
	changed := !equality.Semantic.DeepEqual(before.Status, p.Status)
	return ctrl.Result{}, r.Status.Update(ctx, before, p, p.Status.Conditions, changed, transitioned)
}

func (r *Reconciler) namespaces(ctx context.Context, profile string) (int32, error) {
	list := &corev1.NamespaceList{}
	if err := r.Client.List(ctx, list, client.MatchingLabels{r.Renderer.Contract.ProfileKey(): profile}, client.UnsafeDisableDeepCopy); err != nil {
		return 0, fmt.Errorf("failed to list namespaces: %w", err)
	}
	return int32(len(list.Items)), nil
}

// SetupWithManager registers the reconciler: profile spec changes, and namespaces whose profile label changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	key := r.Renderer.Contract.ProfileKey()
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		For(&v1alpha1.NetworkProfile{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicates.Resync{}))).
		Watches(&corev1.Namespace{}, nsmap.Handler(func(l map[string]string) []string {
			if v, ok := l[key]; ok && v != "" {
				return []string{v}
			}
			return nil
		})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.naming), builder.WithPredicates(nsmap.MarkChanged(r.Renderer.Contract.PlatformKey()))).
		Complete(r)
}

// naming maps a namespace to the profiles whose peers name it.
func (r *Reconciler) naming(ctx context.Context, ns client.Object) []reconcile.Request {
	list := &v1alpha1.NetworkProfileList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		p := &list.Items[i]
		if slices.Contains(policy.CatalogueNamespaces(policy.Catalogue{Profiles: map[string]*v1alpha1.NetworkProfile{p.Name: p}}), ns.GetName()) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: p.Name}})
		}
	}
	return out
}
