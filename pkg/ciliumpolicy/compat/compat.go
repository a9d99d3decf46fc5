// Package compat converts between netprofile's policy envelope (pkg/ciliumpolicy) and Cilium's own
// cilium.io/v2 types through their shared wire format. It is for the CLI, which hands policies to Cilium's
// policy engine; the manager must not import it (cmd/manager's dependency test bans Cilium's API package).
package compat

import (
	"encoding/json"
	"fmt"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/schema"
	"github.com/netprofile/netprofile/pkg/policy"
)

// CNP converts a rendered namespaced policy into Cilium's type.
func CNP(p *cilium.CiliumNetworkPolicy) (*ciliumv2.CiliumNetworkPolicy, error) {
	return convert[ciliumv2.CiliumNetworkPolicy](p)
}

// CCNP converts a rendered clusterwide policy into Cilium's type.
func CCNP(p *cilium.CiliumClusterwideNetworkPolicy) (*ciliumv2.CiliumClusterwideNetworkPolicy, error) {
	return convert[ciliumv2.CiliumClusterwideNetworkPolicy](p)
}

// Validate runs Cilium's CRD schema (pkg/ciliumpolicy/schema), then Parse/Sanitize (policy.Validate), on one of
// Cilium's policy types.
func Validate(obj any) error {
	var (
		env any
		err error
	)
	switch obj.(type) {
	case *ciliumv2.CiliumNetworkPolicy:
		env, err = convert[cilium.CiliumNetworkPolicy](obj)
	case *ciliumv2.CiliumClusterwideNetworkPolicy:
		env, err = convert[cilium.CiliumClusterwideNetworkPolicy](obj)
	default:
		return fmt.Errorf("cannot validate %T", obj)
	}
	if err != nil {
		return err
	}
	if err := schema.Validate(env); err != nil {
		return err
	}
	return policy.Validate(env)
}

func convert[T any](in any) (*T, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return nil, fmt.Errorf("failed to encode policy: %w", err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		return nil, fmt.Errorf("failed to decode policy: %w", err)
	}
	return out, nil
}
