package policy

import (
	"testing"

	"github.com/netprofile/netprofile/pkg/contract"
)

// TestCeilingMemoIsExact: a ceiling computed once for a placeholder and put in for a namespace is exactly the
// one computed for that namespace, whatever its name sorts like against the names the ceiling holds.
func TestCeilingMemoIsExact(t *testing.T) {
	r := Renderer{Contract: contract.Default(), ClusterName: DefaultClusterName}
	rules := r.sameNamespaceRule()
	gw := r.endpoints("istio-gateway", map[string]string{"gateway": "internal"})
	rules.Ingress[0].FromEndpoints = append(rules.Ingress[0].FromEndpoints, gw)
	for _, ns := range []string{"a", "kube-system", "my-app", "zzz", "istio-gateway"} {
		sources := []ceilingSource{{rules: append(rulesOf(rules, nil), r.sameNamespaceRule()), namespaced: true, what: "test"}}
		memo, _, err := r.ceiling(ns, "p", sources)
		if err != nil {
			t.Fatal(err)
		}
		direct, _, err := r.computeCeiling(ns, "p", sources)
		if err != nil {
			t.Fatal(err)
		}
		if RulesHash(memo) != RulesHash(direct) || memo.Namespace != ns {
			t.Errorf("%s: the memoized ceiling differs from the one computed for it", ns)
		}
	}
}
