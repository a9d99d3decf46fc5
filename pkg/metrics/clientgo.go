package metrics

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	clientmetrics "k8s.io/client-go/tools/metrics"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// requests is controller-runtime's rest_client_requests_total, fed for real.
var requests = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "rest_client_requests_total",
	Help: "Number of HTTP requests, partitioned by status code, method, and host.",
}, []string{"code", "method", "host"})

var restoreOnce sync.Once

// RestoreClientRequests makes rest_client_requests_total on the manager's endpoint count the manager's API
// requests again (the scale benchmark and write-churn alerts read it). Importing Cilium's typed API pulls in
// its hive, whose init points client-go's request metrics at Cilium's own registry, which nobody serves,
// leaving controller-runtime's counter registered but never incremented.
func RestoreClientRequests() {
	restoreOnce.Do(func() {
		ctrlmetrics.Registry.Unregister(requests) // the idle twin with the same descriptor
		ctrlmetrics.Registry.MustRegister(requests)
		clientmetrics.RequestResult = requestResult{}
	})
}

type requestResult struct{}

func (requestResult) Increment(_ context.Context, code, method, host string) {
	requests.WithLabelValues(code, method, host).Inc()
}
