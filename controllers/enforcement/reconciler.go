// Package enforcement is the reconciler of the escape hatch and audit mode, the two bypasses of a Namespace's
// policies. While a Namespace carries `<domain>/enforcement: disabled` (or `audit`) it keeps an allow-all
// policy beside the namespace's generated policies (which stay, so ending the bypass restores exactly the
// previous state), keeps netprofile's record of the bypass in a ConfigMap of the manager's own namespace
// (pkg/enforcement.Record), publishes its start in an annotation and on the Namespace's conditions, and reports
// it in Events as it ages past the warning and critical thresholds or reaches its end. It never writes
// Namespace labels.
package enforcement

import (
	"context"
	"errors"
	"fmt"
	"sync"
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
	// FieldManager owns the allow-all policy, the since annotation, the records and the EnforcementDisabled
	// condition.
	FieldManager = ownership.NamePrefix + ownership.ComponentEnforcement
	// AuditFieldManager owns the Audit condition (the audit's allow-all is applied under FieldManager).
	AuditFieldManager = FieldManager + "-audit"
)

// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups="",resources=namespaces/status,verbs=get;patch
// +kubebuilder:rbac:groups=cilium.io,resources=ciliumnetworkpolicies,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// The records' ConfigMaps live in the manager's own namespace: the chart grants them with a Role there
// (charts/netprofile/templates/manager-role.yaml), not with a marker, which would make a cluster-wide grant.

// Reconciler reconciles a Namespace's escape hatch and audit mode.
type Reconciler struct {
	Client client.Client
	// APIReader reads a record from the API server when the cache's copy differs from the one last written:
	// the cache may just lag behind that write.
	APIReader  client.Reader
	Applier    apply.Applier
	Contract   contract.Contract
	Thresholds enforcement.Thresholds
	Recorder   events.EventRecorder
	Clock      clock.PassiveClock
	// RecordNamespace is where the records of bypasses are kept, one ConfigMap per namespace; the manager's
	// cache holds exactly those ConfigMaps.
	RecordNamespace string

	// records are the records this process last wrote: what it trusts over the API server's copy.
	records records
}

// records is the in-memory copy of the records written, by namespace name.
type records struct {
	mu sync.Mutex
	m  map[string]*enforcement.Record
}

func (r *records) get(ns string) *enforcement.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m[ns]
}

func (r *records) set(ns string, rec *enforcement.Record) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = map[string]*enforcement.Record{}
	}
	if rec == nil {
		delete(r.m, ns)
		return
	}
	r.m[ns] = rec
}

