package chart

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

// No release name makes the chart write a Cilium policy at a name reserved for generated ones: the
// generated-policies admission policy refuses anyone but netprofile's ServiceAccount there (a release named
// netprofile-<x> would be refused by its own policy), and netprofile's users read netprofile-* as generated.
func TestChartPoliciesAvoidTheReservedPrefix(t *testing.T) {
	helm, err := testenv.Helm()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ release, fullname string }{
		{"netprofile", ""}, {"netprofile-prod", ""}, {"prod", ""}, {"my-netprofile", ""}, {"x", "netprofile-blue"},
	} {
		args := []string{"template", tc.release, chartDir, "--namespace", "netprofile-system", "--set", "tests.enabled=true"}
		if tc.fullname != "" {
			args = append(args, "--set", "fullnameOverride="+tc.fullname)
		}
		out, err := exec.Command(helm, args...).Output()
		if err != nil {
			t.Fatalf("helm %v: %v", args, err)
		}
		var found int
		for _, o := range decode(t, out) {
			if o.GetKind() != "CiliumNetworkPolicy" && o.GetKind() != "CiliumClusterwideNetworkPolicy" {
				continue
			}
			found++
			if strings.HasPrefix(o.GetName(), ownership.NamePrefix) {
				t.Errorf("release %q (fullnameOverride %q): the chart's %s %s takes the prefix %q reserved for generated policies",
					tc.release, tc.fullname, o.GetKind(), o.GetName(), ownership.NamePrefix)
			}
		}
		if found != 2 {
			t.Errorf("release %q: %d Cilium policies, want the manager's and the helm test's", tc.release, found)
		}
	}
}
