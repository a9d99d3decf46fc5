package contract

import (
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	c := Default()
	tests := map[string]struct {
		labels   map[string]string
		want     Selection
		problems []string // substrings, one per problem, in key order
	}{
		"nothing":                   {labels: map[string]string{"team": "a"}},
		"profile":                   {labels: map[string]string{"network-policy.homelab/profile": "standard"}, want: Selection{Profile: "standard"}},
		"grants are sorted":         {labels: map[string]string{"access.network-policy.homelab/postgres": "true", "access.network-policy.homelab/dragonfly": "true"}, want: Selection{Grants: []string{"dragonfly", "postgres"}}},
		"enforcement is not ours":   {labels: map[string]string{"network-policy.homelab/enforcement": "disabled"}},
		"wrong case profile":        {labels: map[string]string{"network-policy.homelab/profile": "Standard"}, problems: []string{`did you mean "standard"`}},
		"empty profile":             {labels: map[string]string{"network-policy.homelab/profile": ""}, problems: []string{"empty"}},
		"access yes":                {labels: map[string]string{"access.network-policy.homelab/postgres": "yes"}, problems: []string{`"true"`}},
		"access with bad name":      {labels: map[string]string{"access.network-policy.homelab/Postgres": "true"}, problems: []string{`did you mean "postgres"`}},
		"typo key":                  {labels: map[string]string{"network-policy.homelab/profiles": "standard"}, problems: []string{"defines only"}},
		"good and bad mixed":        {labels: map[string]string{"network-policy.homelab/profile": "standard", "access.network-policy.homelab/postgres": "1"}, want: Selection{Profile: "standard"}, problems: []string{`"true"`}},
		"other domains are ignored": {labels: map[string]string{"example.com/profile": "x", "access.example.com/y": "z"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, problems := c.Parse(tc.labels)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("selection %+v, want %+v", got, tc.want)
			}
			if len(problems) != len(tc.problems) {
				t.Fatalf("problems %v, want %d", problems, len(tc.problems))
			}
			for i, p := range problems {
				if !strings.Contains(p.String(), tc.problems[i]) {
					t.Errorf("problem %q does not mention %q", p, tc.problems[i])
				}
			}
		})
	}
}

func TestNew(t *testing.T) {
	for domain, ok := range map[string]bool{"network-policy.homelab": true, "np.example.com": true, "": false, "Bad_Domain": false, "a/b": false} {
		if _, err := New(domain); (err == nil) != ok {
			t.Errorf("New(%q) error = %v, want ok=%v", domain, err, ok)
		}
	}
	c, _ := New("np.example.com")
	if c.ProfileKey() != "np.example.com/profile" || c.AccessKey("db") != "access.np.example.com/db" || c.EnforcementKey() != "np.example.com/enforcement" {
		t.Errorf("keys do not follow the domain: %s %s %s", c.ProfileKey(), c.AccessKey("db"), c.EnforcementKey())
	}
}
