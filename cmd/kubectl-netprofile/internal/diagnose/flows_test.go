package diagnose_test

import (
	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
)

// The pods of the flows the tests build with hubbletest.
var (
	app = ht.Pod{Namespace: "my-app", Name: "api-7d9f8-x2x4q", IP: "10.0.1.23", Labels: map[string]string{"app": "api"},
		NSLabels: map[string]string{ht.ProfileKey: "isolated"}}
	standardApp = ht.Pod{Namespace: "shop", Name: "web-5c6b7-k8j2m", IP: "10.0.2.31", Labels: map[string]string{"app": "web"},
		NSLabels: map[string]string{ht.ProfileKey: "standard", ht.AccessKey("postgres"): "true"}}
	coredns             = ht.CoreDNS
	postgres            = ht.Postgres
	dragonflyInDatabase = ht.Pod{Namespace: "database", Name: "dragonfly-0-d1e2f3", IP: "10.0.3.6",
		Labels: map[string]string{"app": "dragonfly"}, NSLabels: ht.Platform}
	dragonflyInCache = ht.Pod{Namespace: "cache", Name: "dragonfly-0-a9b8c7", IP: "10.0.4.6",
		Labels: map[string]string{"app": "dragonfly"}, NSLabels: ht.Platform}
	internalGateway = ht.InternalGateway
	externalGateway = ht.ExternalGateway
	prometheus      = ht.Prometheus
	kubeAPIServer   = ht.Reserved(7, "10.96.0.1", "reserved:kube-apiserver")
)
