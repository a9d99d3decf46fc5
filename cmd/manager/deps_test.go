package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The manager's dependency graph must stay free of the API server's schema validator and three Cilium packages: the policy engine (hundreds of MB
// and minutes of build; it belongs in the CLI's what-if command), the informer package, whose init installs
// a process-wide panic handler that exits the process on any recovered panic, and the cilium.io/v2 API
// package, which pulls in much of the agent (30 MB of binary, 20 MiB of resident memory) for two structs
// that pkg/ciliumpolicy defines instead.
func TestManagerDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := map[string]bool{}
	for _, d := range strings.Fields(string(out)) {
		deps[d] = true
	}
	if !deps["github.com/netprofile/netprofile/controllers"] {
		t.Fatal("go list did not list the manager's dependencies")
	}
	for _, banned := range []string{
		"github.com/cilium/cilium/pkg/policy",
		"github.com/cilium/cilium/pkg/k8s/informer",
		"github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2",
		// The API server's CRD schema validator (and with it cel-go and go-openapi): kube-apiserver applies
		// Cilium's schema itself; pkg/ciliumpolicy/schema is for the plugin and the tests.
		"k8s.io/apiextensions-apiserver/pkg/apiserver/validation",
	} {
		if deps[banned] {
			t.Errorf("cmd/manager depends on %s", banned)
		}
	}
}
