// Package sharedresource is the SharedResource reconciler. It owns the provider half of every access grant:
// a policy in the provider namespace that lets in the namespaces carrying the access label (and matching
// spec.consumers). (The consumer half is part of each consumer's namespace policy.) It also reports how many
// namespaces consume the resource, and which ones ask for it but are outside spec.consumers. Deleting a
// SharedResource is how the platform revokes it: its provider half goes at once, whoever still carries the
// label, and each consumer's egress goes with it (the namespace-policy controller withdraws the grant and
// says the resource is gone).
package sharedresource

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
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
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

const (
	// ControllerName names the controller in logs and metrics.
	ControllerName = "sharedresource"
	// FieldManager owns the provider-half policies.
	FieldManager = ownership.NamePrefix + ownership.ComponentProvider
)

// +kubebuilder:rbac:groups=network-policy.homelab,resources=sharedresources,verbs=get;list;watch
// +kubebuilder:rbac:groups=network-policy.homelab,resources=sharedresources/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;update;patch;delete

// ProviderIndex indexes Cilium policies at a provider half's reserved name by SharedResource name, in every
// namespace (a provider can move).
const ProviderIndex = "netprofile.provider"

// IndexProvider is the ProviderIndex function.
func IndexProvider(obj client.Object) []string {
	if comp, owner, ok := ownership.Reserved(obj.GetName(), true); ok && comp == ownership.ComponentProvider {
		return []string{owner}
	}
	return nil
}

// MaxRefusedListed caps status.refusedConsumers; status.refusedConsumerCount has the total.
const MaxRefusedListed = 100

// Reconciler reconciles one SharedResource.
type Reconciler struct {
	Client   client.Client
	Applier  apply.Applier
	Renderer policy.Renderer
	Status   crstatus.Writer
}

// Reconcile applies the provider half, prunes stale ones and reports.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	existing, err := r.providerPolicies(ctx, req.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	sr := &v1alpha1.SharedResource{}
	if err := r.Client.Get(ctx, req.NamespacedName, sr); err != nil {
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.prune(ctx, existing, nil)
	}
	if !sr.DeletionTimestamp.IsZero() {
		// Being deleted is deleted: whatever finalizer holds the object, the revocation does not wait for it.
		return ctrl.Result{}, r.prune(ctx, existing, nil)
	}
	labelled, err := r.labelled(ctx, req.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	before := sr.DeepCopy()

	admitted, refused := split(sr, labelled)
	ok, reason, msg, applied, applyErr := r.reconcileProvider(ctx, sr, existing, admitted, refused)
	var pruneErr error
	// A provider namespace that lost its mark (or was squatted) keeps no provider half.
	if applyErr == nil && (ok || reason == conditions.ReasonRejectedByAgent || reason == conditions.ReasonProviderNamespaceNotMarked) {
		pruneErr = r.prune(ctx, existing, applied)
	}
	sr.Status.ObservedGeneration = sr.Generation
	sr.Status.Consumers = int32(len(admitted))
	sr.Status.RefusedConsumerCount = int32(len(refused))
	sr.Status.RefusedConsumers = nil
	if len(refused) > 0 {
		sr.Status.RefusedConsumers = refused[:min(len(refused), MaxRefusedListed)]
	}
	transitioned := r.Status.SetReady(&sr.Status.Conditions, sr.Generation, ok, reason, msg)
	trustChanged := r.setConsumersTrusted(sr)
	changed := !equality.Semantic.DeepEqual(before.Status, sr.Status)
	statusErr := r.Status.Update(ctx, before, sr, sr.Status.Conditions, changed, transitioned)
	if statusErr == nil && trustChanged {
		r.consumersTrustedEvent(sr)
	}
	return ctrl.Result{}, errors.Join(applyErr, pruneErr, statusErr)
}

// setConsumersTrusted sets the ConsumersTrusted condition (removes it without spec.consumers) and reports
// whether its status or reason changed: a warning that spec.consumers admits whoever copies its labels is a
// warning, not a refusal, so the grants and Ready are as they were.
func (r *Reconciler) setConsumersTrusted(sr *v1alpha1.SharedResource) bool {
	var old *metav1.Condition
	if c := apimeta.FindStatusCondition(sr.Status.Conditions, conditions.ConsumersTrusted); c != nil {
		// A copy: SetStatusCondition updates the condition in place.
		old = c.DeepCopy()
	}
	present, ok, reason, msg := r.Renderer.ConsumersTrust(sr)
	if !present {
		apimeta.RemoveStatusCondition(&sr.Status.Conditions, conditions.ConsumersTrusted)
		return false
	}
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	apimeta.SetStatusCondition(&sr.Status.Conditions, metav1.Condition{
		Type: conditions.ConsumersTrusted, Status: status, Reason: reason, ObservedGeneration: sr.Generation,
		Message: conditions.Shorten(msg, conditions.MaxMessage), LastTransitionTime: metav1.NewTime(r.Status.Clock.Now()),
	})
	// The first trusted verdict is news to nobody; the first untrusted one, and every change, is.
	return (old == nil && !ok) || (old != nil && (old.Status != status || old.Reason != reason))
}

