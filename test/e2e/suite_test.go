// Package e2e is the whole-system test: netprofile installed as a user would install it, then driven the way
// the seed's users drive it. A real control plane (etcd, kube-apiserver with RBAC, kube-controller-manager)
// gets the Helm chart, rendered with the pinned helm and applied with the pinned kubectl (server-side); the
// real bin/manager then runs out of cluster, with the chart's Deployment arguments, through a kubeconfig that
// impersonates the chart's ServiceAccount, so every API call it makes is authorized by the chart's RBAC.
// kube-apiserver writes an audit log, which shows who (which manager process) wrote what.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/test/testenv"
)

const (
	// release and releaseNamespace are what a user would pass to helm install.
	release          = "netprofile"
	releaseNamespace = "netprofile-system"
	// serviceAccount is the chart's ServiceAccount (the full name, for release "netprofile").
	serviceAccount = "system:serviceaccount:" + releaseNamespace + ":netprofile"
	// instanceExtra is an impersonated user-extra key carrying the manager process's name: RBAC ignores it,
	// the audit log records it, so the log says which process sent each request.
	instanceExtra = "netprofile-e2e-instance"
	leaseName     = "netprofile.network-policy.homelab"
)

var (
	env        *testenv.Env
	k8s        client.Client // the admin's live client, for setting up and asserting
	clientset  *kubernetes.Clientset
	ctx        context.Context
	managerBin string
	workDir    string
	auditLog   string
	chartDir   = filepath.Join(testenv.RepoRoot(), "charts", "netprofile")
	// installed is the chart as applied (without CRDs), for the specs that change and restore part of it.
	installed []*unstructured.Unstructured
	// deploymentArgs are the manager arguments of the chart's Deployment.
	deploymentArgs []string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	SetDefaultEventuallyTimeout(30 * time.Second)
	SetDefaultEventuallyPollingInterval(200 * time.Millisecond)
	SetDefaultConsistentlyDuration(4 * time.Second)
	SetDefaultConsistentlyPollingInterval(200 * time.Millisecond)
	RunSpecs(t, "E2E Suite")
}

// auditPolicy records every write at Metadata level (who, what, result), nothing about reads.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`

var _ = BeforeSuite(func() {
	ctx = context.Background()
	var err error
	workDir, err = os.MkdirTemp("", "netprofile-e2e-")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, workDir)

	By("building the manager")
	managerBin = filepath.Join(testenv.RepoRoot(), "bin", "manager")
	Expect(testenv.BuildManager(managerBin)).To(Succeed())

	By("starting etcd, kube-apiserver (RBAC, audit log) and kube-controller-manager")
	policyFile := filepath.Join(workDir, "audit-policy.yaml")
	Expect(os.WriteFile(policyFile, []byte(auditPolicy), 0o600)).To(Succeed())
	auditLog = filepath.Join(workDir, "audit.log")
	env, err = testenv.Start(testenv.Options{
		ControllerManager:  true,
		SkipNetprofileCRDs: true, // the chart installs them
		APIServerArgs: map[string]string{
			"audit-policy-file": policyFile,
			"audit-log-path":    auditLog,
			"audit-log-mode":    "blocking",
		},
	})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func() { Expect(env.Stop()).To(Succeed()) })
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(env.Config, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	clientset, err = kubernetes.NewForConfig(env.Config)
	Expect(err).NotTo(HaveOccurred())

	By("installing the chart: helm template | kubectl apply --server-side")
	createNamespace(releaseNamespace, nil)
	crds, rest := splitCRDs(helmTemplate(release, releaseNamespace, "--include-crds",
		"-f", filepath.Join("testdata", "values.yaml"),
		"--api-versions", "cilium.io/v2/CiliumNetworkPolicy"))
	Expect(crds).To(HaveLen(4), "the chart's crds/ holds netprofile's four CRDs")
	// CRDs first and Established before any custom resource, as helm install does.
	kubectlApply(crds)
	var names []string
	for _, crd := range crds {
		names = append(names, "crd/"+crd.GetName())
	}
	kubectl(append([]string{"wait", "--for=condition=Established", "--timeout=60s"}, names...)...)
	kubectlApply(rest)
	installed = rest

	// A stale chart (make helm-sync not run after an RBAC marker changed) would fail every spec below with
	// "forbidden"; say so once, up front.
	role, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	Expect(err).NotTo(HaveOccurred())
	generated := decodeAll(role)
	Expect(generated).To(HaveLen(1))
	for _, o := range installed {
		if o.GetKind() == "ClusterRole" && o.GetName() == release+"-manager" {
			Expect(o.Object["rules"]).To(Equal(generated[0].Object["rules"]),
				"the chart's ClusterRole differs from config/rbac/role.yaml: run make helm-sync")
		}
	}

	deployment := &appsv1.Deployment{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: release}, deployment)).To(Succeed())
	deploymentArgs = deployment.Spec.Template.Spec.Containers[0].Args
	Expect(deploymentArgs).To(ContainElement("--leader-elect=true"))
})

