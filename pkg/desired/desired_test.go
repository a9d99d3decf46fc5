package desired_test

import (
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

var now = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func ns(name string, labels, annotations map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
}

func keys(s *desired.Set) []string {
	var out []string
	for _, p := range s.CNPs {
		out = append(out, p.Namespace+"/"+p.Name)
	}
	for _, p := range s.CCNPs {
		out = append(out, p.Name)
	}
	return out
}

func TestCompute(t *testing.T) {
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName}
	const profile, hatch = "network-policy.homelab/profile", "network-policy.homelab/enforcement"
	cases := map[string]struct {
		namespaces []*corev1.Namespace
		scope      desired.Scope
		want       []string
		lifted     []string
		reasons    []string
	}{
		"a profiled namespace gets its namespace policy and its ceiling": {
			namespaces: []*corev1.Namespace{ns("b", map[string]string{profile: "standard"}, nil), ns("a", map[string]string{profile: "isolated"}, nil)},
			scope:      desired.Scope{Namespaces: true},
			want:       []string{"a/netprofile-ceiling", "a/netprofile-namespace", "b/netprofile-ceiling", "b/netprofile-namespace"},
		},
		"grants without a profile get no ceiling": {
			namespaces: []*corev1.Namespace{ns("a", map[string]string{"access.network-policy.homelab/kube-api": "true"}, nil)},
			scope:      desired.Scope{Namespaces: true},
			want:       []string{"a/netprofile-namespace"},
		},
		"an unlabelled namespace gets nothing": {
			namespaces: []*corev1.Namespace{ns("a", nil, nil)},
			scope:      desired.Scope{Namespaces: true},
		},
		"the escape hatch adds an allow-all, keeps the profile's policy and lifts the ceiling": {
			namespaces: []*corev1.Namespace{ns("a", map[string]string{profile: "isolated", hatch: "disabled"}, nil)},
			scope:      desired.Scope{Namespaces: true},
			want:       []string{"a/netprofile-enforcement-disabled", "a/netprofile-namespace"},
			lifted:     []string{"a/netprofile-ceiling"},
		},
		"audit mode lifts the ceiling too": {
			namespaces: []*corev1.Namespace{ns("a", map[string]string{profile: "isolated", hatch: "audit"}, nil)},
			scope:      desired.Scope{Namespaces: true},
			want:       []string{"a/netprofile-enforcement-audit", "a/netprofile-namespace"},
			lifted:     []string{"a/netprofile-ceiling"},
		},
		"a bypass past its end adds no allow-all": {
			namespaces: []*corev1.Namespace{ns("a", map[string]string{profile: "isolated", hatch: "disabled"},
				map[string]string{"network-policy.homelab/enforcement-disabled-until": now.Add(-time.Minute).Format(time.RFC3339)})},
			scope:   desired.Scope{Namespaces: true},
			want:    []string{"a/netprofile-ceiling", "a/netprofile-namespace"},
			reasons: []string{conditions.ReasonDisableExpired},
		},
		"an enforcement value other than disabled opens nothing and is reported": {
			namespaces: []*corev1.Namespace{ns("a", map[string]string{hatch: "off"}, nil)},
			scope:      desired.Scope{Namespaces: true},
			reasons:    []string{conditions.ReasonInvalidEnforcement},
		},
		"a refused namespace renders nothing and the others still render": {
			namespaces: []*corev1.Namespace{ns("a", map[string]string{profile: "Standard"}, nil), ns("b", map[string]string{profile: "nope"}, nil),
				ns("database", map[string]string{profile: "standard"}, nil), ns("c", map[string]string{profile: "internal"}, nil)},
			scope:   desired.Scope{Namespaces: true},
			want:    []string{"c/netprofile-ceiling", "c/netprofile-namespace"},
			reasons: []string{conditions.ReasonInvalidLabel, conditions.ReasonProfileNotFound, conditions.ReasonPlatformNamespace},
		},
		"the cluster scope is the provider halves (not for entity providers) and the baselines": {
			scope: desired.Scope{Cluster: true},
			want: []string{"cache/netprofile-provider-dragonfly", "database/netprofile-provider-postgres", "garage/netprofile-provider-garage-s3",
				"netprofile-baseline-dns", "netprofile-baseline-hbone", "netprofile-baseline-health-probes", "netprofile-baseline-prometheus-scrape"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			set := desired.Compute(desired.Input{Renderer: r, Namespaces: tc.namespaces, Catalogue: cat, Scope: tc.scope,
				Now: now, Thresholds: enforcement.DefaultThresholds})
			if got := keys(set); !slices.Equal(got, tc.want) {
				t.Errorf("policies = %v, want %v", got, tc.want)
			}
			var lifted []string
			for _, p := range set.Lifted {
				lifted = append(lifted, p.Namespace+"/"+p.Name)
			}
			if !slices.Equal(lifted, tc.lifted) {
				t.Errorf("lifted = %v, want %v", lifted, tc.lifted)
			}
			var reasons []string
			for _, p := range set.Problems {
				reasons = append(reasons, p.Reason)
			}
			if !slices.Equal(reasons, tc.reasons) {
				t.Errorf("problems = %v, want reasons %v", set.Problems, tc.reasons)
			}
		})
	}
}

// TestDefaultCatalogue pins what a binary used outside the checkout renders with: the seed's catalogue.
func TestDefaultCatalogue(t *testing.T) {
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	for kind, tc := range map[string]struct{ got, want []string }{
		"profiles":  {slices.Sorted(maps.Keys(cat.Profiles)), []string{"internal", "internal-egress", "isolated", "standard"}},
		"resources": {slices.Sorted(maps.Keys(cat.Resources)), []string{"dragonfly", "garage-s3", "kube-api", "postgres"}},
		"baselines": {slices.Sorted(maps.Keys(cat.Baselines)), []string{"dns", "hbone", "health-probes", "prometheus-scrape"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s = %v, want %v", kind, tc.got, tc.want)
		}
	}
}
