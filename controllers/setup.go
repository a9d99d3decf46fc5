// Package controllers wires netprofile's reconcilers into a manager. The manager binary and the envtest suites
// share this wiring, so the tests run exactly what ships.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/baseline"
	enforcementctrl "github.com/netprofile/netprofile/controllers/enforcement"
	"github.com/netprofile/netprofile/controllers/internal/apply"
	"github.com/netprofile/netprofile/controllers/internal/crstatus"
	"github.com/netprofile/netprofile/controllers/internal/nsstatus"
	"github.com/netprofile/netprofile/controllers/labelcontract"
	"github.com/netprofile/netprofile/controllers/namespacepolicy"
	"github.com/netprofile/netprofile/controllers/nsdeletion"
	"github.com/netprofile/netprofile/controllers/profile"
	"github.com/netprofile/netprofile/controllers/sharedresource"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/metrics"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/pkg/version"
)

// Options configure the reconcilers.
type Options struct {
	// Contract is the label contract (label domain).
	Contract contract.Contract
	// PlatformNamespaces refuse profiles and grants.
	PlatformNamespaces []string
	// ProtectedNamespaceLabels are the Namespace label keys admission lets only the platform write
	// (policy.Renderer.ProtectedNamespaceLabels).
	ProtectedNamespaceLabels []string
	// MaxConcurrentReconciles per controller.
	MaxConcurrentReconciles int
	// Enforcement are the escape hatch's thresholds.
	Enforcement enforcement.Thresholds
	// Clock is injected by tests; nil means the real clock.
	Clock clock.Clock
	// ClusterName is the Cilium cluster every rendered peer names (policy.Renderer.ClusterName); empty is
	// policy.DefaultClusterName.
	ClusterName string
	// RecordNamespace keeps netprofile's records of bypasses (the manager's own namespace); it must be the one
	// CacheOptions was given.
	RecordNamespace string
}

// NewScheme returns a scheme with every type netprofile reads or writes.
func NewScheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, cilium.AddToScheme} {
		if err := add(s); err != nil {
			return nil, fmt.Errorf("failed to build scheme: %w", err)
		}
	}
	return s, nil
}

// CacheOptions keep the manager's cache to what netprofile decides with. Cilium policies are cached cluster-
// wide but reduced to metadata, the Valid condition and a hash of their rules (apply.TransformPolicy): a few
// hundred bytes each, and a hand-written policy holding a reserved name is seen without a request.
// Namespaces keep their labels, netprofile's annotations and status. ConfigMaps are netprofile's records of
// bypasses only, in recordNamespace (the manager's Role reads no other). No managedFields anywhere.
func CacheOptions(c contract.Contract, syncPeriod time.Duration, recordNamespace string) cache.Options {
	policies := cache.ByObject{Transform: apply.TransformPolicy}
	return cache.Options{
		SyncPeriod:       &syncPeriod,
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&cilium.CiliumNetworkPolicy{}:            policies,
			&cilium.CiliumClusterwideNetworkPolicy{}: policies,
			&corev1.Namespace{}:                      {Transform: transformNamespace(c)},
			&corev1.ConfigMap{}: {
				Namespaces: map[string]cache.Config{recordNamespace: {}},
				Label:      labels.SelectorFromSet(ownership.Labels(enforcement.RecordComponent, nil)),
			},
		},
	}
}

// transformNamespace drops what netprofile never reads from a Namespace (other tools' annotations, such as a
// last-applied-configuration, can dwarf the rest).
func transformNamespace(c contract.Contract) func(any) (any, error) {
	prefix := c.Domain() + "/"
	return func(obj any) (any, error) {
		ns, ok := obj.(*corev1.Namespace)
		if !ok {
			return obj, nil
		}
		ns.ManagedFields = nil
		for k := range ns.Annotations {
			if !strings.HasPrefix(k, prefix) {
				delete(ns.Annotations, k)
			}
		}
		return ns, nil
	}
}

