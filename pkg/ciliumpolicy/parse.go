package ciliumpolicy

import (
	"errors"
	"fmt"
	"log/slog"

	ciliumutils "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/utils"
	"github.com/cilium/cilium/pkg/policy/api"
)

// Parse does what Cilium's CiliumNetworkPolicy.Parse does when the agent imports the policy, and fails with
// the same message: it sanitizes every rule (on copies: Sanitize rewrites selectors) and converts it to the
// agent's internal form. compat's tests hold the two to the same results.
func (p *CiliumNetworkPolicy) Parse() error {
	if p.Name == "" {
		return errors.New("CiliumNetworkPolicy must have name")
	}
	if p.Namespace == "" {
		// As Cilium: a namespaced policy without a namespace is parsed as a clusterwide one.
		return (&CiliumClusterwideNetworkPolicy{ObjectMeta: p.ObjectMeta, Spec: p.Spec, Specs: p.Specs}).Parse()
	}
	return parse(CNPKindDefinition, p.Namespace, p.Name, p.Spec, p.Specs, func(r *api.Rule) error {
		if r.NodeSelector.LabelSelector != nil {
			return errors.New("Invalid CiliumNetworkPolicy spec: rule cannot have NodeSelector") //nolint:staticcheck // ST1005: Cilium's message, verbatim (see Parse)
		}
		return nil
	})
}

// Parse does what Cilium's CiliumClusterwideNetworkPolicy.Parse does; see CiliumNetworkPolicy.Parse.
func (p *CiliumClusterwideNetworkPolicy) Parse() error {
	if p.Name == "" {
		return errors.New("CiliumClusterwideNetworkPolicy must have name")
	}
	return parse(CCNPKindDefinition, "", p.Name, p.Spec, p.Specs, func(*api.Rule) error { return nil })
}

func parse(kind, namespace, name string, spec *api.Rule, specs api.Rules, extra func(*api.Rule) error) error {
	if spec == nil && specs == nil {
		return fmt.Errorf("Invalid %s spec(s): empty policy", kind) //nolint:staticcheck // ST1005: Cilium's message, verbatim (see Parse)
	}
	logger := slog.New(slog.DiscardHandler)
	check := func(field string, r *api.Rule) error {
		r = r.DeepCopy()
		if err := r.Sanitize(); err != nil {
			return fmt.Errorf("Invalid %s %s: %w", kind, field, err) //nolint:staticcheck // ST1005: Cilium's message, verbatim (see Parse)
		}
		if err := extra(r); err != nil {
			return err
		}
		ciliumutils.ParseToCiliumRule(logger, "default", namespace, name, "", r)
		return nil
	}
	if spec != nil {
		if err := check("spec", spec); err != nil {
			return err
		}
	}
	for _, r := range specs {
		if err := check("specs", r); err != nil {
			return err
		}
	}
	return nil
}
