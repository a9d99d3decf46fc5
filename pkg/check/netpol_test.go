package check_test

import (
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/pkg/check"
)

// TestValidateNetworkPolicy: a NetworkPolicy from a file the API server would refuse is refused, with the field
// named, before the engine judges a policy that cannot exist; a valid one passes.
func TestValidateNetworkPolicy(t *testing.T) {
	cases := map[string]struct{ spec, err string }{
		"allow-all":                     {spec: `{podSelector: {}, ingress: [{}], egress: [{}], policyTypes: [Ingress, Egress]}`},
		"ports, a named port and peers": {spec: `{podSelector: {matchLabels: {app: web}}, egress: [{to: [{namespaceSelector: {}, podSelector: {}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}], ports: [{port: 443}, {port: 5000, endPort: 5010, protocol: UDP}, {port: http}]}]}`},
		"a lowercase protocol":          {spec: `{podSelector: {}, egress: [{ports: [{port: 443, protocol: tcp}]}]}`, err: `spec.egress[0].ports[0].protocol: "tcp"`},
		"port 0":                        {spec: `{podSelector: {}, ingress: [{ports: [{port: 0}]}]}`, err: "spec.ingress[0].ports[0].port"},
		"port 70000":                    {spec: `{podSelector: {}, ingress: [{ports: [{port: 70000}]}]}`, err: "spec.ingress[0].ports[0].port"},
		"endPort below port":            {spec: `{podSelector: {}, egress: [{ports: [{port: 443, endPort: 80}]}]}`, err: "spec.egress[0].ports[0].endPort"},
		"endPort with a named port":     {spec: `{podSelector: {}, egress: [{ports: [{port: https, endPort: 500}]}]}`, err: "needs a numeric port"},
		"a CIDR that is none":           {spec: `{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/33}}]}]}`, err: "spec.egress[0].to[0].ipBlock.cidr"},
		"an except outside the CIDR":    {spec: `{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [192.168.0.0/16]}}]}]}`, err: "except[0]"},
		"an except equal to the CIDR":   {spec: `{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]}`, err: "except[0]"},
		"ipBlock with a selector":       {spec: `{podSelector: {}, egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}`, err: "may not be combined"},
		"an empty peer":                 {spec: `{podSelector: {}, ingress: [{from: [{}]}]}`, err: "spec.ingress[0].from[0]"},
		"a bad selector operator":       {spec: `{podSelector: {matchExpressions: [{key: app, operator: Like, values: [web]}]}, egress: [{}]}`, err: "spec.podSelector"},
		"an unknown policy type":        {spec: `{podSelector: {}, policyTypes: [Both]}`, err: `"Both"`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			knp := &networkingv1.NetworkPolicy{}
			if err := yaml.UnmarshalStrict([]byte("metadata: {name: p, namespace: ns}\nspec: "+tc.spec), knp); err != nil {
				t.Fatal(err)
			}
			err := check.ValidateNetworkPolicy(knp)
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("refused a valid policy: %v", err)
			case tc.err != "" && err == nil:
				t.Errorf("accepted it, want an error naming %q", tc.err)
			case tc.err != "" && !strings.Contains(err.Error(), tc.err):
				t.Errorf("error %q does not name %q", err, tc.err)
			}
		})
	}
	if err := check.ValidateNetworkPolicy(&networkingv1.NetworkPolicy{}); err == nil || !strings.Contains(err.Error(), "metadata.name") {
		t.Errorf("a policy without a name: %v", err)
	}
}
