package ownership

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

func TestReserved(t *testing.T) {
	tests := []struct {
		name             string
		namespaced       bool
		component, owner string
		ok               bool
	}{
		{NamespacePolicyName, true, ComponentNamespacePolicy, "", true},
		{AllowAllPolicyName, true, ComponentEnforcement, "", true},
		{AuditPolicyName, true, ComponentEnforcement, "", true},
		{CeilingPolicyName, true, ComponentNamespacePolicy, "", true},
		{ProviderPolicyName("postgres"), true, ComponentProvider, "postgres", true},
		{BaselinePolicyName("dns"), false, ComponentBaseline, "dns", true},
		// Each kind reserves its own names.
		{BaselinePolicyName("dns"), true, "", "", false},
		{NamespacePolicyName, false, "", "", false},
		{"netprofile-provider-", true, "", "", false},
		{"database-access", true, "", "", false},
	}
	for _, tc := range tests {
		comp, owner, ok := Reserved(tc.name, tc.namespaced)
		if comp != tc.component || owner != tc.owner || ok != tc.ok {
			t.Errorf("Reserved(%q, %v) = %q, %q, %v; want %q, %q, %v", tc.name, tc.namespaced, comp, owner, ok, tc.component, tc.owner, tc.ok)
		}
	}
}

// TestNamespaceNames: the per-namespace names are exactly the reserved names whose owner is the Namespace, so
// a caller that walks them (render --diff) sees every policy the operator may delete in a namespace.
func TestNamespaceNames(t *testing.T) {
	got := NamespaceNames()
	want := []string{CeilingPolicyName, AuditPolicyName, AllowAllPolicyName, NamespacePolicyName}
	if !slices.Equal(got, want) {
		t.Errorf("NamespaceNames() = %v, want %v", got, want)
	}
	for _, name := range got {
		if comp, owner, ok := Reserved(name, true); !ok || owner != "" || comp == ComponentProvider {
			t.Errorf("Reserved(%q, true) = %q, %q, %v; want a Namespace-owned name", name, comp, owner, ok)
		}
	}
}

func TestDecide(t *testing.T) {
	const owner types.UID = "owner-uid"
	at := func(sec int64) *metav1.Time { return ptr.To(metav1.NewTime(time.Unix(sec, 0))) }
	obj := func(ref *metav1.OwnerReference, labels map[string]string, managers ...metav1.ManagedFieldsEntry) *metav1.ObjectMeta {
		m := &metav1.ObjectMeta{Name: NamespacePolicyName, Namespace: "app", UID: "policy-uid", Labels: labels, ManagedFields: managers}
		if ref != nil {
			m.OwnerReferences = []metav1.OwnerReference{*ref}
		}
		return m
	}
	ours := metav1.ManagedFieldsEntry{Manager: FieldManager(ComponentNamespacePolicy), Operation: metav1.ManagedFieldsOperationApply, Time: at(1)}
	agent := metav1.ManagedFieldsEntry{Manager: FieldManager(ComponentNamespacePolicy), Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status"}
	gitops := metav1.ManagedFieldsEntry{Manager: "argocd-controller", Operation: metav1.ManagedFieldsOperationApply, Time: at(2)}
	controller := &metav1.OwnerReference{Kind: "Namespace", Name: "app", UID: owner, Controller: ptr.To(true)}
	other := &metav1.OwnerReference{Kind: "Namespace", Name: "app", UID: "old-uid", Controller: ptr.To(true)}
	labels := Labels(ComponentNamespacePolicy, nil)

	tests := map[string]struct {
		obj      metav1.Object
		ownerUID types.UID
		want     Verdict
	}{
		"absent":                                 {nil, owner, Missing},
		"a nil pointer is absent":                {(*metav1.ObjectMeta)(nil), owner, Missing},
		"controlled by the owner":                {obj(controller, labels, ours), owner, Owned},
		"controlled by the owner, labels gone":   {obj(controller, nil, ours), owner, Owned},
		"owner reference removed by hand":        {obj(nil, labels, ours, gitops), owner, Orphaned},
		"left by a deleted owner":                {obj(other, labels, ours), owner, Orphaned},
		"owner gone (deleted Baseline path)":     {obj(controller, labels, ours), "", Orphaned},
		"a GitOps copy with netprofile's labels": {obj(nil, labels, gitops), owner, Foreign},
		"hand-written":                           {obj(nil, map[string]string{"team": "a"}), owner, Foreign},
		"only a status write under our name":     {obj(nil, labels, agent), owner, Foreign},
		"another component's manager":            {obj(nil, labels, metav1.ManagedFieldsEntry{Manager: FieldManager(ComponentEnforcement)}), owner, Foreign},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Decide(tc.obj, ComponentNamespacePolicy, tc.ownerUID); got != tc.want {
				t.Errorf("Decide = %v, want %v", got, tc.want)
			}
			if Ours(tc.obj, ComponentNamespacePolicy, tc.ownerUID) != (tc.want == Owned || tc.want == Orphaned) {
				t.Error("Ours disagrees with Decide")
			}
		})
	}
}

func TestPoses(t *testing.T) {
	for _, tc := range []struct {
		labels map[string]string
		want   bool
	}{
		{nil, false},
		{map[string]string{"team": "a"}, false},
		{map[string]string{ManagedByLabel: "helm"}, false},
		{Labels(ComponentNamespacePolicy, nil), true},
		{map[string]string{ManagedByLabel: ManagedByValue}, true},
	} {
		if got := Poses(&metav1.ObjectMeta{Labels: tc.labels}); got != tc.want {
			t.Errorf("Poses(%v) = %v, want %v", tc.labels, got, tc.want)
		}
	}
}

func TestOtherWriters(t *testing.T) {
	at := func(sec int64) *metav1.Time { return ptr.To(metav1.NewTime(time.Unix(sec, 0))) }
	obj := &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{
		{Manager: "kubectl-label", Time: at(1)},
		{Manager: FieldManager(ComponentBaseline), Time: at(2)},
		{Manager: "kubectl-edit", Time: at(3)},
		{Manager: "cilium-agent", Subresource: "status", Time: at(4)},
		{Manager: "kubectl-label", Time: at(0)},
	}}
	got := OtherWriters(obj)
	if len(got) != 2 || got[0] != "kubectl-edit" || got[1] != "kubectl-label" {
		t.Fatalf("OtherWriters = %v, want [kubectl-edit kubectl-label]: most recent first, no status writers, no netprofile", got)
	}
}
