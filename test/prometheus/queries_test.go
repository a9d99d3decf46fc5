package prometheus_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	"github.com/go-logr/logr/testr"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

var (
	dashboardFile = filepath.Join(testenv.RepoRoot(), "charts", "netprofile", "files", "dashboards", "netprofile.json")
	rulesFile     = filepath.Join(testenv.RepoRoot(), "config", "prometheus", "netprofile-rules.yaml")
)

// query is one PromQL expression and where it was found, for error messages.
type query struct {
	where, expr string
}

// Grafana's built-in interval variables, replaced by a value of the right kind as Grafana would before sending the
// query. The dashboard's own variables are replaced by a label value.
var grafanaBuiltins = map[string]string{"__rate_interval": "5m", "__interval": "1m", "__range": "1h"}

var variableRef = regexp.MustCompile(`\$\{?(\w+)\}?`)

// dashboardQueries is every PromQL expression of the dashboard: each panel target's expr (in rows too) and each
// query variable's label_values()/query_result() argument, with the variables substituted.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels     []json.RawMessage `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	vars := map[string]string{}
	for k, v := range grafanaBuiltins {
		vars[k] = v
	}
	var out []query
	for _, v := range dash.Templating.List {
		vars[v.Name] = "netprofile"
		if v.Type != "query" {
			continue
		}
		// A query variable's query is a string, or an object holding it (newer Grafana).
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q.Query); err != nil {
			if err := json.Unmarshal(v.Query, &q); err != nil {
				t.Fatalf("variable %s: query is neither a string nor an object: %s", v.Name, v.Query)
			}
		}
		m := regexp.MustCompile(`^\s*(?:label_values\((.+),\s*\w+\s*\)|query_result\((.+)\))\s*$`).FindStringSubmatch(q.Query)
		if m == nil {
			t.Fatalf("variable %s: %q is no label_values(expr, label) or query_result(expr)", v.Name, q.Query)
		}
		out = append(out, query{"variable " + v.Name, m[1] + m[2]})
	}
	var walk func(panels []json.RawMessage)
	walk = func(panels []json.RawMessage) {
		for _, raw := range panels {
			var p struct {
				Title   string            `json:"title"`
				Type    string            `json:"type"`
				Panels  []json.RawMessage `json:"panels"`
				Targets []map[string]any  `json:"targets"`
			}
			if err := json.Unmarshal(raw, &p); err != nil {
				t.Fatal(err)
			}
			walk(p.Panels)
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for i, target := range p.Targets {
				expr, _ := target["expr"].(string)
				if expr == "" {
					t.Errorf("panel %q target %d has no PromQL expr: %v", p.Title, i, target)
					continue
				}
				out = append(out, query{fmt.Sprintf("panel %q target %d", p.Title, i), expr})
			}
		}
	}
	walk(dash.Panels)
	for i := range out {
		out[i].expr = variableRef.ReplaceAllStringFunc(out[i].expr, func(ref string) string {
			name := variableRef.FindStringSubmatch(ref)[1]
			v, ok := vars[name]
			if !ok {
				t.Errorf("%s uses $%s, which neither the dashboard nor Grafana defines", out[i].where, name)
			}
			return v
		})
	}
	return out
}

// ruleQueries is every alert expression of the shipped rules, and the queries their annotations run
// (`printf "..." | query`, with %q as a label value).
func ruleQueries(t *testing.T) []query {
	t.Helper()
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.UnmarshalStrict(b, &file); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	annotationQuery := regexp.MustCompile(`printf "([^"]+)" [^|]*\| query`)
	var out []query
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			out = append(out, query{"alert " + r.Alert, r.Expr})
			for key, text := range r.Annotations {
				for _, m := range annotationQuery.FindAllStringSubmatch(text, -1) {
					out = append(out, query{fmt.Sprintf("alert %s annotation %s", r.Alert, key), strings.ReplaceAll(m[1], "%q", `"x"`)})
				}
			}
		}
	}
	return out
}

// selectors parses q with Prometheus' own parser and returns its vector selectors.
func selectors(q query) ([]*parser.VectorSelector, error) {
	expr, err := parser.NewParser(parser.Options{}).ParseExpr(q.expr)
	if err != nil {
		return nil, fmt.Errorf("%s: %q does not parse: %w", q.where, q.expr, err)
	}
	var out []*parser.VectorSelector
	parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %q selects no metric", q.where, q.expr)
	}
	return out, nil
}

func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

func allQueries(t *testing.T) []query {
	t.Helper()
	d, r := dashboardQueries(t), ruleQueries(t)
	// Guards against an extraction that silently finds nothing.
	if len(d) < 20 || len(r) < 6 {
		t.Fatalf("found %d dashboard and %d rule queries; the extraction is broken", len(d), len(r))
	}
	return append(d, r...)
}

// Every query parses, and names its metric (a selector by regex on __name__ could not be checked).
func TestQueriesParse(t *testing.T) {
	for _, q := range allQueries(t) {
		vss, err := selectors(q)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, vs := range vss {
			if metricName(vs) == "" {
				t.Errorf("%s: selector %s names no metric", q.where, vs)
			}
		}
	}
	// The parser is not lenient: a broken query is refused.
	if _, err := selectors(query{"broken", `sum by (x (rate(y[5m]))`}); err == nil {
		t.Error("the parser accepted a broken query")
	}
}

// scrapeLabels are added by Prometheus at scrape time; the manager never exports them.
var scrapeLabels = []string{"job", "instance"}

