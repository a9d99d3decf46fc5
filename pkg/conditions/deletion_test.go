package conditions

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeletionBlockedCondition(t *testing.T) {
	now := metav1.Now()
	// What kube-controller-manager's namespace controller writes when admission refuses its deletecollection.
	refused := corev1.NamespaceCondition{Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionTrue, Reason: "ContentDeletionFailed",
		Message: `Failed to delete all resource types, 1 remaining: ciliumnetworkpolicies.cilium.io "netprofile-namespace" is forbidden: ` +
			`ValidatingAdmissionPolicy 'netprofile-generated-policies' with binding 'netprofile-generated-policies' denied request: ` +
			`system:serviceaccount:kube-system:namespace-controller may not delete CiliumNetworkPolicy app/netprofile-namespace: policies named netprofile-* are generated`}
	ns := func(terminating bool, conds ...corev1.NamespaceCondition) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Status: corev1.NamespaceStatus{Conditions: conds}}
		if terminating {
			n.DeletionTimestamp = &now
		}
		return n
	}
	other := refused
	other.Message = `Failed to delete all resource types, 1 remaining: widgets.example.com "w" is forbidden: nope`
	succeeded := corev1.NamespaceCondition{Type: corev1.NamespaceDeletionContentFailure, Status: corev1.ConditionFalse, Reason: "ContentDeleted"}
	unnamed := refused
	unnamed.Message = `Failed to delete all resource types, 1 remaining: ciliumnetworkpolicies.cilium.io "netprofile-namespace" is forbidden: some webhook said no`
	policies := []string{"netprofile-ceiling", "netprofile-namespace"}

	tests := map[string]struct {
		ns        *corev1.Namespace
		remaining []string
		want      []string // nil: no condition
	}{
		"not terminating":                             {ns(false, refused), policies, nil},
		"terminating, nothing tried yet":              {ns(true), policies, nil},
		"terminating, the controller succeeded":       {ns(true, succeeded), policies, nil},
		"terminating, something else failed":          {ns(true, other), policies, nil},
		"terminating, refused, but no policy is left": {ns(true, refused), nil, nil},
		"terminating and refused": {ns(true, refused), policies, []string{
			"namespace app cannot finish deleting", "CiliumNetworkPolicy netprofile-ceiling, netprofile-namespace",
			"add system:serviceaccount:kube-system:namespace-controller to the chart's admission.systemDeleters"}},
		"refused by an admission that names nobody": {ns(true, unnamed), policies, []string{
			"add the user named in the namespace's NamespaceDeletionContentFailure condition to the chart's admission.systemDeleters"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := DeletionBlockedCondition(tc.ns, tc.remaining)
			if tc.want == nil {
				if got != nil {
					t.Fatalf("got %+v, want none", got)
				}
				return
			}
			if got == nil {
				t.Fatal("got no condition")
			}
			got.LastTransitionTime = now
			if err := Validate(*got); err != nil {
				t.Error(err)
			}
			if got.Type != DeletionBlocked || got.Status != corev1.ConditionTrue || got.Reason != ReasonPoliciesNotDeletable || EventType(*got) != corev1.EventTypeWarning {
				t.Errorf("got %+v", got)
			}
			for _, w := range tc.want {
				if !strings.Contains(got.Message, w) {
					t.Errorf("message %q lacks %q", got.Message, w)
				}
			}
		})
	}
}
