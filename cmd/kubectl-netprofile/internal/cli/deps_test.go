package cli_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/test/testenv"
)

// engine is Cilium's policy engine: ~6 minutes of cold build and a large binary. Only the plugin may link it.
const engine = "github.com/cilium/cilium/pkg/policy"

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", pkg)
	cmd.Dir = testenv.RepoRoot()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestManagerDoesNotLinkCiliumsPolicyEngine(t *testing.T) {
	if slices.Contains(deps(t, "./cmd/manager"), engine) {
		t.Errorf("%s is a dependency of ./cmd/manager: keep Cilium's policy engine in the kubectl plugin (pkg/check)", engine)
	}
	// The probe itself works: the plugin does link the engine.
	if !slices.Contains(deps(t, "./cmd/kubectl-netprofile"), engine) {
		t.Errorf("%s is not a dependency of ./cmd/kubectl-netprofile: the check above proves nothing", engine)
	}
}
