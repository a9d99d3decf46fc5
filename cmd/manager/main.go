// Command manager runs netprofile's controllers.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "netprofile:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		metricsAddr, probeAddr  string
		pprofAddr               string
		metricsSecure           bool
		metricsCertDir          string
		metricsCertName         string
		metricsCertKey          string
		leaderElect             bool
		leaderElectionNamespace string
		leaderElectionID        string
		leaseDuration           time.Duration
		renewDeadline           time.Duration
		retryPeriod             time.Duration
		labelDomain             string
		platformNamespaces      string
		protectedLabels         string
		clusterName             string
		ciliumConfig            string
		syncPeriod              time.Duration
		workers                 int
		qps                     float64
		burst                   int
		thresholds              = enforcement.DefaultThresholds
		recordNamespace         string
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8443", "Address the metrics endpoint binds to; \"0\" disables it.")
	flag.BoolVar(&metricsSecure, "metrics-secure", true, "Serve metrics over HTTPS with Kubernetes authentication and authorization; false serves plain HTTP for local use.")
	flag.StringVar(&metricsCertDir, "metrics-cert-path", "", "Directory with the metrics server's certificate and key (e.g. a cert-manager Secret), reloaded when they change; empty generates a self-signed certificate.")
	flag.StringVar(&metricsCertName, "metrics-cert-name", "tls.crt", "File name of the metrics server's certificate in --metrics-cert-path.")
	flag.StringVar(&metricsCertKey, "metrics-cert-key", "tls.key", "File name of the metrics server's key in --metrics-cert-path.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "Address the health and readiness probes bind to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "Address to serve Go pprof profiles on (for `go tool pprof`); empty disables it.")
	flag.BoolVar(&leaderElect, "leader-elect", false, "Elect a leader so only one replica writes.")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "", "Namespace of the leader election Lease (default: the pod's namespace).")
	flag.StringVar(&leaderElectionID, "leader-election-id", "netprofile.network-policy.homelab", "Name of the leader election Lease.")
	flag.DurationVar(&leaseDuration, "leader-elect-lease-duration", 15*time.Second, "How long a standby waits after the leader stopped renewing before it takes over (a leader that stops cleanly hands over at once).")
	flag.DurationVar(&renewDeadline, "leader-elect-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it gives up leading (and exits).")
	flag.DurationVar(&retryPeriod, "leader-elect-retry-period", 2*time.Second, "How often candidates try to acquire or renew the Lease.")
	flag.StringVar(&labelDomain, "label-domain", contract.DefaultDomain, "Domain of the Namespace labels netprofile reads (<domain>/profile, access.<domain>/<resource>, <domain>/enforcement).")
	flag.StringVar(&platformNamespaces, "platform-namespaces", strings.Join(policy.DefaultPlatformNamespaces, ","), "Comma-separated namespaces that keep hand-crafted policies: profiles and grants are refused there.")
	flag.StringVar(&protectedLabels, "protected-namespace-labels", "", "Comma-separated Namespace label keys that admission lets only the platform set, change or remove (the chart's admission.protectedNamespaceLabels). With kubernetes.io/metadata.name, a SharedResource's spec.consumers may select on them without a warning that tenants can forge its selector.")
	flag.StringVar(&clusterName, "cluster-name", "", "The Cilium cluster every rendered pod peer names (io.cilium.k8s.policy.cluster), so a policy means this cluster's pods whether or not Cilium's policy-default-local-cluster is on. Empty takes Cilium's cluster-name from --cilium-config, or \"default\" when that cannot be read.")
	flag.StringVar(&ciliumConfig, "cilium-config", "kube-system/cilium-config", "Namespace/name of Cilium's ConfigMap, read at start to check --cluster-name against Cilium's cluster-name; empty reads nothing.")
	flag.DurationVar(&syncPeriod, "sync-period", 10*time.Hour, "How often every object is re-checked even without a change.")
	flag.IntVar(&workers, "max-concurrent-reconciles", 4, "Workers per controller.")
	// The client-side limit only bounds a runaway; the API server's Priority and Fairness is what shares it. At
	// 50/s, a cold start of 5,000 namespaces (three writes each) would wait minutes on the client alone.
	flag.Float64Var(&qps, "kube-api-qps", 500, "Client-side rate limit for API server requests (queries per second).")
	flag.IntVar(&burst, "kube-api-burst", 1000, "Client-side burst for API server requests.")
	flag.DurationVar(&thresholds.WarningAfter, "enforcement-warning-after", thresholds.WarningAfter, "How long enforcement may be disabled before the namespace condition turns to a warning (keep in line with the NetworkPolicyEnforcementDisabled alert).")
	flag.DurationVar(&thresholds.CriticalAfter, "enforcement-critical-after", thresholds.CriticalAfter, "How long enforcement may be disabled before the namespace condition turns critical (keep in line with the NetworkPolicyEnforcementDisabledLong alert).")
	flag.DurationVar(&thresholds.MaxDisabled, "enforcement-max-disabled", 0, "End every enforcement bypass (escape hatch or audit mode) this long after it started, restoring enforcement even though the label stays; 0 never ends one. The per-namespace annotation <domain>/enforcement-disabled-until ends one earlier.")
	flag.DurationVar(&thresholds.SameBypassWithin, "enforcement-same-bypass-within", thresholds.SameBypassWithin, "A bypass asked for again within this long of its label's removal continues the one before: same start, alerts and end.")
	flag.DurationVar(&thresholds.BypassWindow, "enforcement-bypass-window", thresholds.BypassWindow, "The window of netprofile_enforcement_bypassed_seconds: how long each namespace's enforcement was bypassed within the last this long (keep in line with the NetworkPolicyEnforcementBypassedOften alert).")
	flag.StringVar(&recordNamespace, "record-namespace", "", "Namespace of the ConfigMaps that record each namespace's bypasses (the manager's own; its Role there must allow them). Empty: the pod's namespace, or \"default\" outside a cluster.")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))

	c, err := contract.New(labelDomain)
	if err != nil {
		return err
	}
	if !(leaseDuration > renewDeadline && renewDeadline > retryPeriod && retryPeriod > 0) {
		return fmt.Errorf("leader election timings must satisfy lease-duration > renew-deadline > retry-period > 0")
	}
	if thresholds.WarningAfter <= 0 || thresholds.CriticalAfter < thresholds.WarningAfter || thresholds.MaxDisabled < 0 ||
		thresholds.SameBypassWithin < 0 || thresholds.BypassWindow <= 0 {
		return fmt.Errorf("enforcement thresholds must satisfy 0 < warning-after <= critical-after, max-disabled >= 0, same-bypass-within >= 0 and bypass-window > 0")
	}
	if recordNamespace == "" {
		recordNamespace = podNamespace()
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("failed to load kubeconfig: %w", err)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = float32(qps), burst
	cfg.UserAgent = "netprofile"

	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	metricsOpts := metricsserver.Options{BindAddress: metricsAddr, SecureServing: metricsSecure}
	if metricsSecure {
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
		// HTTP/2 is off: CVE-2023-44487 and CVE-2023-39325 (rapid reset).
		metricsOpts.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	}
	var certWatcher *certwatcher.CertWatcher
	if metricsSecure && metricsCertDir != "" {
		if certWatcher, err = certwatcher.New(filepath.Join(metricsCertDir, metricsCertName), filepath.Join(metricsCertDir, metricsCertKey)); err != nil {
			return fmt.Errorf("failed to load the metrics certificate: %w", err)
		}
		metricsOpts.TLSOpts = append(metricsOpts.TLSOpts, func(c *tls.Config) { c.GetCertificate = certWatcher.GetCertificate })
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Metrics:                       metricsOpts,
		HealthProbeBindAddress:        probeAddr,
		PprofBindAddress:              pprofAddr,
		LeaderElection:                leaderElect,
		LeaderElectionNamespace:       leaderElectionNamespace,
		LeaderElectionID:              leaderElectionID,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &leaseDuration,
		RenewDeadline:                 &renewDeadline,
		RetryPeriod:                   &retryPeriod,
		Cache:                         controllers.CacheOptions(c, syncPeriod, recordNamespace),
	})
	if err != nil {
		return fmt.Errorf("failed to create manager: %w", err)
	}
	if certWatcher != nil {
		if err := mgr.Add(certWatcher); err != nil {
			return fmt.Errorf("failed to watch the metrics certificate: %w", err)
		}
	}
	var ciliumConfigKey *client.ObjectKey
	if ciliumConfig != "" {
		ns, name, ok := strings.Cut(ciliumConfig, "/")
		if !ok || ns == "" || name == "" {
			return fmt.Errorf("--cilium-config %q: want namespace/name, or empty to read nothing", ciliumConfig)
		}
		ciliumConfigKey = &client.ObjectKey{Namespace: ns, Name: name}
	}
	// The API reader works before the manager starts: the cluster name must be known to render anything.
	setupCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	clusterName, err = controllers.ResolveClusterName(setupCtx, mgr.GetAPIReader(), clusterName, ciliumConfigKey, ctrl.Log.WithName("setup"))
	cancel()
	if err != nil {
		return err
	}
	if err := controllers.Setup(mgr, controllers.Options{
		Contract:                 c,
		PlatformNamespaces:       splitList(platformNamespaces),
		ProtectedNamespaceLabels: splitList(protectedLabels),
		MaxConcurrentReconciles:  workers,
		Enforcement:              thresholds,
		ClusterName:              clusterName,
		RecordNamespace:          recordNamespace,
	}); err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return fmt.Errorf("failed to add health check: %w", err)
	}
	// Ready once the informers have listed everything: before that, a replica would answer from a partial view.
	// Caches also sync on replicas that are not the leader, so every replica becomes ready.
	if err := mgr.AddReadyzCheck("informers", cacheSynced(mgr.GetCache())); err != nil {
		return fmt.Errorf("failed to add readiness check: %w", err)
	}
	ctrl.Log.WithName("setup").Info("Starting netprofile", "labelDomain", c.Domain(), "clusterName", clusterName, "leaderElection", leaderElect,
		"recordNamespace", recordNamespace)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// cacheSynced is a readiness check that passes once every informer of c has synced.
func cacheSynced(c cache.Cache) healthz.Checker {
	return func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !c.WaitForCacheSync(ctx) {
			return errors.New("informers have not synced yet")
		}
		return nil
	}
}

// podNamespace is the namespace of the pod the manager runs in, from its ServiceAccount's mount, or "default"
// outside a cluster.
func podNamespace() string {
	if b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace"); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b))
	}
	return "default"
}

func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
