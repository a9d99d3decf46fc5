package chaos

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// policyWatch follows every netprofile-namespace policy through a raw watch on the API server (no cache, no
// informer: every event is looked at) during a flip, and records each time a flip namespace is left without
// its last good policy:
//   - a DELETED event;
//   - a policy missing from a list (the initial one, or a relist after the watch could not be resumed), or
//     one whose UID changed (deleted and created again between two observations);
//   - a policy that is neither the namespace's rendering before the flip nor after it (a half-written or
//     empty policy is as bad as none).
//
// When the watch ends (kube-apiserver restarting, a timeout) it is re-established from the last resourceVersion
// it saw, so no event in between is lost; when that version is too old to resume from (410 Gone), it lists
// again and checks the list instead.
type policyWatch struct {
	before, after map[string]string // namespace -> fingerprint of its rendering before and after the flip

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	rv         string
	converted  map[string]bool      // namespaces whose live policy is their rendering after the flip
	uids       map[string]types.UID // each namespace's policy's UID: a new one means it was deleted in between
	violations []string
	events     int
	watches    int // watch requests the API server accepted
	relists    int
	errors     []string // why watches ended or could not start, for the report
}

// watchPolicies lists the policies (each flip namespace must have its `before` policy), then watches from the
// list's resourceVersion until stop.
func watchPolicies(before, after map[string]string) *policyWatch {
	GinkgoHelper()
	w := &policyWatch{before: before, after: after, converted: map[string]bool{}, uids: map[string]types.UID{}, done: make(chan struct{})}
	Expect(w.list(ctx, "initial list")).To(Succeed())
	w.ctx, w.cancel = context.WithCancel(ctx)
	go w.run(w.ctx)
	return w
}

func (w *policyWatch) stop() {
	w.cancel()
	<-w.done
}

func (w *policyWatch) stopping() bool {
	select {
	case <-w.ctx.Done():
		return true
	default:
		return false
	}
}

// list replaces what the watch knows with a list: every flip namespace must be in it.
func (w *policyWatch) list(ctx context.Context, why string) error {
	list, err := dyn.Resource(cnpGVR).Namespace("").List(ctx, policyListOptions())
	if err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	seen := map[string]bool{}
	for i := range list.Items {
		w.observeLocked(&list.Items[i], why)
		seen[list.Items[i].GetNamespace()] = true
	}
	for ns := range w.before {
		if !seen[ns] {
			w.violations = append(w.violations, fmt.Sprintf("%s: policy missing from the %s (resourceVersion %s)", ns, why, list.GetResourceVersion()))
			delete(w.converted, ns)
		}
	}
	w.rv = list.GetResourceVersion()
	return nil
}

func (w *policyWatch) run(ctx context.Context) {
	defer close(w.done)
	for ctx.Err() == nil {
		opts := policyListOptions()
		w.mu.Lock()
		opts.ResourceVersion = w.rv
		w.mu.Unlock()
		opts.AllowWatchBookmarks = true
		wi, err := dyn.Resource(cnpGVR).Namespace("").Watch(ctx, opts)
		if err != nil {
			w.ended(err)
			if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
				w.relist(ctx)
			}
			pause(ctx)
			continue
		}
		w.mu.Lock()
		w.watches++
		w.mu.Unlock()
		expired := false
		for ev := range wi.ResultChan() {
			if ev.Type == watch.Error {
				err := apierrors.FromObject(ev.Object)
				w.ended(err)
				expired = apierrors.IsResourceExpired(err) || apierrors.IsGone(err)
				break
			}
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			w.mu.Lock()
			w.rv = u.GetResourceVersion()
			switch ev.Type {
			case watch.Added, watch.Modified:
				w.events++
				w.observeLocked(u, string(ev.Type))
			case watch.Deleted:
				w.events++
				if _, ours := w.before[u.GetNamespace()]; ours {
					w.violations = append(w.violations, fmt.Sprintf("%s: policy DELETED (resourceVersion %s)", u.GetNamespace(), u.GetResourceVersion()))
					delete(w.converted, u.GetNamespace())
				}
			}
			w.mu.Unlock()
		}
		wi.Stop()
		if expired {
			w.relist(ctx)
		}
	}
}

func (w *policyWatch) relist(ctx context.Context) {
	for ctx.Err() == nil {
		if err := w.list(ctx, "relist"); err != nil {
			w.ended(err)
			pause(ctx)
			continue
		}
		w.mu.Lock()
		w.relists++
		w.mu.Unlock()
		return
	}
}

// observeLocked checks one state of a policy; the caller holds mu.
func (w *policyWatch) observeLocked(u *unstructured.Unstructured, how string) {
	ns := u.GetNamespace()
	before, ours := w.before[ns]
	if !ours {
		return
	}
	if uid, seen := w.uids[ns]; seen && uid != u.GetUID() {
		// Deleted and created again between two observations (a relist after the API server restarted
		// cannot show the deletion itself).
		w.violations = append(w.violations, fmt.Sprintf("%s: policy was replaced (%s, resourceVersion %s): UID %s, before %s",
			ns, how, u.GetResourceVersion(), u.GetUID(), uid))
	}
	w.uids[ns] = u.GetUID()
	fp, err := liveFingerprint(u)
	switch {
	case err != nil:
		w.violations = append(w.violations, fmt.Sprintf("%s: policy does not decode (%s): %v", ns, how, err))
	case fp == w.after[ns]:
		w.converted[ns] = true
	case fp == before:
		delete(w.converted, ns)
	default:
		w.violations = append(w.violations, fmt.Sprintf("%s: policy (%s, resourceVersion %s) is neither its last good one nor its new one: %s",
			ns, how, u.GetResourceVersion(), fp))
		delete(w.converted, ns)
	}
}

func (w *policyWatch) ended(err error) {
	if w.stopping() {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if urlErr, ok := errors.AsType[*url.Error](err); ok {
		err = urlErr.Err // the request's URL is always the same
	}
	if len(w.errors) < 20 {
		w.errors = append(w.errors, time.Now().Format("15:04:05.000")+" "+err.Error())
	}
}

// Converted is how many flip namespaces carry their new policy, as seen by the watch.
func (w *policyWatch) Converted() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.converted)
}

// Violations are the times a namespace was seen without its last good policy.
func (w *policyWatch) Violations() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.violations...)
}

func (w *policyWatch) summary() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fmt.Sprintf("%d events, %d watches, %d relists, %d of %d namespaces converted; watch errors: %q",
		w.events, w.watches, w.relists, len(w.converted), len(w.before), w.errors)
}

// pause waits a little before the next attempt, unless ctx ends first.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(200 * time.Millisecond):
	}
}
