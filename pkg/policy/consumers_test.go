package policy_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/policy"
)

const nsLabel = "io.cilium.k8s.namespace.labels."

// limited is the shipped postgres resource, admitting only namespaces matching sel.
func limited(t *testing.T, sel metav1.LabelSelector) *v1alpha1.SharedResource {
	t.Helper()
	sr := samples(t).Resources["postgres"].DeepCopy()
	sr.Spec.Consumers = &v1alpha1.Consumers{NamespaceSelector: sel}
	return sr
}

func expr(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func TestProviderConsumers(t *testing.T) {
	tests := map[string]struct {
		sel         metav1.LabelSelector
		matchLabels map[string]string
		exprs       []slimv1.LabelSelectorRequirement
	}{
		"match-labels": {
			sel:         metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments", "example.com/tier": "gold"}},
			matchLabels: map[string]string{nsLabel + access + "postgres": "true", nsLabel + "team": "payments", nsLabel + "example.com/tier": "gold"},
		},
		"match-expressions": {
			sel: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				expr("team", metav1.LabelSelectorOpIn, "payments", "billing"),
				expr("env", metav1.LabelSelectorOpNotIn, "dev"),
				expr("kubernetes.io/metadata.name", metav1.LabelSelectorOpExists),
				expr("quarantine", metav1.LabelSelectorOpDoesNotExist),
			}},
			matchLabels: map[string]string{nsLabel + access + "postgres": "true"},
			exprs: []slimv1.LabelSelectorRequirement{
				{Key: nsLabel + "team", Operator: slimv1.LabelSelectorOpIn, Values: []string{"payments", "billing"}},
				{Key: nsLabel + "env", Operator: slimv1.LabelSelectorOpNotIn, Values: []string{"dev"}},
				{Key: nsLabel + "kubernetes.io/metadata.name", Operator: slimv1.LabelSelectorOpExists},
				{Key: nsLabel + "quarantine", Operator: slimv1.LabelSelectorOpDoesNotExist},
			},
		},
		// A requirement on the access label itself must not be overwritten by the "true" the provider half
		// always requires: here it admits nobody, and so must the policy.
		"a requirement on the access label stays one": {
			sel:         metav1.LabelSelector{MatchLabels: map[string]string{access + "postgres": "false"}},
			matchLabels: map[string]string{nsLabel + access + "postgres": "true"},
			exprs:       []slimv1.LabelSelectorRequirement{{Key: nsLabel + access + "postgres", Operator: slimv1.LabelSelectorOpIn, Values: []string{"false"}}},
		},
		"an empty selector admits every labelled namespace": {
			matchLabels: map[string]string{nsLabel + access + "postgres": "true"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cnp, err := renderer().Provider(limited(t, tc.sel))
			if err != nil {
				t.Fatal(err)
			}
			ciliumAccepts(t, cnp)
			peers := cnp.Spec.Ingress[0].FromEndpoints
			if len(peers) != 1 {
				t.Fatalf("want one peer selector, got %d", len(peers))
			}
			got := peers[0].LabelSelector
			// Every peer names the cluster it is for (Renderer.ClusterName).
			tc.matchLabels[ciliumio.PolicyLabelCluster] = policy.DefaultClusterName
			if !mapsEqual(got.MatchLabels, tc.matchLabels) {
				t.Errorf("matchLabels %v, want %v", got.MatchLabels, tc.matchLabels)
			}
			if !slices.EqualFunc(got.MatchExpressions, tc.exprs, func(a, b slimv1.LabelSelectorRequirement) bool {
				return a.Key == b.Key && a.Operator == b.Operator && slices.Equal(a.Values, b.Values)
			}) {
				t.Errorf("matchExpressions %+v, want %+v", got.MatchExpressions, tc.exprs)
			}
			if name == "match-labels" || name == "match-expressions" {
				golden(t, "provider-consumers-"+name, cnp)
			}
		})
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A selector Cilium cannot evaluate is refused on both halves, as any invalid resource: the provider keeps
// its last good policy, a namespace keeps what stood and opens nothing new.
func TestConsumersCiliumCannotEvaluateAreRefused(t *testing.T) {
	many := map[string]string{}
	for _, c := range "abcdefghijklmnopq" {
		many[string(c)] = "x"
	}
	tests := map[string]struct {
		sel        metav1.LabelSelector
		mentioning string
	}{
		"an unknown operator": {metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("team", "Gt", "1")}},
			`operator "Gt" is not one Cilium can evaluate`},
		"In without values":              {metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("team", metav1.LabelSelectorOpIn)}}, "needs values"},
		"Exists with values":             {metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("team", metav1.LabelSelectorOpExists, "a")}}, "takes no values"},
		"a key that is no label":         {metav1.LabelSelector{MatchLabels: map[string]string{"bad key": "x"}}, `"bad key" is not a label key`},
		"a value that is no label value": {metav1.LabelSelector{MatchLabels: map[string]string{"team": "a b"}}, `value "a b"`},
		// Valid on a Namespace, but io.cilium.k8s.namespace.labels.<key> is longer than a label name may be.
		"a key too long for Cilium's namespace-label prefix": {metav1.LabelSelector{MatchLabels: map[string]string{strings.Repeat("k", 40): "x"}},
			"Cilium cannot match the namespace label"},
		"too many labels": {metav1.LabelSelector{MatchLabels: many}, "at most 16"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			sr := limited(t, tc.sel)
			cnp, err := renderer().Provider(sr)
			refusal, ok := errors.AsType[*policy.Refusal](err)
			if !ok || cnp != nil {
				t.Fatalf("want a refusal and no policy, got %v, %v", cnp, err)
			}
			if refusal.Reason != conditions.ReasonResourceInvalid || !strings.Contains(refusal.Message, tc.mentioning) {
				t.Errorf("got %s %q, want %s mentioning %q", refusal.Reason, refusal.Message, conditions.ReasonResourceInvalid, tc.mentioning)
			}
			if _, err := policy.Admits(sr, map[string]string{"team": "payments"}); err == nil {
				t.Error("Admits must not evaluate a selector it refuses")
			}

			cat := samples(t).Catalogue()
			cat.Resources["postgres"] = sr
			res, err := renderer().Namespace(namespace("app", map[string]string{profileKey: "isolated", access + "postgres": "true"}), cat, nil)
			if r, ok := errors.AsType[*policy.Refusal](err); !ok || r.Reason != conditions.ReasonResourceInvalid {
				t.Fatalf("namespace: want %s, got %v", conditions.ReasonResourceInvalid, err)
			}
			if slices.Contains(res.Effective.Grants, "postgres") {
				t.Error("a grant of an invalid resource opened")
			}
		})
	}
}

