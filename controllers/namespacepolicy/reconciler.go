// Package namespacepolicy is the Namespace reconciler: it turns a Namespace's profile and access labels into
// its generated CiliumNetworkPolicy, keeps it repaired, prunes what is no longer asked for, and writes the
// NetworkPolicyReady condition. Bad input never removes or opens anything: the last good policy stays.
package namespacepolicy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/apply"
	"github.com/netprofile/netprofile/controllers/internal/nsstatus"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

const (
	// ControllerName names the controller in logs and metrics.
	ControllerName = "namespace-policy"
	// FieldManager owns the generated namespace policies and the NetworkPolicyReady condition.
	FieldManager = "netprofile-namespace-policy"
)

// Event reasons beyond the condition reasons.
const (
	reasonPruned = "PoliciesPruned"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=network-policy.homelab,resources=networkprofiles;sharedresources;baselines,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reconciles a Namespace's generated policy.
type Reconciler struct {
	Client   client.Client
	Applier  apply.Applier
	Renderer policy.Renderer
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
}

// Reconcile renders, applies, prunes and reports, in that order.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A terminating namespace deletes its own contents; writes would only fail.
	if !ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	existing := &cilium.CiliumNetworkPolicyList{}
	if err := r.Client.List(ctx, existing, client.InNamespace(ns.Name),
		client.MatchingLabelsSelector{Selector: ownership.ComponentSelector(ownership.ComponentNamespacePolicy)}); err != nil {
		return ctrl.Result{}, fmt.Errorf("failed to list generated policies: %w", err)
	}
	cat, err := r.catalogue(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}

	res, err := r.Renderer.Namespace(ns, cat)
	if refusal, ok := errors.AsType[*policy.Refusal](err); ok {
		// Fail closed: keep what is applied, say why, retry when the input changes (every input is watched).
		msg := refusal.Message + "; " + r.keptMessage(existing.Items)
		return ctrl.Result{}, r.report(ctx, ns, corev1.ConditionFalse, refusal.Reason, msg, reconcile.TerminalError(refusal))
	}
	if err != nil {
		return ctrl.Result{}, err
	}

	if res.Selection.IsEmpty() && len(existing.Items) == 0 && conditions.Find(ns.Status.Conditions, conditions.Ready) == nil {
		return ctrl.Result{}, nil // Not ours to manage, and never was.
	}
	if err := r.apply(ctx, ns, res.Policies); err != nil {
		if apply.IsClash(err) {
			return ctrl.Result{}, r.report(ctx, ns, corev1.ConditionFalse, conditions.ReasonNameClash, err.Error(), reconcile.TerminalError(err))
		}
		return ctrl.Result{}, r.report(ctx, ns, corev1.ConditionFalse, conditions.ReasonApplyFailed,
			"failed to apply the generated policy, retrying: "+err.Error(), err)
	}
	if err := r.prune(ctx, ns, res.Policies, existing.Items); err != nil {
		return ctrl.Result{}, err
	}
	if res.Selection.IsEmpty() {
		return ctrl.Result{}, r.status().Clear(ctx, ns)
	}
	if invalid := rejectedByCilium(existing.Items); invalid != "" {
		return ctrl.Result{}, r.report(ctx, ns, corev1.ConditionFalse, conditions.ReasonRejectedByAgent, invalid, nil)
	}
	failing, err := r.failingBaselines(ctx, ns)
	if err != nil {
		return ctrl.Result{}, err
	}
	if failing != "" {
		return ctrl.Result{}, r.report(ctx, ns, corev1.ConditionFalse, conditions.ReasonBaselineFailing, readyMessage(res)+", but "+failing, nil)
	}
	return ctrl.Result{}, r.report(ctx, ns, corev1.ConditionTrue, readyReason(res), readyMessage(res), nil)
}

// failingBaselines describes the Baselines that select ns but are not in effect (invalid, clashing, rejected
// by Cilium): the traffic they allow, DNS for one, is dropped here although the namespace's own policy is
// fine. A Baseline not yet reconciled or switched off on purpose is not failing.
func (r *Reconciler) failingBaselines(ctx context.Context, ns *corev1.Namespace) (string, error) {
	list := &v1alpha1.BaselineList{}
	if err := r.Client.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return "", fmt.Errorf("failed to list Baselines: %w", err)
	}
	var failing []string
	for i := range list.Items {
		b := &list.Items[i]
		ready := apimeta.FindStatusCondition(b.Status.Conditions, "Ready")
		if ready == nil || ready.Status != metav1.ConditionFalse || !selects(b.Spec.NamespaceSelector, ns.Labels) {
			continue
		}
		failing = append(failing, fmt.Sprintf("baseline %s is not in effect (%s: %s)", b.Name, ready.Reason, ready.Message))
	}
	slices.Sort(failing)
	return strings.Join(failing, "; "), nil
}

