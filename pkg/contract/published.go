package contract

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
)

// EnforcementValues are the values of the enforcement label netprofile understands.
var EnforcementValues = []string{EnforcementDisabled, EnforcementAudit}

// Settings are the manager's settings that decide which labels it accepts, besides the catalogue.
type Settings struct {
	PlatformNamespaces []string
	// ProtectedNamespaceLabels are the Namespace label keys admission lets only the platform write.
	ProtectedNamespaceLabels []string
	// ClusterName is the Cilium cluster the rendered policies name.
	ClusterName   string
	WarningAfter  time.Duration
	CriticalAfter time.Duration
	MaxDisabled   time.Duration
}

// Publish returns the LabelContract netprofile publishes for c: what the admission policies and the plugin
// judge labels by. profiles and resources are the names a label may use, catalogueNamespaces the namespaces
// the catalogue names (trusted only when marked); untilLatest is UntilLatest's.
func (c Contract) Publish(s Settings, profiles, resources, catalogueNamespaces []string, untilLatest *time.Time) *v1alpha1.LabelContract {
	lc := &v1alpha1.LabelContract{
		TypeMeta:    metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "LabelContract"},
		ObjectMeta:  metav1.ObjectMeta{Name: c.domain},
		LabelDomain: c.domain,
		Keys: v1alpha1.LabelContractKeys{
			Profile: c.ProfileKey(), AccessPrefix: c.AccessPrefix(), Enforcement: c.EnforcementKey(),
			Since: c.SinceAnnotation(), Until: c.UntilAnnotation(), Platform: c.PlatformKey(),
		},
		PlatformNamespaces:       sortedSet(s.PlatformNamespaces),
		CatalogueNamespaces:      sortedSet(catalogueNamespaces),
		ProtectedNamespaceLabels: optionalSet(s.ProtectedNamespaceLabels),
		ClusterName:              s.ClusterName,
		Profiles:                 sortedSet(profiles),
		SharedResources:          sortedSet(resources),
		Enforcement: v1alpha1.LabelContractEnforcement{
			Values:        slices.Clone(EnforcementValues),
			WarningAfter:  metav1.Duration{Duration: s.WarningAfter},
			CriticalAfter: metav1.Duration{Duration: s.CriticalAfter},
			MaxDisabled:   metav1.Duration{Duration: s.MaxDisabled},
		},
	}
	if untilLatest != nil {
		t := metav1.NewTime(untilLatest.UTC())
		lc.Enforcement.UntilLatest = &t
	}
	return lc
}

// FromPublished reads a published LabelContract back: the contract and the settings, for clients (the
// plugin) that judge labels and render as the cluster's manager does.
func FromPublished(lc *v1alpha1.LabelContract) (Contract, Settings, error) {
	c, err := New(lc.LabelDomain)
	if err != nil {
		return Contract{}, Settings{}, fmt.Errorf("LabelContract %s: %w", lc.Name, err)
	}
	return c, Settings{
		PlatformNamespaces:       slices.Clone(lc.PlatformNamespaces),
		ProtectedNamespaceLabels: slices.Clone(lc.ProtectedNamespaceLabels),
		ClusterName:              lc.ClusterName,
		WarningAfter:             lc.Enforcement.WarningAfter.Duration,
		CriticalAfter:            lc.Enforcement.CriticalAfter.Duration,
		MaxDisabled:              lc.Enforcement.MaxDisabled.Duration,
	}, nil
}

// UntilRefresh is how often the latest accepted until-annotation is republished for a maximum bypass of limit:
// limit/24, at least a minute, at most an hour. Admission then accepts at most limit and at least limit minus this.
func UntilRefresh(limit time.Duration) time.Duration {
	return min(max(time.Minute, limit/24), time.Hour)
}

// UntilLatest is the latest until-annotation admission should accept at now: now plus limit, to the second.
// A published value that is still within one refresh of that is kept, so a restart or a resync writes
// nothing; nil when bypasses have no maximum.
func UntilLatest(published *time.Time, now time.Time, limit time.Duration) *time.Time {
	if limit <= 0 {
		return nil
	}
	want := now.Add(limit).Truncate(time.Second).UTC()
	if published != nil && !published.After(want) && want.Sub(*published) < UntilRefresh(limit) {
		kept := published.UTC()
		return &kept
	}
	return &want
}

func sortedSet(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	out = slices.Compact(out)
	if out == nil {
		out = []string{}
	}
	return out
}

// optionalSet is sortedSet for an optional field: nil when empty, so a manager without the setting publishes
// what an older one did.
func optionalSet(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return sortedSet(s)
}
