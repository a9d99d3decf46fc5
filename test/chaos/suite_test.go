// Package chaos breaks things while netprofile is busy and checks that it recovers without ever leaving a
// namespace unprotected. A real control plane (etcd, kube-apiserver, kube-controller-manager for garbage
// collection) holds the default catalogue and 300 namespaces with mixed profiles and grants; the real
// bin/manager runs as a separate process. Each spec relabels every namespace to another profile at once (a
// flip) and, while the manager is working through it, kills the manager, restarts kube-apiserver, or kills
// the leader of two replicas. Each spec then checks that every namespace's policy equals its offline render
// (pkg/desired) and that a watch on the policies never saw a namespace's policy deleted, missing, or replaced
// by anything but its last good or its new rendering.
package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

const (
	// namespaceCount namespaces take part in every flip.
	namespaceCount = 300
	// injectAfter is how many namespaces must carry their new policy before the failure is injected: the
	// manager is then demonstrably in the middle of the flip.
	injectAfter = 60
	// managerQPS is the client-side rate limit of the managers under test (--kube-api-qps and -burst). At
	// the default (500/s) a flip of 300 namespaces takes a few seconds here, shorter than a kube-apiserver
	// restart; at 50/s it takes about 12 s, so every failure lands well inside it, whatever the machine.
	managerQPS = "50"
	// leaseNamespace holds the leader election Lease of the failover spec.
	leaseNamespace = "netprofile-system"
	leaseName      = "netprofile.network-policy.homelab"
	// convergeTimeout is how long a flip may take to converge after the failure.
	convergeTimeout = 3 * time.Minute
)

var (
	profiles = testenv.FleetProfiles
	cnpGVR   = schema.GroupVersionResource{Group: "cilium.io", Version: "v2", Resource: "ciliumnetworkpolicies"}
	contr    = contract.Default()

	env        *testenv.Env
	k8s        client.Client // the admin's live client
	clientset  kubernetes.Interface
	dyn        dynamic.Interface
	ctx        context.Context
	set        *catalogue.Set
	managerBin string
	workDir    string
	names      []string
	// flips is how many flips the namespaces have been through: namespace i has testenv.FleetLabels(i, flips).
	flips int
)

func TestChaos(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(60 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "Chaos Suite")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter)))
	ctx = context.Background()
	var err error
	workDir, err = os.MkdirTemp("", "netprofile-chaos-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, workDir)

	By("building the manager")
	// Into the suite's own directory: test/e2e builds bin/manager, and go test runs packages in parallel.
	managerBin = filepath.Join(workDir, "manager")
	Expect(testenv.BuildManager(managerBin)).To(Succeed())

	By("starting etcd, kube-apiserver and kube-controller-manager")
	env, err = testenv.Start(testenv.Options{ControllerManager: true})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(env.Stop()).To(Succeed()) })
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // the test's own requests are never the bottleneck
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())
	dyn, err = dynamic.NewForConfig(cfg)
	Expect(err).NotTo(HaveOccurred())

	By("installing the default catalogue and the provider namespaces")
	set, err = testenv.CreateCatalogue(ctx, k8s)
	Expect(err).NotTo(HaveOccurred())
	for _, name := range []string{"database", "cache", "garage"} {
		Expect(k8s.Create(ctx, testenv.PlatformNamespace(name))).To(Succeed())
	}
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNamespace}})).To(Succeed())

	By(fmt.Sprintf("creating %d labelled namespaces and converging them", namespaceCount))
	for i := range namespaceCount {
		names = append(names, fmt.Sprintf("chaos-%03d", i))
	}
	parallel(names, func(i int, name string) error {
		_, err := clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: testenv.FleetLabels(i, 0)}}, metav1.CreateOptions{})
		return err
	})
	// Cold convergence is not under test: a manager at full speed does it, then stops cleanly.
	m := startManager("bootstrap", "--kube-api-qps=500", "--kube-api-burst=1000")
	waitConverged(render(0), 0)
	m.Stop()
})

// startManager runs bin/manager against the admin kubeconfig and returns once it is ready (its informers
// synced). extra flags come last and win.
func startManager(name string, extra ...string) *testenv.Manager {
	GinkgoHelper()
	probe, err := testenv.FreeAddr()
	Expect(err).NotTo(HaveOccurred())
	args := append([]string{
		"--kubeconfig=" + env.Kubeconfig,
		"--metrics-bind-address=0",
		"--health-probe-bind-address=" + probe,
		"--kube-api-qps=" + managerQPS, "--kube-api-burst=" + managerQPS,
	}, extra...)
	m, err := testenv.StartManager(name, managerBin, args, []string{"HOME=" + workDir, "PATH=" + os.Getenv("PATH")})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() {
		if CurrentSpecReport().Failed() {
			AddReportEntry("manager "+name+" log (tail)", tail(m.Log.String(), 30))
		}
		m.Stop()
	})
	Eventually(func() (int, error) { return testenv.HTTPStatus("http://" + probe + "/readyz") }).
		Should(Equal(200), func() string { return "manager " + name + " never got ready:\n" + tail(m.Log.String(), 30) })
	return m
}

