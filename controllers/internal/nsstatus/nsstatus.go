// Package nsstatus writes netprofile's conditions on a Namespace through the namespaces/status subresource,
// with server-side apply under the writing controller's field manager (so the controllers' conditions never
// overwrite each other), in one apply per reconcile, only when one changed, and with an Event for every
// transition (except, on request, the first appearance of the good state: see Writer.QuietFirstGood).
//
// Whoever may write a Namespace's status may also write netprofile's conditions there. The controllers watch
// their own conditions and write them again when they differ from what they decide; a condition of theirs
// that they do not want is removed whoever wrote it, and a transition time is the one this process wrote
// (Transitions), never one moved since.
package nsstatus

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/metrics"
)

// Writer writes the conditions of one field manager.
type Writer struct {
	Client       client.Client
	FieldManager string
	Recorder     events.EventRecorder
	// Type is the condition Set, SetCondition and Clear write.
	Type  corev1.NamespaceConditionType
	Clock clock.PassiveClock
	// QuietFirstGood writes a condition that first appears in its good state without an Event.
	QuietFirstGood bool
	// Transitions, when set, keeps the transition times this process wrote, so that one moved by someone else
	// is put back (conditions whose writer sets the time itself need none).
	Transitions *Transitions
}

// Transitions remembers, per Namespace and condition type, the status and transition time a controller last
// wrote or found. A condition keeps its transition time while its status does not change: without this
// memory a time moved by hand (later, to hold back an alert on a namespace that is not Ready) would be kept
// as if it were netprofile's. After a start the time found is taken, but never one later than now.
type Transitions struct {
	mu sync.Mutex
	m  map[transitionKey]transition
}

type transitionKey struct {
	namespace string
	uid       types.UID
	t         corev1.NamespaceConditionType
}

type transition struct {
	status corev1.ConditionStatus
	at     metav1.Time
}

func (t *Transitions) get(k transitionKey) (transition, bool) {
	if t == nil {
		return transition{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	v, ok := t.m[k]
	return v, ok
}

func (t *Transitions) set(k transitionKey, v *transition) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[transitionKey]transition{}
	}
	if v == nil {
		delete(t.m, k)
		return
	}
	t.m[k] = *v
}

// Forget drops what is remembered of a Namespace that is gone.
func (t *Transitions) Forget(namespace string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.m {
		if k.namespace == namespace {
			delete(t.m, k)
		}
	}
}

// Set writes the condition of w.Type if it changed and records an Event for it, of the type
// conditions.EventType says.
func (w Writer) Set(ctx context.Context, ns *corev1.Namespace, status corev1.ConditionStatus, reason, message string) error {
	return w.SetCondition(ctx, ns, corev1.NamespaceCondition{Type: w.Type, Status: status, Reason: reason, Message: message})
}

// SetCondition is Set for a whole condition; a transition time set in want is kept (see conditions.Desired).
func (w Writer) SetCondition(ctx context.Context, ns *corev1.Namespace, want corev1.NamespaceCondition) error {
	want.Type = w.Type
	return w.Report(ctx, ns, []corev1.NamespaceConditionType{w.Type}, want)
}

// Clear removes the condition of w.Type.
func (w Writer) Clear(ctx context.Context, ns *corev1.Namespace) error {
	return w.Report(ctx, ns, []corev1.NamespaceConditionType{w.Type})
}

