package predicates

import (
	"context"
	"time"

	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// FanOut is handler.EnqueueRequestsFromMapFunc for bulk work: a change of one catalogue object that re-checks
// thousands of namespaces. Its requests go into the priority queue at handler.LowPriority, the priority of a
// cold start's initial list and of resyncs, so a person's own label change (default priority) is reconciled
// next instead of behind every namespace the catalogue change touched. Without a priority queue it is the
// plain map handler.
func FanOut(fn handler.MapFunc) handler.EventHandler {
	return lowPriority{handler.EnqueueRequestsFromMapFunc(fn)}
}

type lowPriority struct{ inner handler.EventHandler }

type queue = workqueue.TypedRateLimitingInterface[reconcile.Request]

func (h lowPriority) Create(ctx context.Context, e event.CreateEvent, q queue) {
	h.inner.Create(ctx, e, low(q))
}

func (h lowPriority) Update(ctx context.Context, e event.UpdateEvent, q queue) {
	h.inner.Update(ctx, e, low(q))
}

func (h lowPriority) Delete(ctx context.Context, e event.DeleteEvent, q queue) {
	h.inner.Delete(ctx, e, low(q))
}

func (h lowPriority) Generic(ctx context.Context, e event.GenericEvent, q queue) {
	h.inner.Generic(ctx, e, low(q))
}

func low(q queue) queue {
	if pq, ok := q.(priorityqueue.PriorityQueue[reconcile.Request]); ok {
		return lowQueue{pq}
	}
	return q
}

// lowQueue adds every item at handler.LowPriority. An item already queued at a higher priority keeps it: the
// priority queue only ever raises an item's priority.
type lowQueue struct {
	priorityqueue.PriorityQueue[reconcile.Request]
}

func (q lowQueue) Add(item reconcile.Request) { q.AddWithOpts(priorityqueue.AddOpts{}, item) }

func (q lowQueue) AddAfter(item reconcile.Request, after time.Duration) {
	q.AddWithOpts(priorityqueue.AddOpts{After: after}, item)
}

func (q lowQueue) AddRateLimited(item reconcile.Request) {
	q.AddWithOpts(priorityqueue.AddOpts{RateLimited: true}, item)
}

func (q lowQueue) AddWithOpts(o priorityqueue.AddOpts, items ...reconcile.Request) {
	o.Priority = ptr.To(handler.LowPriority)
	q.PriorityQueue.AddWithOpts(o, items...)
}