func (r *Reconciler) consumersTrustedEvent(sr *v1alpha1.SharedResource) {
	c := apimeta.FindStatusCondition(sr.Status.Conditions, conditions.ConsumersTrusted)
	eventType := corev1.EventTypeNormal
	if c.Status != metav1.ConditionTrue {
		eventType = corev1.EventTypeWarning
	}
	r.Status.Recorder.Eventf(sr, nil, eventType, c.Reason, "Reconcile", "%s", conditions.Shorten(c.Message, conditions.MaxEventNote))
}

// split sorts the namespaces carrying the access label into those spec.consumers admits and those it refuses,
// by name. While spec.consumers is invalid nobody is reported refused: the resource itself is (Ready), and
// its namespaces keep what stood.
func split(sr *v1alpha1.SharedResource, labelled []corev1.Namespace) (admitted, refused []string) {
	for i := range labelled {
		if ok, err := policy.Admits(sr, labelled[i].Labels); ok || err != nil {
			admitted = append(admitted, labelled[i].Name)
		} else {
			refused = append(refused, labelled[i].Name)
		}
	}
	slices.Sort(admitted)
	slices.Sort(refused)
	return admitted, refused
}

// reconcileProvider applies the provider half; applied is what now stands (nil for entity providers).
func (r *Reconciler) reconcileProvider(ctx context.Context, sr *v1alpha1.SharedResource, existing []*cilium.CiliumNetworkPolicy, admitted, refused []string) (ok bool, reason, msg string, applied *cilium.CiliumNetworkPolicy, err error) {
	desired, err := r.Renderer.Provider(sr)
	if refusal, isRefusal := errors.AsType[*policy.Refusal](err); isRefusal {
		return false, conditions.ReasonInvalid, refusal.Message + "; the last good provider policy stays in place", nil, nil
	}
	if err != nil {
		return false, conditions.ReasonInvalid, err.Error(), nil, err
	}
	ports := portList(sr.Spec.Ports)
	if desired == nil {
		return true, conditions.ReasonEntityProvider, fmt.Sprintf("%d consumer namespaces reach entity %s on %s; no provider namespace to write into%s",
			len(admitted), sr.Spec.Provider.Entity, ports, refusedText(sr, refused)), nil, nil
	}
	providerNS := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: desired.Namespace}, providerNS); err != nil {
		if apierrors.IsNotFound(err) {
			return false, conditions.ReasonProviderNamespaceMissing, fmt.Sprintf("provider namespace %s does not exist; the provider policy is applied when it appears", desired.Namespace), nil, nil
		}
		return false, conditions.ReasonApplyFailed, err.Error(), nil, err
	}
	if !r.Renderer.Marked(providerNS.Name, providerNS.Labels) {
		return false, conditions.ReasonProviderNamespaceNotMarked, conditions.NotMarkedMessage(r.Renderer.Contract, "provider namespace", providerNS.Name,
			"no provider policy is written into it and no consumer's egress reaches it"), nil, nil
	}
	if _, err := r.Applier.Apply(ctx, desired, providerNS); err != nil {
		if apply.IsClash(err) {
			return false, conditions.ReasonNameClash, err.Error(), nil, nil
		}
		return false, conditions.ReasonApplyFailed, "failed to apply the provider policy, retrying: " + err.Error(), nil, err
	}
	for _, p := range existing {
		if p.Namespace == desired.Namespace {
			if invalid := apply.Rejected(p); invalid != "" {
				return false, conditions.ReasonRejectedByAgent, invalid, desired, nil
			}
		}
	}
	who := fmt.Sprintf("the %d namespaces labelled %s=true", len(admitted), r.Renderer.Contract.AccessKey(sr.Name))
	if limit := policy.ConsumersText(&sr.Spec); limit != "" {
		who += " that match " + limit
	}
	return true, conditions.ReasonProviderApplied, fmt.Sprintf("CiliumNetworkPolicy %s/%s lets in %s on %s%s",
		desired.Namespace, desired.Name, who, ports, refusedText(sr, refused)), desired, nil
}