// Reconcile records, applies or removes the allow-alls, and reports; it requeues at the next threshold.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, req.NamespacedName, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.forget(ctx, req.Name)
		}
		return ctrl.Result{}, err
	}
	// A terminating namespace's pods may run for their grace period, or for as long as a finalizer holds the
	// namespace: its bypass keeps its clock and ends when due. Only creating or repairing an allow-all is left
	// out there (the API server refuses new objects in a terminating namespace, and a new bypass has no use).
	terminating := !ns.DeletionTimestamp.IsZero()
	now := r.Clock.Now()
	stored, live, err := r.load(ctx, ns.Name)
	if err != nil {
		return ctrl.Result{}, err
	}
	prev, _ := enforcement.Trusted(r.Contract, ns, live, r.records.get(ns.Name), now)
	st := enforcement.Decide(r.Contract, ns, prev, now, r.Thresholds)
	// The record first: it is the fact, and the allow-alls, conditions and annotation follow from it.
	rec, err := r.record(ctx, ns, st, prev, stored, live, now)
	if err != nil {
		return ctrl.Result{}, err
	}
	if st.Resumed {
		r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, conditions.ReasonBypassResumed, "ResumeBypass",
			"label %s=%s is back within %s of its removal: the bypass that started %s continues, with its alerts and its end",
			r.Contract.EnforcementKey(), st.Value, r.Thresholds.SameBypassWithin, enforcement.Format(st.Since))
	}
	current, err := apply.Current[cilium.CiliumNetworkPolicy](ctx, r.Client, client.ObjectKey{Namespace: ns.Name, Name: ownership.AllowAllPolicyName})
	if err != nil {
		return ctrl.Result{}, err
	}
	// Audit first: moving from the escape hatch to audit, the audit's allow-all stands before the hatch's goes.
	if err := r.reconcileAudit(ctx, ns, st, terminating); err != nil {
		return ctrl.Result{}, err
	}
	result := ctrl.Result{RequeueAfter: requeue(st, rec, now, r.Thresholds)}
	status := nsstatus.Writer{Client: r.Client, FieldManager: FieldManager, Recorder: r.Recorder, Type: conditions.EnforcementDisabled, Clock: r.Clock}

	if st.Label == enforcement.Absent || st.Label == enforcement.Audit {
		hatchClosed := prev != nil && prev.Closed.IsZero() && prev.Mode == enforcement.Disabled
		clash, err := r.restore(ctx, ns, current, st.Auditing(), hatchClosed)
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
	switch {
	case st.Bypassed() && terminating:
		if current == nil {
			cond.Message += "; the namespace is terminating, so the allow-all is not created"
		}
	case st.Bypassed():
		if _, err := r.Applier.Apply(ctx, policy.AllowAll(ns.Name), ns); err != nil {
			if !apply.IsClash(err) {
				return ctrl.Result{}, err
			}
			// The label still asks for the bypass, so the record stays; the bypass is not in effect.
			cond.Reason, cond.Message = conditions.ReasonNameClash, err.Error()+"; the enforcement bypass is not in effect"
		} else if invalid := apply.Rejected(current); invalid != "" {
			cond.Reason, cond.Message = conditions.ReasonRejectedByAgent, invalid+"; the enforcement bypass is not in effect"
		}
	case current != nil:
		if err := r.Applier.Delete(ctx, current, ns.UID); err != nil {
			if !apply.IsClash(err) {
				return ctrl.Result{}, err
			}
			cond.Message += "; " + err.Error()
		}
	}
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

// requeue is when the reconcile must look again by itself: the next threshold or end, or when the record of
// a closed bypass can go; 0 for never.
func requeue(st enforcement.State, rec *enforcement.Record, now time.Time, t enforcement.Thresholds) time.Duration {
	next := st.Next
	if kept := rec.Kept(t); !kept.IsZero() && (next.IsZero() || kept.Before(next)) {
		next = kept.Add(time.Second)
	}
	if next.IsZero() {
		return 0
	}
	return max(next.Sub(now), time.Second)
}

// reconcileAudit applies or removes the audit's allow-all and reports on the Audit condition, under a field
// manager of its own so that its condition and the escape hatch's never drop each other. In a terminating
// namespace it only removes.
func (r *Reconciler) reconcileAudit(ctx context.Context, ns *corev1.Namespace, st enforcement.State, terminating bool) error {
	current, err := apply.Current[cilium.CiliumNetworkPolicy](ctx, r.Client, client.ObjectKey{Namespace: ns.Name, Name: ownership.AuditPolicyName})
	if err != nil {
		return err
	}
	status := nsstatus.Writer{Client: r.Client, FieldManager: AuditFieldManager, Recorder: r.Recorder, Type: conditions.Audit, Clock: r.Clock}
	cond := enforcement.AuditCondition(r.Contract, st)
	switch {
	case st.Auditing() && terminating:
		// What stands stays until the audit ends; nothing is created in a terminating namespace.
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

// load reads the record of ns from the cache: the ConfigMap at the record's name (nil when there is none) and
// the record it holds (nil when it holds none of netprofile's).
func (r *Reconciler) load(ctx context.Context, ns string) (*corev1.ConfigMap, *enforcement.Record, error) {
	return r.loadFrom(ctx, r.Client, ns)
}

func (r *Reconciler) loadFrom(ctx context.Context, reader client.Reader, ns string) (*corev1.ConfigMap, *enforcement.Record, error) {
	cm := &corev1.ConfigMap{}
	switch err := reader.Get(ctx, client.ObjectKey{Namespace: r.RecordNamespace, Name: enforcement.RecordName(ns)}, cm); {
	case apierrors.IsNotFound(err):
		return nil, nil, nil
	case err != nil:
		return nil, nil, fmt.Errorf("failed to read the record of namespace %s: %w", ns, err)
	}
	return cm, enforcement.FromConfigMap(cm, ns), nil
}

// record keeps the record of what netprofile sees of ns now: written only when it changes, and written back
// when someone else changed or removed it. It returns the record kept (nil: none).
func (r *Reconciler) record(ctx context.Context, ns *corev1.Namespace, st enforcement.State, prev *enforcement.Record,
	stored *corev1.ConfigMap, live *enforcement.Record, now time.Time) (*enforcement.Record, error) {
	next := st.Observe(prev, ns.UID, now, r.Thresholds)
	written := r.records.get(ns.Name)
	tampered := false
	if next != nil && !enforcement.Equal(next, live) && written != nil {
		// The cache's copy differs from the one this process wrote: it lags behind, or someone else wrote.
		var err error
		if _, live, err = r.loadFrom(ctx, r.APIReader, ns.Name); err != nil {
			return nil, err
		}
		tampered = !enforcement.Equal(live, written)
	}
	switch {
	case next == nil && stored != nil:
		uid := stored.UID
		if err := r.Client.Delete(ctx, stored, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
			return nil, fmt.Errorf("failed to delete the record of namespace %s: %w", ns.Name, err)
		}
	case next != nil && !enforcement.Equal(next, live):
		ac := corev1ac.ConfigMap(enforcement.RecordName(ns.Name), r.RecordNamespace).
			WithLabels(ownership.Labels(enforcement.RecordComponent, nil)).
			WithData(next.Data(ns.Name))
		if err := r.Client.Apply(ctx, ac, client.FieldOwner(FieldManager), client.ForceOwnership); err != nil {
			return nil, fmt.Errorf("failed to write the record of namespace %s: %w", ns.Name, err)
		}
		if tampered {
			r.Recorder.Eventf(ns, nil, corev1.EventTypeWarning, conditions.ReasonRecordRestored, "RestoreRecord",
				"netprofile's record of this namespace's bypass (ConfigMap %s/%s) was changed or deleted by someone else; it is written back: the bypass keeps its start %s",
				r.RecordNamespace, enforcement.RecordName(ns.Name), enforcement.Format(next.Since))
		}
	}
	r.records.set(ns.Name, next)
	return next, nil
}

// forget deletes the record of a namespace that is gone, and what this process remembers of it.
func (r *Reconciler) forget(ctx context.Context, ns string) error {
	r.records.set(ns, nil)
	stored, _, err := r.load(ctx, ns)
	if err != nil || stored == nil {
		return err
	}
	uid := stored.UID
	if err := r.Client.Delete(ctx, stored, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to delete the record of namespace %s: %w", ns, err)
	}
	return nil
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
// labelled as netprofile's, is returned as a clash. hatchClosed: the label asked for the escape hatch until now.
func (r *Reconciler) restore(ctx context.Context, ns *corev1.Namespace, current *cilium.CiliumNetworkPolicy, auditing, hatchClosed bool) (clash, err error) {
	var errs []error
	restored := false
	if current != nil {
		err := r.Applier.Delete(ctx, current, ns.UID)
		restored = err == nil
		switch {
		case apply.IsClash(err) && ownership.Poses(current):
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
	if restored || hatchClosed && len(errs) == 0 {
		then := "network policy enforcement restored"
		if auditing {
			then = "escape hatch closed, the namespace is in audit mode"
		}
		r.Recorder.Eventf(ns, nil, corev1.EventTypeNormal, conditions.ReasonEnforcementRestored, "RestoreEnforcement",
			"%s: the allow-all policy %s is deleted", then, ownership.AllowAllPolicyName)
	}
	return clash, errors.Join(errs...)
}
