package contract

import (
	"testing"
	"time"
)

func TestPublish(t *testing.T) {
	c, err := New("np.example.com")
	if err != nil {
		t.Fatal(err)
	}
	lc := c.Publish(Settings{PlatformNamespaces: []string{"b", "a", "b"}, MaxDisabled: time.Hour},
		[]string{"standard", "internal"}, nil, []string{"database", "cache", "database"}, nil)
	if lc.Name != "np.example.com" || lc.Keys.Profile != "np.example.com/profile" || lc.Keys.AccessPrefix != "access.np.example.com/" ||
		lc.Keys.Since != c.SinceAnnotation() || lc.Keys.Until != c.UntilAnnotation() || lc.Keys.Enforcement != c.EnforcementKey() ||
		lc.Keys.Platform != "np.example.com/platform" {
		t.Errorf("keys %+v of %s do not follow the contract", lc.Keys, lc.Name)
	}
	if got := lc.PlatformNamespaces; len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("platform namespaces %v, want sorted set [a b]", got)
	}
	if got := lc.CatalogueNamespaces; len(got) != 2 || got[0] != "cache" || got[1] != "database" {
		t.Errorf("catalogue namespaces %v, want sorted set [cache database]", got)
	}
	if got := lc.Profiles; len(got) != 2 || got[0] != "internal" {
		t.Errorf("profiles %v, want sorted", got)
	}
	// An empty list is published as [], which admission policies can test membership in, never as null.
	if lc.SharedResources == nil || len(lc.SharedResources) != 0 {
		t.Errorf("resources %#v, want empty non-nil", lc.SharedResources)
	}
	back, settings, err := FromPublished(lc)
	if err != nil || back != c || len(settings.PlatformNamespaces) != 2 {
		t.Errorf("FromPublished = %v, %v, %v; want the contract back", back, settings, err)
	}
}

func TestUntilLatest(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	tests := map[string]struct {
		published *time.Time
		limit     time.Duration
		want      *time.Time
	}{
		"no maximum":                          {published: at(time.Hour), limit: 0, want: nil},
		"first publication":                   {limit: 24 * time.Hour, want: at(24 * time.Hour)},
		"fresh enough: kept":                  {published: at(24*time.Hour - 30*time.Minute), limit: 24 * time.Hour, want: at(24*time.Hour - 30*time.Minute)},
		"one refresh old: republished":        {published: at(23 * time.Hour), limit: 24 * time.Hour, want: at(24 * time.Hour)},
		"later than allowed: corrected":       {published: at(48 * time.Hour), limit: 24 * time.Hour, want: at(24 * time.Hour)},
		"short maximum: refreshed every 2.5m": {published: at(time.Hour - 3*time.Minute), limit: time.Hour, want: at(time.Hour)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := UntilLatest(tc.published, now, tc.limit)
			if (got == nil) != (tc.want == nil) || got != nil && !got.Equal(*tc.want) {
				t.Errorf("UntilLatest = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestUntilRefresh(t *testing.T) {
	for limit, want := range map[time.Duration]time.Duration{time.Minute: time.Minute, 24 * time.Hour: time.Hour, 6 * time.Hour: 15 * time.Minute, 30 * 24 * time.Hour: time.Hour} {
		if got := UntilRefresh(limit); got != want {
			t.Errorf("UntilRefresh(%s) = %s, want %s", limit, got, want)
		}
	}
}
