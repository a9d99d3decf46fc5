package conditions

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/contract"
)

func TestDesired(t *testing.T) {
	then, now := metav1.NewTime(time.Unix(100, 0)), metav1.NewTime(time.Unix(200, 0))
	existing := []corev1.NamespaceCondition{{Type: Ready, Status: corev1.ConditionTrue, Reason: "A", Message: "m", LastTransitionTime: then}}
	tests := map[string]struct {
		want    corev1.NamespaceCondition
		changed bool
		ltt     metav1.Time
	}{
		"same":                       {corev1.NamespaceCondition{Type: Ready, Status: corev1.ConditionTrue, Reason: "A", Message: "m"}, false, then},
		"new message, same status":   {corev1.NamespaceCondition{Type: Ready, Status: corev1.ConditionTrue, Reason: "A", Message: "n"}, true, then},
		"new status":                 {corev1.NamespaceCondition{Type: Ready, Status: corev1.ConditionFalse, Reason: "B", Message: "m"}, true, now},
		"a recorded time is kept":    {corev1.NamespaceCondition{Type: Ready, Status: corev1.ConditionFalse, Reason: "B", Message: "m", LastTransitionTime: then}, true, then},
		"a recorded time that moved": {corev1.NamespaceCondition{Type: Ready, Status: corev1.ConditionTrue, Reason: "A", Message: "m", LastTransitionTime: now}, true, now},
		"a recorded time, unchanged": {corev1.NamespaceCondition{Type: Ready, Status: corev1.ConditionTrue, Reason: "A", Message: "m", LastTransitionTime: then}, false, then},
		"a new type":                 {corev1.NamespaceCondition{Type: EnforcementDisabled, Status: corev1.ConditionTrue, Reason: "A"}, true, now},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, changed := Desired(existing, tc.want, now)
			if changed != tc.changed || !got.LastTransitionTime.Equal(&tc.ltt) {
				t.Errorf("changed=%v at %v; want %v at %v", changed, got.LastTransitionTime, tc.changed, tc.ltt)
			}
		})
	}
}

func TestMessages(t *testing.T) {
	std := contract.Selection{Profile: "standard", Grants: []string{"postgres"}}
	tests := map[string]struct {
		got  string
		want []string
	}{
		"applied": {AppliedMessage(std, []string{"netprofile-namespace"}),
			[]string{`profile "standard" with access to postgres is in effect: applied CiliumNetworkPolicy netprofile-namespace`}},
		"nothing needed": {AppliedMessage(contract.Selection{Profile: "bare"}, nil), []string{"no policy is needed"}},
		"refused, nothing stands": {RefusedMessage(Refused{Refusal: "bad", KeptAll: true}),
			[]string{"bad; nothing was applied, so none of this namespace's traffic is opened"}},
		"refused, the last good policy stays whole": {RefusedMessage(Refused{Refusal: "bad", KeptAll: true, Standing: []string{"netprofile-namespace"}, StandingProfile: "standard"}),
			[]string{"last good policy stays in place (CiliumNetworkPolicy netprofile-namespace, profile standard)"}},
		"refused in part": {RefusedMessage(Refused{Refusal: "bad", Kept: []string{"no access to dragonfly"}, Effective: contract.Selection{Profile: "isolated"}, Standing: []string{"netprofile-namespace"}}),
			[]string{"last good policy stays in place for what was refused (no access to dragonfly)", `the other labels are in effect: profile "isolated"`}},
		"only a grant withdrawn, nothing kept for it": {RefusedMessage(Refused{Refusal: "not admitted", Effective: contract.Selection{Profile: "isolated"}, Standing: []string{"netprofile-namespace"}}),
			[]string{`not admitted; the other labels are in effect: profile "isolated"`}},
		"provider": {ProviderMessage("postgres", "PolicyNameClash", "a CiliumNetworkPolicy named x"),
			[]string{"access to postgres is not in effect", "SharedResource postgres is PolicyNameClash"}},
		"clash": {ClashMessage("CiliumNetworkPolicy", "app", "netprofile-namespace"),
			[]string{"app/netprofile-namespace already exists and is not managed by netprofile", `"netprofile-" are reserved`}},
	}
	for name, tc := range tests {
		for _, w := range tc.want {
			if !strings.Contains(tc.got, w) {
				t.Errorf("%s: %q does not contain %q", name, tc.got, w)
			}
		}
	}
}
