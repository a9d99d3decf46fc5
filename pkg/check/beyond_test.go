package check_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/policy"
)

// TestBeyondLabels: a tenant's allow-all opens nothing past an enforced ceiling, only flows it holds, and
// opens those flows once the profile only reports its ceiling.
func TestBeyondLabels(t *testing.T) {
	cat, err := desired.DefaultCatalogue()
	if err != nil {
		t.Fatal(err)
	}
	r := policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(policy.DefaultPlatformNamespaces), ClusterName: policy.DefaultClusterName}
	labels := map[string]string{profileKey: "standard"}
	tenantCNPs, tenantKNPs := tenantAllowAll(t)
	for _, mode := range []v1alpha1.CeilingMode{v1alpha1.CeilingEnforce, v1alpha1.CeilingReport} {
		t.Run(string(mode), func(t *testing.T) {
			in := desired.Input{Renderer: r, Catalogue: withCeiling(cat, mode), Scope: desired.All, Now: time.Now(),
				Thresholds: enforcement.DefaultThresholds, Namespaces: []*corev1.Namespace{namespace(subject, labels)}}
			set := desired.Compute(in)
			b, err := check.BeyondLabels(check.Policies{CNPs: set.CNPs, CCNPs: set.CCNPs, NamespaceLabels: in.NamespaceLabels()},
				tenantCNPs, tenantKNPs, subject)
			if err != nil {
				t.Fatal(err)
			}
			switch mode {
			case v1alpha1.CeilingEnforce:
				if len(b.Opened) > 0 || len(b.Held) == 0 {
					t.Fatalf("enforced: opened %v, held %d flows; want none opened, some held", b.Opened, len(b.Held))
				}
			default:
				if len(b.Opened) == 0 || len(b.Held) > 0 {
					t.Fatalf("reported: opened %d, held %v; want some opened, none held", len(b.Opened), b.Held)
				}
			}
			t.Logf("%s: %d opened, %d held, e.g. %v", mode, len(b.Opened), len(b.Held), append(b.Opened, b.Held...)[0])
		})
	}
}