func TestAdmits(t *testing.T) {
	sel := metav1.LabelSelector{
		MatchLabels: map[string]string{"team": "payments"},
		MatchExpressions: []metav1.LabelSelectorRequirement{
			expr("env", metav1.LabelSelectorOpNotIn, "dev"),
			expr("quarantine", metav1.LabelSelectorOpDoesNotExist),
		},
	}
	tests := map[string]struct {
		labels map[string]string
		want   bool
	}{
		"matching":                     {map[string]string{"team": "payments", "env": "prod"}, true},
		"NotIn admits an absent label": {map[string]string{"team": "payments"}, true},
		"another team":                 {map[string]string{"team": "web", "env": "prod"}, false},
		"no team":                      {map[string]string{"env": "prod"}, false},
		"NotIn refuses dev":            {map[string]string{"team": "payments", "env": "dev"}, false},
		"DoesNotExist refuses":         {map[string]string{"team": "payments", "quarantine": ""}, false},
	}
	sr := limited(t, sel)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := policy.Admits(sr, tc.labels)
			if err != nil || got != tc.want {
				t.Errorf("Admits = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
	if ok, err := policy.Admits(samples(t).Resources["postgres"], nil); !ok || err != nil {
		t.Errorf("a resource without spec.consumers admits everyone, got %v, %v", ok, err)
	}
}

func TestNamespaceConsumers(t *testing.T) {
	cat := samples(t).Catalogue()
	cat.Resources["postgres"] = limited(t, metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}})
	r := renderer()
	grant := map[string]string{profileKey: "isolated", access + "postgres": "true", access + "kube-api": "true"}
	with := func(extra map[string]string) map[string]string {
		l := map[string]string{}
		for k, v := range grant {
			l[k] = v
		}
		for k, v := range extra {
			l[k] = v
		}
		return l
	}

	t.Run("inside the selector", func(t *testing.T) {
		res, err := r.Namespace(namespace("shop", with(map[string]string{"team": "payments"})), cat, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := conditions.SelectionText(res.Effective); got != `profile "isolated" with access to kube-api, postgres` {
			t.Errorf("effective %s", got)
		}
		if !hasGrantRule(res, "postgres") {
			t.Error("no egress to postgres")
		}
	})

	t.Run("outside the selector", func(t *testing.T) {
		res, err := r.Namespace(namespace("web", with(map[string]string{"team": "web"})), cat, nil)
		refusal, ok := errors.AsType[*policy.Refusal](err)
		if !ok || refusal.Reason != conditions.ReasonConsumerNotAllowed {
			t.Fatalf("want %s, got %v", conditions.ReasonConsumerNotAllowed, err)
		}
		for _, want := range []string{"SharedResource postgres", "namespaces matching team=payments", "namespace web does not match",
			"ask the platform team", "remove the label " + access + "postgres"} {
			if !strings.Contains(refusal.Message, want) {
				t.Errorf("message %q does not say %q", refusal.Message, want)
			}
		}
		if res.KeepApplied || len(res.Kept) != 0 {
			t.Errorf("a refused consumer keeps nothing: KeepApplied %v, Kept %v", res.KeepApplied, res.Kept)
		}
		if got := conditions.SelectionText(res.Effective); got != `profile "isolated" with access to kube-api` {
			t.Errorf("effective %s: the other labels must take effect", got)
		}
		if hasGrantRule(res, "postgres") {
			t.Error("the consumer half was rendered for a namespace outside the selector")
		}
	})

	t.Run("narrowed after it stood: withdrawn", func(t *testing.T) {
		before := samples(t).Catalogue()
		stood, err := r.Namespace(namespace("web", grant), before, nil)
		if err != nil || !hasGrantRule(stood, "postgres") {
			t.Fatalf("standing policy: %v", err)
		}
		applied := r.AppliedOf(stood.Policies[0])

		res, err := r.Namespace(namespace("web", grant), cat, applied)
		if refusal, ok := errors.AsType[*policy.Refusal](err); !ok || refusal.Reason != conditions.ReasonConsumerNotAllowed {
			t.Fatalf("want %s, got %v", conditions.ReasonConsumerNotAllowed, err)
		}
		if res.KeepApplied || hasGrantRule(res, "postgres") {
			t.Fatal("the provider narrowed its consumers: the grant that stood must go")
		}

		// What stood cannot be reproduced (its labels were forged): a withdrawal alone never needs it.
		forged := *applied
		forged.RulesHash = "forged"
		res, _ = r.Namespace(namespace("web", grant), cat, &forged)
		if res.KeepApplied || hasGrantRule(res, "postgres") {
			t.Fatal("a withdrawal must not wait for what stood")
		}

		// A bad value on the label does not keep a grant its provider no longer admits; another refused
		// label still keeps what stood for it.
		bad := with(map[string]string{access + "postgres": "yes", access + "kube-api": "True"})
		res, err = r.Namespace(namespace("web", bad), cat, applied)
		if refusal, ok := errors.AsType[*policy.Refusal](err); !ok || refusal.Reason != conditions.ReasonInvalidLabel {
			t.Fatalf("want %s, got %v", conditions.ReasonInvalidLabel, err)
		}
		if res.KeepApplied || hasGrantRule(res, "postgres") || !hasGrantRule(res, "kube-api") {
			t.Fatalf("want postgres withdrawn and kube-api kept, got %s (kept %v)", conditions.SelectionText(res.Effective), res.Kept)
		}
	})
}

// hasGrantRule reports whether a rendered namespace policy carries the consumer half of a grant.
func hasGrantRule(res policy.NamespaceResult, resource string) bool {
	for _, p := range res.Policies {
		for _, rule := range p.Specs {
			if strings.HasPrefix(rule.Description, "netprofile: access to "+resource) {
				return true
			}
		}
	}
	return false
}