// missing compares the metrics and matcher labels the queries use with a scrape of the manager. A histogram's
// _bucket, _sum and _count series belong to its family, as do a summary's _sum and _count.
func missing(qs []query, families map[string]*dto.MetricFamily) []string {
	var out []string
	for _, q := range qs {
		vss, err := selectors(q)
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		for _, vs := range vss {
			name := metricName(vs)
			f := families[name]
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				base, ok := strings.CutSuffix(name, suffix)
				if !ok || f != nil || families[base] == nil {
					continue
				}
				if t := families[base].GetType(); t == dto.MetricType_HISTOGRAM || (t == dto.MetricType_SUMMARY && suffix != "_bucket") {
					f = families[base]
				}
			}
			if f == nil {
				out = append(out, fmt.Sprintf("%s: metric %s is not exported", q.where, name))
				continue
			}
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel || slices.Contains(scrapeLabels, m.Name) {
					continue
				}
				if !slices.ContainsFunc(f.GetMetric(), func(s *dto.Metric) bool {
					return slices.ContainsFunc(s.GetLabel(), func(l *dto.LabelPair) bool { return l.GetName() == m.Name })
				}) {
					out = append(out, fmt.Sprintf("%s: metric %s has no label %s", q.where, name, m.Name))
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Every metric the dashboard and the alerts query is one the real manager exports: bin/manager runs against a
// real API server with the shipped catalogue, a labelled namespace, an open escape hatch, one in audit mode, a
// namespace that is not Ready, a Baseline that is not Ready and a namespace whose own policy its ceiling does not hold, so that
// each of its series exists, and its /metrics is scraped.
func TestQueriesUseExportedMetrics(t *testing.T) {
	g := NewWithT(t)
	ctrllog.SetLogger(testr.New(t)) // envtest's own log
	qs := allQueries(t)
	ctx := context.Background()

	bin := filepath.Join(t.TempDir(), "manager")
	g.Expect(testenv.BuildManager(bin)).To(Succeed())
	env, err := testenv.Start(testenv.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	scheme, err := controllers.NewScheme()
	g.Expect(err).NotTo(HaveOccurred())
	k8s, err := client.New(env.Config, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())

	_, err = testenv.CreateCatalogue(ctx, k8s)
	g.Expect(err).NotTo(HaveOccurred())
	// A Baseline whose policy name a hand-written policy holds: not Ready (PolicyNameClash).
	g.Expect(k8s.Create(ctx, &cilium.CiliumClusterwideNetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: ownership.BaselinePolicyName("clash")},
		Spec: &api.Rule{EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
			Egress: []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityWorld}}}}},
	})).To(Succeed())
	g.Expect(k8s.Create(ctx, &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{Name: "clash"}, Spec: v1alpha1.BaselineSpec{
		NamespaceSelector: map[string]string{"team": "clash"},
		Egress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: "kube-system", MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
			Ports: []v1alpha1.PortProtocol{{Port: 53, Protocol: v1alpha1.ProtocolUDP}}}},
	}})).To(Succeed())
	// A profile that only reports its ceiling, for a namespace whose own NetworkPolicy reaches past its labels.
	g.Expect(k8s.Create(ctx, &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "reported"},
		Spec: v1alpha1.NetworkProfileSpec{Ceiling: v1alpha1.CeilingReport}})).To(Succeed())
	for name, l := range map[string]map[string]string{
		"shop":   {"network-policy.homelab/profile": "internal"},
		"hatch":  {"network-policy.homelab/profile": "isolated", "network-policy.homelab/enforcement": "disabled"},
		"audit":  {"network-policy.homelab/profile": "isolated", "network-policy.homelab/enforcement": "audit"},
		"broken": {"network-policy.homelab/profile": "no-such-profile"},
		"team":   {"network-policy.homelab/profile": "reported"},
	} {
		g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}})).To(Succeed())
	}
	g.Expect(k8s.Create(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "allow-all", Namespace: "team"},
		Spec: networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{}}}})).To(Succeed())

	metricsAddr, err := testenv.FreeAddr()
	g.Expect(err).NotTo(HaveOccurred())
	probeAddr, err := testenv.FreeAddr()
	g.Expect(err).NotTo(HaveOccurred())
	m, err := testenv.StartManager("queries", bin, []string{
		// Elected, as the chart runs it: the leader's own series (the Lease's, the work queues') are queried too.
		"--kubeconfig=" + env.Kubeconfig, "--leader-elect=true", "--leader-election-namespace=default",
		"--leader-election-id=netprofile.network-policy.homelab", "--metrics-secure=false",
		"--metrics-bind-address=" + metricsAddr, "--health-probe-bind-address=" + probeAddr,
	}, []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(m.Stop)

	scrape := func() (map[string]*dto.MetricFamily, error) {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		return parser.TextToMetricFamilies(resp.Body)
	}
	// The series appear as the manager converges; what is still missing after a minute is really missing.
	g.Eventually(func() ([]string, error) {
		families, err := scrape()
		if err != nil {
			return nil, err
		}
		return missing(qs, families), nil
	}).WithTimeout(time.Minute).WithPolling(time.Second).Should(BeEmpty(), func() string { return "manager log:\n" + m.Log.String() })

	// The check can fail: a name the manager does not export is reported.
	families, err := scrape()
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(missing([]query{
		{"typo", `rate(controller_runtime_reconcile_error_total[5m])`},
		{"wrong label", `netprofile_namespaces{profil="x"}`},
		{"counter suffix", `controller_runtime_reconcile_total_bucket`},
	}, families)).To(ConsistOf(
		ContainSubstring("controller_runtime_reconcile_error_total is not exported"),
		ContainSubstring("has no label profil"),
		ContainSubstring("controller_runtime_reconcile_total_bucket is not exported"),
	))
}
