// Package namespacepolicy is the Namespace reconciler: it turns a Namespace's profile and access labels into
// its generated CiliumNetworkPolicy, keeps it repaired, prunes what is no longer asked for, and writes the
// NetworkPolicyReady condition. Bad input never removes or opens anything: the last good policy stays. A
// SharedResource whose spec.consumers does not admit the namespace is not bad input but its owner's decision:
// the grant is refused (ConsumerNotAllowed) and withdrawn where it stood.
package namespacepolicy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/apply"
	"github.com/netprofile/netprofile/controllers/internal/nsstatus"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

const (
	// ControllerName names the controller in logs and metrics.
	ControllerName = "namespace-policy"
	// FieldManager owns the generated namespace policies and the NetworkPolicyReady condition.
	FieldManager = ownership.NamePrefix + ownership.ComponentNamespacePolicy
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=network-policy.homelab,resources=networkprofiles;sharedresources;baselines,verbs=get;list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch

// Reconciler reconciles a Namespace's generated policy and its ceiling.
type Reconciler struct {
	Client   client.Client
	Applier  apply.Applier
	Renderer policy.Renderer
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// Thresholds decide when an escape hatch ends, which is when the ceiling it lifts returns.
	Thresholds enforcement.Thresholds
	// RecordNamespace holds netprofile's records of bypasses, which decide, with the labels, whether a
	// bypass lifts the ceiling (the enforcement controller writes them).
	RecordNamespace string

	adopting adoption
	// transitions keeps the transition times of the conditions this controller wrote.
	transitions nsstatus.Transitions
}

// Reconcile renders, applies or prunes the namespace policy, then its ceiling, and reports both conditions
// in one write.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	adopted := r.adopting.take(req.Name)
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ns); err != nil {
		if apierrors.IsNotFound(err) {
			r.transitions.Forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A terminating namespace deletes its own contents; writes would only fail.
	if !ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	current, err := apply.Current[cilium.CiliumNetworkPolicy](ctx, r.Client, client.ObjectKey{Namespace: ns.Name, Name: ownership.NamespacePolicyName})
	if err != nil {
		return ctrl.Result{}, err
	}
	verdict := ownership.Decide(current, ownership.ComponentNamespacePolicy, ns.UID)
	var applied *policy.Applied
	if verdict == ownership.Owned || verdict == ownership.Orphaned {
		applied = r.Renderer.AppliedFrom(current.Labels, current.CachedRulesHash, current.CachedParts)
	}
	cat, err := r.catalogue(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}

	res, renderErr := r.Renderer.Namespace(ns, cat, applied)
	_, refused := errors.AsType[*policy.Refusal](renderErr)
	if renderErr != nil && !refused {
		return ctrl.Result{}, renderErr
	}
	if res.Selection.IsEmpty() && !refused && applied == nil && conditions.Find(ns.Status.Conditions, conditions.Ready) == nil &&
		!(verdict == ownership.Foreign && ownership.Poses(current)) {
		return ctrl.Result{}, nil // Not ours to manage, and never was.
	}

	if !res.KeepApplied {
		if err := r.write(ctx, ns, res.Policies, current); err != nil {
			// The ceiling waits for its namespace policy; what its condition says stands meanwhile.
			ceiling := conditions.Find(ns.Status.Conditions, conditions.Ceiling)
			if apply.IsClash(err) {
				return ctrl.Result{}, r.report(ctx, ns, adopted, condition(corev1.ConditionFalse, conditions.ReasonNameClash, err.Error()), ceiling)
			}
			return ctrl.Result{}, errors.Join(err, r.report(ctx, ns, adopted, condition(corev1.ConditionFalse, conditions.ReasonApplyFailed,
				"failed to apply the generated policy, retrying: "+err.Error()), ceiling))
		}
		if len(res.Policies) == 0 {
			current, applied = nil, nil
		}
	}
	ceiling, result, ceilingErr := r.ceiling(ctx, ns, res)
	return result, errors.Join(ceilingErr, r.report(ctx, ns, adopted, r.ready(ns, res, renderErr, current, applied, cat), ceiling))
}

// report writes the NetworkPolicyReady and NetworkPolicyCeiling conditions (nil: none) in one apply, only
// when one changed, with an Event for each that did. Refusals and clashes are not retried: every input that
// can resolve them is watched. A failed write is. A namespace adopted at start gets its first good
// conditions without an Event (see adoption).
func (r *Reconciler) report(ctx context.Context, ns *corev1.Namespace, adopted bool, ready, ceiling *corev1.NamespaceCondition) error {
	w := nsstatus.Writer{Client: r.Client, FieldManager: FieldManager, Recorder: r.Recorder, Clock: r.Clock, QuietFirstGood: adopted,
		Transitions: &r.transitions}
	var want []corev1.NamespaceCondition
	for _, c := range []*corev1.NamespaceCondition{ready, ceiling} {
		if c != nil {
			want = append(want, *c)
		}
	}
	return w.Report(ctx, ns, []corev1.NamespaceConditionType{conditions.Ready, conditions.Ceiling}, want...)
}

func condition(status corev1.ConditionStatus, reason, message string) *corev1.NamespaceCondition {
	return &corev1.NamespaceCondition{Type: conditions.Ready, Status: status, Reason: reason, Message: message}
}

// ready is the NetworkPolicyReady condition from what the reconcile found and did; nil for a namespace
// that asks for nothing.
func (r *Reconciler) ready(ns *corev1.Namespace, res policy.NamespaceResult, renderErr error,
	current *cilium.CiliumNetworkPolicy, applied *policy.Applied, cat policy.Catalogue) *corev1.NamespaceCondition {
	refusal, refused := errors.AsType[*policy.Refusal](renderErr)

	if refused {
		msg := conditions.RefusedMessage(conditions.Refused{Refusal: refusal.Message, KeptAll: res.KeepApplied, Kept: res.Kept,
			Effective: res.Effective, Standing: standing(current, applied), StandingProfile: standingProfile(applied)})
		return condition(corev1.ConditionFalse, refusal.Reason, msg)
	}
	if res.Selection.IsEmpty() {
		return nil
	}
	if invalid := apply.Rejected(current); invalid != "" {
		return condition(corev1.ConditionFalse, conditions.ReasonRejectedByAgent, invalid)
	}
	names := policyNames(res.Policies)
	if failing := r.failingProviders(cat, res.Effective.Grants); failing != "" {
		return condition(corev1.ConditionFalse, conditions.ReasonProviderNotReady, failing)
	}
	msg := conditions.AppliedMessage(res.Effective, names)
	if ignored := apply.IgnoredValid(current); ignored != "" && len(names) > 0 {
		msg += "; " + ignored
	}
	if failing := failingBaselines(cat, ns); failing != "" {
		return condition(corev1.ConditionFalse, conditions.ReasonBaselineFailing, msg+", but "+failing)
	}
	reason := conditions.ReasonPoliciesApplied
	if len(names) == 0 {
		reason = conditions.ReasonNoRulesNeeded
	}
	return condition(corev1.ConditionTrue, reason, msg)
}

// ceiling applies, keeps or lifts the namespace's ceiling and returns its NetworkPolicyCeiling condition
// (nil for a namespace without a profile). While the escape hatch or audit mode lifts it, the reconcile is
// requeued for the moment either ends, when the ceiling returns.
func (r *Reconciler) ceiling(ctx context.Context, ns *corev1.Namespace, res policy.NamespaceResult) (*corev1.NamespaceCondition, ctrl.Result, error) {
	standing := conditions.Find(ns.Status.Conditions, conditions.Ceiling)
	current, err := apply.Current[cilium.CiliumNetworkPolicy](ctx, r.Client, client.ObjectKey{Namespace: ns.Name, Name: ownership.CeilingPolicyName})
	if err != nil {
		return standing, ctrl.Result{}, err
	}
	now := r.Clock.Now()
	rec, err := enforcement.Load(ctx, r.Client, r.RecordNamespace, ns.Name)
	if err != nil {
		return standing, ctrl.Result{}, err
	}
	rec, _ = enforcement.Trusted(r.Renderer.Contract, ns, rec, nil, now)
	st := enforcement.Decide(r.Renderer.Contract, ns, rec, now, r.Thresholds)
	var result ctrl.Result
	var applyErr error
	facts := conditions.CeilingFacts{Profile: res.Effective.Profile, Enforced: res.CeilingEnforced, Gaps: res.CeilingGaps}
	switch {
	case st.LiftsCeiling():
		// Whatever else holds: the escape hatch and audit mode must drop nothing, and a deny beats their allow-all.
		facts.Lifted = "enforcement is disabled (escape hatch)"
		if st.Auditing() {
			facts.Lifted = "the namespace is in audit mode"
		}
		if err := r.prune(ctx, ns, current); apply.IsClash(err) {
			facts.Lifted += "; but " + err.Error() + ", and it may still drop traffic"
		} else if err != nil {
			return standing, result, err
		}
		if !st.Until.IsZero() {
			result.RequeueAfter = st.Until.Sub(now)
		}
	case res.KeepApplied:
		// Nothing could be rendered: what stands stays, and so does what the condition says of it.
		return standing, result, nil
	case res.CeilingErr != nil:
		facts.Problem, facts.Standing = res.CeilingErr.Error(), ownership.Ours(current, ownership.ComponentNamespacePolicy, ns.UID)
	case res.Ceiling == nil:
		if err := r.prune(ctx, ns, current); err != nil && !apply.IsClash(err) {
			return standing, result, err
		}
	default:
		_, applyErr = r.Applier.Apply(ctx, res.Ceiling, ns)
		switch {
		case apply.IsClash(applyErr):
			facts.Problem, applyErr = applyErr.Error(), nil
		case applyErr != nil:
			facts.Problem, facts.Standing = "failed to apply it, retrying: "+applyErr.Error(), current != nil
		case apply.Rejected(current) != "":
			facts.Problem, facts.Standing = apply.Rejected(current), true
		}
	}
	if facts.Profile == "" {
		return nil, result, applyErr
	}
	if facts.Others, err = ownership.OtherPolicies(ctx, r.Client, ns.Name); err != nil {
		return standing, result, errors.Join(applyErr, err)
	}
	c := conditions.CeilingCondition(facts, ownership.CeilingPolicyName)
	return &c, result, applyErr
}

// prune deletes the standing ceiling if it is netprofile's; a policy at its name that is not is left alone
// and returned as a clash.
func (r *Reconciler) prune(ctx context.Context, ns *corev1.Namespace, current *cilium.CiliumNetworkPolicy) error {
	if current == nil {
		return nil
	}
	return r.Applier.Delete(ctx, current, ns.UID)
}

// write applies the desired policy, or prunes the standing one when nothing is desired.
func (r *Reconciler) write(ctx context.Context, ns *corev1.Namespace, desired []*cilium.CiliumNetworkPolicy, current *cilium.CiliumNetworkPolicy) error {
	for _, want := range desired {
		if _, err := r.Applier.Apply(ctx, want, ns); err != nil {
			return err
		}
	}
	if len(desired) > 0 || current == nil {
		return nil
	}
	if err := r.Applier.Delete(ctx, current, ns.UID); err != nil {
		if apply.IsClash(err) && !ownership.Poses(current) {
			return nil // A hand-written policy at our name in a namespace that no longer asks for ours.
		}
		return err
	}
	r.Recorder.Eventf(ns, nil, corev1.EventTypeNormal, conditions.ReasonPoliciesPruned, "Prune",
		"deleted generated CiliumNetworkPolicy %s: the namespace no longer asks for it", current.Name)
	return nil
}

// failingProviders describes the granted SharedResources whose provider half is not in effect: the grant's
// egress is applied, but the provider namespace does not let this namespace in.
func (r *Reconciler) failingProviders(cat policy.Catalogue, grants []string) string {
	var failing []string
	for _, g := range grants {
		sr := cat.Resources[g]
		if sr == nil {
			continue
		}
		if c := apimeta.FindStatusCondition(sr.Status.Conditions, "Ready"); c != nil && c.Status == metav1.ConditionFalse {
			failing = append(failing, conditions.ProviderMessage(g, c.Reason, c.Message))
		}
	}
	return strings.Join(failing, "; ")
}

// failingBaselines describes the Baselines that select ns but are not in effect (invalid, clashing, rejected
// by Cilium): the traffic they allow, DNS for one, is dropped here although the namespace's own policy is
// fine. A Baseline not yet reconciled or switched off on purpose is not failing.
func failingBaselines(cat policy.Catalogue, ns *corev1.Namespace) string {
	var failing []string
	for _, b := range cat.Baselines {
		ready := apimeta.FindStatusCondition(b.Status.Conditions, "Ready")
		if ready == nil || ready.Status != metav1.ConditionFalse || !policy.BaselineSelects(b, ns.Labels) {
			continue
		}
		failing = append(failing, fmt.Sprintf("baseline %s is not in effect (%s: %s)", b.Name, ready.Reason, ready.Message))
	}
	slices.Sort(failing)
	return strings.Join(failing, "; ")
}

// catalogue reads every NetworkProfile, SharedResource and Baseline from the cache, without copies: rendering only
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
	baselines := &v1alpha1.BaselineList{}
	if err := r.Client.List(ctx, baselines, client.UnsafeDisableDeepCopy); err != nil {
		return policy.Catalogue{}, fmt.Errorf("failed to list Baselines: %w", err)
	}
	cat := policy.Catalogue{
		Profiles:  make(map[string]*v1alpha1.NetworkProfile, len(profiles.Items)),
		Resources: make(map[string]*v1alpha1.SharedResource, len(resources.Items)),
		Baselines: make(map[string]*v1alpha1.Baseline, len(baselines.Items)),
	}
	for i := range baselines.Items {
		cat.Baselines[baselines.Items[i].Name] = &baselines.Items[i]
	}
	for i := range profiles.Items {
		cat.Profiles[profiles.Items[i].Name] = &profiles.Items[i]
	}
	for i := range resources.Items {
		cat.Resources[resources.Items[i].Name] = &resources.Items[i]
	}
	return cat, nil
}

