// Command demo runs netprofile on a real local control plane: etcd, kube-apiserver and
// kube-controller-manager (built by hack/tools.sh), Cilium's and netprofile's CRDs, the default catalogue and
// bin/manager. It creates sample namespaces, prints what netprofile generated and the Namespace conditions,
// and keeps running until interrupted so you can kubectl into it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/pkg/catalogue"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

// samples are the demo's app namespaces: the seed's workflows in miniature.
var samples = []struct {
	name   string
	labels map[string]string
}{
	{"batch-jobs", map[string]string{"network-policy.homelab/profile": "isolated"}},
	{"dashboards", map[string]string{"network-policy.homelab/profile": "internal"}},
	{"api-client", map[string]string{"network-policy.homelab/profile": "internal-egress", "access.network-policy.homelab/kube-api": "true"}},
	{"shop", map[string]string{"network-policy.homelab/profile": "standard", "access.network-policy.homelab/postgres": "true", "access.network-policy.homelab/dragonfly": "true"}},
	{"typo", map[string]string{"network-policy.homelab/profile": "Standard"}},
}

// platformNamespaces are the namespaces the default catalogue names: where the SharedResources live, the
// gateways the profiles let in and the Prometheus the baselines let scrape.
var platformNamespaces = []string{"database", "cache", "garage", "istio-gateway", "monitoring"}

func main() {
	manager := flag.String("manager", "bin/manager", "the manager binary to run")
	once := flag.Bool("once", false, "print the result and exit instead of waiting for Ctrl-C (for tests)")
	flag.Parse()
	if err := run(*manager, *once); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(manager string, once bool) (retErr error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	step("Starting etcd, kube-apiserver and kube-controller-manager (built by hack/tools.sh)")
	env, err := testenv.Start(testenv.Options{ControllerManager: true})
	if err != nil {
		return err
	}
	defer func() { retErr = errors.Join(retErr, env.Stop()) }()
	scheme, err := controllers.NewScheme()
	if err != nil {
		return err
	}
	c, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	step("Applying the default catalogue (config/samples)")
	set, err := catalogue.LoadPaths(filepath.Join(testenv.RepoRoot(), "config", "samples"))
	if err != nil {
		return err
	}
	for _, objs := range [][]client.Object{values(set.Profiles), values(set.Resources), values(set.Baselines)} {
		for _, obj := range objs {
			if err := c.Create(ctx, obj); err != nil {
				return fmt.Errorf("failed to create %s: %w", obj.GetName(), err)
			}
			fmt.Printf("  %s/%s\n", strings.ToLower(obj.GetObjectKind().GroupVersionKind().Kind), obj.GetName())
		}
	}

	step("Running " + manager)
	logPath := filepath.Join(os.TempDir(), "netprofile-demo-manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.CommandContext(ctx, manager, "--kubeconfig="+env.Kubeconfig, "--metrics-secure=false",
		"--metrics-bind-address=127.0.0.1:8080", "--health-probe-bind-address=127.0.0.1:8081")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("failed to start the manager (run make build first): %w", err)
	}
	defer func() { stop(); _ = cmd.Wait() }()
	fmt.Printf("  logs: %s\n  metrics: http://127.0.0.1:8080/metrics\n", logPath)

	step("Creating sample namespaces")
	// The namespaces the catalogue names, marked as the platform's as the README's installation does: the
	// catalogue trusts a namespace by its mark, not its name. Without a provider namespace a grant is reported
	// not in effect.
	for _, name := range platformNamespaces {
		if err := c.Create(ctx, testenv.PlatformNamespace(name)); err != nil {
			return err
		}
		fmt.Printf("  %-14s (platform namespace, marked)\n", name)
	}
	for _, s := range samples {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: s.name, Labels: s.labels}}
		if err := c.Create(ctx, ns); err != nil {
			return err
		}
		fmt.Printf("  %-12s %s\n", s.name, labelString(s.labels))
	}

	step("What netprofile generated")
	for _, s := range samples {
		cond, err := waitForCondition(ctx, c, s.name)
		if err != nil {
			return err
		}
		fmt.Printf("\n# namespace %s: %s=%s (%s)\n#   %s\n", s.name, conditions.Ready, cond.Status, cond.Reason, cond.Message)
		list := &cilium.CiliumNetworkPolicyList{}
		if err := c.List(ctx, list, client.InNamespace(s.name)); err != nil {
			return err
		}
		for i := range list.Items {
			out, err := policy.YAML(&list.Items[i])
			if err != nil {
				return err
			}
			fmt.Printf("%s", indent(string(out)))
		}
	}
	ccnps := &cilium.CiliumClusterwideNetworkPolicyList{}
	if err := c.List(ctx, ccnps); err != nil {
		return err
	}
	fmt.Printf("\n# clusterwide baselines: %d CiliumClusterwideNetworkPolicies\n", len(ccnps.Items))
	for _, p := range ccnps.Items {
		fmt.Printf("#   %s\n", p.Name)
	}

	step("Ready")
	fmt.Printf("  export KUBECONFIG=%s\n", env.Kubeconfig)
	fmt.Printf("  kubectl get networkprofiles,sharedresources,baselines\n")
	fmt.Printf("  kubectl get cnp -A; kubectl get ns shop -o yaml\n")
	fmt.Printf("  kubectl label ns shop network-policy.homelab/profile=isolated --overwrite\n")
	if once {
		return nil
	}
	fmt.Printf("  Press Ctrl-C to stop.\n")
	<-ctx.Done()
	return nil
}

func waitForCondition(ctx context.Context, c client.Client, name string) (*corev1.NamespaceCondition, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, ns); err == nil {
			if cond := conditions.Find(ns.Status.Conditions, conditions.Ready); cond != nil {
				return cond, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("namespace %s got no %s condition: is the manager running? %w", name, conditions.Ready, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func values[T client.Object](m map[string]T) []client.Object {
	out := make([]client.Object, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func labelString(l map[string]string) string {
	var parts []string
	for k, v := range l {
		parts = append(parts, k+"="+v)
	}
	return strings.Join(parts, " ")
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }
