package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/cli"
	ht "github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/hubbletest"
	"github.com/netprofile/netprofile/pkg/catalogue"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

// TestLive runs the live subcommands against a real kube-apiserver with Cilium's CRDs. No manager runs: the
// test writes what the operator would have written (policies, Namespace conditions through the status
// subresource, the since annotation), so each command is checked against known cluster state.
func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env, err := testenv.Start(testenv.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := ciliumv2.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	k8s, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kc := "--kubeconfig=" + env.Kubeconfig

	// The operator's work for testdata/namespaces/apps.yaml, plus the cluster-wide policies.
	files, err := catalogue.LoadPaths(apps)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	set := desired.Compute(desired.Input{
		Renderer:   policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName},
		Namespaces: files.Namespaces, Catalogue: cat, Scope: desired.All, Now: time.Now(), Thresholds: enforcement.DefaultThresholds,
	})
	for _, ns := range append(files.Namespaces, nsObj("database", maps.Clone(ht.Platform)), nsObj("cache", maps.Clone(ht.Platform)), nsObj("garage", maps.Clone(ht.Platform)), nsObj("typo", map[string]string{"network-policy.homelab/profile": "Standard"}), nsObj("unrelated", map[string]string{"team": "a"})) {
		must(t, k8s.Create(ctx, ns.DeepCopy()))
	}
	// Written as the operator writes them: under its components' field managers (pkg/ownership).
	for _, p := range set.CNPs {
		must(t, k8s.Create(ctx, p.DeepCopy(), operator(p)))
	}
	for _, p := range set.CCNPs {
		must(t, k8s.Create(ctx, p.DeepCopy(), operator(p)))
	}
	since := time.Now().Add(-3 * time.Hour).UTC().Truncate(time.Second)
	annotate(ctx, t, k8s, "hatch", contract.Default().SinceAnnotation(), since.Format(time.RFC3339))
	setConditions(ctx, t, k8s, "shop", cond(conditions.Ready, corev1.ConditionTrue, conditions.ReasonPoliciesApplied, "profile standard and grant postgres applied"))
	setConditions(ctx, t, k8s, "batch", cond(conditions.Ready, corev1.ConditionTrue, conditions.ReasonPoliciesApplied, "profile isolated applied"))
	setConditions(ctx, t, k8s, "hatch", cond(conditions.Ready, corev1.ConditionTrue, conditions.ReasonPoliciesApplied, "profile internal applied"),
		corev1.NamespaceCondition{Type: conditions.EnforcementDisabled, Status: corev1.ConditionTrue, Reason: conditions.ReasonEnforcementDisabledWarning,
			Message: "network policy enforcement is disabled", LastTransitionTime: metav1.NewTime(since)})
	setConditions(ctx, t, k8s, "typo", cond(conditions.Ready, corev1.ConditionFalse, conditions.ReasonInvalidLabel, `NetworkProfile names are lower case: did you mean "standard"?`))

	t.Run("status lists every namespace netprofile is involved with, and fails on the one not Ready", func(t *testing.T) {
		r := run(t, "", "status", kc)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d, want %d\n%s%s", r.code, cli.ExitFindings, r.stdout, r.stderr)
		}
		lines := strings.Split(r.stdout, "\n")
		want := map[string][]string{
			"batch":    {"isolated", "enabled", "True (PoliciesApplied)", "netprofile-namespace"},
			"shop":     {"standard", "postgres", "enabled", "True (PoliciesApplied)"},
			"hatch":    {"internal", "disabled since " + since.Format(time.RFC3339), "netprofile-enforcement-disabled,netprofile-namespace"},
			"typo":     {"False (InvalidLabel)"},
			"database": {"netprofile-provider-postgres"},
		}
		for ns, cols := range want {
			line := lineOf(lines, ns+" ")
			for _, c := range cols {
				if !strings.Contains(line, c) {
					t.Errorf("row %q does not contain %q", line, c)
				}
			}
		}
		if lineOf(lines, "unrelated") != "" {
			t.Errorf("an unrelated namespace is listed:\n%s", r.stdout)
		}
		if !strings.Contains(r.stdout, `typo: NetworkPolicyReady=False (InvalidLabel): NetworkProfile names are lower case`) {
			t.Errorf("the problem is not explained:\n%s", r.stdout)
		}
	})
	t.Run("status of a Ready namespace exits 0", func(t *testing.T) {
		if r := run(t, "", "status", "shop", kc); r.code != 0 {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
	})
	t.Run("status -o json of the escape hatch", func(t *testing.T) {
		r := run(t, "", "status", "hatch", kc, "-o", "json")
		var list struct {
			APIVersion, Kind string
			Items            []struct {
				Enforcement         string     `json:"enforcement"`
				DisabledSince       *time.Time `json:"disabledSince"`
				EnforcementDisabled *struct{ Reason string }
				OK                  bool `json:"ok"`
			}
		}
		must(t, json.Unmarshal([]byte(r.stdout), &list))
		rows := list.Items
		if list.APIVersion != "v1" || list.Kind != "List" || len(rows) != 1 || rows[0].Enforcement != "disabled" || rows[0].DisabledSince == nil || !rows[0].DisabledSince.Equal(since) ||
			rows[0].EnforcementDisabled == nil || rows[0].EnforcementDisabled.Reason != conditions.ReasonEnforcementDisabledWarning || !rows[0].OK {
			t.Errorf("rows = %s", r.stdout)
		}
	})
	t.Run("status of a namespace that does not exist", func(t *testing.T) {
		if r := run(t, "", "status", "nope", kc); r.code != cli.ExitError || !strings.Contains(r.stderr, `namespace "nope" not found`) {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	// kubectl's flags and printers (cli-runtime): the plugin reads the cluster and prints as kubectl would.
	t.Run("-n is the namespace of status", func(t *testing.T) {
		r := run(t, "", "status", "-n", "shop", kc)
		lines := strings.Split(r.stdout, "\n")
		if r.code != 0 || lineOf(lines, "shop ") == "" || lineOf(lines, "batch ") != "" || lineOf(lines, "typo ") != "" {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := run(t, "", "status", "shop", "-n", "batch", kc); r.code != cli.ExitError || !strings.Contains(r.stderr, `namespace "shop" and -n "batch": give one`) {
			t.Errorf("argument and -n: exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("--context picks the kubeconfig's context, and completes from it", func(t *testing.T) {
		// Two contexts: the current one points at nothing, envtest is the control plane.
		cfg, err := clientcmd.LoadFromFile(env.Kubeconfig)
		must(t, err)
		cur := cfg.Contexts[cfg.CurrentContext]
		cfg.Contexts = map[string]*clientcmdapi.Context{
			"envtest": cur,
			"nowhere": {Cluster: "nowhere", AuthInfo: cur.AuthInfo},
		}
		cfg.Clusters["nowhere"] = &clientcmdapi.Cluster{Server: "https://127.0.0.1:1"}
		cfg.CurrentContext = "nowhere"
		file := filepath.Join(t.TempDir(), "kubeconfig")
		must(t, clientcmd.WriteToFile(*cfg, file))
		if r := run(t, "", "status", "shop", "--kubeconfig", file, "--request-timeout", "10s"); r.code != cli.ExitError || !strings.Contains(r.stderr, "127.0.0.1:1") {
			t.Errorf("current context: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := run(t, "", "status", "shop", "--kubeconfig", file, "--context", "envtest"); r.code != 0 || !strings.Contains(r.stdout, "shop ") {
			t.Errorf("--context envtest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r := run(t, "", "__complete", "status", "--kubeconfig", file, "--context", "")
		if !strings.HasPrefix(r.stdout, "envtest\nnowhere\n:") {
			t.Errorf("completing --context:\n%s", r.stdout)
		}
		r = run(t, "", "__complete", "status", "--kubeconfig", file, "--context", "envtest", "-n", "sh")
		if !strings.Contains(r.stdout, "shop\n") {
			t.Errorf("completing -n:\n%s", r.stdout)
		}
	})
	t.Run("--request-timeout reaches the client", func(t *testing.T) {
		if r := run(t, "", "status", "shop", kc, "--request-timeout", "soon"); r.code != cli.ExitError || !strings.Contains(r.stderr, "timeout") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("--as and --as-group impersonate, and RBAC decides", func(t *testing.T) {
		must(t, k8s.Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "netprofile-status-reader"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{"cilium.io"}, Resources: []string{"ciliumnetworkpolicies"}, Verbs: []string{"get", "list"}},
			},
		}))
		must(t, k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "netprofile-status-readers"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "netprofile-status-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: "netprofile-readers"}},
		}))
		// The admin itself reads the (absent) LabelContract: no refusal.
		if r := run(t, "", "status", "shop", kc); r.code != 0 || !strings.Contains(r.stderr, "notice: the cluster has no LabelContract") {
			t.Errorf("as the admin: exit %d, stderr %q", r.code, r.stderr)
		}
		// jane alone may read nothing.
		if r := run(t, "", "status", "shop", kc, "--as", "jane"); r.code != cli.ExitError ||
			!strings.Contains(r.stderr, `User "jane" cannot get resource "namespaces"`) {
			t.Errorf("--as jane: exit %d, stderr %q", r.code, r.stderr)
		}
		// In the readers' group she reads namespaces and policies, but not LabelContracts.
		r := run(t, "", "status", "shop", kc, "--as", "jane", "--as-group", "netprofile-readers")
		if r.code != 0 || !strings.Contains(r.stdout, "shop ") ||
			!strings.Contains(r.stderr, "notice: not allowed to read the cluster's LabelContracts") {
			t.Errorf("--as jane --as-group netprofile-readers: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("status -o: kubectl's printers", func(t *testing.T) {
		// Every row, as -o json has it: the reference for the other formats.
		r := run(t, "", "status", kc, "-o", "json")
		if r.code != cli.ExitFindings {
			t.Fatalf("-o json: exit %d, want %d (typo is not Ready)\n%s", r.code, cli.ExitFindings, r.stderr)
		}
		var list struct {
			Items []struct {
				Namespace string
				Profile   string
				Ready     *struct{ Status string }
				Problems  []string
			}
		}
		must(t, json.Unmarshal([]byte(r.stdout), &list))
		var names, ready, profiles []string
		typoProblems := -1
		for _, it := range list.Items {
			if it.Namespace == "typo" {
				typoProblems = len(it.Problems)
			}
			names = append(names, it.Namespace)
			status := "<none>"
			if it.Ready != nil {
				status = it.Ready.Status
			}
			ready = append(ready, it.Namespace+"="+status)
			profile := "<none>"
			if it.Profile != "" {
				profile = it.Profile
			}
			profiles = append(profiles, it.Namespace+" "+profile)
		}
		for _, want := range []string{"shop=True", "typo=False", "database=<none>"} {
			if !slices.Contains(ready, want) {
				t.Fatalf("-o json lacks %s: %v", want, ready)
			}
		}

		// database has no Ready condition: a missing key is an error only when asked to be.
		strict := run(t, "", "status", kc, "-o", `jsonpath={range .items[*]}{.namespace}={.ready.status}{"\n"}{end}`, "--allow-missing-template-keys=false")
		if strict.code != cli.ExitError || !strings.Contains(strict.stderr, "ready is not found") {
			t.Errorf("--allow-missing-template-keys=false: exit %d, stderr %q", strict.code, strict.stderr)
		}
		jsonpath := run(t, "", "status", kc, "-o", `jsonpath={range .items[*]}{.namespace}={.ready.status}{"\n"}{end}`)
		got := strings.Fields(strings.ReplaceAll(jsonpath.stdout, "=\n", "=<none>\n"))
		if jsonpath.code != cli.ExitFindings || !slices.Equal(got, ready) {
			t.Errorf("-o jsonpath: exit %d\n got %v\nwant %v", jsonpath.code, got, ready)
		}

		// The filter of the README and --help: the open escape hatches.
		hatches := run(t, "", "status", kc, "-o", `jsonpath={range .items[?(@.enforcement=="disabled")]}{.namespace}{"\n"}{end}`)
		if hatches.code != cli.ExitFindings || hatches.stdout != "hatch\n" {
			t.Errorf("-o jsonpath with a filter: exit %d, %q", hatches.code, hatches.stdout)
		}

		name := run(t, "", "status", kc, "-o", "name")
		var wantNames []string
		for _, n := range names {
			wantNames = append(wantNames, "namespace/"+n)
		}
		if name.code != cli.ExitFindings || name.stdout != strings.Join(wantNames, "\n")+"\n" {
			t.Errorf("-o name: exit %d\n%s", name.code, name.stdout)
		}

		columns := run(t, "", "status", kc, "-o", "custom-columns=NS:.namespace,PROFILE:.profile", "--no-headers")
		rows := strings.Split(strings.TrimSuffix(columns.stdout, "\n"), "\n")
		for i, row := range rows {
			rows[i] = strings.Join(strings.Fields(row), " ")
		}
		if columns.code != cli.ExitFindings || !slices.Equal(rows, profiles) {
			t.Errorf("-o custom-columns --no-headers: exit %d\n got %q\nwant %q", columns.code, rows, profiles)
		}

		// The table without headers: rows only on stdout, the problems on stderr.
		table := run(t, "", "status", kc, "--no-headers")
		lines := strings.Split(strings.TrimSuffix(table.stdout, "\n"), "\n")
		if table.code != cli.ExitFindings || len(lines) != len(names) || strings.Contains(table.stdout, "NAMESPACE") ||
			strings.Contains(table.stdout, "Problems:") || !strings.HasPrefix(lineOf(lines, "typo "), "typo ") ||
			!strings.Contains(table.stderr, "Problems:\n  - typo: NetworkPolicyReady=False (InvalidLabel)") {
			t.Errorf("--no-headers: exit %d\nstdout:\n%s\nstderr:\n%s", table.code, table.stdout, table.stderr)
		}
		withHeaders := run(t, "", "status", kc)
		if !strings.HasPrefix(withHeaders.stdout, "NAMESPACE  ") || !strings.Contains(withHeaders.stdout, "\nProblems:\n") {
			t.Errorf("the default table:\n%s", withHeaders.stdout)
		}

		wide := run(t, "", "status", kc, "-o", "wide")
		wideLines := strings.Split(wide.stdout, "\n")
		if header := strings.Fields(wideLines[0]); !slices.Equal(header[len(header)-2:], []string{"MESSAGE", "PROBLEMS"}) {
			t.Errorf("-o wide header: %q", wideLines[0])
		}
		if typo := lineOf(wideLines, "typo "); !strings.Contains(typo, "NetworkProfile names are lower case") || !strings.HasSuffix(typo, fmt.Sprintf(" %d", typoProblems)) || typoProblems < 1 {
			t.Errorf("-o wide typo row: %q", typo)
		}

		yamlOut := run(t, "", "status", "shop", kc, "-o", "yaml")
		if yamlOut.code != 0 || !strings.HasPrefix(yamlOut.stdout, "apiVersion: v1\nitems:\n- enforcement: enabled\n") || !strings.HasSuffix(yamlOut.stdout, "kind: List\n") {
			t.Errorf("-o yaml: exit %d\n%s", yamlOut.code, yamlOut.stdout)
		}
		if r := run(t, "", "status", kc, "-o", "jsonpath={.items["); r.code != cli.ExitError || !strings.Contains(r.stderr, "unterminated array") {
			t.Errorf("a bad jsonpath: exit %d, stderr %q", r.code, r.stderr)
		}
	})
	// markInvalid writes a Valid=False condition on batch's generated policy, through the status subresource
	// under fieldManager, as Cilium's operator (or someone else) would.
	markInvalid := func(t *testing.T, fieldManager string) {
		t.Helper()
		p := &ciliumv2.CiliumNetworkPolicy{}
		must(t, k8s.Get(ctx, client.ObjectKey{Namespace: "batch", Name: ownership.NamespacePolicyName}, p))
		p.Status.Conditions = []ciliumv2.NetworkPolicyCondition{{Type: ciliumv2.PolicyConditionValid, Status: corev1.ConditionFalse, Message: "unable to parse rule"}}
		must(t, k8s.Status().Update(ctx, p, client.FieldOwner(fieldManager)))
		t.Cleanup(func() {
			must(t, k8s.Get(ctx, client.ObjectKey{Namespace: "batch", Name: ownership.NamespacePolicyName}, p))
			p.Status.Conditions = nil
			must(t, k8s.Status().Update(ctx, p, client.FieldOwner(fieldManager)))
		})
	}
	t.Run("a policy Cilium marked invalid makes status fail", func(t *testing.T) {
		markInvalid(t, cilium.CiliumOperatorManager)
		r := run(t, "", "status", "batch", kc)
		if r.code != cli.ExitFindings || !strings.Contains(r.stdout, "netprofile-namespace (INVALID)") ||
			!strings.Contains(r.stdout, "Cilium marked policy netprofile-namespace invalid, so it is not enforced: unable to parse rule") {
			t.Errorf("exit %d\n%s", r.code, r.stdout)
		}
	})
	t.Run("a Valid=False Cilium did not write is ignored by status, which says so", func(t *testing.T) {
		markInvalid(t, "kubectl-patch")
		r := run(t, "", "status", "batch", kc)
		if r.code != 0 || strings.Contains(r.stdout, "INVALID") || !strings.Contains(r.stdout, "netprofile-namespace (status not Cilium's, ignored)") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		j := run(t, "", "status", "batch", kc, "-o", "json")
		if !strings.Contains(j.stdout, "Valid=False written by kubectl-patch, not by Cilium's operator: status not written by Cilium, ignored") {
			t.Errorf("-o json does not say why:\n%s", j.stdout)
		}
	})

	t.Run("render --diff: no differences when the cluster has the rendered policies", func(t *testing.T) {
		r := run(t, "", "render", "-f", apps, "--cluster-policies", "--diff", kc)
		if r.code != 0 || r.stdout != "" || !strings.Contains(r.stderr, "no differences") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("render --diff: a live edit, and a generated policy the operator would delete", func(t *testing.T) {
		p := &ciliumv2.CiliumNetworkPolicy{}
		must(t, k8s.Get(ctx, client.ObjectKey{Namespace: "shop", Name: ownership.NamespacePolicyName}, p))
		p.Specs[1].Egress[0].ToPorts[0].Ports[0].Port = "8443"
		must(t, k8s.Update(ctx, p))
		stale, err := compat.CNP(policy.AllowAll("batch"))
		must(t, err)
		must(t, k8s.Create(ctx, stale, operator(stale)))
		t.Cleanup(func() { must(t, k8s.Delete(ctx, stale)) })

		r := run(t, "", "render", "-f", apps, "--diff", kc)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d, want %d\n%s%s", r.code, cli.ExitFindings, r.stdout, r.stderr)
		}
		for _, s := range []string{
			"--- live/CiliumNetworkPolicy/shop/netprofile-namespace\n+++ rendered/CiliumNetworkPolicy/shop/netprofile-namespace",
			`-      - port: "8443"`, `+      - port: "443"`,
			"--- live/CiliumNetworkPolicy/batch/netprofile-enforcement-disabled\n+++ rendered/CiliumNetworkPolicy/batch/netprofile-enforcement-disabled (not generated: the operator deletes it)\n@@ -1,19 +0,0 @@",
			"-  name: netprofile-enforcement-disabled",
		} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("diff does not contain %q:\n%s", s, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "hatch/") || strings.Contains(r.stdout, "netprofile-baseline") {
			t.Errorf("unchanged or out-of-scope policies are in the diff:\n%s", r.stdout)
		}
	})
	t.Run("render --diff: a stale audit allow-all and a stale ceiling are ones the operator deletes", func(t *testing.T) {
		// plain carries no label, so nothing is rendered for it and both are stale there.
		audit, err := compat.CNP(policy.Audit("plain"))
		must(t, err)
		ceiling := policy.AllowAll("plain")
		ceiling.Name = ownership.CeilingPolicyName
		stale, err := compat.CNP(ceiling)
		must(t, err)
		for _, p := range []*ciliumv2.CiliumNetworkPolicy{audit, stale} {
			must(t, k8s.Create(ctx, p, operator(p)))
			t.Cleanup(func() { must(t, k8s.Delete(ctx, p)) })
		}

		r := run(t, "", "render", "-f", apps, "--diff", kc)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d, want %d\n%s%s", r.code, cli.ExitFindings, r.stdout, r.stderr)
		}
		for _, name := range []string{ownership.AuditPolicyName, ownership.CeilingPolicyName} {
			if s := "+++ rendered/CiliumNetworkPolicy/plain/" + name + " (not generated: the operator deletes it)\n"; !strings.Contains(r.stdout, s) {
				t.Errorf("diff does not contain %q:\n%s", s, r.stdout)
			}
		}
	})
	t.Run("render --diff: a namespace whose policy the operator has yet to create", func(t *testing.T) {
		r := run(t, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: newapp\n  labels:\n    network-policy.homelab/profile: isolated\n",
			"render", "-f", "-", "--diff", kc)
		if r.code != cli.ExitFindings || !strings.Contains(r.stdout,
			"--- live/CiliumNetworkPolicy/newapp/netprofile-namespace (absent: the operator creates it)\n+++ rendered/CiliumNetworkPolicy/newapp/netprofile-namespace\n@@ -0,0 +1,") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("render --diff leaves a refused namespace alone", func(t *testing.T) {
		r := run(t, "", "render", "-f", broken, "--diff", kc)
		if r.code != cli.ExitFindings || r.stdout != "" || !strings.Contains(r.stderr, "refused: Namespace typo") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("check --live uses the cluster's policies and namespace labels", func(t *testing.T) {
		cases := map[string]struct {
			args []string
			code int
		}{
			"the postgres-labelled namespace reaches the database": {args: []string{"--from", "shop/app=api", "--to", "database", "--port", "5432/TCP"}},
			"the unlabelled namespace does not":                    {args: []string{"--from", "plain/app=x", "--to", "database", "--port", "5432/TCP"}, code: cli.ExitFindings},
			"a proposed policy on top of the cluster's": {args: []string{"--from", "plain/app=x", "--to", "kube-system/k8s-app=kube-dns", "--port", "53/UDP",
				"--policies", kubeSystem}},
			"without it, DNS stops at kube-dns": {args: []string{"--from", "plain/app=x", "--to", "kube-system/k8s-app=kube-dns", "--port", "53/UDP"}, code: cli.ExitFindings},
		}
		for name, tc := range cases {
			t.Run(name, func(t *testing.T) {
				r := run(t, "", append([]string{"check", "--live", kc}, tc.args...)...)
				if r.code != tc.code {
					t.Errorf("exit %d, want %d\n%s%s", r.code, tc.code, r.stdout, r.stderr)
				}
			})
		}
	})
	t.Run("check --live leaves out a policy Cilium marked invalid", func(t *testing.T) {
		open := &ciliumv2.CiliumNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: "let-plain-out", Namespace: "plain"},
			Spec: &api.Rule{
				EndpointSelector: api.WildcardEndpointSelector,
				Egress: []api.EgressRule{{
					EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityWorld}},
					ToPorts:          api.PortRules{{Ports: []api.PortProtocol{{Port: "443", Protocol: api.ProtoTCP}}}},
				}},
			},
		}
		must(t, k8s.Create(ctx, open))
		args := []string{"check", "--live", kc, "--from", "plain/app=x", "--to", "world", "--port", "443/TCP"}
		if r := run(t, "", args...); r.code != 0 {
			t.Fatalf("a valid hand-written policy should allow it: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// Someone who may write the policy's status, but not Cilium: still enforced, and the check says why.
		open.Status.Conditions = []ciliumv2.NetworkPolicyCondition{{Type: ciliumv2.PolicyConditionValid, Status: corev1.ConditionFalse, Message: "bad"}}
		must(t, k8s.Status().Update(ctx, open, client.FieldOwner("kubectl-patch")))
		r := run(t, "", args...)
		if r.code != 0 || !strings.Contains(r.stderr, "CiliumNetworkPolicy plain/let-plain-out carries Valid=False written by kubectl-patch, not by Cilium's operator: status not written by Cilium, ignored") {
			t.Errorf("a forged Valid=False: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}

		// Cilium's operator sets the condition it finds wrong (it writes only what changes, so it owns what it set).
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(open), open))
		open.Status.Conditions = nil
		must(t, k8s.Status().Update(ctx, open, client.FieldOwner("kubectl-patch")))
		open.Status.Conditions = []ciliumv2.NetworkPolicyCondition{{Type: ciliumv2.PolicyConditionValid, Status: corev1.ConditionFalse, Message: "bad"}}
		must(t, k8s.Status().Update(ctx, open, client.FieldOwner(cilium.CiliumOperatorManager)))
		r = run(t, "", args...)
		if r.code != cli.ExitFindings || !strings.Contains(r.stderr, "CiliumNetworkPolicy plain/let-plain-out is marked invalid by Cilium and not enforced") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("replay --live judges observed flows against the cluster with enforcement on", func(t *testing.T) {
		capture := liveCapture(t)
		platform := []string{"--policies", kubeSystem, "--policies", istioGateway}
		r := run(t, capture, append([]string{"replay", "--live", kc}, platform...)...)
		if r.code != cli.ExitFindings {
			t.Fatalf("exit %d, want %d\n%s%s", r.code, cli.ExitFindings, r.stdout, r.stderr)
		}
		for _, s := range []string{
			"against the cluster with enforcement on: 3 flows would break, 0 flows would be fixed, 10 flows unchanged.",
			"Left out to judge with enforcement on: CiliumNetworkPolicy hatch/netprofile-enforcement-disabled.",
			"WOULD BREAK: allowed now, dropped by the judged policies\n[1] hatch -> world on 443/TCP: 3 flows",
			"    observed: FORWARDED, allowed by CiliumNetworkPolicy hatch/netprofile-enforcement-disabled\n",
			"    cause:    profile internal does not allow HTTPS egress\n",
			// Every namespace is judged: the gateway's and kube-dns' platform policies, the provider half.
			"istio-gateway -> hatch on 8080/TCP: 4 flows; egress: allowed by CiliumNetworkPolicy istio-gateway/istio-gateway-default; ingress: allowed by CiliumNetworkPolicy hatch/netprofile-namespace",
			"batch -> kube-system on 53/UDP: 2 flows; egress: allowed by CiliumClusterwideNetworkPolicy netprofile-baseline-dns; ingress: allowed by CiliumNetworkPolicy kube-system/kube-system-default",
			"shop -> database on 5432/TCP: 3 flows; egress: allowed by CiliumNetworkPolicy shop/netprofile-namespace; ingress: allowed by CiliumNetworkPolicy database/netprofile-provider-postgres",
			"UNCHANGED, DROPPED: dropped now and by the judged policies\n[2] plain -> database on 5432/TCP: 1 flow",
		} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("replay does not say %q:\n%s", s, r.stdout)
			}
		}
		// The fix, applied to the cluster: hatch on internal-egress, enforcing.
		fixed := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: hatch\n  labels:\n    network-policy.homelab/profile: internal-egress\n"
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "hatch.yaml"), []byte(fixed), 0o644))
		r = run(t, capture, append([]string{"replay", "--live", kc, "-f", filepath.Join(dir, "hatch.yaml")}, platform...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "and namespace hatch as in") ||
			!strings.Contains(r.stdout, "hatch -> world on 443/TCP: 3 flows; egress: allowed by CiliumNetworkPolicy hatch/netprofile-namespace") {
			t.Errorf("with the fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		// suggest against the live cluster says the same.
		r = run(t, capture, append([]string{"suggest", "--live", kc, "-n", "hatch"}, platform...)...)
		if r.code != 0 || !strings.Contains(r.stdout, "The smallest profile and grants that allow every flow: profile internal-egress.") ||
			!strings.Contains(r.stdout, "Then remove network-policy.homelab/enforcement=disabled to enforce") {
			t.Errorf("suggest --live: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	// The LabelContract: the manager's settings, which live commands (and --cluster-defaults) default to.
	// infra is a namespace the built-in defaults do not make a platform namespace.
	infra := "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: infra\n  labels:\n    network-policy.homelab/profile: isolated\n"
	const (
		refusedAsPlatform = "refused: Namespace infra: PlatformNamespace: infra is a platform namespace"
		absent            = "--- live/CiliumNetworkPolicy/infra/netprofile-namespace (absent: the operator creates it)"
	)
	t.Run("without a LabelContract, live commands use the built-in defaults and say so once", func(t *testing.T) {
		r := run(t, infra, "render", "-f", "-", "--diff", kc)
		if r.code != cli.ExitFindings || !strings.Contains(r.stdout, absent) || strings.Contains(r.stderr, "refused:") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		notice := "notice: the cluster has no LabelContract (is the manager older than LabelContracts?); using the plugin's built-in " +
			"--label-domain=network-policy.homelab --platform-namespaces=" + strings.Join(policy.DefaultPlatformNamespaces, ",") + "\n"
		if strings.Count(r.stderr, "notice:") != 1 || !strings.Contains(r.stderr, notice) {
			t.Errorf("stderr does not hold the notice once:\n%s", r.stderr)
		}
		if r := run(t, "", "status", "shop", kc); r.code != 0 || !strings.Contains(r.stderr, notice) {
			t.Errorf("status: exit %d, stderr %q", r.code, r.stderr)
		}
		if r := run(t, "", "status", "shop", kc, "--label-domain", "network-policy.homelab"); r.code != 0 ||
			!strings.Contains(r.stderr, `notice: the cluster has no LabelContract "network-policy.homelab"; using the plugin's built-in --platform-namespaces=kube-system,`) {
			t.Errorf("status --label-domain: exit %d, stderr %q", r.code, r.stderr)
		}
	})

	profiles, resources := []string{}, []string{}
	for name := range cat.Profiles {
		profiles = append(profiles, name)
	}
	for name := range cat.Resources {
		resources = append(resources, name)
	}
	published := contract.Default().Publish(contract.Settings{PlatformNamespaces: []string{"kube-system", "infra"},
		WarningAfter: 5 * time.Minute, CriticalAfter: 24 * time.Hour}, profiles, resources, nil, nil)
	must(t, k8s.Create(ctx, published))
	t.Run("live commands take the platform namespaces from the LabelContract", func(t *testing.T) {
		r := run(t, infra, "render", "-f", "-", "--diff", kc)
		if r.code != cli.ExitFindings || r.stdout != "" || !strings.Contains(r.stderr, refusedAsPlatform) || strings.Contains(r.stderr, "notice:") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("a flag the user sets wins over the LabelContract", func(t *testing.T) {
		r := run(t, infra, "render", "-f", "-", "--diff", kc, "--platform-namespaces", "kube-system")
		if r.code != cli.ExitFindings || !strings.Contains(r.stdout, absent) || strings.Contains(r.stderr, "refused:") || strings.Contains(r.stderr, "notice:") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("live commands take the escape hatch's maximum from the LabelContract, whatever flags are set", func(t *testing.T) {
		// The manager runs with --enforcement-max-disabled=1h: hatch's bypass, open for 3 hours, has
		// expired and the operator enforces its policies again.
		lc := &v1alpha1.LabelContract{}
		must(t, k8s.Get(ctx, client.ObjectKeyFromObject(published), lc))
		before := lc.DeepCopy()
		lc.Enforcement.MaxDisabled = metav1.Duration{Duration: time.Hour}
		must(t, k8s.Patch(ctx, lc, client.MergeFrom(before)))
		t.Cleanup(func() {
			must(t, k8s.Get(ctx, client.ObjectKeyFromObject(published), lc))
			after := lc.DeepCopy()
			lc.Enforcement.MaxDisabled = metav1.Duration{}
			must(t, k8s.Patch(ctx, lc, client.MergeFrom(after)))
		})
		for name, flags := range map[string][]string{
			"no flags":                              nil,
			"both settings the contract also holds": {"--label-domain", contract.DefaultDomain, "--platform-namespaces", "kube-system,infra"},
		} {
			r := run(t, "", append([]string{"status", "hatch", kc}, flags...)...)
			if row := lineOf(strings.Split(r.stdout, "\n"), "hatch "); !strings.Contains(row, " expired ") {
				t.Errorf("%s: hatch's row does not say expired: exit %d\nstdout:\n%s\nstderr: %s", name, r.code, r.stdout, r.stderr)
			}
		}
	})
	t.Run("offline render reads the LabelContract only with --cluster-defaults", func(t *testing.T) {
		r := run(t, infra, "render", "-f", "-", kc)
		if r.code != 0 || !strings.Contains(r.stdout, "namespace: infra") || r.stderr != "" {
			t.Errorf("without: exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		r = run(t, infra, "render", "-f", "-", kc, "--cluster-defaults")
		if r.code != cli.ExitFindings || strings.Contains(r.stdout, "namespace: infra") ||
			!strings.Contains(r.stderr, refusedAsPlatform+": it keeps its hand-crafted policies") || !strings.Contains(r.stderr, "(admission would reject the namespace)") {
			t.Errorf("with: exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
		}
		// cache is a platform namespace by the built-in defaults, not by the cluster's LabelContract.
		cache := filepath.Join(badPolicies, "platform.yaml")
		if r := run(t, "", "lint", cache, kc); !strings.Contains(r.stdout, "[platform-prometheus-scrape]") {
			t.Errorf("lint without: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if r := run(t, "", "lint", cache, kc, "--cluster-defaults"); r.code != 0 || strings.Contains(r.stdout, "[platform-") {
			t.Errorf("lint with: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	// Another label domain: status reads labels in the domain of the LabelContract it finds.
	must(t, k8s.Create(ctx, nsObj("custom", map[string]string{"np.example.org/profile": "standard"})))
	custom, err := contract.New("np.example.org")
	must(t, err)
	must(t, k8s.Create(ctx, custom.Publish(contract.Settings{PlatformNamespaces: []string{"kube-system"}}, profiles, resources, nil, nil)))
	listed := func(t *testing.T, args ...string) bool {
		t.Helper()
		r := run(t, "", append([]string{"status", kc}, args...)...)
		if r.code == cli.ExitError || strings.Contains(r.stderr, "notice:") {
			t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		return strings.Contains(lineOf(strings.Split(r.stdout, "\n"), "custom "), "standard")
	}
	t.Run("status uses the default domain's LabelContract when there are several", func(t *testing.T) {
		if listed(t) {
			t.Error("a namespace labelled in another domain is listed")
		}
	})
	t.Run("--label-domain picks the LabelContract", func(t *testing.T) {
		if !listed(t, "--label-domain", "np.example.org") {
			t.Error("the namespace labelled in np.example.org is not listed")
		}
	})
	must(t, k8s.Delete(ctx, published))
	t.Run("without the default domain's, status uses the only LabelContract", func(t *testing.T) {
		if !listed(t) {
			t.Error("the namespace labelled in np.example.org is not listed")
		}
	})
	other, err := contract.New("other.example.org")
	must(t, err)
	must(t, k8s.Create(ctx, other.Publish(contract.Settings{}, nil, nil, nil, nil)))
	t.Run("several LabelContracts and none for the default domain: the user chooses", func(t *testing.T) {
		r := run(t, "", "status", kc)
		if r.code != cli.ExitError || !strings.Contains(r.stderr, "choose one with --label-domain") ||
			!strings.Contains(r.stderr, "np.example.org, other.example.org") {
			t.Errorf("exit %d, stderr %q", r.code, r.stderr)
		}
		if !listed(t, "--label-domain", "np.example.org") {
			t.Error("--label-domain does not settle it")
		}
	})

	t.Run("a user who may not read LabelContracts gets the built-in defaults and a notice", func(t *testing.T) {
		must(t, k8s.Create(ctx, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: "namespace-reader"},
			Rules: []rbacv1.PolicyRule{
				{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list"}},
				{APIGroups: []string{"cilium.io"}, Resources: []string{"ciliumnetworkpolicies"}, Verbs: []string{"get", "list"}},
			},
		}))
		must(t, k8s.Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "namespace-reader"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "namespace-reader"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "reader"}},
		}))
		reader, err := env.Environment.AddUser(envtest.User{Name: "reader"}, nil)
		must(t, err)
		b, err := reader.KubeConfig()
		must(t, err)
		file := filepath.Join(t.TempDir(), "kubeconfig")
		must(t, os.WriteFile(file, b, 0o600))
		r := run(t, "", "status", "shop", "--kubeconfig="+file)
		if r.code != 0 || !strings.Contains(r.stderr, "notice: not allowed to read the cluster's LabelContracts; using the plugin's built-in --label-domain=network-policy.homelab") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})
	t.Run("a cluster without the LabelContract API gets the built-in defaults and a notice", func(t *testing.T) {
		crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "labelcontracts." + v1alpha1.GroupVersion.Group}}
		must(t, k8s.Delete(ctx, crd))
		deadline := time.Now().Add(30 * time.Second)
		for k8s.Get(ctx, client.ObjectKeyFromObject(crd), crd) == nil {
			if time.Now().After(deadline) {
				t.Fatal("the LabelContract CRD is still there")
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := run(t, "", "status", "shop", kc)
		if r.code != 0 || !strings.Contains(r.stderr, "notice: the cluster has no LabelContract API (is the manager older than LabelContracts?); using the plugin's built-in --label-domain=network-policy.homelab") {
			t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	// Last: the namespace stays (envtest does not delete namespaces) and would be in the others' way.
	t.Run("status escapes what a tenant writes in conditions and policy status, and -o json keeps it", func(t *testing.T) {
		must(t, k8s.Create(ctx, nsObj("hostile", map[string]string{"network-policy.homelab/profile": "standard"})))
		setConditions(ctx, t, k8s, "hostile", cond(conditions.Ready, corev1.ConditionFalse, hostile, hostile))
		p := &ciliumv2.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "hostile", Name: ownership.NamespacePolicyName}}
		for _, cnp := range set.CNPs {
			if cnp.Namespace == "shop" && cnp.Name == ownership.NamespacePolicyName {
				p.Specs = cnp.Specs
			}
		}
		must(t, k8s.Create(ctx, p, operator(p)))
		p.Status.Conditions = []ciliumv2.NetworkPolicyCondition{{Type: ciliumv2.PolicyConditionValid, Status: corev1.ConditionFalse, Message: hostile}}
		must(t, k8s.Status().Update(ctx, p))
		for _, args := range [][]string{{"status", kc}, {"status", "hostile", kc, "-o", "wide"}, {"status", "hostile", kc, "--no-headers"}} {
			r := run(t, "", args...)
			if r.code != cli.ExitFindings || !strings.Contains(r.stdout+r.stderr, `evil\x1b[2J`) {
				t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
			}
			terminalSafe(t, "stdout", r.stdout)
			terminalSafe(t, "stderr", r.stderr)
		}
		exact(t, "status -o json", run(t, "", "status", "hostile", kc, "-o", "json").stdout)
	})
	t.Run("a kubeconfig that does not exist", func(t *testing.T) {
		if r := run(t, "", "status", "--kubeconfig=/nonexistent"); r.code != cli.ExitError {
			t.Errorf("exit %d: %s", r.code, r.stderr)
		}
	})
}

// liveCapture is Hubble's output for the cluster of TestLive: hatch (profile internal, escape hatch open)
// calls the internet, the internal gateway calls hatch, batch resolves names, shop uses the database it is
// granted, plain tries to and is dropped.
func liveCapture(t *testing.T) string {
	t.Helper()
	ht.Reset()
	ns := func(name string, labels map[string]string) map[string]string {
		out := map[string]string{"kubernetes.io/metadata.name": name}
		for k, v := range labels {
			out[k] = v
		}
		return out
	}
	hatch := ht.Pod{Namespace: "hatch", Name: "x-5c6b7-k8j2m", IP: "10.0.2.31", Labels: map[string]string{"app": "x"},
		NSLabels: ns("hatch", map[string]string{"network-policy.homelab/profile": "internal", "network-policy.homelab/enforcement": "disabled"})}
	batch := ht.Pod{Namespace: "batch", Name: "job-5c6b7-aaaaa", IP: "10.0.3.3", Labels: map[string]string{"app": "job"},
		NSLabels: ns("batch", map[string]string{"network-policy.homelab/profile": "isolated"})}
	shop := ht.Pod{Namespace: "shop", Name: "api-7d9f8-x2x4q", IP: "10.0.4.4", Labels: map[string]string{"app": "api"},
		NSLabels: ns("shop", map[string]string{"network-policy.homelab/profile": "standard", "access.network-policy.homelab/postgres": "true"})}
	plain := ht.Pod{Namespace: "plain", Name: "x-7d9f8-p1p1p", IP: "10.0.5.5", Labels: map[string]string{"app": "x"}}
	gateway := ht.Pod{Namespace: "istio-gateway", Name: "internal-istio-7f9c4-q1w2e", IP: "10.0.6.2",
		Labels: map[string]string{"gateway.networking.k8s.io/gateway-name": "internal"}, NSLabels: ns("istio-gateway", ht.Platform)}
	dns := ht.Pod{Namespace: "kube-system", Name: "coredns-6f6b679f8f-abcde", IP: "10.0.0.10", Labels: map[string]string{"k8s-app": "kube-dns"}}
	db := ht.Pod{Namespace: "database", Name: "postgres-1-0a1b2c", IP: "10.0.7.5", Labels: map[string]string{"cnpg.io/cluster": "postgres"},
		NSLabels: ns("database", ht.Platform)}
	flows := slices.Concat(
		ht.Times(3, func() *flowpb.Flow {
			return ht.AllowedBy(ht.Forwarded(hatch, ht.World("140.82.112.3", "api.github.com."), ht.TCP(443)), true,
				"CiliumNetworkPolicy", "hatch", "netprofile-enforcement-disabled")
		}),
		ht.Times(4, func() *flowpb.Flow { return ht.Forwarded(gateway, hatch, ht.TCP(8080)) }),
		ht.Times(2, func() *flowpb.Flow { return ht.Forwarded(batch, dns, ht.UDP(53)) }),
		ht.Times(3, func() *flowpb.Flow { return ht.Forwarded(shop, db, ht.TCP(5432)) }),
		[]*flowpb.Flow{ht.EgressDrop(plain, db, ht.TCP(5432))},
	)
	b, err := ht.Lines(flows...)
	must(t, err)
	return string(b)
}

func nsObj(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// operator is the field manager under which the operator writes p.
func operator(p client.Object) client.FieldOwner {
	comp, _, _ := ownership.Reserved(p.GetName(), p.GetNamespace() != "")
	return client.FieldOwner(ownership.FieldManager(comp))
}

func cond(t corev1.NamespaceConditionType, s corev1.ConditionStatus, reason, msg string) corev1.NamespaceCondition {
	return corev1.NamespaceCondition{Type: t, Status: s, Reason: reason, Message: msg, LastTransitionTime: metav1.Now()}
}

// setConditions writes Namespace conditions the way netprofile does: through the status subresource.
func setConditions(ctx context.Context, t *testing.T, c client.Client, name string, conds ...corev1.NamespaceCondition) {
	t.Helper()
	ns := &corev1.Namespace{}
	must(t, c.Get(ctx, client.ObjectKey{Name: name}, ns))
	ns.Status.Conditions = append(ns.Status.Conditions, conds...)
	must(t, c.Status().Update(ctx, ns))
}

func annotate(ctx context.Context, t *testing.T, c client.Client, name, key, value string) {
	t.Helper()
	ns := &corev1.Namespace{}
	must(t, c.Get(ctx, client.ObjectKey{Name: name}, ns))
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations[key] = value
	must(t, c.Patch(ctx, ns, patch))
}

func lineOf(lines []string, prefix string) string {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
