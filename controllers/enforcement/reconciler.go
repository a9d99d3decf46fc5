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

	corev1 "k8s.io/api/core/v1"
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
	FieldManager = ownership.NamePrefix + ownership.ComponentEnforcement
	// AuditFieldManager owns the Audit condition (the audit's allow-all is applied under FieldManager).
	AuditFieldManager = FieldManager + "-audit"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;update;patch;delete
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
	current, err := apply.Current[cilium.CiliumNetworkPolicy](ctx, r.Client, client.ObjectKey{Namespace: ns.Name, Name: ownership.AllowAllPolicyName})
	if err != nil {
		return ctrl.Result{}, err
	}
	// Audit first: moving from the escape hatch to audit, the audit's allow-all stands before the hatch's goes.
	if err := r.reconcileAudit(ctx, ns, st); err != nil {
		return ctrl.Result{}, err
	}
	result := ctrl.Result{}
	if !st.Next.IsZero() {
		// Time-based work: the next threshold or the end of the bypass or audit.
		result.RequeueAfter = st.Next.Sub(now)
	}
	status := nsstatus.Writer{Client: r.Client, FieldManager: FieldManager, Recorder: r.Recorder, Type: conditions.EnforcementDisabled, Clock: r.Clock}

	if st.Label == enforcement.Absent || st.Label == enforcement.Audit {
		clash, err := r.restore(ctx, ns, current, st.Auditing())
		if err != nil {
			return ctrl.Result{}, err
		}
		if clash != nil {
			// A copy of the allow-all that netprofile did not write (a GitOps tool's, say): never deleted, and
			// loud, because it may allow all traffic.
			return result, status.Set(ctx, ns, corev1.ConditionFalse, conditions.ReasonNameClash,
				clash.Error()+"; enforcement is not disabled by netprofile, but that policy may allow all traffic")
		}
		return result, status.Clear(ctx, ns)
	}
	cond := enforcement.Condition(r.Contract, st, r.Thresholds)
	if st.Bypassed() {
		if _, err := r.Applier.Apply(ctx, policy.AllowAll(ns.Name), ns); err != nil {
			if !apply.IsClash(err) {
				return ctrl.Result{}, err
			}
			// The label still asks for the bypass, so the record stays; the bypass is not in effect.
			cond.Reason, cond.Message = conditions.ReasonNameClash, err.Error()+"; the enforcement bypass is not in effect"
		} else if invalid := apply.Rejected(current); invalid != "" {
			cond.Reason, cond.Message = conditions.ReasonRejectedByAgent, invalid+"; the enforcement bypass is not in effect"
		}
	} else if current != nil {
		if err := r.Applier.Delete(ctx, current, ns.UID); err != nil {
			if !apply.IsClash(err) {
				return ctrl.Result{}, err
			}
			cond.Message += "; " + err.Error()
		}
	}
	// The condition is the record; the annotation only publishes it, so it is written second: a crash in
	// between loses nothing.
	if err := status.SetCondition(ctx, ns, *cond); err != nil {
		return ctrl.Result{}, err
	}
	if st.StampWanted() {
		if err := r.stamp(ctx, ns, st); err != nil {
			return ctrl.Result{}, err
		}
	}
	return result, nil
}