// render is every flip namespace's generated policies (netprofile-namespace and netprofile-ceiling) after
// `flips` flips, rendered offline by pkg/desired with the shipped catalogue and the manager's default
// contract and platform namespaces, as the fingerprints that live policies are compared with, by
// namespace/name.
func render(flips int) map[string]string {
	GinkgoHelper()
	nss := make([]*corev1.Namespace, len(names))
	for i, name := range names {
		nss[i] = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: testenv.FleetLabels(i, flips)}}
	}
	out := desired.Compute(desired.Input{
		Renderer:   policy.Renderer{Contract: contr, PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName},
		Namespaces: nss,
		Catalogue:  set,
		Scope:      desired.Scope{Namespaces: true},
		Now:        time.Now(),
		Thresholds: enforcement.DefaultThresholds,
	})
	Expect(out.Problems).To(BeEmpty())
	Expect(out.CNPs).To(HaveLen(2 * len(names)))
	want := map[string]string{}
	for _, p := range out.CNPs {
		Expect(p.Name).To(BeElementOf(generated))
		fp, err := fingerprint(p)
		Expect(err).NotTo(HaveOccurred())
		want[p.Namespace+"/"+p.Name] = fp
	}
	return want
}

// namespacePolicies are the netprofile-namespace fingerprints of a rendering, by namespace: what the policy
// watch follows.
func namespacePolicies(fps map[string]string) map[string]string {
	out := map[string]string{}
	for key, fp := range fps {
		if ns, ok := strings.CutSuffix(key, "/"+ownership.NamespacePolicyName); ok {
			out[ns] = fp
		}
	}
	return out
}

// generated are the policies netprofile writes into each flip namespace.
var generated = []string{ownership.NamespacePolicyName, ownership.CeilingPolicyName}

// fingerprint is what netprofile decides about a policy: its rules (spec and specs) and its labels, in
// Cilium's own types and wire encoding, so a rendering and a live object read back compare alike.
func fingerprint(p *ciliumv2.CiliumNetworkPolicy) (string, error) {
	b, err := json.Marshal(struct {
		Labels map[string]string `json:"labels"`
		Spec   any               `json:"spec"`
		Specs  any               `json:"specs"`
	}{p.Labels, p.Spec, p.Specs})
	return string(b), err
}

// liveFingerprint decodes a policy read from the API server into Cilium's type and fingerprints it.
func liveFingerprint(u *unstructured.Unstructured) (string, error) {
	b, err := json.Marshal(u.Object)
	if err != nil {
		return "", err
	}
	p := &ciliumv2.CiliumNetworkPolicy{}
	if err := json.Unmarshal(b, p); err != nil {
		return "", err
	}
	return fingerprint(p)
}

// policyListOptions select every namespace's netprofile-namespace policy, whatever its labels.
func policyListOptions() metav1.ListOptions {
	return metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", ownership.NamespacePolicyName).String()}
}

// converged returns nil when every flip namespace's generated policies equal want and its
// NetworkPolicyReady condition is True for the profile of `flips`; otherwise what is still off. Policies are
// listed whatever their labels.
func converged(want map[string]string, flips int) error {
	list, err := dyn.Resource(cnpGVR).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	live := map[string]string{}
	for i := range list.Items {
		if !slices.Contains(generated, list.Items[i].GetName()) {
			continue
		}
		if live[list.Items[i].GetNamespace()+"/"+list.Items[i].GetName()], err = liveFingerprint(&list.Items[i]); err != nil {
			return err
		}
	}
	nsList := &corev1.NamespaceList{}
	if err := k8s.List(ctx, nsList); err != nil {
		return err
	}
	nss := map[string]*corev1.Namespace{}
	for i := range nsList.Items {
		nss[nsList.Items[i].Name] = &nsList.Items[i]
	}
	var off []string
	for i, name := range names {
		profile := profiles[(i+flips)%len(profiles)]
		differs := ""
		for _, g := range generated {
			if got, ok := live[name+"/"+g]; !ok || got != want[name+"/"+g] {
				differs = fmt.Sprintf("%s/%s: missing or different from its rendering\n  live:     %s\n  rendered: %s", name, g, got, want[name+"/"+g])
				break
			}
		}
		switch {
		case differs != "":
			off = append(off, differs)
		default:
			cond := conditions.Find(nss[name].Status.Conditions, conditions.Ready)
			if cond == nil || cond.Status != corev1.ConditionTrue || !strings.Contains(cond.Message, fmt.Sprintf("profile %q", profile)) {
				off = append(off, fmt.Sprintf("%s: condition %s is not True for profile %s: %+v", name, conditions.Ready, profile, cond))
			}
		}
	}
	if len(off) > 0 {
		return fmt.Errorf("%d of %d namespaces not converged, e.g. %s", len(off), len(names), off[0])
	}
	return nil
}

func waitConverged(want map[string]string, flips int) {
	GinkgoHelper()
	Eventually(func() error { return converged(want, flips) }).WithTimeout(convergeTimeout).WithPolling(time.Second).Should(Succeed())
}

// flip relabels every namespace to its next profile at once (16 clients in parallel, one merge patch each).
func flip() {
	GinkgoHelper()
	next := flips + 1
	parallel(names, func(i int, name string) error {
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]string{contr.ProfileKey(): profiles[(i+next)%len(profiles)]}}})
		if err != nil {
			return err
		}
		_, err = clientset.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{})
		return err
	})
	flips = next
}

// parallel runs fn over items with 16 workers; any error fails the spec.
func parallel(items []string, fn func(i int, item string) error) {
	GinkgoHelper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	work := make(chan int)
	for range 16 {
		wg.Go(func() {
			for i := range work {
				if err := fn(i, items[i]); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s: %w", items[i], err))
					mu.Unlock()
				}
			}
		})
	}
	for i := range items {
		work <- i
	}
	close(work)
	wg.Wait()
	Expect(errs).To(BeEmpty())
}

// tail is the last n lines of a log, each cut to 400 bytes (error logs carry whole stack traces).
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if len(l) > 400 {
			lines[i] = l[:400] + "…"
		}
	}
	return strings.Join(lines, "\n")
}
