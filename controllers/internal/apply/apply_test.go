package apply

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/policy"
)

func TestTransformPolicyKeepsWhatDecisionsNeed(t *testing.T) {
	p := policy.AllowAll("app")
	p.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"}
	p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse}}
	want := policy.RulesHash(p)

	once, _ := TransformPolicy(p.DeepCopy())
	twice, _ := TransformPolicy(once.(*cilium.CiliumNetworkPolicy).DeepCopy())
	for name, obj := range map[string]*cilium.CiliumNetworkPolicy{"once": once.(*cilium.CiliumNetworkPolicy), "twice": twice.(*cilium.CiliumNetworkPolicy)} {
		if got := obj.Annotations[RulesHashAnnotation]; got != want {
			t.Errorf("%s: rules hash %q, want %q (a relist must not re-hash a reduced object)", name, got, want)
		}
		if obj.Spec != nil || obj.Specs != nil || len(obj.Annotations) != 1 {
			t.Errorf("%s: rules or foreign annotations kept: %+v", name, obj)
		}
		if len(obj.Status.Conditions) != 1 || obj.Labels["app.kubernetes.io/managed-by"] != "netprofile" {
			t.Errorf("%s: lost the Valid condition or the labels: %+v", name, obj)
		}
	}
	if !upToDate(policy.AllowAll("app"), once.(*cilium.CiliumNetworkPolicy)) {
		t.Error("a reduced copy of the desired policy must be up to date")
	}
	changed := policy.AllowAll("app")
	changed.Spec.Description = "edited"
	if upToDate(changed, once.(*cilium.CiliumNetworkPolicy)) {
		t.Error("a change of the rules must not be up to date")
	}
}
