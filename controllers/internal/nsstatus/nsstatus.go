// Package nsstatus writes one netprofile condition on a Namespace through the namespaces/status subresource,
// with server-side apply under the writing controller's field manager (so the two controllers' conditions
// never overwrite each other), only when it changed, and with an Event for every transition (except, on request,
// the first appearance of the good state: see Writer.QuietFirstGood).
package nsstatus

import (
	"context"
	"fmt"
	"time"

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
// no namespace; so the reference names the namespace as its own. inside must send through FallbackSink: a
// namespace may be terminating by the time its Event is sent.
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

// FallbackSink writes Events through sink. An Event about a Namespace goes to "default", where client-go
// would have put it, when its own namespace cannot take it: the manager's cache already shows the namespace
// terminating or gone (the API server would refuse the create, so it is never sent there), or the API server
// refuses it because the namespace started terminating after that look (the race between the cache and the
// send). The record is kept either way, and a refusal for any other reason is returned as it is.
type FallbackSink struct {
	events.EventSink
	// Namespaces reads the manager's cache of Namespaces; nil sends every Event to its own namespace first.
	Namespaces client.Reader
}

// cacheWait bounds the look into the cache: it answers at once once synced, and an Event must never wait
// on a cache that is not.
const cacheWait = time.Second

// Create implements events.EventSink.
func (s FallbackSink) Create(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	if !aboutItsNamespace(e) {
		return s.EventSink.Create(ctx, e)
	}
	if s.terminating(ctx, e.Namespace) {
		return s.EventSink.Create(ctx, moved(e))
	}
	out, err := s.EventSink.Create(ctx, e)
	if err == nil || !apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		return out, err
	}
	return s.EventSink.Create(ctx, moved(e))
}

// Patch implements events.EventSink: a repeat of an Event that was moved is counted on the moved copy. When
// that copy does not exist (the first one was recorded before the namespace began terminating), the
// broadcaster creates the Event again, and Create moves it.
func (s FallbackSink) Patch(ctx context.Context, e *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	if aboutItsNamespace(e) && s.terminating(ctx, e.Namespace) {
		return s.EventSink.Patch(ctx, moved(e), data)
	}
	return s.EventSink.Patch(ctx, e, data)
}

// terminating reports whether the cache shows the namespace terminating or gone. A cache that cannot
// answer says no: the send then finds out, and Create still moves the Event on the API server's refusal.
func (s FallbackSink) terminating(ctx context.Context, name string) bool {
	if s.Namespaces == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, cacheWait)
	defer cancel()
	ns := &corev1.Namespace{}
	if err := s.Namespaces.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return apierrors.IsNotFound(err)
	}
	return !ns.DeletionTimestamp.IsZero()
}

// aboutItsNamespace reports whether e is an Event about a Namespace recorded inside it (see InNamespace).
func aboutItsNamespace(e *eventsv1.Event) bool {
	return e.Regarding.Kind == "Namespace" && e.Regarding.Namespace == e.Regarding.Name && e.Namespace == e.Regarding.Name
}

// moved is e as client-go would have recorded it: in "default", about a cluster-scoped Namespace.
func moved(e *eventsv1.Event) *eventsv1.Event {
	m := e.DeepCopy()
	m.Namespace, m.Regarding.Namespace, m.ResourceVersion = metav1.NamespaceDefault, "", ""
	return m
}