// helmTemplate renders the chart with the pinned helm.
func helmTemplate(release, namespace string, args ...string) []*unstructured.Unstructured {
	GinkgoHelper()
	helm, err := testenv.Helm()
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(helm, append([]string{"template", release, chartDir, "--namespace", namespace}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	Expect(err).NotTo(HaveOccurred(), "helm template: %s", stderr.String())
	return decodeAll(out)
}

func decodeAll(data []byte) []*unstructured.Unstructured {
	GinkgoHelper()
	objs, err := testenv.DecodeObjects(data)
	Expect(err).NotTo(HaveOccurred())
	return objs
}

func splitCRDs(objs []*unstructured.Unstructured) (crds, rest []*unstructured.Unstructured) {
	for _, o := range objs {
		if o.GetKind() == "CustomResourceDefinition" {
			crds = append(crds, o)
		} else {
			rest = append(rest, o)
		}
	}
	return crds, rest
}

func manifest(objs []*unstructured.Unstructured) []byte {
	GinkgoHelper()
	var b bytes.Buffer
	for _, o := range objs {
		y, err := yaml.Marshal(o.Object)
		Expect(err).NotTo(HaveOccurred())
		b.WriteString("---\n")
		b.Write(y)
	}
	return b.Bytes()
}

// kubectl runs the pinned kubectl as the admin and returns its output; failure fails the spec.
func kubectl(args ...string) string {
	GinkgoHelper()
	out, err := kubectlStdin(nil, args...)
	Expect(err).NotTo(HaveOccurred(), "kubectl %s:\n%s", strings.Join(args, " "), out)
	return out
}

func kubectlStdin(stdin []byte, args ...string) (string, error) {
	bin, err := testenv.Kubectl()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, append([]string{"--kubeconfig", env.Kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// kubectlApply applies objects with server-side apply, as kubectl's field manager.
func kubectlApply(objs []*unstructured.Unstructured, extra ...string) string {
	GinkgoHelper()
	out, err := kubectlStdin(manifest(objs), append([]string{"apply", "--server-side", "-f", "-"}, extra...)...)
	Expect(err).NotTo(HaveOccurred(), "kubectl apply --server-side %s:\n%s", strings.Join(extra, " "), out)
	return out
}

func createNamespace(name string, labels map[string]string) *corev1.Namespace {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns
}

// createPlatformNamespace creates a namespace as the platform team does: with the mark the catalogue trusts.
func createPlatformNamespace(name string) *corev1.Namespace {
	GinkgoHelper()
	ns := testenv.PlatformNamespace(name)
	Expect(k8s.Create(ctx, ns)).To(Succeed())
	return ns
}

// manager is one bin/manager process.
type manager struct {
	proc    *testenv.Manager
	name    string
	log     *testenv.SyncBuffer
	probe   string // host:port of /healthz and /readyz
	metrics string // host:port of /metrics (HTTPS)
}

// startManager runs bin/manager with the chart Deployment's arguments, changing only the listen addresses (two
// processes share a host here), through a kubeconfig that impersonates the chart's ServiceAccount. It returns
// once the process answers its readiness probe.
func startManager(name string) *manager {
	GinkgoHelper()
	return startManagerIn(env, deploymentArgs, name)
}

// startManagerIn is startManager against another control plane, with that installation's Deployment arguments.
func startManagerIn(e *testenv.Env, deploymentArgs []string, name string) *manager {
	GinkgoHelper()
	kubeconfig := filepath.Join(workDir, "kubeconfig-"+name)
	Expect(e.ImpersonatingKubeconfig(kubeconfig, serviceAccount, map[string][]string{instanceExtra: {name}})).To(Succeed())
	m := &manager{name: name, probe: freeAddr(), metrics: freeAddr()}
	var args []string
	for _, a := range deploymentArgs {
		switch {
		case strings.HasPrefix(a, "--health-probe-bind-address="):
			a = "--health-probe-bind-address=" + m.probe
		case strings.HasPrefix(a, "--metrics-bind-address="):
			a = "--metrics-bind-address=" + m.metrics
		}
		args = append(args, a)
	}
	// Nothing else may reach the manager: no in-cluster config, no ~/.kube/config.
	proc, err := testenv.StartManager(name, managerBin, args, []string{"KUBECONFIG=" + kubeconfig, "HOME=" + workDir, "PATH=" + os.Getenv("PATH")})
	Expect(err).NotTo(HaveOccurred())
	m.proc, m.log = proc, proc.Log
	DeferCleanup(m.stop)
	Eventually(func() (int, error) { return testenv.HTTPStatus("http://" + m.probe + "/readyz") }).
		Should(Equal(200), func() string { return "manager " + name + " never got ready:\n" + m.log.String() })
	Expect(testenv.HTTPStatus("http://" + m.probe + "/healthz")).To(Equal(200))
	return m
}

// stop sends SIGINT (what the kubelet's SIGTERM does: the manager releases its Lease) and waits.
func (m *manager) stop() { m.proc.Stop() }

// logContains reports whether the manager logged s (JSON escaping of quotes removed first).
func (m *manager) logContains(s string) func() bool {
	return func() bool { return m.proc.LogContains(s) }
}

// logged reports whether one line of the manager's log holds every one of parts.
func (m *manager) logged(parts ...string) func() bool {
	return func() bool { return m.proc.Logged(parts...) }
}

func freeAddr() string {
	GinkgoHelper()
	addr, err := testenv.FreeAddr()
	Expect(err).NotTo(HaveOccurred())
	return addr
}

// auditEvent is the part of a kube-apiserver audit event the specs read.
type auditEvent struct {
	Verb      string `json:"verb"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ImpersonatedUser *struct {
		Username string              `json:"username"`
		Extra    map[string][]string `json:"extra"`
	} `json:"impersonatedUser"`
	ResponseStatus *metav1.Status `json:"responseStatus"`
}

// write is one audited write, as "<instance> <verb> <resource>[/<subresource>] <namespace>/<name> <code>".
type write struct {
	Instance, Verb, Resource, Namespace, Name string
	Code                                      int
	// Terminating: the API server refused the write because the namespace is being deleted.
	Terminating bool
}

func (w write) String() string {
	return fmt.Sprintf("%s %s %s %s/%s %d", w.Instance, w.Verb, w.Resource, w.Namespace, w.Name, w.Code)
}

// managerWrites returns the writes the manager processes made so far, from the audit log. TokenReviews and
// SubjectAccessReviews (scrape authentication) are questions, not writes, and are left out.
func managerWrites() []write {
	GinkgoHelper()
	f, err := os.Open(auditLog)
	Expect(err).NotTo(HaveOccurred())
	defer f.Close()
	var out []write
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e auditEvent
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ImpersonatedUser == nil || e.ObjectRef == nil {
			continue
		}
		instance := e.ImpersonatedUser.Extra[instanceExtra]
		if len(instance) == 0 || e.ObjectRef.Resource == "tokenreviews" || e.ObjectRef.Resource == "subjectaccessreviews" {
			continue
		}
		resource := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			resource += "/" + e.ObjectRef.Subresource
		}
		w := write{Instance: instance[0], Verb: e.Verb, Resource: resource, Namespace: e.ObjectRef.Namespace, Name: e.ObjectRef.Name}
		if e.ResponseStatus != nil {
			w.Code = int(e.ResponseStatus.Code)
			w.Terminating = apierrors.HasStatusCause(&apierrors.StatusError{ErrStatus: *e.ResponseStatus}, corev1.NamespaceTerminatingCause)
		}
		out = append(out, w)
	}
	Expect(sc.Err()).NotTo(HaveOccurred())
	return out
}

// refused are the writes of instance that the API server refused (403), except one kind that is no RBAC gap:
// an Event about a namespace refused because the namespace began terminating after the manager looked, which
// the manager then re-created in default (nsstatus.FallbackSink). Any other refusal, and such an Event that
// was not re-created, is returned.
func refused(instance string, ws []write) []string {
	var out []string
	for i, w := range ws {
		if w.Instance != instance || w.Code != http.StatusForbidden {
			continue
		}
		if w.Terminating && w.Verb == "create" && w.Resource == "events" && slices.ContainsFunc(ws[i+1:], func(later write) bool {
			return later.Instance == instance && later.Verb == "create" && later.Resource == "events" &&
				later.Namespace == metav1.NamespaceDefault && later.Name == w.Name && later.Code == http.StatusCreated
		}) {
			continue
		}
		out = append(out, w.String())
	}
	return out
}

func writesBy(instance string, ws []write) []string {
	var out []string
	for _, w := range ws {
		if w.Instance == instance {
			out = append(out, w.String())
		}
	}
	return out
}
