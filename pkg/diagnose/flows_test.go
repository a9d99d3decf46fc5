package diagnose_test

import (
	ht "github.com/netprofile/netprofile/pkg/hubbletest"
)

// The pods of the flows the tests build with hubbletest.
var (
	app = ht.Pod{Namespace: "my-app", Name: "api-7d9f8-x2x4q", IP: "10.0.1.23", Labels: map[string]string{"app": "api"},
		NSLabels: map[string]string{ht.ProfileKey: "isolated"}}
	standardApp = ht.Pod{Namespace: "shop", Name: "web-5c6b7-k8j2m", IP: "10.0.2.31", Labels: map[string]string{"app": "web"},
		NSLabels: map[string]string{ht.ProfileKey: "standard", ht.AccessKey("postgres"): "true"}}
	coredns = ht.Pod{Namespace: "kube-system", Name: "coredns-6f6b679f8f-abcde", IP: "10.0.0.10",
		Labels: map[string]string{"k8s-app": "kube-dns"}}
	postgres = ht.Pod{Namespace: "database", Name: "postgres-1-0a1b2c", IP: "10.0.3.5",
		Labels: map[string]string{"cnpg.io/cluster": "postgres"}}
	dragonflyInDatabase = ht.Pod{Namespace: "database", Name: "dragonfly-0-d1e2f3", IP: "10.0.3.6",
		Labels: map[string]string{"app": "dragonfly"}}
	dragonflyInCache = ht.Pod{Namespace: "cache", Name: "dragonfly-0-a9b8c7", IP: "10.0.4.6",
		Labels: map[string]string{"app": "dragonfly"}}
	internalGateway = ht.Pod{Namespace: "istio-gateway", Name: "internal-istio-7f9c4-q1w2e", IP: "10.0.5.2",
		Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "internal"}}
	externalGateway = ht.Pod{Namespace: "istio-gateway", Name: "external-istio-7f9c4-r3t4y", IP: "10.0.5.3",
		Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "external"}}
	prometheus = ht.Pod{Namespace: "monitoring", Name: "prometheus-k8s-0-p0p0p0", IP: "10.0.6.9",
		Labels: map[string]string{"app.kubernetes.io/name": "prometheus"}}
	kubeAPIServer = ht.Reserved(7, "10.96.0.1", "reserved:kube-apiserver")
)
