// Package nsmap turns Namespace label changes into reconcile requests for the catalogue objects the labels
// refer to (profile names, shared-resource names), from both the old and the new labels, so a count drops as
// soon as a label goes. Requests are delayed a little: a burst of namespace changes collapses into one status
// write per object. It also says which Namespaces the catalogue's peers name lack the platform mark
// (Unmarked), and which Namespace events change that (MarkChanged).
package nsmap

import (
	"context"
	"maps"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// Coalesce is how long requests wait so bursts collapse.
const Coalesce = time.Second

// Names extracts the catalogue object names a Namespace's labels refer to.
type Names func(labels map[string]string) []string

// Handler enqueues the names in a namespace's old and new labels when they differ (and on create/delete).
func Handler(names Names) handler.EventHandler {
	return handle(names, func(before, after map[string]string) bool { return !equalNames(names(before), names(after)) })
}

// LabelsHandler enqueues the names in a namespace's old and new labels whenever any label changes: for
// objects whose status depends on the rest of the labels too (a SharedResource whose spec.consumers selects
// namespaces by them).
func LabelsHandler(names Names) handler.EventHandler {
	return handle(names, func(before, after map[string]string) bool { return !maps.Equal(before, after) })
}

func handle(names Names, changed func(before, after map[string]string) bool) handler.EventHandler {
	add := func(q workqueue.TypedRateLimitingInterface[reconcile.Request], labels map[string]string) {
		for _, n := range names(labels) {
			q.AddAfter(reconcile.Request{NamespacedName: client.ObjectKey{Name: n}}, Coalesce)
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object.GetLabels())
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if !changed(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) {
				return
			}
			add(q, e.ObjectOld.GetLabels())
			add(q, e.ObjectNew.GetLabels())
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(q, e.Object.GetLabels())
		},
	}
}

func equalNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
