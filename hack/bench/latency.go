package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// probeName is the namespace a person keeps relabelling while the manager works through bulk work.
const probeName = "bench-probe"

// idleSamples is how many changes the idle measurement makes.
const idleSamples = 40

// probeEvery is the pause between one probe change being reported and the next write.
const probeEvery = 500 * time.Millisecond

// probe measures what one person feels: the time from writing a namespace's profile label to the manager
// reporting that profile in the namespace's Ready condition. Each sample waits for its condition before the
// next write, so samples never queue behind each other.
type probe struct {
	cs   kubernetes.Interface
	flip int
}

// sample relabels the probe namespace to the next profile and returns how long the condition took.
func (p *probe) sample(ctx context.Context) (time.Duration, error) {
	p.flip++
	want := profiles[p.flip%len(profiles)]
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{c.ProfileKey(): want}}})
	if err != nil {
		return 0, err
	}
	start := time.Now()
	ns, err := p.cs.CoreV1().Namespaces().Patch(ctx, probeName, types.MergePatchType, patch, metav1.PatchOptions{})
	if err != nil {
		return 0, err
	}
	// From the write's own resourceVersion: the manager's status write comes after it, however fast.
	w, err := p.cs.CoreV1().Namespaces().Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=" + probeName, ResourceVersion: ns.ResourceVersion})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("probe watch closed")
			}
			if ns, isNS := ev.Object.(*corev1.Namespace); isNS && ev.Type == watch.Modified && ready(ns, want) {
				return time.Since(start), nil
			}
		case <-timeout:
			return 0, fmt.Errorf("probe: profile %q not reported within 2 minutes", want)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// run samples until stop is closed (at least one sample), or n samples when stop is nil.
func (p *probe) run(ctx context.Context, n int, stop <-chan struct{}) (latencies, error) {
	var out latencies
	for {
		d, err := p.sample(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, d)
		if stop == nil && len(out) >= n {
			return out, nil
		}
		select {
		case <-stop:
			return out, nil
		case <-time.After(probeEvery):
		case <-ctx.Done():
			return out, ctx.Err()
		}
	}
}

// during runs the probe beside fn, from when ready returns until fn is done.
func (p *probe) during(ctx context.Context, ready func() error, fn func() error) (latencies, error) {
	stop := make(chan struct{})
	var (
		got    latencies
		perr   error
		wg     sync.WaitGroup
		inited = make(chan struct{})
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if perr = ready(); perr != nil {
			close(inited)
			return
		}
		close(inited)
		got, perr = p.run(ctx, 0, stop)
	}()
	err := fn()
	<-inited
	close(stop)
	wg.Wait()
	if err != nil {
		return got, err
	}
	return got, perr
}

// latencies are probe samples.
type latencies []time.Duration

// quantile is the nearest-rank quantile q of the samples.
func (l latencies) quantile(q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[max(i, 0)]
}

func (l latencies) String() string {
	if len(l) == 0 {
		return "-"
	}
	return fmt.Sprintf("p50 %s, p99 %s, max %s (%d samples)", roundMs(l.quantile(0.5)), roundMs(l.quantile(0.99)), roundMs(l.quantile(1)), len(l))
}

func roundMs(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
