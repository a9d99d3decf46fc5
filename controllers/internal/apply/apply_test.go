package apply

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

func owned(p *cilium.CiliumNetworkPolicy) *cilium.CiliumNetworkPolicy {
	p.OwnerReferences = []metav1.OwnerReference{{Kind: "Namespace", Name: "app", UID: "ns-uid", Controller: ptr.To(true)}}
	return p
}

func TestTransformPolicyKeepsWhatDecisionsNeed(t *testing.T) {
	p := owned(policy.AllowAll("app"))
	p.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{...}"}
	p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse}}
	p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: ownership.FieldManager(ownership.ComponentEnforcement), Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:spec":{}}`), Time: ptr.To(metav1.NewTime(time.Unix(100, 0)))}}
	want := policy.RulesHash(p)

	once, _ := TransformPolicy(p.DeepCopy())
	// A resync hands the stored copy to the transform again.
	twice, _ := TransformPolicy(once.(*cilium.CiliumNetworkPolicy).DeepCopy())
	for name, obj := range map[string]*cilium.CiliumNetworkPolicy{"once": once.(*cilium.CiliumNetworkPolicy), "twice": twice.(*cilium.CiliumNetworkPolicy)} {
		if obj.CachedRulesHash != want {
			t.Errorf("%s: rules hash %q, want %q (a resync must not re-hash a reduced object)", name, obj.CachedRulesHash, want)
		}
		if obj.Spec != nil || obj.Specs != nil || len(obj.Annotations) != 0 {
			t.Errorf("%s: rules or annotations kept: %+v", name, obj)
		}
		if len(obj.Status.Conditions) != 1 || obj.Labels["app.kubernetes.io/managed-by"] != "netprofile" {
			t.Errorf("%s: lost the Valid condition or the labels: %+v", name, obj)
		}
		if len(obj.ManagedFields) != 1 || obj.ManagedFields[0].FieldsV1 != nil || obj.ManagedFields[0].Time == nil ||
			!ownership.WrittenBy(obj, ownership.ComponentEnforcement) {
			t.Errorf("%s: managedFields must keep who wrote when, and nothing else: %+v", name, obj.ManagedFields)
		}
	}
	if once.(*cilium.CiliumNetworkPolicy).CachedAnnotationsHash == "" || twice.(*cilium.CiliumNetworkPolicy).CachedAnnotationsHash != once.(*cilium.CiliumNetworkPolicy).CachedAnnotationsHash {
		t.Error("the annotations go, but their hash stays, across a resync too")
	}
	if upToDate(policy.AllowAll("app"), once.(*cilium.CiliumNetworkPolicy), ownerWithUID("ns-uid")) {
		t.Error("an annotation netprofile does not render (kubectl annotate, a last-applied-configuration) must not be up to date")
	}
	plain := p.DeepCopy()
	plain.Annotations = nil
	reduced, _ := TransformPolicy(plain)
	if !upToDate(policy.AllowAll("app"), reduced.(*cilium.CiliumNetworkPolicy), ownerWithUID("ns-uid")) {
		t.Error("a reduced copy of the desired policy must be up to date")
	}
	changed := policy.AllowAll("app")
	changed.Spec.Description = "edited"
	if upToDate(changed, once.(*cilium.CiliumNetworkPolicy), ownerWithUID("ns-uid")) {
		t.Error("a change of the rules must not be up to date")
	}
	if upToDate(policy.AllowAll("app"), once.(*cilium.CiliumNetworkPolicy), ownerWithUID("other")) {
		t.Error("a policy owned by another object must not be up to date")
	}
}

// An object read from the API server can carry any annotation; no annotation makes it look reduced.
func TestTransformPolicyCannotBeSpoofed(t *testing.T) {
	emptied := owned(policy.AllowAll("app"))
	emptied.Spec = nil
	emptied.Annotations = map[string]string{"netprofile.internal/rules-sha256": policy.RulesHash(policy.AllowAll("app"))}
	got, _ := TransformPolicy(emptied)
	if got.(*cilium.CiliumNetworkPolicy).CachedRulesHash == policy.RulesHash(policy.AllowAll("app")) {
		t.Fatal("an emptied policy carrying a hash annotation was taken for the rendered one")
	}
	if upToDate(policy.AllowAll("app"), got.(*cilium.CiliumNetworkPolicy), ownerWithUID("ns-uid")) {
		t.Fatal("an emptied policy must not be up to date")
	}
}

