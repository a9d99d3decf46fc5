package schema_test

import (
	"strings"
	"testing"

	"github.com/cilium/cilium/pkg/policy/api"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/schema"
	"github.com/netprofile/netprofile/pkg/policy"
)

// The schema catches what Parse/Sanitize lets through, and the other way round: the plugin needs both.
func TestSchemaRejectsWhatTheAPIServerRejects(t *testing.T) {
	p := policy.AllowAll("x")
	if err := schema.Validate(p); err != nil {
		t.Fatalf("the allow-all policy must pass: %v", err)
	}
	p.Spec.Egress[0].ToPorts = api.PortRules{{Ports: []api.PortProtocol{{Port: "443", Protocol: "tcp"}}}}
	err := schema.Validate(p)
	if err == nil || !strings.Contains(err.Error(), "CiliumNetworkPolicy x/") || !strings.Contains(err.Error(), "protocol") {
		t.Fatalf("want a schema error naming the policy and the protocol, got %v", err)
	}

	ccnp := &cilium.CiliumClusterwideNetworkPolicy{Spec: policy.AllowAll("x").Spec}
	ccnp.Name = "c"
	if err := schema.Validate(ccnp); err != nil {
		t.Fatalf("clusterwide allow-all must pass: %v", err)
	}
	ccnp.Spec.Egress[0].ToPorts = api.PortRules{{Ports: []api.PortProtocol{{Port: "443", Protocol: "tcp"}}}}
	if err := schema.Validate(ccnp); err == nil {
		t.Fatal("lowercase protocol accepted in a clusterwide policy")
	}
	if err := schema.Validate(p.Spec); err == nil {
		t.Fatal("Validate accepted a type it does not know")
	}
}
