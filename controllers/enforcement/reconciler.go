// Package enforcement is the escape hatch reconciler. While a Namespace carries
// `<domain>/enforcement: disabled` it keeps an allow-all policy beside the namespace's generated policies
// (which stay, so re-enabling restores exactly the previous state), stamps the time it first saw the label in
// an annotation that survives restarts, and reports the bypass on the Namespace and in Events as it ages past
// the warning and critical thresholds. It never writes Namespace labels.
package enforcement

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers/internal/apply"
	"github.com/netprofile/netprofile/controllers/internal/nsstatus"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

const (
	// ControllerName names the controller in logs and metrics.
	ControllerName = "enforcement"
	// FieldManager owns the allow-all policy, the since annotation and the EnforcementDisabled condition.
	FieldManager = "netprofile-enforcement"
)

// Event reasons; the condition reasons double as the reasons of their transition Events.
const (
	reasonRestored = "EnforcementRestored"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconciler reconciles a Namespace's escape hatch.
type Reconciler struct {
	Client     client.Client
	Applier    apply.Applier
	Contract   contract.Contract
	Thresholds enforcement.Thresholds
	Recorder   events.EventRecorder
	Clock      clock.PassiveClock
}

// Reconcile stamps, applies or removes the allow-all, and reports; it requeues at the next threshold.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	// A terminating namespace deletes its own contents; writes would only fail.
	if !ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	now := r.Clock.Now()
	st := enforcement.Evaluate(r.Contract, ns, now, r.Thresholds)
	current, err := r.allowAll(ctx, ns.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	status := nsstatus.Writer{Client: r.Client, FieldManager: FieldManager, Recorder: r.Recorder, Type: conditions.EnforcementDisabled, Clock: r.Clock}

	if st.Label != enforcement.Disabled {
		// Enforcement is on: no allow-all, no stamp. An invalid value never opens anything.
		if err := r.restore(ctx, ns, current); err != nil {
			return ctrl.Result{}, err
		}
		if st.Label == enforcement.Invalid {
			msg := fmt.Sprintf("label %s=%q is not understood: the only value that disables enforcement is %q, so enforcement stays on",
				r.Contract.EnforcementKey(), st.Value, contract.EnforcementDisabled)
			return ctrl.Result{}, status.Set(ctx, ns, corev1.ConditionFalse, conditions.ReasonInvalidEnforcement, msg)
		}
		return ctrl.Result{}, status.Clear(ctx, ns)
	}

	if st.Since.IsZero() {
		if err := r.stamp(ctx, ns, now); err != nil {
			return ctrl.Result{}, err
		}
		st = enforcement.Evaluate(r.Contract, ns, now, r.Thresholds)
	}
	if st.Bypassed() {
		if _, err := r.Applier.Apply(ctx, policy.AllowAll(ns.Name), ownership.ComponentEnforcement, ns); err != nil {
			if apply.IsClash(err) {
				return ctrl.Result{}, status.Set(ctx, ns, corev1.ConditionFalse, conditions.ReasonNameClash, err.Error())
			}
			return ctrl.Result{}, err
		}
	} else if current != nil {
		if err := apply.Delete(ctx, r.Client, current, ownership.ComponentEnforcement); err != nil {
			return ctrl.Result{}, err
		}
	}
	cond, reason, msg := describe(r.Contract, st, r.Thresholds)
	if err := status.Set(ctx, ns, cond, reason, msg); err != nil {
		return ctrl.Result{}, err
	}
	if st.Next.IsZero() {
		return ctrl.Result{}, nil
	}
	// Time-based work: the next threshold or the end of the bypass.
	return ctrl.Result{RequeueAfter: st.Next.Sub(now)}, nil
}

// allowAll returns the namespace's allow-all policy from the cache, or nil.
func (r *Reconciler) allowAll(ctx context.Context, namespace string) (*cilium.CiliumNetworkPolicy, error) {
	p := &cilium.CiliumNetworkPolicy{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: ownership.AllowAllPolicyName}, p)
	switch {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to get allow-all policy: %w", err)
	}
	return p, nil
}

