package policy_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/policy"
)

func TestAdmission(t *testing.T) {
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet([]string{"kube-system"})}
	profiles, resources := []string{"standard", "internal"}, []string{"postgres"}
	const (
		profile = "network-policy.homelab/profile"
		pg      = "access.network-policy.homelab/postgres"
		enf     = "network-policy.homelab/enforcement"
	)
	ns := func(name string, labels map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	}
	tests := map[string]struct {
		ns, old *corev1.Namespace
		want    []string // substrings, one per message, in order
	}{
		"valid profile and grant":       {ns: ns("a", map[string]string{profile: "standard", pg: "true", "team": "x"})},
		"unknown profile":               {ns: ns("a", map[string]string{profile: "gold"}), want: []string{`NetworkProfile "gold" does not exist (label network-policy.homelab/profile=gold); known profiles: internal, standard`}},
		"upper case":                    {ns: ns("a", map[string]string{profile: "Standard"}), want: []string{`label network-policy.homelab/profile="Standard": NetworkProfile names are lower case: did you mean "standard"?`}},
		"yes is not true":               {ns: ns("a", map[string]string{pg: "yes"}), want: []string{`the only value that grants access is "true"`}},
		"unknown resource":              {ns: ns("a", map[string]string{"access.network-policy.homelab/mysql": "true"}), want: []string{`SharedResource "mysql" does not exist (label access.network-policy.homelab/mysql); known resources: postgres`}},
		"typo key":                      {ns: ns("a", map[string]string{"network-policy.homelab/profil": "standard"}), want: []string{"defines only"}},
		"bad enforcement":               {ns: ns("a", map[string]string{enf: "off"}), want: []string{`label network-policy.homelab/enforcement="off" is not understood: netprofile understands "disabled" (the escape hatch) and "audit" (audit mode)`}},
		"enforcement on platform is ok": {ns: ns("kube-system", map[string]string{enf: "disabled"})},
		"platform namespace":            {ns: ns("kube-system", map[string]string{profile: "standard"}), want: []string{"kube-system is a platform namespace"}},
		"unchanged bad label":           {old: ns("a", map[string]string{profile: "gold"}), ns: ns("a", map[string]string{profile: "gold", "team": "x"})},
		"changed to bad":                {old: ns("a", map[string]string{profile: "standard"}), ns: ns("a", map[string]string{profile: "gold"}), want: []string{`"gold" does not exist`}},
		"removal is always allowed":     {old: ns("a", map[string]string{profile: "gold", pg: "yes"}), ns: ns("a", nil)},
		"several, in key order": {ns: ns("a", map[string]string{profile: "gold", pg: "1", enf: "no"}),
			want: []string{`enforcement="no"`, `postgres="1"`, `"gold" does not exist`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := r.Admission(tc.ns, tc.old, profiles, resources)
			if len(got) != len(tc.want) {
				t.Fatalf("Admission = %q, want %d messages", got, len(tc.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tc.want[i]) {
					t.Errorf("message %d = %q, want it to contain %q", i, got[i], tc.want[i])
				}
			}
		})
	}
}

// Admission and the operator refuse in the same words: each admission message is part of the condition the
// operator sets for the same labels.
func TestAdmissionSpeaksLikeTheCondition(t *testing.T) {
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet([]string{"kube-system"})}
	cat := samples(t).Catalogue()
	var profiles, resources []string
	for n := range cat.Profiles {
		profiles = append(profiles, n)
	}
	for n := range cat.Resources {
		resources = append(resources, n)
	}
	for _, labels := range []map[string]string{
		{"network-policy.homelab/profile": "gold"},
		{"network-policy.homelab/profile": "Standard"},
		{"access.network-policy.homelab/postgres": "yes"},
		{"access.network-policy.homelab/mysql": "true"},
	} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", Labels: labels}}
		_, err := r.Namespace(ns, cat, nil)
		if err == nil {
			t.Fatalf("labels %v: the operator accepts what admission refuses", labels)
		}
		for _, msg := range r.Admission(ns, nil, profiles, resources) {
			if !strings.Contains(err.Error(), msg) {
				t.Errorf("labels %v: admission says %q, the condition says %q", labels, msg, err.Error())
			}
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system", Labels: map[string]string{"network-policy.homelab/profile": "standard"}}}
	_, err := r.Namespace(ns, cat, nil)
	if msgs := r.Admission(ns, nil, profiles, resources); len(msgs) != 1 || err == nil || err.Error() != msgs[0] {
		t.Errorf("platform namespace: admission %q, condition %v", msgs, err)
	}
}
