// Package testenv starts the real control plane the tests run against: etcd and kube-apiserver through
// envtest (binaries built by hack/tools.sh from the Go module proxy), netprofile's and Cilium's CRDs, and,
// where garbage collection or namespace deletion matters, a real kube-controller-manager.
package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	ciliumcrds "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/client/crds/v2"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// Options choose what to start besides etcd and kube-apiserver.
type Options struct {
	// ControllerManager starts kube-controller-manager with the garbage collector and namespace controllers.
	ControllerManager bool
	// SkipNetprofileCRDs installs only Cilium's CRDs, for callers that install netprofile's own the way a user
	// would (the e2e applies them from the Helm chart).
	SkipNetprofileCRDs bool
	// APIServerArgs are extra kube-apiserver flags (name without dashes -> value), e.g. an audit log.
	APIServerArgs map[string]string
}

// Env is a running control plane.
type Env struct {
	Environment *envtest.Environment
	Config      *rest.Config
	// Kubeconfig is a file with admin credentials, for kubectl, helm and out-of-process managers.
	Kubeconfig string

	kcm    *exec.Cmd
	kcmLog *SyncBuffer
	dir    string
}

// SyncBuffer collects a child process's output (written by its copier goroutine) while tests read it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// RepoRoot is the checkout's top directory.
func RepoRoot() string {
	// Up from the working directory (go test runs in the package's), not from this file's compiled path:
	// builds with -trimpath, as make test's, record no absolute path.
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.HasPrefix(string(b), "module "+module+"\n") {
			return d
		}
		if filepath.Dir(d) == d {
			panic("no netprofile module above " + dir)
		}
	}
}

const module = "github.com/netprofile/netprofile"