func TestUpToDateWantsExactMetadata(t *testing.T) {
	reduce := func(mut func(*cilium.CiliumNetworkPolicy)) *cilium.CiliumNetworkPolicy {
		p := owned(policy.AllowAll("app"))
		mut(p)
		out, _ := TransformPolicy(p)
		return out.(*cilium.CiliumNetworkPolicy)
	}
	tests := map[string]func(*cilium.CiliumNetworkPolicy){
		"a foreign label":     func(p *cilium.CiliumNetworkPolicy) { p.Labels["access.network-policy.homelab/postgres"] = "true" },
		"a changed component": func(p *cilium.CiliumNetworkPolicy) { p.Labels[ownership.ComponentLabel] = "other" },
		"a second owner reference": func(p *cilium.CiliumNetworkPolicy) {
			p.OwnerReferences = append(p.OwnerReferences, metav1.OwnerReference{UID: "x"})
		},
		"a finalizer":   func(p *cilium.CiliumNetworkPolicy) { p.Finalizers = []string{"example.com/keep"} },
		"an annotation": func(p *cilium.CiliumNetworkPolicy) { p.Annotations = map[string]string{"example.com/note": ""} },
	}
	for name, mut := range tests {
		if upToDate(policy.AllowAll("app"), reduce(mut), ownerWithUID("ns-uid")) {
			t.Errorf("%s: must not be up to date", name)
		}
	}
}

func ownerWithUID(uid types.UID) *corev1.Namespace {
	ns := &corev1.Namespace{}
	ns.UID = uid
	return ns
}

// validWrittenBy is a status write of the Valid condition under a field manager, as managedFields record it.
func validWrittenBy(manager string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:conditions":{".":{},"k:{\"type\":\"Valid\"}":{".":{},"f:message":{},"f:status":{},"f:type":{}}}}}`)}
}

// The reconcilers hand Rejected the policy they found, nil when there is none, read from the API server or
// from the cache.
func TestRejected(t *testing.T) {
	if got := Rejected((*cilium.CiliumNetworkPolicy)(nil)); got != "" {
		t.Errorf("no policy: %q", got)
	}
	p := policy.AllowAll("app")
	p.Status.Conditions = []cilium.NetworkPolicyCondition{{Type: cilium.PolicyConditionValid, Status: corev1.ConditionFalse, Message: "unable to parse"}}
	p.ManagedFields = []metav1.ManagedFieldsEntry{validWrittenBy(cilium.CiliumOperatorManager)}
	cachedCopy := func(p *cilium.CiliumNetworkPolicy) *cilium.CiliumNetworkPolicy {
		out, _ := TransformPolicy(p.DeepCopy())
		return out.(*cilium.CiliumNetworkPolicy)
	}
	for name, obj := range map[string]*cilium.CiliumNetworkPolicy{"live": p, "cached": cachedCopy(p)} {
		if got := Rejected(obj); got == "" || !strings.Contains(got, "unable to parse") {
			t.Errorf("%s: a policy Cilium marked invalid: %q", name, got)
		}
		if got := IgnoredValid(obj); got != "" {
			t.Errorf("%s: Cilium's own verdict is not ignored: %q", name, got)
		}
	}

	forged := p.DeepCopy()
	forged.ManagedFields = []metav1.ManagedFieldsEntry{validWrittenBy("kubectl-patch")}
	for name, obj := range map[string]*cilium.CiliumNetworkPolicy{"live": forged, "cached": cachedCopy(forged)} {
		if got := Rejected(obj); got != "" {
			t.Errorf("%s: a Valid=False Cilium did not write must not count: %q", name, got)
		}
		if got := IgnoredValid(obj); !strings.Contains(got, "written by kubectl-patch") || !strings.Contains(got, "status not written by Cilium, ignored") {
			t.Errorf("%s: %q", name, got)
		}
	}

	p.Status.Conditions[0].Status = corev1.ConditionTrue
	if got := Rejected(p); got != "" {
		t.Errorf("a valid policy: %q", got)
	}
}
