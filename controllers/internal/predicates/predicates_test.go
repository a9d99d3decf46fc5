package predicates

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/netprofile/netprofile/controllers/internal/apply"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// cached is a generated policy as the manager's cache holds it.
func cached(mut func(*cilium.CiliumNetworkPolicy)) *cilium.CiliumNetworkPolicy {
	p := policy.AllowAll("app")
	p.ResourceVersion = "1"
	mut(p)
	out, _ := apply.TransformPolicy(p)
	return out.(*cilium.CiliumNetworkPolicy)
}

func TestPolicyChangedUpdate(t *testing.T) {
	tests := map[string]struct {
		mut  func(*cilium.CiliumNetworkPolicy)
		pass bool
	}{
		"nothing but the resourceVersion": {func(p *cilium.CiliumNetworkPolicy) { p.ResourceVersion = "2" }, false},
		"the rules":                       {func(p *cilium.CiliumNetworkPolicy) { p.Spec.Description = "edited" }, true},
		"a label":                         {func(p *cilium.CiliumNetworkPolicy) { p.Labels["extra"] = "x" }, true},
		"an annotation":                   {func(p *cilium.CiliumNetworkPolicy) { p.Annotations = map[string]string{"example.com/note": "x"} }, true},
		"Cilium's per-node status": {func(p *cilium.CiliumNetworkPolicy) {
			p.Status.Conditions = []cilium.NetworkPolicyCondition{}
		}, false},
		"the Valid condition": {func(p *cilium.CiliumNetworkPolicy) {
			p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse}}
		}, true},
		"the owner reference": {func(p *cilium.CiliumNetworkPolicy) { p.OwnerReferences = []metav1.OwnerReference{{UID: "x"}} }, true},
	}
	p := PolicyChanged{Component: ownership.ComponentEnforcement}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old := cached(func(*cilium.CiliumNetworkPolicy) {})
			if got := p.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: cached(tc.mut)}); got != tc.pass {
				t.Errorf("passes %v, want %v", got, tc.pass)
			}
		})
	}
	// An annotation changed while another stays: the hash still moves.
	a := cached(func(p *cilium.CiliumNetworkPolicy) { p.Annotations = map[string]string{"k": "1", "l": "x"} })
	b := cached(func(p *cilium.CiliumNetworkPolicy) { p.Annotations = map[string]string{"k": "2", "l": "x"} })
	if !p.Update(event.UpdateEvent{ObjectOld: a, ObjectNew: b}) {
		t.Error("a changed annotation value must pass")
	}
}