// refusedText says which labelled namespaces spec.consumers keeps out, for the Ready message; the names are
// capped as in the status.
func refusedText(sr *v1alpha1.SharedResource, refused []string) string {
	if len(refused) == 0 {
		return ""
	}
	names := strings.Join(refused[:min(len(refused), 10)], ", ")
	if len(refused) > 10 {
		names += fmt.Sprintf(" and %d more", len(refused)-10)
	}
	return fmt.Sprintf("; %d namespaces carry the label but are outside spec.consumers (%s) and get no access: %s",
		len(refused), policy.ConsumersText(&sr.Spec), names)
}

// providerPolicies are the policies at this resource's provider-half name in every namespace, whoever owns
// them (more than one only while the provider moves).
func (r *Reconciler) providerPolicies(ctx context.Context, name string) ([]*cilium.CiliumNetworkPolicy, error) {
	list := &cilium.CiliumNetworkPolicyList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{ProviderIndex: name}); err != nil {
		return nil, fmt.Errorf("failed to list provider policies: %w", err)
	}
	out := make([]*cilium.CiliumNetworkPolicy, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	return out, nil
}

// labelled are the namespaces carrying the access label, whether or not spec.consumers admits them.
func (r *Reconciler) labelled(ctx context.Context, name string) ([]corev1.Namespace, error) {
	list := &corev1.NamespaceList{}
	if err := r.Client.List(ctx, list, client.MatchingLabels{r.Renderer.Contract.AccessKey(name): contract.AccessGranted}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("failed to list consumer namespaces: %w", err)
	}
	return list.Items, nil
}

// prune deletes provider halves other than keep (a moved provider, or a deleted resource nobody uses) that
// netprofile owns; a copy someone else made at that name is left alone.
func (r *Reconciler) prune(ctx context.Context, existing []*cilium.CiliumNetworkPolicy, keep *cilium.CiliumNetworkPolicy) error {
	var errs []error
	for _, p := range existing {
		if keep != nil && p.Namespace == keep.Namespace && p.Name == keep.Name {
			continue
		}
		ns := &corev1.Namespace{}
		if err := r.Client.Get(ctx, client.ObjectKey{Name: p.Namespace}, ns); client.IgnoreNotFound(err) != nil {
			errs = append(errs, err)
			continue
		}
		if err := r.Applier.Delete(ctx, p, ns.UID); err != nil && !apply.IsClash(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func portList(ports []v1alpha1.PortProtocol) string {
	s := make([]string, 0, len(ports))
	for _, p := range ports {
		proto := p.Protocol
		if proto == "" {
			proto = v1alpha1.ProtocolTCP
		}
		s = append(s, fmt.Sprintf("%d/%s", p.Port, proto))
	}
	return strings.Join(s, ", ")
}

// SetupWithManager registers the reconciler: resource spec changes, its provider policies' drift, consumer
// label changes (any label of a namespace carrying an access label: spec.consumers may select on it), and
// provider namespaces appearing.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	prefix := r.Renderer.Contract.AccessPrefix()
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		For(&v1alpha1.SharedResource{}, builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, predicates.Resync{}))).
		Watches(&cilium.CiliumNetworkPolicy{}, predicates.ReservedPolicy(ownership.ComponentProvider),
			builder.WithPredicates(predicates.PolicyChanged{Component: ownership.ComponentProvider})).
		Watches(&corev1.Namespace{}, nsmap.LabelsHandler(func(l map[string]string) []string { return grants(prefix, l) })).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.providedIn), builder.WithPredicates(predicate.Funcs{
			// A provider namespace that appears or goes, or gains or loses the platform mark.
			UpdateFunc: func(e event.UpdateEvent) bool {
				key := r.Renderer.Contract.PlatformKey()
				return e.ObjectOld.GetLabels()[key] != e.ObjectNew.GetLabels()[key]
			},
		})).
		Complete(r)
}

// providedIn maps a provider namespace that appears or goes to the resources it provides.
func (r *Reconciler) providedIn(ctx context.Context, obj client.Object) []reconcile.Request {
	list := &v1alpha1.SharedResourceList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var names []string
	for _, sr := range list.Items {
		if sr.Spec.Provider.Namespace == obj.GetName() {
			names = append(names, sr.Name)
		}
	}
	return requests(names)
}

// grants are the resources with access granted ("true") by labels.
func grants(prefix string, labels map[string]string) []string {
	var out []string
	for k, v := range labels {
		if name, ok := strings.CutPrefix(k, prefix); ok && v == contract.AccessGranted {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func requests(names []string) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(names))
	for _, n := range names {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: n}})
	}
	return out
}