// Assets returns the envtest binary directory: $KUBEBUILDER_ASSETS, or what hack/tools.sh builds (a no-op
// when the cache is warm).
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	out, err := exec.Command(filepath.Join(RepoRoot(), "hack", "tools.sh"), "assets").Output()
	if err != nil {
		return "", fmt.Errorf("failed to build the control plane with hack/tools.sh assets: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// CRDs are netprofile's CRDs (config/crd/bases) and Cilium's policy CRDs, from the pinned Cilium module.
func CRDs() ([]*apiextensionsv1.CustomResourceDefinition, error) {
	var crds []*apiextensionsv1.CustomResourceDefinition
	read := func(fsys fs.FS, name string) error {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.UnmarshalStrict(b, crd); err != nil {
			return fmt.Errorf("failed to decode CRD %s: %w", name, err)
		}
		crds = append(crds, crd)
		return nil
	}
	for _, name := range []string{"ciliumnetworkpolicies.yaml", "ciliumclusterwidenetworkpolicies.yaml"} {
		if err := read(ciliumcrds.EmbedFS, name); err != nil {
			return nil, err
		}
	}
	ours := os.DirFS(filepath.Join(RepoRoot(), "config", "crd", "bases"))
	names, err := fs.Glob(ours, "*.yaml")
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		if err := read(ours, name); err != nil {
			return nil, err
		}
	}
	return crds, nil
}

// Start starts the control plane and installs the CRDs.
func Start(opts Options) (*Env, error) {
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	crds, err := CRDs()
	if err != nil {
		return nil, err
	}
	if opts.SkipNetprofileCRDs {
		crds = slices.DeleteFunc(crds, func(crd *apiextensionsv1.CustomResourceDefinition) bool {
			return crd.Spec.Group != "cilium.io"
		})
	}
	e := &Env{Environment: &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDs:                  crds,
		ErrorIfCRDPathMissing: true,
	}}
	if e.dir, err = os.MkdirTemp("", "netprofile-testenv-"); err != nil {
		return nil, err
	}
	apiServer := e.Environment.ControlPlane.GetAPIServer()
	// A certificate directory of our own, not one envtest creates: envtest deletes its own on Stop and a
	// later Start would then sign a new serving certificate with a new CA, which every client's config
	// (holding the old CA) rejects. With this one, StopAPIServer and StartAPIServer keep the certificates,
	// so clients reconnect as they would to a restarted control plane.
	apiServer.CertDir = filepath.Join(e.dir, "kube-apiserver")
	if err := os.Mkdir(apiServer.CertDir, 0o700); err != nil {
		return nil, errors.Join(err, os.RemoveAll(e.dir))
	}
	// On SIGTERM, close open watches within 2 s. Without it kube-apiserver waits for them (a manager's,
	// kube-controller-manager's) up to its request timeout (60 s), and envtest kills it after 20 s and
	// reports "timeout waiting for process kube-apiserver to stop", at a restart or at the end of a suite.
	apiServer.Configure().Set("shutdown-watch-termination-grace-period", "2s")
	for name, value := range opts.APIServerArgs {
		apiServer.Configure().Set(name, value)
	}
	e.Config, err = e.Environment.Start()
	if err != nil {
		return nil, errors.Join(fmt.Errorf("failed to start kube-apiserver and etcd: %w", err), os.RemoveAll(e.dir))
	}
	admin, err := e.Environment.AddUser(envtest.User{Name: "netprofile-test-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	kubeconfig, err := admin.KubeConfig()
	if err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	e.Kubeconfig = filepath.Join(e.dir, "kubeconfig")
	if err := os.WriteFile(e.Kubeconfig, kubeconfig, 0o600); err != nil {
		return nil, errors.Join(err, e.Stop())
	}
	if opts.ControllerManager {
		if err := e.startControllerManager(assets); err != nil {
			return nil, errors.Join(err, e.Stop())
		}
	}
	return e, nil
}

// startControllerManager runs the controllers whose absence makes envtest unlike a cluster: without the
// garbage collector, ownerReferences are never collected; without the namespace controller, a deleted
// namespace stays Terminating forever; without the ClusterRole aggregation controller, Kubernetes' own
// admin, edit and view roles grant nothing, so a tenant's RoleBinding to them means nothing.
func (e *Env) startControllerManager(assets string) error {
	e.kcmLog = &SyncBuffer{}
	e.kcm = exec.Command(filepath.Join(assets, "kube-controller-manager"),
		"--kubeconfig="+e.Kubeconfig,
		"--controllers=garbage-collector-controller,namespace-controller,clusterrole-aggregation-controller",
		"--leader-elect=false", "--secure-port=0",
		// Each controller as its own ServiceAccount (kube-system:generic-garbage-collector, ...), as kubeadm and
		// most distributions run them: admission policies see those users.
		"--use-service-account-credentials=true",
		"--concurrent-gc-syncs=5", "--concurrent-namespace-syncs=5")
	e.kcm.Stdout, e.kcm.Stderr = e.kcmLog, e.kcmLog
	if err := e.kcm.Start(); err != nil {
		return fmt.Errorf("failed to start kube-controller-manager: %w", err)
	}
	return nil
}

// ImpersonatingKubeconfig writes a kubeconfig at path that authenticates as the admin but acts as user (with
// extra, when set): every request is then authorized by user's RBAC, exactly as if user had sent it. For a
// ServiceAccount user ("system:serviceaccount:<ns>:<name>") the API server adds the ServiceAccount's groups.
func (e *Env) ImpersonatingKubeconfig(path, user string, extra map[string][]string) error {
	cfg, err := clientcmd.LoadFromFile(e.Kubeconfig)
	if err != nil {
		return fmt.Errorf("failed to read the admin kubeconfig: %w", err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = user
		auth.ImpersonateUserExtra = extra
	}
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("failed to write kubeconfig %s: %w", path, err)
	}
	return nil
}

// StopAPIServer stops kube-apiserver the way a control plane node's restart does (SIGTERM, graceful
// shutdown, open watches closed within the grace period Start sets) and waits until it has exited. etcd,
// kube-controller-manager and every client keep running.
func (e *Env) StopAPIServer() error {
	if err := e.Environment.ControlPlane.GetAPIServer().Stop(); err != nil {
		return fmt.Errorf("failed to stop kube-apiserver: %w", err)
	}
	return nil
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, with the same flags, address, etcd,
// serving certificate and client CA: every existing client configuration and kubeconfig stays valid, and
// clients (informers, the manager, kube-controller-manager) have to reconnect and resume their watches. It
// returns once /healthz answers ok.
func (e *Env) StartAPIServer() error {
	if err := e.Environment.ControlPlane.GetAPIServer().Start(); err != nil {
		return fmt.Errorf("failed to start kube-apiserver again: %w", err)
	}
	return nil
}

// Helm returns the pinned helm (hack/tools.sh helm; a no-op when the cache is warm).
func Helm() (string, error) {
	out, err := exec.Command(filepath.Join(RepoRoot(), "hack", "tools.sh"), "helm").Output()
	if err != nil {
		return "", fmt.Errorf("failed to build helm with hack/tools.sh helm: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// Kubectl returns the pinned kubectl, next to the control plane binaries.
func Kubectl() (string, error) {
	assets, err := Assets()
	if err != nil {
		return "", err
	}
	return filepath.Join(assets, "kubectl"), nil
}

// ControllerManagerLog is what kube-controller-manager printed, for failure messages.
func (e *Env) ControllerManagerLog() string {
	if e.kcmLog == nil {
		return ""
	}
	return e.kcmLog.String()
}

// Stop stops everything Start started.
func (e *Env) Stop() error {
	var errs []error
	if e.kcm != nil && e.kcm.Process != nil {
		_ = e.kcm.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		// Its exit status after SIGINT (or SIGKILL) says nothing about the test; only that it has exited matters.
		go func() { _ = e.kcm.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = e.kcm.Process.Kill()
		}
	}
	if err := e.Environment.Stop(); err != nil {
		errs = append(errs, err)
	}
	if e.dir != "" {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}