func selects(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// catalogue reads every NetworkProfile and SharedResource from the cache, without copies: rendering only
// reads them, and every namespace reconcile needs all of them.
func (r *Reconciler) catalogue(ctx context.Context) (policy.Catalogue, error) {
	profiles := &v1alpha1.NetworkProfileList{}
	if err := r.Client.List(ctx, profiles, client.UnsafeDisableDeepCopy); err != nil {
		return policy.Catalogue{}, fmt.Errorf("failed to list NetworkProfiles: %w", err)
	}
	resources := &v1alpha1.SharedResourceList{}
	if err := r.Client.List(ctx, resources, client.UnsafeDisableDeepCopy); err != nil {
		return policy.Catalogue{}, fmt.Errorf("failed to list SharedResources: %w", err)
	}
	cat := policy.Catalogue{
		Profiles:  make(map[string]*v1alpha1.NetworkProfile, len(profiles.Items)),
		Resources: make(map[string]*v1alpha1.SharedResource, len(resources.Items)),
	}
	for i := range profiles.Items {
		cat.Profiles[profiles.Items[i].Name] = &profiles.Items[i]
	}
	for i := range resources.Items {
		cat.Resources[resources.Items[i].Name] = &resources.Items[i]
	}
	return cat, nil
}

func (r *Reconciler) apply(ctx context.Context, ns *corev1.Namespace, desired []*cilium.CiliumNetworkPolicy) error {
	for _, want := range desired {
		if _, err := r.Applier.Apply(ctx, want, ownership.ComponentNamespacePolicy, ns); err != nil {
			return err
		}
	}
	return nil
}

// prune deletes generated policies that are no longer desired, including the last one when every label is
// gone.
func (r *Reconciler) prune(ctx context.Context, ns *corev1.Namespace, desired []*cilium.CiliumNetworkPolicy, existing []cilium.CiliumNetworkPolicy) error {
	keep := map[string]bool{}
	for _, p := range desired {
		keep[p.Name] = true
	}
	items := make([]*cilium.CiliumNetworkPolicy, 0, len(existing))
	for i := range existing {
		items = append(items, &existing[i])
	}
	var errs []error
	var pruned []string
	for _, p := range ownership.SelectStale(items, ownership.ComponentNamespacePolicy, ns, keep) {
		if err := apply.Delete(ctx, r.Client, p, ownership.ComponentNamespacePolicy); err != nil {
			errs = append(errs, err)
			continue
		}
		pruned = append(pruned, p.Name)
	}
	if len(pruned) > 0 {
		r.Recorder.Eventf(ns, nil, corev1.EventTypeNormal, reasonPruned, "Prune",
			"deleted generated CiliumNetworkPolicy %s: the namespace no longer asks for it", strings.Join(pruned, ", "))
	}
	return errors.Join(errs...)
}

// report writes the NetworkPolicyReady condition (only on change, with an Event) and returns retErr joined
// with any write error.
func (r *Reconciler) report(ctx context.Context, ns *corev1.Namespace, status corev1.ConditionStatus, reason, message string, retErr error) error {
	return errors.Join(retErr, r.status().Set(ctx, ns, status, reason, message))
}

func (r *Reconciler) status() nsstatus.Writer {
	return nsstatus.Writer{Client: r.Client, FieldManager: FieldManager, Recorder: r.Recorder, Type: conditions.Ready, Clock: r.Clock}
}

func readyReason(res policy.NamespaceResult) string {
	if len(res.Policies) == 0 {
		return conditions.ReasonNoRulesNeeded
	}
	return conditions.ReasonPoliciesApplied
}

// readyMessage names the profile, the grants and the policies in effect.
func readyMessage(res policy.NamespaceResult) string {
	var b strings.Builder
	if res.Selection.Profile != "" {
		fmt.Fprintf(&b, "profile %q", res.Selection.Profile)
	} else {
		b.WriteString("no profile")
	}
	if len(res.Selection.Grants) > 0 {
		fmt.Fprintf(&b, " with access to %s", strings.Join(res.Selection.Grants, ", "))
	}
	if len(res.Policies) == 0 {
		b.WriteString(" is in effect: it allows nothing beyond the cluster baselines, so no policy is needed")
		return b.String()
	}
	names := make([]string, 0, len(res.Policies))
	for _, p := range res.Policies {
		names = append(names, p.Name)
	}
	fmt.Fprintf(&b, " is in effect: applied CiliumNetworkPolicy %s", strings.Join(names, ", "))
	return b.String()
}

// keptMessage says what stays in place while the input is bad.
func (r *Reconciler) keptMessage(existing []cilium.CiliumNetworkPolicy) string {
	if len(existing) == 0 {
		return "nothing was applied, so none of this namespace's traffic is opened"
	}
	names := make([]string, 0, len(existing))
	for _, p := range existing {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	msg := "the last good policy stays in place (CiliumNetworkPolicy " + strings.Join(names, ", ")
	if profile := existing[0].Labels[r.Renderer.Contract.ProfileKey()]; profile != "" {
		msg += ", profile " + profile
	}
	return msg + ")"
}

// rejectedByCilium reports a generated policy the Cilium agent marked invalid: Cilium then ignores it, so its
// traffic is silently dropped.
func rejectedByCilium(existing []cilium.CiliumNetworkPolicy) string {
	for _, p := range existing {
		for _, c := range p.Status.Conditions {
			if c.Type == cilium.PolicyConditionValid && c.Status == corev1.ConditionFalse {
				return fmt.Sprintf("Cilium rejected CiliumNetworkPolicy %s and does not enforce it: %s", p.Name, c.Message)
			}
		}
	}
	return ""
}
