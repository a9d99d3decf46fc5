package policy_test

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/policy"
)

// A selector is trusted only when every key it selects on is one a namespace's own users cannot write: the
// name the API server sets, or a label admission protects. Any other key, whatever its operator, is the
// tenant's to set (In, Exists, matchLabels) or to remove (NotIn, DoesNotExist).
func TestTenantWritableKeys(t *testing.T) {
	protected := []string{"platform.example.com/tenant"}
	tests := map[string]struct {
		sel  metav1.LabelSelector
		want []string
	}{
		"a team label":              {metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}, []string{"team"}},
		"names":                     {metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr(policy.NameLabel, metav1.LabelSelectorOpIn, "shop", "billing")}}, nil},
		"a name in matchLabels":     {metav1.LabelSelector{MatchLabels: map[string]string{policy.NameLabel: "shop"}}, nil},
		"a protected label":         {metav1.LabelSelector{MatchLabels: map[string]string{"platform.example.com/tenant": "payments"}}, nil},
		"protected Exists":          {metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("platform.example.com/tenant", metav1.LabelSelectorOpExists)}}, nil},
		"names narrowed by a team":  {metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}, MatchExpressions: []metav1.LabelSelectorRequirement{expr(policy.NameLabel, metav1.LabelSelectorOpIn, "shop")}}, []string{"team"}},
		"NotIn is removable":        {metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("env", metav1.LabelSelectorOpNotIn, "dev")}}, []string{"env"}},
		"DoesNotExist is removable": {metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr("quarantine", metav1.LabelSelectorOpDoesNotExist)}}, []string{"quarantine"}},
		"netprofile's own labels":   {metav1.LabelSelector{MatchLabels: map[string]string{"network-policy.homelab/profile": "standard"}}, []string{"network-policy.homelab/profile"}},
		"a key twice, listed once":  {metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}, MatchExpressions: []metav1.LabelSelectorRequirement{expr("team", metav1.LabelSelectorOpExists), expr("env", metav1.LabelSelectorOpIn, "prod")}}, []string{"env", "team"}},
		"empty selects everyone":    {metav1.LabelSelector{}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := policy.TenantWritableKeys(&v1alpha1.Consumers{NamespaceSelector: tc.sel}, protected); !slices.Equal(got, tc.want) {
				t.Errorf("TenantWritableKeys = %q, want %q", got, tc.want)
			}
		})
	}
	if got := policy.TenantWritableKeys(nil, protected); got != nil {
		t.Errorf("no spec.consumers: %q", got)
	}
	// Unprotected, the same key is the tenant's.
	if got := policy.TenantWritableKeys(&v1alpha1.Consumers{NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"platform.example.com/tenant": "payments"}}}, nil); !slices.Equal(got, []string{"platform.example.com/tenant"}) {
		t.Errorf("an unprotected key: %q", got)
	}
}

// The condition says which keys a tenant can forge and what to select on instead; a selector by name is
// trusted; a resource without spec.consumers has no condition.
func TestConsumersTrust(t *testing.T) {
	r := renderer()
	r.ProtectedNamespaceLabels = []string{"platform.example.com/tenant"}

	present, ok, reason, msg := r.ConsumersTrust(limited(t, metav1.LabelSelector{MatchLabels: map[string]string{"team": "payments"}}))
	if !present || ok || reason != conditions.ReasonTenantWritableLabels {
		t.Fatalf("team=payments: present %v ok %v reason %s", present, ok, reason)
	}
	for _, want := range []string{`selects on label "team", which a namespace's own users may write`, "any namespace that sets it is admitted",
		"key: kubernetes.io/metadata.name, operator: In", "admission.protectedNamespaceLabels.keys", "admission protects network-policy.homelab/platform, platform.example.com/tenant"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q does not say %q", msg, want)
		}
	}
	if len(msg) > conditions.MaxMessage {
		t.Errorf("message of %d bytes", len(msg))
	}

	present, ok, reason, msg = r.ConsumersTrust(limited(t, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr(policy.NameLabel, metav1.LabelSelectorOpIn, "shop")}}))
	if !present || !ok || reason != conditions.ReasonUnforgeableLabels || !strings.Contains(msg, "the API server sets kubernetes.io/metadata.name") {
		t.Errorf("by name: present %v ok %v reason %s: %s", present, ok, reason, msg)
	}
	if present, _, _, _ := r.ConsumersTrust(samples(t).Resources["postgres"]); present {
		t.Error("a resource without spec.consumers must have no ConsumersTrusted condition")
	}
}

// Cilium can match the name label on namespaces: a selector by name renders and admits by name.
func TestConsumersByName(t *testing.T) {
	sr := limited(t, metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{expr(policy.NameLabel, metav1.LabelSelectorOpIn, "shop")}})
	if _, err := renderer().Provider(sr); err != nil {
		t.Fatalf("a selector by name must render: %v", err)
	}
	for name, want := range map[string]bool{"shop": true, "billing": false} {
		if ok, err := policy.Admits(sr, map[string]string{policy.NameLabel: name, "team": "payments"}); err != nil || ok != want {
			t.Errorf("namespace %s: Admits %v, %v; want %v", name, ok, err, want)
		}
	}
}

// The catalogue's platform mark is protected at admission (the platform-namespaces policy): selecting the
// platform's own namespaces by it is trusted, with or without configured keys.
func TestConsumersByPlatformMark(t *testing.T) {
	r := renderer()
	present, ok, reason, _ := r.ConsumersTrust(limited(t, metav1.LabelSelector{MatchLabels: map[string]string{r.Contract.PlatformKey(): "true"}}))
	if !present || !ok || reason != conditions.ReasonUnforgeableLabels {
		t.Errorf("by the platform mark: present %v ok %v reason %s", present, ok, reason)
	}
	if got := policy.ProtectedKeys(r.Contract, []string{"z.example.com/a", "network-policy.homelab/platform"}); !slices.Equal(got, []string{"network-policy.homelab/platform", "z.example.com/a"}) {
		t.Errorf("ProtectedKeys = %q", got)
	}
}
