package chart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netprofile/netprofile/test/testenv"
)

// The readiness and manager-health alerts beside the escape hatch ones: their severities and `for:` as issue 15
// set them, each with a runbook that exists in docs/runbooks, and each severity, runbook and label set through
// values.
func TestHealthAlerts(t *testing.T) {
	want := map[string]struct{ severity, forClause, runbook string }{
		"NetprofileNamespaceNotReady": {"warning", "", "namespace-not-ready.md"},
		"NetprofileBaselineNotReady":  {"critical", "", "baseline-not-ready.md"},
		"NetprofileReconcileErrors":   {"warning", "30m", "reconcile-errors.md"},
		"NetprofileManagerAbsent":     {"critical", "10m", "manager-absent.md"},
		"NetprofileLeaderAbsent":      {"critical", "5m", "not-reconciling.md"},
		"NetprofileNotReconciling":    {"critical", "15m", "not-reconciling.md"},
	}
	rules := alerts(t, find(mustRender(t, allAPIs...), "PrometheusRule", ""))
	const prefix = "https://github.com/netprofile/netprofile/blob/main/docs/runbooks/"
	for name, w := range want {
		r, ok := rules[name].(map[string]any)
		if !ok {
			t.Errorf("no alert %s", name)
			continue
		}
		if got := r["labels"].(map[string]any)["severity"]; got != w.severity {
			t.Errorf("%s severity %v, want %s", name, got, w.severity)
		}
		if got, _ := r["for"].(string); got != w.forClause {
			t.Errorf("%s for %q, want %q", name, got, w.forClause)
		}
		url, _ := r["annotations"].(map[string]any)["runbook_url"].(string)
		if url != prefix+w.runbook {
			t.Errorf("%s runbook_url %q, want %s%s", name, url, prefix, w.runbook)
		}
		doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "runbooks", w.runbook))
		if err != nil {
			t.Errorf("%s links a runbook that does not exist: %v", name, err)
		} else if !strings.Contains(string(doc), name) {
			t.Errorf("docs/runbooks/%s does not mention %s", w.runbook, name)
		}
	}

	rules = alerts(t, find(mustRender(t, append([]string{
		"--set", "prometheusRule.alertLabels.team=platform",
		"--set", "prometheusRule.managerAbsent.severity=page",
		"--set", "prometheusRule.managerAbsent.labels.pager=yes",
		"--set", "prometheusRule.managerAbsent.runbookURL=https://runbooks.example.com/netprofile",
		"--set", "prometheusRule.reconcileErrors.runbookURL=",
	}, allAPIs...)...), "PrometheusRule", ""))
	absent := rules["NetprofileManagerAbsent"].(map[string]any)
	if got := absent["labels"]; !reflect.DeepEqual(got, map[string]any{"severity": "page", "pager": "yes", "team": "platform"}) {
		t.Errorf("NetprofileManagerAbsent labels %v", got)
	}
	if got := absent["annotations"].(map[string]any)["runbook_url"]; got != "https://runbooks.example.com/netprofile" {
		t.Errorf("NetprofileManagerAbsent runbook_url %v", got)
	}
	if _, has := rules["NetprofileReconcileErrors"].(map[string]any)["annotations"].(map[string]any)["runbook_url"]; has {
		t.Error("an empty runbookURL must leave runbook_url out")
	}
	if got := rules["NetprofileBaselineNotReady"].(map[string]any)["labels"].(map[string]any)["team"]; got != "platform" {
		t.Errorf("alertLabels must reach every alert; NetprofileBaselineNotReady team = %v", got)
	}
}

// The reconciling alerts follow the manager: the idle window is 1.1 sync periods (controller-runtime's resync
// jitter) and an hour, and the Lease alert names the chart's Lease and exists only where a Lease is taken.
func TestReconcilingAlertsFollowTheManager(t *testing.T) {
	rules := alerts(t, find(mustRender(t, append([]string{
		"--set", "manager.syncPeriod=48h", "--set", "leaderElection.id=np.example.com",
	}, allAPIs...)...), "PrometheusRule", ""))
	// 48h * 1.1 + 1h = 53h 48m = 193680 s.
	expr := rules["NetprofileNotReconciling"].(map[string]any)["expr"].(string)
	if !strings.Contains(expr, "[193680s]") || !strings.Contains(expr, "< 193680)") {
		t.Errorf("NetprofileNotReconciling expr does not use the 193680 s window of a 48h syncPeriod:\n%s", expr)
	}
	leader := rules["NetprofileLeaderAbsent"].(map[string]any)["expr"].(string)
	if !strings.Contains(leader, `leader_election_master_status{name="np.example.com"}`) {
		t.Errorf("NetprofileLeaderAbsent expr does not name the chart's Lease:\n%s", leader)
	}

	rules = alerts(t, find(mustRender(t, append([]string{"--set", "leaderElection.enabled=false", "--set", "replicaCount=1"}, allAPIs...)...), "PrometheusRule", ""))
	if _, ok := rules["NetprofileLeaderAbsent"]; ok {
		t.Error("NetprofileLeaderAbsent without leader election: no replica ever holds a Lease, so it would always fire")
	}
	if _, ok := rules["NetprofileNotReconciling"]; !ok {
		t.Error("NetprofileNotReconciling must stay without leader election")
	}
}

// The Grafana dashboard is opt-in; when on, it is a ConfigMap with the sidecar's label (configurable) holding
// exactly files/dashboards/netprofile.json.
func TestGrafanaDashboard(t *testing.T) {
	dashboard := func(objs []*unstructured.Unstructured) *unstructured.Unstructured {
		return find(objs, "ConfigMap", release+"-dashboard")
	}
	if dashboard(mustRender(t, allAPIs...)) != nil {
		t.Error("the dashboard ConfigMap must be opt-in")
	}
	file, err := os.ReadFile(filepath.Join(chartDir, "files", "dashboards", "netprofile.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(file) {
		t.Fatal("files/dashboards/netprofile.json is not JSON")
	}

	cm := dashboard(mustRender(t, "--set", "grafanaDashboard.enabled=true"))
	if cm == nil {
		t.Fatal("grafanaDashboard.enabled=true renders no ConfigMap " + release + "-dashboard")
	}
	if cm.GetNamespace() != namespace || cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("ConfigMap %s/%s labels %v, want the release namespace and grafana_dashboard: \"1\"", cm.GetNamespace(), cm.GetName(), cm.GetLabels())
	}
	data, _, _ := unstructured.NestedString(cm.Object, "data", "netprofile.json")
	if data != strings.TrimRight(string(file), "\n") {
		t.Error("the ConfigMap's netprofile.json differs from files/dashboards/netprofile.json")
	}

	cm = dashboard(mustRender(t, "--set", "grafanaDashboard.enabled=true", "--set", "grafanaDashboard.namespace=monitoring",
		"--set", "grafanaDashboard.sidecarLabel=grafana.example.com/dashboard", "--set", "grafanaDashboard.sidecarLabelValue=netprofile",
		"--set", "grafanaDashboard.labels.team=platform", "--set", "grafanaDashboard.annotations.grafana_folder=Networking"))
	if cm.GetNamespace() != "monitoring" || cm.GetLabels()["grafana.example.com/dashboard"] != "netprofile" || cm.GetLabels()["team"] != "platform" ||
		cm.GetLabels()["grafana_dashboard"] != "" || cm.GetAnnotations()["grafana_folder"] != "Networking" {
		t.Errorf("ConfigMap %s/%s labels %v annotations %v", cm.GetNamespace(), cm.GetName(), cm.GetLabels(), cm.GetAnnotations())
	}
}