// reconcileAudit applies or removes the audit's allow-all and reports on the Audit condition, under a field
// manager of its own so that its condition and the escape hatch's never drop each other.
func (r *Reconciler) reconcileAudit(ctx context.Context, ns *corev1.Namespace, st enforcement.State) error {
	current, err := apply.Current[cilium.CiliumNetworkPolicy](ctx, r.Client, client.ObjectKey{Namespace: ns.Name, Name: ownership.AuditPolicyName})
	if err != nil {
		return err
	}
	status := nsstatus.Writer{Client: r.Client, FieldManager: AuditFieldManager, Recorder: r.Recorder, Type: conditions.Audit, Clock: r.Clock}
	cond := enforcement.AuditCondition(r.Contract, st)
	switch {
	case st.Auditing():
		if _, err := r.Applier.Apply(ctx, policy.Audit(ns.Name), ns); err != nil {
			if !apply.IsClash(err) {
				return err
			}
			cond.Status, cond.Reason = corev1.ConditionFalse, conditions.ReasonNameClash
			cond.Message = err.Error() + "; audit mode is not in effect: the namespace's policies drop what they do not allow"
		} else if invalid := apply.Rejected(current); invalid != "" {
			cond.Status, cond.Reason = corev1.ConditionFalse, conditions.ReasonRejectedByAgent
			cond.Message = invalid + "; audit mode is not in effect: the namespace's policies drop what they do not allow"
		}
	case current != nil:
		// A policy at the audit's name that netprofile does not own is left alone (Delete refuses it).
		if err := r.Applier.Delete(ctx, current, ns.UID); err != nil && !apply.IsClash(err) {
			return err
		}
	}
	if cond == nil {
		return status.Clear(ctx, ns)
	}
	return status.SetCondition(ctx, ns, *cond)
}

// stamp publishes netprofile's record of when the bypass started in the since-annotation, with server-side
// apply under this controller's field manager (so removing it later touches nothing else). A first stamp
// announces the bypass; a later one restores a value someone changed.
func (r *Reconciler) stamp(ctx context.Context, ns *corev1.Namespace, st enforcement.State) error {
	ts := enforcement.Format(st.Since)
	ac := corev1ac.Namespace(ns.Name).WithAnnotations(map[string]string{r.Contract.SinceAnnotation(): ts})
	if err := r.Client.Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to record %s: %w", r.Contract.SinceAnnotation(), err)
	}
	switch {
	case !st.Recorded:
		r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, conditions.ReasonEnforcementDisabled, "DisableEnforcement",
			"network policy enforcement disabled by label %s=%s: all traffic to and from this namespace is allowed until the label is removed",
			r.Contract.EnforcementKey(), contract.EnforcementDisabled)
	case st.Annotation != "":
		r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, conditions.ReasonSinceRestored, "RestoreSince",
			"annotation %s was changed to %q; it records when netprofile first saw enforcement disabled, so it is restored to %s (the bypass and its alerts keep their clock)",
			r.Contract.SinceAnnotation(), st.Annotation, ts)
	}
	return nil
}

// restore removes the allow-all and the stamp; the namespace's generated policies never left, so traffic is
// exactly as before the bypass. A policy at the allow-all's name that netprofile does not own, but that is
// labelled as netprofile's, is returned as a clash.
func (r *Reconciler) restore(ctx context.Context, ns *corev1.Namespace, current *cilium.CiliumNetworkPolicy, auditing bool) (clash, err error) {
	var errs []error
	restored := false
	if current != nil {
		err := r.Applier.Delete(ctx, current, ns.UID)
		restored = err == nil
		switch {
		case apply.IsClash(err) && current.Labels[ownership.ManagedByLabel] == ownership.ManagedByValue:
			clash = err
		case apply.IsClash(err):
			// Someone's own policy at that name, not pretending to be netprofile's: not ours to speak of.
		case err != nil:
			errs = append(errs, err)
		}
	}
	if _, stamped := ns.Annotations[r.Contract.SinceAnnotation()]; stamped {
		// An apply with no annotations drops the one this field manager owns.
		if err := r.Client.Apply(ctx, corev1ac.Namespace(ns.Name), client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("failed to remove %s: %w", r.Contract.SinceAnnotation(), err))
		}
	}
	if p := enforcement.Published(ns); restored || p != nil && p.Mode == enforcement.Disabled && len(errs) == 0 {
		then := "network policy enforcement restored"
		if auditing {
			then = "escape hatch closed, the namespace is in audit mode"
		}
		r.Recorder.Eventf(ns, nil, corev1.EventTypeNormal, conditions.ReasonEnforcementRestored, "RestoreEnforcement",
			"%s: the allow-all policy %s is deleted", then, ownership.AllowAllPolicyName)
	}
	return clash, errors.Join(errs...)
}
