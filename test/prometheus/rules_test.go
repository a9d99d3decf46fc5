// Package prometheus_test runs promtool, pinned and built by hack/tools.sh, over the shipped alert rules.
package prometheus_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/test/testenv"
)

func promtool(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "tools.sh"), "promtool").Output()
	if err != nil {
		t.Fatalf("failed to build promtool with hack/tools.sh: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestRulesAreValid(t *testing.T) {
	out, err := exec.Command(promtool(t), "check", "rules", filepath.Join(testenv.RepoRoot(), "config", "prometheus", "netprofile-rules.yaml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "SUCCESS: 11 rules found") {
		t.Fatalf("want exactly eleven alerts (two escape hatch, one audit, one time bypassed, one ceiling, two readiness, two manager health, two reconciling):\n%s", out)
	}
}

func TestAlerts(t *testing.T) {
	cmd := exec.Command(promtool(t), "test", "rules", "netprofile-rules.test.yaml", "netprofile-health.test.yaml", "netprofile-reconciling.test.yaml")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