// stamp records when netprofile first saw enforcement disabled. The annotation is written with server-side
// apply under this controller's field manager, so removing it later touches nothing else.
func (r *Reconciler) stamp(ctx context.Context, ns *corev1.Namespace, now time.Time) error {
	ts := now.UTC().Format(time.RFC3339)
	ac := corev1ac.Namespace(ns.Name).WithAnnotations(map[string]string{r.Contract.SinceAnnotation(): ts})
	if err := r.Client.Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to record %s: %w", r.Contract.SinceAnnotation(), err)
	}
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations[r.Contract.SinceAnnotation()] = ts
	r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, conditions.ReasonEnforcementDisabled, "DisableEnforcement",
		"network policy enforcement disabled by label %s=%s: all traffic to and from this namespace is allowed until the label is removed",
		r.Contract.EnforcementKey(), contract.EnforcementDisabled)
	return nil
}

// restore removes the allow-all and the stamp; the namespace's generated policies never left, so traffic is
// exactly as before the bypass.
func (r *Reconciler) restore(ctx context.Context, ns *corev1.Namespace, current *cilium.CiliumNetworkPolicy) error {
	var errs []error
	if current != nil {
		errs = append(errs, apply.Delete(ctx, r.Client, current, ownership.ComponentEnforcement))
	}
	if _, stamped := ns.Annotations[r.Contract.SinceAnnotation()]; stamped {
		// An apply with no annotations drops the one this field manager owns.
		if err := r.Client.Apply(ctx, corev1ac.Namespace(ns.Name), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove %s: %w", r.Contract.SinceAnnotation(), err))
		} else {
			r.Recorder.Eventf(ns, nil, corev1.EventTypeNormal, reasonRestored, "RestoreEnforcement",
				"network policy enforcement restored: the allow-all policy %s is deleted", ownership.AllowAllPolicyName)
		}
	}
	return errors.Join(errs...)
}

// describe is the EnforcementDisabled condition for a disabled namespace.
func describe(c contract.Contract, st enforcement.State, t enforcement.Thresholds) (corev1.ConditionStatus, string, string) {
	since := st.Since.UTC().Format(time.RFC3339)
	if st.Phase == enforcement.PhaseExpired {
		return corev1.ConditionFalse, conditions.ReasonDisableExpired, fmt.Sprintf(
			"the enforcement bypass that started %s ended at %s: enforcement is back on although label %s=%s is still set; remove the label",
			since, st.Until.UTC().Format(time.RFC3339), c.EnforcementKey(), contract.EnforcementDisabled)
	}
	// The message changes only with the phase, never with the clock, so a resync writes nothing.
	reason, age := conditions.ReasonEnforcementDisabled, ""
	switch st.Phase {
	case enforcement.PhaseWarning:
		reason, age = conditions.ReasonEnforcementDisabledWarning, fmt.Sprintf(" (more than %s)", t.WarningAfter)
	case enforcement.PhaseCritical:
		reason, age = conditions.ReasonEnforcementDisabledCritical, fmt.Sprintf(" (more than %s)", t.CriticalAfter)
	}
	msg := fmt.Sprintf("network policy enforcement is disabled since %s%s by label %s=%s: CiliumNetworkPolicy %s allows all traffic; fix the policy and remove the label",
		since, age, c.EnforcementKey(), contract.EnforcementDisabled, ownership.AllowAllPolicyName)
	if !st.Until.IsZero() {
		msg += fmt.Sprintf("; the bypass ends by itself at %s", st.Until.UTC().Format(time.RFC3339))
	}
	for _, p := range st.Problems {
		msg += "; " + p
	}
	return corev1.ConditionTrue, reason, msg
}
