// Package crstatus writes the status of netprofile's own objects (NetworkProfile, SharedResource, Baseline):
// a Ready condition and observedGeneration, patched only when something changed, with an Event on every
// transition of Ready.
//
// The status follows kstatus (sigs.k8s.io/cli-utils/pkg/kstatus), which Flux, kpt and `kubectl wait` build
// on: besides Ready, a not-Ready object carries Reconciling=True while netprofile retries by itself, or
// Stalled=True when it cannot get further without a person (an invalid spec, a name clash, a policy Cilium
// rejected, a provider namespace that does not exist). A Ready object carries neither. Without them kstatus
// would report every not-Ready object as in progress forever, and a GitOps tool would wait for a refusal to
// go away by itself.
package crstatus

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/metrics"
)

// Condition types every netprofile object reports (Ready always; the other two only while true).
const (
	Ready = "Ready"
	// Reconciling: not Ready yet, and netprofile is retrying.
	Reconciling = "Reconciling"
	// Stalled: not Ready, and retrying will not help until the spec or the cluster changes.
	Stalled = "Stalled"
)

// Retrying reports whether a Ready reason is one netprofile gets past by itself (a failed write, retried
// with backoff): Reconciling rather than Stalled.
func Retrying(reason string) bool {
	return reason == conditions.ReasonApplyFailed
}

// Writer writes status for one controller.
type Writer struct {
	Client     client.Client
	Recorder   events.EventRecorder
	Clock      clock.PassiveClock
	Controller string
}

// SetReady sets the Ready condition in conds (keeping the transition time while the status holds), and
// Reconciling or Stalled beside a Ready=False (see Retrying), and reports whether Ready's status or reason
// changed: a transition worth an Event.
func (w Writer) SetReady(conds *[]metav1.Condition, generation int64, ok bool, reason, message string) bool {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	old := apimeta.FindStatusCondition(*conds, Ready)
	transition := old == nil || old.Status != status || old.Reason != reason
	message = conditions.Shorten(message, conditions.MaxMessage)
	now := metav1.NewTime(w.Clock.Now())
	set := func(t string) {
		apimeta.SetStatusCondition(conds, metav1.Condition{
			Type: t, Status: status, Reason: reason, Message: message, ObservedGeneration: generation, LastTransitionTime: now,
		})
	}
	set(Ready)
	// Reconciling and Stalled are "abnormal-true" conditions: present only while they hold, so a Ready object
	// has neither, and the one that no longer holds goes.
	status = metav1.ConditionTrue
	switch {
	case ok:
		apimeta.RemoveStatusCondition(conds, Reconciling)
		apimeta.RemoveStatusCondition(conds, Stalled)
	case Retrying(reason):
		apimeta.RemoveStatusCondition(conds, Stalled)
		set(Reconciling)
	default:
		apimeta.RemoveStatusCondition(conds, Reconciling)
		set(Stalled)
	}
	return transition
}

// Update patches obj's status against before when changed, and records an Event for a Ready transition.
func (w Writer) Update(ctx context.Context, before, obj client.Object, conds []metav1.Condition, changed, transitioned bool) error {
	if !changed {
		return nil
	}
	if err := w.Client.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		return fmt.Errorf("failed to write status of %s: %w", obj.GetName(), err)
	}
	c := apimeta.FindStatusCondition(conds, Ready)
	if !transitioned || c == nil {
		return nil
	}
	eventType := corev1.EventTypeNormal
	if c.Status != metav1.ConditionTrue {
		eventType = corev1.EventTypeWarning
		metrics.Failures.WithLabelValues(w.Controller, c.Reason).Inc()
	}
	w.Recorder.Eventf(obj, nil, eventType, c.Reason, "Reconcile", "%s", conditions.Shorten(c.Message, conditions.MaxEventNote))
	return nil
}
