package policy

import (
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Audit is the allow-all of a namespace in audit mode, beside its own policies. An allow-all rather than the
// profile rendered without default deny, because the baselines' default deny would still drop (they select
// every endpoint), and because Hubble then shows every flow the namespace's policies would drop as forwarded
// with this policy as the only one allowing it: `kubectl netprofile replay` judges those flows against the
// profile. The escape hatch's allow-all has its own name, so the two never mix in Hubble or in the alerts.
func Audit(namespace string) *cilium.CiliumNetworkPolicy {
	p := AllowAll(namespace)
	p.Name = ownership.AuditPolicyName
	p.Spec.Description = "netprofile: audit mode: this namespace's policies are in place, this policy forwards what they would drop; remove the enforcement label to enforce"
	return p
}
