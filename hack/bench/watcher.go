package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// watcher follows namespaces and generated namespace policies through watches and re-checks a namespace
// only when one of its two objects changes, so measuring convergence costs the API server two watch
// streams and the machine little CPU (polling thousands of objects would compete with what is measured).
// Policies are watched as metadata only: the timing needs their labels and generation, and decoding every
// policy's rules would take CPU from what is measured. Their content is checked in full, against the offline
// render, once each scenario has converged (harness.verify).
type watcher struct {
	cache cache.Cache

	mu      sync.Mutex
	done    func(*corev1.Namespace, *metav1.PartialObjectMetadata) bool
	pending map[string]bool
	settled chan struct{}
}

func newWatcher(ctx context.Context, cfg *rest.Config) (*watcher, error) {
	scheme, err := controllers.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, DefaultUnsafeDisableDeepCopy: ptr.To(true), ByObject: map[client.Object]cache.ByObject{
		policyMeta(): {Label: ownership.ComponentSelector(ownership.ComponentNamespacePolicy)},
	}})
	if err != nil {
		return nil, err
	}
	w := &watcher{cache: c}
	for _, obj := range []client.Object{&corev1.Namespace{}, policyMeta()} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { w.changed(ctx, o) },
			UpdateFunc: func(_, o any) { w.changed(ctx, o) },
		}); err != nil {
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("watch caches did not sync")
	}
	return w, nil
}

// policyMeta is a CiliumNetworkPolicy's metadata.
func policyMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(cilium.SchemeGroupVersion.WithKind(cilium.CNPKindDefinition))
	return m
}

// namespaceOf is the namespace an event is about.
func namespaceOf(o any) string {
	switch obj := o.(type) {
	case *corev1.Namespace:
		return obj.Name
	case *metav1.PartialObjectMetadata:
		if obj.Name == ownership.NamespacePolicyName {
			return obj.Namespace
		}
	}
	return ""
}

func (w *watcher) changed(ctx context.Context, o any) {
	name := namespaceOf(o)
	w.mu.Lock()
	defer w.mu.Unlock()
	if name == "" || !w.pending[name] {
		return
	}
	w.check(ctx, name)
}

// check settles one namespace if done holds; the caller holds mu.
func (w *watcher) check(ctx context.Context, name string) {
	ns := &corev1.Namespace{}
	if err := w.cache.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return
	}
	var p *metav1.PartialObjectMetadata
	if m := policyMeta(); w.cache.Get(ctx, client.ObjectKey{Namespace: name, Name: ownership.NamespacePolicyName}, m) == nil {
		p = m
	}
	if w.done(ns, p) {
		delete(w.pending, name)
		if len(w.pending) == 0 {
			close(w.settled)
		}
	}
}

// waitAll returns when done holds for every named namespace and its namespace policy (nil when absent).
func (w *watcher) waitAll(ctx context.Context, names []string, done func(*corev1.Namespace, *metav1.PartialObjectMetadata) bool) error {
	w.mu.Lock()
	w.done, w.pending, w.settled = done, map[string]bool{}, make(chan struct{})
	for _, n := range names {
		w.pending[n] = true
	}
	for _, n := range names {
		w.check(ctx, n)
	}
	settled := w.settled
	w.mu.Unlock()
	select {
	case <-settled:
		return nil
	case <-time.After(30 * time.Minute):
	case <-ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for n := range w.pending {
		return fmt.Errorf("%d namespaces never converged, e.g. %s", len(w.pending), n)
	}
	return ctx.Err()
}

// generations is each named namespace's policy generation now (0 when it has none).
func (w *watcher) generations(ctx context.Context, names []string) map[string]int64 {
	out := make(map[string]int64, len(names))
	for _, n := range names {
		if m := policyMeta(); w.cache.Get(ctx, client.ObjectKey{Namespace: n, Name: ownership.NamespacePolicyName}, m) == nil {
			out[n] = m.Generation
		}
	}
	return out
}
