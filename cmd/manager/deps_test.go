package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// managerPackages is every package of this module the manager links. The plugin's own packages live under
// cmd/kubectl-netprofile/internal; pkg/check, pkg/desired, pkg/catalogue and pkg/ciliumpolicy/{compat,schema}
// stay in pkg/ because the test suites judge the manager's output with them, but the manager must not link
// them. A new package here is a decision: add it to this list in the same change.
var managerPackages = []string{
	"api/v1alpha1",
	"cmd/manager",
	"controllers",
	"controllers/baseline",
	"controllers/enforcement",
	"controllers/internal/apply",
	"controllers/internal/crstatus",
	"controllers/internal/nsmap",
	"controllers/internal/nsstatus",
	"controllers/internal/predicates",
	"controllers/labelcontract",
	"controllers/namespacepolicy",
	"controllers/nsdeletion",
	"controllers/profile",
	"controllers/sharedresource",
	"pkg/ciliumpolicy",
	"pkg/conditions",
	"pkg/contract",
	"pkg/enforcement",
	"pkg/metrics",
	"pkg/ownership",
	"pkg/policy",
	"pkg/version",
}

func TestManagerPackageList(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/netprofile/netprofile/"
	var got []string
	for _, d := range strings.Fields(string(out)) {
		if rel, ok := strings.CutPrefix(d, module); ok {
			got = append(got, rel)
		}
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(managerPackages))
	for _, p := range got {
		if _, found := slices.BinarySearch(want, p); !found {
			t.Errorf("cmd/manager links %s, which is not in managerPackages", p)
		}
	}
	for _, p := range want {
		if _, found := slices.BinarySearch(got, p); !found {
			t.Errorf("managerPackages lists %s, which cmd/manager no longer links: drop it from the list", p)
		}
	}
}

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