// Report writes every condition of the types this field manager owns: want are the ones to have, in one
// server-side apply, and an owned type missing from want is removed, whoever wrote it (a strategic merge
// patch: an apply only drops what its own field manager set, and a forged condition was set by another).
// Nothing is written when nothing changed; an Event is recorded for each condition that did.
func (w Writer) Report(ctx context.Context, ns *corev1.Namespace, owned []corev1.NamespaceConditionType, want ...corev1.NamespaceCondition) error {
	now := metav1.NewTime(w.Clock.Now())
	var out []corev1.NamespaceCondition
	var changed []corev1.NamespaceCondition
	var firsts []bool
	for _, c := range want {
		key := transitionKey{ns.Name, ns.UID, c.Type}
		if c.LastTransitionTime.IsZero() {
			if was, ok := w.Transitions.get(key); ok && was.status == c.Status {
				c.LastTransitionTime = was.at
			}
		}
		cond, diff := conditions.Desired(ns.Status.Conditions, c, now)
		if cond.LastTransitionTime.After(now.Time) {
			// A time kept from the live condition is never later than now: a forged one would hold back an
			// alert that reads it.
			cond.LastTransitionTime, diff = now, true
		}
		if err := conditions.Validate(cond); err != nil {
			return err
		}
		out = append(out, cond)
		if diff {
			changed = append(changed, cond)
			firsts = append(firsts, conditions.Find(ns.Status.Conditions, c.Type) == nil)
		} else {
			w.Transitions.set(key, &transition{cond.Status, cond.LastTransitionTime})
		}
	}
	var removed []corev1.NamespaceConditionType
	for _, t := range owned {
		if conditions.Find(ns.Status.Conditions, t) != nil && !slices.ContainsFunc(want, func(c corev1.NamespaceCondition) bool { return c.Type == t }) {
			removed = append(removed, t)
		}
	}
	if len(changed) == 0 && len(removed) == 0 {
		return nil
	}
	if len(removed) > 0 {
		if err := w.remove(ctx, ns, removed); err != nil {
			return err
		}
	}
	if len(changed) > 0 {
		status := corev1ac.NamespaceStatus()
		for _, c := range out {
			status.WithConditions(corev1ac.NamespaceCondition().WithType(c.Type).WithStatus(c.Status).WithReason(c.Reason).
				WithMessage(c.Message).WithLastTransitionTime(c.LastTransitionTime))
		}
		if err := w.Client.Status().Apply(ctx, corev1ac.Namespace(ns.Name).WithStatus(status), client.FieldOwner(w.FieldManager), client.ForceOwnership); err != nil {
			return fmt.Errorf("failed to write the conditions of %s: %w", w.FieldManager, err)
		}
		for _, c := range changed {
			w.Transitions.set(transitionKey{ns.Name, ns.UID, c.Type}, &transition{c.Status, c.LastTransitionTime})
		}
	}
	for i, cond := range changed {
		eventType := conditions.EventType(cond)
		if cond.Status == corev1.ConditionFalse && cond.Type != conditions.Audit {
			metrics.Failures.WithLabelValues(w.FieldManager, cond.Reason).Inc()
		}
		if firsts[i] && eventType == corev1.EventTypeNormal && w.QuietFirstGood {
			continue
		}
		w.Recorder.Eventf(ns, nil, eventType, cond.Reason, "Reconcile", "%s", conditions.Shorten(cond.Message, conditions.MaxEventNote))
	}
	return nil
}

// remove deletes the conditions of the types gone from ns's status with a strategic merge patch, whichever
// field manager wrote them.
func (w Writer) remove(ctx context.Context, ns *corev1.Namespace, gone []corev1.NamespaceConditionType) error {
	deletes := make([]map[string]string, 0, len(gone))
	for _, t := range gone {
		deletes = append(deletes, map[string]string{"type": string(t), "$patch": "delete"})
		w.Transitions.set(transitionKey{ns.Name, ns.UID, t}, nil)
	}
	patch, err := json.Marshal(map[string]any{"status": map[string]any{"conditions": deletes}})
	if err != nil {
		return err
	}
	if err := w.Client.Status().Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns.Name}},
		client.RawPatch(types.StrategicMergePatchType, patch), client.FieldOwner(w.FieldManager)); err != nil {
		return fmt.Errorf("failed to remove the conditions of %s: %w", w.FieldManager, err)
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

// AlsoIn records every Event about a Namespace through r, and a copy in namespace (the manager's own) through
// copies: the platform team reads them there, and a namespace's admin, who may delete the Events of that
// namespace, cannot delete these. The copy's reference names the Namespace with namespace as its own, as the
// API server takes an Event outside default and kube-system only about an object with a namespace. Events
// about other objects, and about namespace itself, are recorded through r only.
func AlsoIn(namespace string, r, copies events.EventRecorder) events.EventRecorder {
	return platformCopies{namespace, r, copies}
}

type platformCopies struct {
	namespace     string
	other, copies events.EventRecorder
}

func (r platformCopies) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.other.Eventf(regarding, related, eventtype, reason, action, note, args...)
	ns, ok := regarding.(*corev1.Namespace)
	if !ok || ns.Name == r.namespace {
		return
	}
	r.copies.Eventf(&corev1.Namespace{TypeMeta: ns.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: ns.Name, Namespace: r.namespace, UID: ns.UID, ResourceVersion: ns.ResourceVersion}},
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
