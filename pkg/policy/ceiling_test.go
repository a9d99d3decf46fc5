package policy_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

func TestCeilingGolden(t *testing.T) {
	cat := samples(t).Catalogue()
	tests := map[string]map[string]string{
		"ceiling-isolated":        {profileKey: "isolated"},
		"ceiling-internal":        {profileKey: "internal"},
		"ceiling-internal-egress": {profileKey: "internal-egress"},
		"ceiling-standard":        {profileKey: "standard"},
		"ceiling-standard-with-every-grant-ambient": {profileKey: "standard", access + "postgres": "true", access + "dragonfly": "true",
			access + "garage-s3": "true", access + "kube-api": "true", "istio.io/dataplane-mode": "ambient"},
	}
	for name, labels := range tests {
		t.Run(name, func(t *testing.T) {
			res, err := renderer().Namespace(namespace("my-app", labels), cat, nil)
			if err != nil || res.CeilingErr != nil {
				t.Fatal(err, res.CeilingErr)
			}
			if !res.CeilingEnforced || res.Ceiling == nil || len(res.CeilingGaps) > 0 {
				t.Fatalf("want a whole ceiling, got enforced=%v gaps=%v", res.CeilingEnforced, res.CeilingGaps)
			}
			if res.Ceiling.Name != ownership.CeilingPolicyName || res.Ceiling.Namespace != "my-app" {
				t.Errorf("ceiling at %s/%s", res.Ceiling.Namespace, res.Ceiling.Name)
			}
			ciliumAccepts(t, res.Ceiling)
			golden(t, name, res.Ceiling)
		})
	}
}

// TestCeilingOnlyForEnforcingProfiles: a profile that reports its ceiling, and grants without a profile,
// render none.
func TestCeilingOnlyForEnforcingProfiles(t *testing.T) {
	cat := samples(t).Catalogue()
	cat.Profiles["standard"].Spec.Ceiling = v1alpha1.CeilingReport
	for name, labels := range map[string]map[string]string{
		"report":          {profileKey: "standard"},
		"grants only":     {access + "postgres": "true"},
		"nothing labeled": {"team": "a"},
	} {
		t.Run(name, func(t *testing.T) {
			res, err := renderer().Namespace(namespace("my-app", labels), cat, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Ceiling != nil || res.CeilingEnforced {
				t.Fatalf("want no ceiling, got %v", res.Ceiling)
			}
		})
	}
}

// TestCeilingFollowsWhatIsKept: while a new profile label is refused, the ceiling is the kept profile's.
func TestCeilingFollowsWhatIsKept(t *testing.T) {
	cat := samples(t).Catalogue()
	r := renderer()
	stood, err := r.Namespace(namespace("my-app", map[string]string{profileKey: "isolated"}), cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	applied := r.AppliedOf(stood.Policies[0])
	res, err := r.Namespace(namespace("my-app", map[string]string{profileKey: "Standard"}), cat, applied)
	if err == nil {
		t.Fatal("want the label refused")
	}
	if res.Ceiling == nil || policy.RulesHash(res.Ceiling) != policy.RulesHash(stood.Ceiling) {
		t.Fatalf("want the ceiling of the kept profile isolated, got %v", res.Ceiling)
	}
}

// TestCeilingGaps: what deny rules cannot express is reported, never silently left open.
func TestCeilingGaps(t *testing.T) {
	fqdn := &v1alpha1.NetworkProfile{Spec: v1alpha1.NetworkProfileSpec{Egress: []v1alpha1.Rule{{
		FQDNs: []v1alpha1.FQDN{{MatchName: "api.example.com"}}, Ports: []v1alpha1.PortProtocol{{Port: 8443}},
	}}}}
	for name, tc := range map[string]struct {
		change func(cat policy.Catalogue)
		want   []string
	}{
		"an FQDN rule leaves world open on its port": {
			change: func(cat policy.Catalogue) { cat.Profiles["fqdn"] = fqdn },
			want:   []string{"egress to world on TCP 8443 beyond the DNS names NetworkProfile fqdn allows: deny rules cannot name DNS names"},
		},
		"not where world is allowed anyway": {change: func(cat policy.Catalogue) {
			p := fqdn.DeepCopy()
			p.Spec.Egress = append(p.Spec.Egress, v1alpha1.Rule{Entities: []v1alpha1.Entity{v1alpha1.EntityWorld}, Ports: []v1alpha1.PortProtocol{{Port: 8443}}})
			cat.Profiles["fqdn"] = p
		}},
		"a provider half for some pods of a profiled namespace": {
			change: func(cat policy.Catalogue) {
				cat.Profiles["fqdn"] = cat.Profiles["isolated"]
				pg := cat.Resources["postgres"].DeepCopy()
				pg.Name, pg.Spec.Provider.Namespace, pg.Spec.Provider.PodSelector = "shop-db", "my-app", map[string]string{"app": "db"}
				cat.Resources["shop-db"] = pg
			},
			want: []string{"SharedResource shop-db allows some of this namespace's pods more than the others"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			cat := samples(t).Catalogue()
			tc.change(cat)
			cat.Profiles["fqdn"].Name = "fqdn"
			res, err := renderer().Namespace(namespace("my-app", map[string]string{profileKey: "fqdn"}), cat, nil)
			if err != nil || res.CeilingErr != nil || res.Ceiling == nil {
				t.Fatal(err, res.CeilingErr)
			}
			for _, w := range tc.want {
				if !slices.ContainsFunc(res.CeilingGaps, func(g string) bool { return strings.HasPrefix(g, w) }) {
					t.Errorf("gaps %q, want one starting %q", res.CeilingGaps, w)
				}
			}
			if len(tc.want) == 0 && len(res.CeilingGaps) > 0 {
				t.Errorf("want no gap, got %q", res.CeilingGaps)
			}
		})
	}
}

// TestCeilingKeepsWhatStandsOnABrokenBaseline: a Baseline that does not render leaves the ceiling
// uncomputable (its allowances are unknown); the caller keeps the standing one.
func TestCeilingKeepsWhatStandsOnABrokenBaseline(t *testing.T) {
	cat := samples(t).Catalogue()
	cat.Baselines["dns"].Spec.Egress[0].Ports = nil
	res, err := renderer().Namespace(namespace("my-app", map[string]string{profileKey: "standard"}), cat, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.CeilingErr == nil || res.Ceiling != nil || !strings.Contains(res.CeilingErr.Error(), "Baseline dns") {
		t.Fatalf("want the ceiling withheld naming Baseline dns, got %v, %v", res.Ceiling, res.CeilingErr)
	}
	if len(res.Policies) != 1 {
		t.Fatal("the namespace policy itself does not depend on the Baselines")
	}
}
