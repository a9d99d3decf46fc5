// Package crstatus writes the status of netprofile's own objects (NetworkProfile, SharedResource, Baseline):
// a Ready condition and observedGeneration, patched only when something changed, with an Event on every
// transition of Ready.
package crstatus

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/metrics"
)

// Ready is the condition type every netprofile object reports.
const Ready = "Ready"

// Writer writes status for one controller.
type Writer struct {
	Client     client.Client
	Recorder   events.EventRecorder
	Clock      clock.PassiveClock
	Controller string
}

// SetReady sets the Ready condition in conds (keeping the transition time while the status holds) and
// reports whether status or reason changed: a transition worth an Event.
func (w Writer) SetReady(conds *[]metav1.Condition, generation int64, ok bool, reason, message string) bool {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	old := meta.FindStatusCondition(*conds, Ready)
	transition := old == nil || old.Status != status || old.Reason != reason
	meta.SetStatusCondition(conds, metav1.Condition{
		Type: Ready, Status: status, Reason: reason, Message: message,
		ObservedGeneration: generation, LastTransitionTime: metav1.NewTime(w.Clock.Now()),
	})
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
	c := meta.FindStatusCondition(conds, Ready)
	if !transitioned || c == nil {
		return nil
	}
	eventType := corev1.EventTypeNormal
	if c.Status != metav1.ConditionTrue {
		eventType = corev1.EventTypeWarning
		metrics.Failures.WithLabelValues(w.Controller, c.Reason).Inc()
	}
	w.Recorder.Eventf(obj, nil, eventType, c.Reason, "Reconcile", "%s", c.Message)
	return nil
}
