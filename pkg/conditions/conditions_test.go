package conditions

import (
	"fmt"
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

func TestProblems(t *testing.T) {
	many := make([]string, 25)
	for i := range many {
		many[i] = "p" + strings.Repeat("x", i)
	}
	tests := map[string]struct {
		in   []string
		want string
	}{
		"none":           {nil, ""},
		"a few, all":     {[]string{"a", "b"}, "a; b"},
		"exactly ten":    {many[:10], strings.Join(many[:10], "; ")},
		"more are named": {many, strings.Join(many[:10], "; ") + "; and 15 more problems"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := Problems(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestShorten(t *testing.T) {
	tests := map[string]struct {
		msg   string
		limit int
		want  string
	}{
		"fits":                      {"a; b; c", 7, "a; b; c"},
		"keeps whole leading parts": {"aaaa; bbbb; cccc; dddd", 20, "aaaa; and 3 more"},
		"as many parts as fit":      {"aa; bb; cc; dd; ee; ff; gg", 24, "aa; bb; cc; and 4 more"},
		"one part too long is cut":  {"abcdefghijklmnopqrstuvwxyz; b", 24, "abcdef [cut]; and 1 more"},
		"a single part is cut":      {"abcdefghijklmnopqrstuvwxyz", 10, "abcd [cut]"},
		"never inside a character":  {"ééééééééé", 12, "ééé [cut]"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Shorten(tc.msg, tc.limit)
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if len(got) > tc.limit {
				t.Errorf("%d bytes, over the limit of %d", len(got), tc.limit)
			}
		})
	}
}

// A refusal too long for a condition is shortened, and what stays in place is still said in full; the result
// passes Validate, so the condition can be written.
func TestRefusedMessageFitsAndKeepsItsTail(t *testing.T) {
	problems := make([]string, 2000)
	for i := range problems {
		problems[i] = fmt.Sprintf("label network-policy.homelab/typo-%04d=%q: netprofile defines only network-policy.homelab/profile and network-policy.homelab/enforcement under network-policy.homelab/", i, strings.Repeat("v", 63))
	}
	msg := RefusedMessage(Refused{Refusal: strings.Join(problems, "; "), KeptAll: true, Standing: []string{"netprofile-namespace"}, StandingProfile: "standard"})
	if len(msg) > MaxMessage {
		t.Fatalf("%d bytes, over %d", len(msg), MaxMessage)
	}
	if !strings.HasSuffix(msg, "; the last good policy stays in place (CiliumNetworkPolicy netprofile-namespace, profile standard)") {
		t.Errorf("what stays in place is cut off: ...%s", msg[len(msg)-200:])
	}
	if !strings.HasPrefix(msg, problems[0]) || !strings.Contains(msg, " more; the last good policy") {
		t.Errorf("want the first problems and a count of the rest: %s...", msg[:300])
	}
	c, _ := Desired(nil, corev1.NamespaceCondition{Type: Ready, Status: corev1.ConditionFalse, Reason: ReasonInvalidLabel, Message: strings.Repeat("x; ", 20000)}, metav1.Now())
	if err := Validate(c); err != nil {
		t.Errorf("a long message must be shortened to a valid condition: %v", err)
	}
}