// adoption holds the namespaces this process found in the informer's initial list that were created before it
// started. Installing netprofile on a
// cluster with thousands of labelled namespaces would otherwise store one "applied" Event per namespace, a
// third of a cold start's writes, saying what each namespace's new condition already says. Their first
// reconcile takes them out: a failure, a recovery, a prune and every later change still get an Event, and so
// does a namespace labelled while netprofile runs.
type adoption struct {
	mu    sync.Mutex
	names map[string]struct{}
}

func (a *adoption) mark(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.names == nil {
		a.names = map[string]struct{}{}
	}
	a.names[name] = struct{}{}
}

// take says whether name was in the initial list and not reconciled since, and forgets it.
func (a *adoption) take(name string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.names[name]
	delete(a.names, name)
	if len(a.names) == 0 {
		a.names = nil // A Go map keeps its buckets after deletes: drop it once the adoption is over.
	}
	return ok
}

func policyNames(policies []*cilium.CiliumNetworkPolicy) []string {
	names := make([]string, 0, len(policies))
	for _, p := range policies {
		names = append(names, p.Name)
	}
	return names
}

// standing names the generated policy that stands, if netprofile's.
func standing(current *cilium.CiliumNetworkPolicy, applied *policy.Applied) []string {
	if current == nil || applied == nil {
		return nil
	}
	return []string{current.Name}
}

func standingProfile(applied *policy.Applied) string {
	if applied == nil {
		return ""
	}
	return applied.Selection.Profile
}
