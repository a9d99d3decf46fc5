package nsmap

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// recorder records what a handler enqueues.
type recorder struct {
	workqueue.TypedRateLimitingInterface[reconcile.Request]
	added []string
}

func (r *recorder) AddAfter(item reconcile.Request, _ time.Duration) {
	r.added = append(r.added, item.Name)
}

// grantNames are the keys starting with "access/", as the SharedResource controller's names function.
func grantNames(labels map[string]string) []string {
	var out []string
	for k := range labels {
		if name, ok := strings.CutPrefix(k, "access/"); ok {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func enqueued(t *testing.T, labelsHandler bool, before, after map[string]string) []string {
	t.Helper()
	h := Handler(grantNames)
	if labelsHandler {
		h = LabelsHandler(grantNames)
	}
	q := &recorder{}
	h.Update(context.Background(), event.UpdateEvent{
		ObjectOld: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: before}},
		ObjectNew: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns", Labels: after}},
	}, q)
	slices.Sort(q.added)
	return slices.Compact(q.added)
}

func TestHandlers(t *testing.T) {
	grant := map[string]string{"access/postgres": "true", "team": "web"}
	relabelled := map[string]string{"access/postgres": "true", "team": "payments"}
	regranted := map[string]string{"access/dragonfly": "true", "team": "web"}

	if got := enqueued(t, false, grant, relabelled); len(got) != 0 {
		t.Errorf("Handler: a label outside the names enqueued %v", got)
	}
	if got := enqueued(t, false, grant, regranted); !slices.Equal(got, []string{"dragonfly", "postgres"}) {
		t.Errorf("Handler: a changed grant enqueued %v, want both names", got)
	}
	// spec.consumers may select on any label: the resources the namespace asks for must hear of it.
	if got := enqueued(t, true, grant, relabelled); !slices.Equal(got, []string{"postgres"}) {
		t.Errorf("LabelsHandler: a relabel enqueued %v, want postgres", got)
	}
	if got := enqueued(t, true, grant, grant); len(got) != 0 {
		t.Errorf("LabelsHandler: no change enqueued %v", got)
	}
}
