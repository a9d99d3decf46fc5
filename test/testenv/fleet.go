package testenv

import "github.com/netprofile/netprofile/pkg/contract"

// FleetProfiles are the default catalogue's profiles, in the order a fleet's namespaces cycle through them.
var FleetProfiles = []string{"isolated", "internal", "internal-egress", "standard"}

// FleetLabels are namespace i's labels in a fleet of mixed profiles and grants (the scale benchmark's and the
// chaos suite's), after `flips` profile flips: each flip moves every namespace on to the next profile.
func FleetLabels(i, flips int) map[string]string {
	c := contract.Default()
	l := map[string]string{c.ProfileKey(): FleetProfiles[(i+flips)%len(FleetProfiles)]}
	if i%2 == 0 {
		l[c.AccessKey("postgres")] = "true"
	}
	if i%3 == 0 {
		l[c.AccessKey("kube-api")] = "true"
	}
	if i%5 == 0 {
		l[c.AccessKey("dragonfly")] = "true"
	}
	return l
}