// Setup registers every reconciler with the manager.
func Setup(mgr ctrl.Manager, opts Options) error {
	if opts.Clock == nil {
		opts.Clock = clock.RealClock{}
	}
	if opts.Enforcement.WarningAfter == 0 && opts.Enforcement.CriticalAfter == 0 {
		opts.Enforcement = enforcement.DefaultThresholds
	}
	if opts.Enforcement.BypassWindow == 0 {
		opts.Enforcement.BypassWindow = enforcement.DefaultThresholds.BypassWindow
	}
	if opts.ClusterName == "" {
		opts.ClusterName = policy.DefaultClusterName
	}
	if opts.RecordNamespace == "" {
		return errors.New("no namespace for the records of bypasses")
	}
	platform := make(map[string]bool, len(opts.PlatformNamespaces))
	for _, ns := range opts.PlatformNamespaces {
		platform[ns] = true
	}
	renderer := policy.Renderer{Contract: opts.Contract, PlatformNamespaces: platform, ClusterName: opts.ClusterName,
		ProtectedNamespaceLabels: opts.ProtectedNamespaceLabels}
	copts := controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles}

	// Events about Namespaces go through a broadcaster of their own, whose sink sends an Event about a
	// namespace the cache shows terminating to "default" at once, and moves one the API server refuses for
	// that reason there too (nsstatus.FallbackSink); the manager's broadcaster sends the rest.
	clientset, err := kubernetes.NewForConfigAndClient(mgr.GetConfig(), mgr.GetHTTPClient())
	if err != nil {
		return fmt.Errorf("failed to create the Events client: %w", err)
	}
	nsBroadcaster := events.NewBroadcaster(nsstatus.FallbackSink{EventSink: &events.EventSinkImpl{Interface: clientset.EventsV1()}, Namespaces: mgr.GetCache()})
	// Recording starts now, as the manager's own recorders start on first use, so no Event of a reconcile
	// that starts before this manager's runnables is lost; it stops with the manager, leader or not.
	recordCtx, stopRecording := context.WithCancel(context.Background())
	if err := nsBroadcaster.StartRecordingToSinkWithContext(recordCtx); err != nil {
		stopRecording()
		return fmt.Errorf("failed to start recording Events: %w", err)
	}
	if err := mgr.Add(stopWithManager(func() { nsBroadcaster.Shutdown(); stopRecording() })); err != nil {
		stopRecording()
		return err
	}
	recorder := func(controller string) events.EventRecorder {
		return nsstatus.InNamespace(mgr.GetEventRecorder("netprofile-"+controller), nsBroadcaster.NewRecorder(mgr.GetScheme(), "netprofile-"+controller))
	}
	applier := func(component, controller string) apply.Applier {
		return apply.Applier{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Component: component, Recorder: recorder(controller)}
	}
	status := func(controller string) crstatus.Writer {
		return crstatus.Writer{Client: mgr.GetClient(), Recorder: recorder(controller), Clock: opts.Clock, Controller: controller}
	}
	reconcilers := []struct {
		name string
		r    interface {
			SetupWithManager(ctrl.Manager, controller.Options) error
		}
	}{
		{namespacepolicy.ControllerName, &namespacepolicy.Reconciler{Client: mgr.GetClient(), Applier: applier(ownership.ComponentNamespacePolicy, namespacepolicy.ControllerName),
			Renderer: renderer, Recorder: recorder(namespacepolicy.ControllerName), Clock: opts.Clock, Thresholds: opts.Enforcement,
			RecordNamespace: opts.RecordNamespace}},
		{enforcementctrl.ControllerName, &enforcementctrl.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
			Applier:  applier(ownership.ComponentEnforcement, enforcementctrl.ControllerName),
			Contract: opts.Contract, Thresholds: opts.Enforcement, Clock: opts.Clock,
			// Every Event about a bypass also where the platform team reads it, out of the namespace admin's reach.
			Recorder: nsstatus.AlsoIn(opts.RecordNamespace, recorder(enforcementctrl.ControllerName),
				nsBroadcaster.NewRecorder(mgr.GetScheme(), "netprofile-"+enforcementctrl.ControllerName)),
			RecordNamespace: opts.RecordNamespace}},
		{sharedresource.ControllerName, &sharedresource.Reconciler{Client: mgr.GetClient(), Applier: applier(ownership.ComponentProvider, sharedresource.ControllerName),
			Renderer: renderer, Status: status(sharedresource.ControllerName)}},
		{baseline.ControllerName, &baseline.Reconciler{Client: mgr.GetClient(), Applier: applier(ownership.ComponentBaseline, baseline.ControllerName),
			Renderer: renderer, Status: status(baseline.ControllerName)}},
		{profile.ControllerName, &profile.Reconciler{Client: mgr.GetClient(), Renderer: renderer, Status: status(profile.ControllerName)}},
		{nsdeletion.ControllerName, &nsdeletion.Reconciler{Client: mgr.GetClient(), Recorder: recorder(nsdeletion.ControllerName), Clock: opts.Clock}},
		{labelcontract.ControllerName, &labelcontract.Reconciler{Client: mgr.GetClient(), Contract: opts.Contract, Clock: opts.Clock,
			Settings: contract.Settings{PlatformNamespaces: opts.PlatformNamespaces, ProtectedNamespaceLabels: opts.ProtectedNamespaceLabels, WarningAfter: opts.Enforcement.WarningAfter,
				CriticalAfter: opts.Enforcement.CriticalAfter, MaxDisabled: opts.Enforcement.MaxDisabled, ClusterName: opts.ClusterName}}},
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &cilium.CiliumNetworkPolicy{}, sharedresource.ProviderIndex,
		sharedresource.IndexProvider); err != nil {
		return fmt.Errorf("failed to index provider policies: %w", err)
	}
	for _, c := range reconcilers {
		if err := c.r.SetupWithManager(mgr, copts); err != nil {
			return fmt.Errorf("failed to set up %s controller: %w", c.name, err)
		}
	}

	metrics.RestoreClientRequests()
	// The collector reads this manager's cache; a manager restarted in the same process (tests) replaces the
	// previous one's. The counter and the build info are process-global and stay.
	collector := &metrics.Collector{Reader: mgr.GetCache(), Contract: opts.Contract, Thresholds: opts.Enforcement, Clock: opts.Clock,
		RecordNamespace: opts.RecordNamespace}
	ctrlmetrics.Registry.Unregister(collector)
	if err := ctrlmetrics.Registry.Register(collector); err != nil {
		return fmt.Errorf("failed to register metrics: %w", err)
	}
	for _, c := range []prometheus.Collector{metrics.Failures, metrics.BuildInfo(version.Get())} {
		if err := ctrlmetrics.Registry.Register(c); err != nil {
			if _, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); !ok {
				return fmt.Errorf("failed to register metrics: %w", err)
			}
		}
	}
	return nil
}

// stopWithManager runs stop when the manager stops, on every replica.
type stopWithManager func()

func (s stopWithManager) Start(ctx context.Context) error {
	<-ctx.Done()
	s()
	return nil
}

func (stopWithManager) NeedLeaderElection() bool { return false }
