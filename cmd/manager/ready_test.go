package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
)

// The readiness check follows the informers: not ready until they have synced.
func TestCacheSyncedReadiness(t *testing.T) {
	synced := false
	check := cacheSynced(&informertest.FakeInformers{Synced: &synced})
	if err := check(httptest.NewRequest(http.MethodGet, "/readyz", nil)); err == nil {
		t.Fatal("ready before the informers synced")
	}
	synced = true
	if err := check(httptest.NewRequest(http.MethodGet, "/readyz", nil)); err != nil {
		t.Fatalf("not ready after the informers synced: %v", err)
	}
}
