package predicates

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/priorityqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
)

func request(name string) reconcile.Request {
	return reconcile.Request{NamespacedName: client.ObjectKey{Name: name}}
}

// A person's change queued after a catalogue fan-out is handed to a worker first, and a namespace already
// queued for a person's change keeps its place when the fan-out reaches it too.
func TestFanOutIsLowPriority(t *testing.T) {
	q := priorityqueue.New[reconcile.Request]("fanout-test")
	defer q.ShutDown()
	h := FanOut(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{request("bulk-1"), request("bulk-2"), request("person-1")}
	})
	q.Add(request("person-1"))
	old := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "standard", ResourceVersion: "1"}}
	updated := old.DeepCopy()
	updated.ResourceVersion = "2"
	h.Update(context.Background(), event.UpdateEvent{ObjectOld: old, ObjectNew: updated}, q)
	q.Add(request("person-2"))

	want := []struct {
		name     string
		priority int
	}{{"person-1", 0}, {"person-2", 0}, {"bulk-1", handler.LowPriority}, {"bulk-2", handler.LowPriority}}
	for _, w := range want {
		item, priority, _ := q.GetWithPriority()
		if item != request(w.name) || priority != w.priority {
			t.Fatalf("got %s at priority %d, want %s at %d", item.Name, priority, w.name, w.priority)
		}
		q.Done(item)
	}
	if n := q.Len(); n != 0 {
		t.Fatalf("%d items left in the queue", n)
	}
}
