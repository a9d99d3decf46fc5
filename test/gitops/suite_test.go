// Package gitops tests the GitOps health checks shipped in docs/gitops (Argo CD's Lua, Flux's CEL) and the
// kstatus compliance of netprofile's own objects, on objects the operator really produced: a real
// kube-apiserver and etcd (envtest) with netprofile's and Cilium's CRDs and the default catalogue, and every
// reconciler wired as cmd/manager wires them.
package gitops

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

var (
	env     *testenv.Env
	k8s     client.Client // a live client: every object judged is read from the API server
	ctx     context.Context
	stopMgr context.CancelFunc
	mgrDone chan error
)

func TestGitOps(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(20 * time.Second)
	SetDefaultEventuallyPollingInterval(100 * time.Millisecond)
	RunSpecs(t, "GitOps health Suite")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	var cancel context.CancelFunc
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	env, err = testenv.Start(testenv.Options{})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
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

	// The default catalogue, exactly as shipped.
	_, err = testenv.CreateCatalogue(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	startManager()
})

// startManager runs the manager in this process; stopManager stops it (a spec uses the pair to hold
// netprofile back while a generation is ahead of the status).
func startManager() {
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(contract.Default(), 10*time.Minute, metav1.NamespaceDefault),
		// Restarted within one process; controller names are otherwise process-unique.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	Expect(err).NotTo(HaveOccurred())
	Expect(controllers.Setup(mgr, controllers.Options{
		Contract:                contract.Default(),
		PlatformNamespaces:      policy.DefaultPlatformNamespaces,
		MaxConcurrentReconciles: 2,
		RecordNamespace:         metav1.NamespaceDefault,
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
	stopMgr = nil
}

// newNamespace creates a namespace with a random name (envtest without kube-controller-manager never
// finishes deleting one).
func newNamespace(prefix string, labels map[string]string) string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s", prefix, rand.String(6)), Labels: labels}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns.Name
}
