// Package nsstatus writes one netprofile condition on a Namespace through the namespaces/status subresource,
// with server-side apply under the writing controller's field manager (so the two controllers' conditions
// never overwrite each other), only when it changed, and with an Event for every transition (except, on request,
// the first appearance of the good state: see Writer.QuietFirstGood).
package nsstatus

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/metrics"
)

// Writer writes conditions of one type.
type Writer struct {
	Client       client.Client
	FieldManager string
	Recorder     events.EventRecorder
	Type         corev1.NamespaceConditionType
	Clock        clock.PassiveClock
	// QuietFirstGood writes a condition that first appears in its good state without an Event.
	QuietFirstGood bool
}

// Set writes the condition if it changed and records an Event for it: Warning unless the condition is the
// good state. Good is True for NetworkPolicyReady and a planned audit; for EnforcementDisabled every state is
// worth a warning.
func (w Writer) Set(ctx context.Context, ns *corev1.Namespace, status corev1.ConditionStatus, reason, message string) error {
	return w.SetCondition(ctx, ns, corev1.NamespaceCondition{Type: w.Type, Status: status, Reason: reason, Message: message})
}

// SetCondition is Set for a whole condition; a transition time set in want is kept (see conditions.Desired).
func (w Writer) SetCondition(ctx context.Context, ns *corev1.Namespace, want corev1.NamespaceCondition) error {
	want.Type = w.Type
	first := conditions.Find(ns.Status.Conditions, w.Type) == nil
	cond, changed := conditions.Desired(ns.Status.Conditions, want, metav1.NewTime(w.Clock.Now()))
	status := cond.Status
	if !changed {
		return nil
	}
	if err := conditions.Validate(cond); err != nil {
		return err
	}
	ac := corev1ac.Namespace(ns.Name).WithStatus(corev1ac.NamespaceStatus().WithConditions(
		corev1ac.NamespaceCondition().WithType(cond.Type).WithStatus(cond.Status).WithReason(cond.Reason).
			WithMessage(cond.Message).WithLastTransitionTime(cond.LastTransitionTime)))
	if err := w.Client.Status().Apply(ctx, ac, client.FieldOwner(w.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to write condition %s: %w", w.Type, err)
	}
	eventType := corev1.EventTypeWarning
	if w.Type == conditions.Ready && status == corev1.ConditionTrue || w.Type == conditions.Audit && cond.Reason == conditions.ReasonAuditMode {
		eventType = corev1.EventTypeNormal
	}
	if status == corev1.ConditionFalse && w.Type != conditions.Audit {
		metrics.Failures.WithLabelValues(w.FieldManager, cond.Reason).Inc()
	}
	if first && eventType == corev1.EventTypeNormal && w.QuietFirstGood {
		return nil
	}
	w.Recorder.Eventf(ns, nil, eventType, cond.Reason, "Reconcile", "%s", cond.Message)
	return nil
}

// Clear removes the condition: applying an empty status drops the entries this field manager owned.
func (w Writer) Clear(ctx context.Context, ns *corev1.Namespace) error {
	if conditions.Find(ns.Status.Conditions, w.Type) == nil {
		return nil
	}
	ac := corev1ac.Namespace(ns.Name).WithStatus(corev1ac.NamespaceStatus())
	if err := w.Client.Status().Apply(ctx, ac, client.FieldOwner(w.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("failed to remove condition %s: %w", w.Type, err)
	}
	return nil
}

// InNamespace records Events about a Namespace inside that namespace, where its owners look (`kubectl events
// -n X`, `kubectl get events -n X`, a tenant's view role), through inside; Events about every other object go
// to r unchanged. client-go puts Events about a cluster-scoped object in "default", which a tenant cannot read,
// and the API server refuses an events.k8s.io Event outside default and kube-system whose regarding object has
// no namespace; so the reference names the namespace as its own. inside must send through FallbackSink: Events
// are sent after the fact, and the namespace may be terminating by then.
func InNamespace(r, inside events.EventRecorder) events.EventRecorder {
	return namespaceEvents{r, inside}
}

type namespaceEvents struct{ other, inside events.EventRecorder }

func (r namespaceEvents) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	ns, ok := regarding.(*corev1.Namespace)
	if !ok {
		r.other.Eventf(regarding, related, eventtype, reason, action, note, args...)
		return
	}
	r.inside.Eventf(&corev1.Namespace{TypeMeta: ns.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: ns.Name, Namespace: ns.Name, UID: ns.UID, ResourceVersion: ns.ResourceVersion}},
		related, eventtype, reason, action, note, args...)
}

// FallbackSink writes Events through sink, and an Event about a Namespace that its own namespace refuses
// because it is terminating (the namespace was deleted after the change the Event reports) to "default",
// where client-go would have put it: the record is kept and the manager makes no write it is refused.
type FallbackSink struct{ events.EventSink }

// Create implements events.EventSink.
func (s FallbackSink) Create(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	out, err := s.EventSink.Create(ctx, e)
	if err == nil || e.Regarding.Kind != "Namespace" || e.Regarding.Namespace != e.Regarding.Name ||
		!apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return out, err
	}
	moved := e.DeepCopy()
	moved.Namespace, moved.Regarding.Namespace, moved.ResourceVersion = metav1.NamespaceDefault, "", ""
	return s.EventSink.Create(ctx, moved)
}
