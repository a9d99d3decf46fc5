package main

import (
	"context"
	"fmt"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// watcher follows namespaces and generated namespace policies through watches, so measuring convergence
// costs the API server nothing but two watch streams.
type watcher struct {
	cache cache.Cache
}

func newWatcher(ctx context.Context, cfg *rest.Config) (*watcher, error) {
	scheme, err := controllers.NewScheme()
	if err != nil {
		return nil, err
	}
	c, err := cache.New(cfg, cache.Options{Scheme: scheme, ByObject: map[client.Object]cache.ByObject{
		&ciliumv2.CiliumNetworkPolicy{}: {Label: ownership.ComponentSelector(ownership.ComponentNamespacePolicy)},
	}})
	if err != nil {
		return nil, err
	}
	for _, obj := range []client.Object{&corev1.Namespace{}, &ciliumv2.CiliumNetworkPolicy{}} {
		if _, err := c.GetInformer(ctx, obj); err != nil {
			return nil, err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("watch caches did not sync")
	}
	return &watcher{cache: c}, nil
}

// waitAll returns when done holds for every named namespace and its namespace policy (nil when absent).
func (w *watcher) waitAll(ctx context.Context, names []string, done func(*corev1.Namespace, *ciliumv2.CiliumNetworkPolicy) bool) error {
	pending := append([]string(nil), names...)
	deadline := time.Now().Add(30 * time.Minute)
	for {
		remaining := pending[:0]
		for _, name := range pending {
			ns := &corev1.Namespace{}
			if err := w.cache.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
				remaining = append(remaining, name)
				continue
			}
			var p *ciliumv2.CiliumNetworkPolicy
			cnp := &ciliumv2.CiliumNetworkPolicy{}
			if err := w.cache.Get(ctx, client.ObjectKey{Namespace: name, Name: ownership.NamespacePolicyName}, cnp); err == nil {
				p = cnp
			}
			if !done(ns, p) {
				remaining = append(remaining, name)
			}
		}
		pending = remaining
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d namespaces never converged, e.g. %s", len(pending), pending[0])
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
