package controllers_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netprofile/netprofile/controllers"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

// The suite runs every reconciler, wired exactly as cmd/manager wires them, against a real kube-apiserver and
// etcd with Cilium's CRDs, and a real kube-controller-manager for garbage collection and namespace deletion.

const (
	profileKey = "network-policy.homelab/profile"
	accessKey  = "access.network-policy.homelab/"
	// syncPeriod is short so "a forced resync" happens inside a spec.
	syncPeriod = 2 * time.Second
	// recordNamespace is the manager's own namespace, where it keeps its records of bypasses.
	recordNamespace = "netprofile-system"
)

var (
	env       *testenv.Env
	k8s       client.Client // a live client: every assertion reads the API server, not a cache
	ctx       context.Context
	cancel    context.CancelFunc
	fakeClock *clocktesting.FakeClock
	stopMgr   context.CancelFunc
	mgrDone   chan error
	// metricsURL is the running manager's real metrics endpoint (plain HTTP, as --metrics-secure=false).
	metricsURL string
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	SetDefaultConsistentlyDuration(3 * time.Second)
	RunSpecs(t, "Controllers Suite")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, err = testenv.Start(testenv.Options{ControllerManager: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		// The manager first, so kube-apiserver has no watch of its open when it stops.
		if stopMgr != nil {
			stopManager()
		}
		cancel()
		Expect(env.Stop()).To(Succeed())
	})
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(env.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	// The default catalogue, exactly as shipped, and the namespaces of the peers its profiles and baselines
	// name, marked as the README installs them (providers are created by the specs that need them).
	_, err = testenv.CreateCatalogue(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	for _, name := range []string{"istio-gateway", "monitoring"} {
		Expect(k8s.Create(ctx, testenv.PlatformNamespace(name))).To(Succeed())
	}
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: recordNamespace}})).To(Succeed())

	fakeClock = clocktesting.NewFakeClock(time.Now().Truncate(time.Second))
	startManager()
})

// platformMark is the label a namespace the catalogue names carries, as the README installs it.
var platformMark = map[string]string{contract.Default().PlatformKey(): contract.PlatformMarked}

// startManager runs the manager in the background; stopManager stops it (specs use the pair to restart).
func startManager() { startManagerWithResync(syncPeriod) }

// startManagerWithResync runs the manager with another informer resync period.
func startManagerWithResync(resync time.Duration) { startManagerWith(resync, "") }

// startManagerWith runs the manager with another informer resync period and cluster name ("" for the default).
func startManagerWith(resync time.Duration, clusterName string) {
	startManagerWithThresholds(resync, clusterName, enforcement.Thresholds{})
}

// startManagerWithThresholds runs the manager with escape hatch thresholds of its own (zero: the defaults).
func startManagerWithThresholds(resync time.Duration, clusterName string, thresholds enforcement.Thresholds) {
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	addr := l.Addr().String()
	Expect(l.Close()).To(Succeed())
	metricsURL = "http://" + addr + "/metrics"
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: addr},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(contract.Default(), resync, recordNamespace),
		// The manager is restarted within one process; controller names are otherwise process-unique.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{
		Contract:           contract.Default(),
		PlatformNamespaces: policy.DefaultPlatformNamespaces,
		// As the chart's admission.protectedNamespaceLabels.keys would set it.
		ProtectedNamespaceLabels: []string{protectedLabel},
		MaxConcurrentReconciles:  2,
		Clock:                    fakeClock,
		ClusterName:              clusterName,
		Enforcement:              thresholds,
		RecordNamespace:          recordNamespace,
	})).To(Succeed())
	var mctx context.Context
	mctx, stopMgr = context.WithCancel(ctx)
	mgrDone = make(chan error, 1)
	go func() {
		defer GinkgoRecover()
		mgrDone <- mgr.Start(mctx)
	}()
}

func stopManager() {
	stopMgr()
	Eventually(mgrDone).Should(Receive(BeNil()))
}

// newNamespace creates a namespace with a random name; envtest never finishes deleting namespaces without
// kube-controller-manager, and random names keep specs independent either way.
func newNamespace(prefix string, labels map[string]string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s", prefix, rand.String(6)), Labels: labels}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns
}

func setLabels(name string, set map[string]string, remove ...string) {
	ns := &corev1.Namespace{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	for k, v := range set {
		ns.Labels[k] = v
	}
	for _, k := range remove {
		delete(ns.Labels, k)
	}
	Expect(k8s.Patch(ctx, ns, patch)).To(Succeed())
}

// getCNP reads a policy: nil when there is none, an error only when the API server fails. A missing
// policy is an answer (so Should(BeNil()) and ShouldNot(BeNil()) decide on it), not an error that Gomega's
// implicit check would turn into the only thing an assertion tests.
func getCNP(ns, name string) func() (*cilium.CiliumNetworkPolicy, error) {
	return func() (*cilium.CiliumNetworkPolicy, error) {
		p := &cilium.CiliumNetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		return p, nil
	}
}

// present is what a getter read, failing the spec when the read failed or found nothing.
func present[T any](v *T, err error) *T {
	GinkgoHelper()
	Expect(err).NotTo(HaveOccurred())
	Expect(v).NotTo(BeNil())
	return v
}

func cnpGone(ns, name string) func() bool {
	return func() bool {
		err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cilium.CiliumNetworkPolicy{})
		return apierrors.IsNotFound(err)
	}
}

// condition reads a Namespace condition: nil when the Namespace has none of that type. A Namespace that is
// gone, or that cannot be read, is an error: "no such condition" said of a deleted namespace would pass
// every Should(BeNil()).
func condition(ns string, t corev1.NamespaceConditionType) func() (*corev1.NamespaceCondition, error) {
	return func() (*corev1.NamespaceCondition, error) {
		obj := &corev1.Namespace{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, obj); err != nil {
			return nil, err
		}
		for i := range obj.Status.Conditions {
			if obj.Status.Conditions[i].Type == t {
				return &obj.Status.Conditions[i], nil
			}
		}
		return nil, nil
	}
}

// events lists "<type> <reason> <note>" of the Events about a Namespace (events.k8s.io, the API netprofile
// records with; events about cluster-scoped objects live in the default namespace).
func events(ns string) func() []string {
	return func() []string { return testenv.NamespaceEvents(ctx, k8s, ns) }
}

// reconcileCount reads controller-runtime's own reconcile counter for a controller, from the metrics
// registry the manager registers with.
func reconcileCount(controller string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			if labelValue(m, "controller") == controller {
				total += m.GetCounter().GetValue()
			}
		}
	}
	return total
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func apierrorsIsNotFound(err error) bool { return apierrors.IsNotFound(err) }
