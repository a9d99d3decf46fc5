package main

import (
	"testing"
	"time"
)

func TestLatencyQuantiles(t *testing.T) {
	var l latencies
	for i := 100; i >= 1; i-- { // unsorted on purpose
		l = append(l, time.Duration(i)*time.Millisecond)
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}} {
		if got := l.quantile(tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if l[0] != 100*time.Millisecond {
		t.Error("quantile sorted the caller's samples")
	}
	if got := (latencies{}).String(); got != "-" {
		t.Errorf("no samples print %q", got)
	}
	if got := (latencies{3 * time.Millisecond}).String(); got != "p50 3ms, p99 3ms, max 3ms (1 samples)" {
		t.Errorf("one sample prints %q", got)
	}
}
