package chart

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

// No release name makes the chart write a Cilium policy at a name reserved for generated ones: the
// generated-policies admission policy refuses anyone but netprofile's ServiceAccount there (a release named
// netprofile-<x> would be refused by its own policy), and netprofile's users read netprofile-* as generated.
func TestChartPoliciesAvoidTheReservedPrefix(t *testing.T) {
	helm, err := testenv.Helm()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ release, fullname string }{
		{"netprofile", ""}, {"netprofile-prod", ""}, {"prod", ""}, {"my-netprofile", ""}, {"x", "netprofile-blue"},
	} {
		args := []string{"template", tc.release, chartDir, "--namespace", "netprofile-system", "--set", "tests.enabled=true"}
		if tc.fullname != "" {
			args = append(args, "--set", "fullnameOverride="+tc.fullname)
		}
		out, err := exec.Command(helm, args...).Output()
		if err != nil {
			t.Fatalf("helm %v: %v", args, err)
		}
		var found int
		for _, o := range decode(t, out) {
			if o.GetKind() != "CiliumNetworkPolicy" && o.GetKind() != "CiliumClusterwideNetworkPolicy" {
				continue
			}
			found++
			if strings.HasPrefix(o.GetName(), ownership.NamePrefix) {
				t.Errorf("release %q (fullnameOverride %q): the chart's %s %s takes the prefix %q reserved for generated policies",
					tc.release, tc.fullname, o.GetKind(), o.GetName(), ownership.NamePrefix)
			}
		}
		if found != 2 {
			t.Errorf("release %q: %d Cilium policies, want the manager's and the helm test's", tc.release, found)
		}
	}
}

// Wherever a policy judges Namespaces, the subresources the API server also stores a Namespace's metadata
// through (status, finalize) are judged too, for every user, in every render that has Namespace policies.
func TestNamespaceSubresourcesAreJudged(t *testing.T) {
	for _, args := range [][]string{nil, {"--set", "admission.grants.enabled=true", "--set", "admission.escapeHatch.enabled=true"}} {
		objs := mustRender(t, args...)
		var judgesNamespaces bool
		var sub *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() != "ValidatingAdmissionPolicy" {
				continue
			}
			rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "matchConstraints", "resourceRules")
			for _, r := range rules {
				resources, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
				if slices.Contains(resources, "namespaces") {
					judgesNamespaces = true
				}
				if slices.Contains(resources, "namespaces/status") && slices.Contains(resources, "namespaces/finalize") {
					sub = o
				}
			}
		}
		if !judgesNamespaces {
			t.Fatalf("%v: no policy judges Namespaces", args)
		}
		if sub == nil {
			t.Fatalf("%v: Namespace policies, but none judges namespaces/status and namespaces/finalize", args)
		}
		if _, found, _ := unstructured.NestedFieldNoCopy(sub.Object, "spec", "matchConditions"); found {
			t.Errorf("%s must judge every user's request: no matchConditions", sub.GetName())
		}
		b := find(objs, "ValidatingAdmissionPolicyBinding", sub.GetName())
		if got, _, _ := unstructured.NestedStringSlice(b.Object, "spec", "validationActions"); !slices.Equal(got, []string{"Deny"}) {
			t.Errorf("%s: validationActions %v, want [Deny] by default", sub.GetName(), got)
		}
	}
}

// Every Namespace policy that walks the labels is skipped when a request leaves them alone, and walks no
// more than admission.maxNamespaceLabels of them, refusing a change beyond that before anything else.
func TestNamespaceLabelPoliciesAreBounded(t *testing.T) {
	objs := mustRender(t, "--set", "admission.grants.enabled=true", "--set", "admission.maxNamespaceLabels=500")
	var walkers []string
	for _, o := range objs {
		if o.GetKind() != "ValidatingAdmissionPolicy" {
			continue
		}
		vars, _, _ := unstructured.NestedSlice(o.Object, "spec", "variables")
		walks := false
		for _, v := range vars {
			if e := v.(map[string]any)["expression"].(string); strings.Contains(e, "variables.labels.filter(") {
				walks = true
			}
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "spec", "matchConstraints", "resourceRules")
		resources, _, _ := unstructured.NestedStringSlice(rules[0].(map[string]any), "resources")
		if !walks || !slices.Equal(resources, []string{"namespaces"}) {
			continue
		}
		walkers = append(walkers, o.GetName())
		conds, _, _ := unstructured.NestedSlice(o.Object, "spec", "matchConditions")
		if len(conds) == 0 || !strings.Contains(conds[0].(map[string]any)["expression"].(string), "object.metadata.labels : {}) != (") {
			t.Errorf("%s walks the labels but is not skipped when they are unchanged: matchConditions %v", o.GetName(), conds)
		}
		validations, _, _ := unstructured.NestedSlice(o.Object, "spec", "validations")
		first := validations[0].(map[string]any)
		if !strings.HasPrefix(first["expression"].(string), "variables.bounded ||") || !strings.Contains(first["messageExpression"].(string), "at most 500") {
			t.Errorf("%s: the first validation must be the bound: %v", o.GetName(), first)
		}
		for _, v := range validations[1:] {
			if e := v.(map[string]any)["expression"].(string); !strings.HasPrefix(e, "!variables.bounded ||") {
				t.Errorf("%s: validation %q walks the labels beyond the bound", o.GetName(), e)
			}
		}
	}
	if !slices.Equal(walkers, []string{"netprofile-grants", "netprofile-namespace-labels"}) {
		t.Errorf("policies that walk Namespace labels: %v", walkers)
	}
	if _, err := render(t, "--set", "admission.maxNamespaceLabels=10"); err == nil || !strings.Contains(err.Error(), "maxNamespaceLabels") {
		t.Errorf("a bound too small to judge real namespaces must fail the install: %v", err)
	}
}

// Namespace deletion hangs when nobody but netprofile may delete its policies: an empty
// admission.systemDeleters fails the install, and the default names the users kube-controller-manager
// deletes as, with --use-service-account-credentials (kubeadm, k3s, ...) and without (its own default).
func TestSystemDeleters(t *testing.T) {
	for _, bad := range [][]string{{"--set", "admission.systemDeleters=null"}, {"--set-json", "admission.systemDeleters=[]"}} {
		if _, err := render(t, bad...); err == nil || !strings.Contains(err.Error(), "systemDeleters") {
			t.Errorf("%v: no user allowed to empty a namespace must fail the install: %v", bad, err)
		}
	}
	p := find(mustRender(t), "ValidatingAdmissionPolicy", "netprofile-generated-policies")
	rules, _, _ := unstructured.NestedSlice(p.Object, "spec", "validations")
	expr := rules[0].(map[string]any)["expression"].(string)
	for _, user := range []string{"system:serviceaccount:kube-system:namespace-controller", "system:serviceaccount:kube-system:generic-garbage-collector",
		"system:kube-controller-manager"} {
		if !strings.Contains(expr, `"`+user+`"`) {
			t.Errorf("the generated-policies policy does not let %s delete: %s", user, expr)
		}
	}
}
