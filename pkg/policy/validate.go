package policy

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
)

// Validate runs the Cilium agent's Parse/Sanitize on a rendered policy (it rejects port 70000 and rules
// without sections). A policy that fails it is never applied: the API server would accept it, and Cilium would
// then ignore it silently, which for an allow policy means dropped traffic and for the cluster means a false
// sense of safety. Cilium's CRD schema, which the API server applies itself, is pkg/ciliumpolicy/schema: the
// plugin and the tests run it, the manager does not link it.
//
// Results are remembered by kind and rules: thousands of namespaces share a handful of profile and grant
// combinations, and validation is the most expensive step of rendering.
func Validate(obj any) error {
	var what string
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		what = fmt.Sprintf("CiliumNetworkPolicy %s/%s", p.Namespace, p.Name)
	case *cilium.CiliumClusterwideNetworkPolicy:
		what = "CiliumClusterwideNetworkPolicy " + p.Name
	default:
		return fmt.Errorf("cannot validate %T", obj)
	}
	key := fmt.Sprintf("%T/%s", obj, RulesHash(obj))
	v, ok := validated.Load(key)
	if !ok {
		v = validate(obj)
		if validatedCount.Add(1) > maxValidated {
			validated.Clear()
			validatedCount.Store(0)
		}
		validated.Store(key, v)
	}
	if f := v.(verdict); f.err != nil {
		return fmt.Errorf("%s %s: %w", what, f.stage, f.err)
	}
	return nil
}

// verdict is a validation result without the policy's identity, so it can be shared between namespaces.
type verdict struct {
	stage string
	err   error
}

// validated memoizes Validate by kind and rules (a policy's validity does not depend on its name or
// namespace); bounded so endless distinct inputs (a fuzzer, a runaway catalogue) cannot grow it without limit.
var (
	validated      sync.Map
	validatedCount atomic.Int64
)

const maxValidated = 4096

func validate(obj any) verdict {
	var parse func() error
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		parse = p.Parse
	case *cilium.CiliumClusterwideNetworkPolicy:
		parse = p.Parse
	}
	if err := parse(); err != nil {
		return verdict{"rejected by Cilium", err}
	}
	return verdict{}
}

// anyPortRule says which peers may use anyPort in an object kind.
type anyPortRule func(r *v1alpha1.Rule) bool

// profileAnyPort: only a selector-scoped peer (a gateway, say) may be any-port in a profile.
func profileAnyPort(r *v1alpha1.Rule) bool { return r.Endpoints != nil }

// baselineAnyPort: platform baselines may also open any port to health/host entities and CIDRs (kubelet
// probes hit every container port), never to world or cluster.
func baselineAnyPort(r *v1alpha1.Rule) bool {
	if r.Endpoints != nil || len(r.CIDRs) > 0 {
		return true
	}
	return len(r.Entities) > 0 && !slices.ContainsFunc(r.Entities, func(e v1alpha1.Entity) bool {
		return e == v1alpha1.EntityWorld || e == v1alpha1.EntityCluster
	})
}

// ValidateRules repeats the CRD's schema and CEL rules in Go, so an object that slipped past admission
// (stored before a CRD upgrade, or written with validation off) is refused instead of rendered.
func ValidateRules(ingress, egress []v1alpha1.Rule, anyPort anyPortRule) error {
	var errs []error
	check := func(dir string, i int, r *v1alpha1.Rule) {
		fail := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s[%d]: "+format, append([]any{dir, i}, args...)...))
		}
		peers := 0
		for _, set := range []bool{r.Endpoints != nil, len(r.Entities) > 0, len(r.CIDRs) > 0, len(r.FQDNs) > 0} {
			if set {
				peers++
			}
		}
		if peers != 1 {
			fail("a rule names exactly one kind of peer: endpoints, entities, cidrs or fqdns")
		}
		switch {
		case r.AnyPort && len(r.Ports) > 0:
			fail("a rule lists its ports, or sets anyPort: true (not both)")
		case !r.AnyPort && len(r.Ports) == 0:
			fail("no ports: list the ports explicitly")
		case r.AnyPort && !anyPort(r):
			fail("anyPort is not allowed with this peer; list the ports")
		}
		if dir == "ingress" && (len(r.FQDNs) > 0 || len(r.DNS) > 0) {
			fail("fqdns and dns rules are egress only")
		}
		if len(r.DNS) > 0 && len(r.Ports) == 0 {
			fail("dns rules need explicit ports")
		}
		if r.Endpoints != nil && r.Endpoints.Namespace == "" {
			fail("endpoints need a namespace")
		}
		for _, c := range r.CIDRs {
			if _, err := netip.ParsePrefix(c); err != nil {
				fail("%q is not a CIDR", c)
			}
		}
		for _, e := range r.Entities {
			if !slices.Contains(entityEnum, e) {
				fail("unknown entity %q", e)
			}
		}
		if err := validatePorts(r.Ports); err != nil {
			fail("%v", err)
		}
	}
	for i := range ingress {
		check("ingress", i, &ingress[i])
	}
	for i := range egress {
		check("egress", i, &egress[i])
	}
	return errors.Join(errs...)
}

// ValidateResource repeats the SharedResource CRD's rules in Go.
func ValidateResource(spec *v1alpha1.SharedResourceSpec) error {
	p := spec.Provider
	switch {
	case (p.Namespace == "") == (p.Entity == ""):
		return errors.New("provider: set exactly one of namespace and entity")
	case p.Entity != "" && len(p.PodSelector) > 0:
		return errors.New("provider: podSelector needs namespace")
	case p.Entity != "" && !slices.Contains(entityEnum, p.Entity):
		return fmt.Errorf("provider: unknown entity %q", p.Entity)
	case len(spec.Ports) == 0:
		return errors.New("no ports: list the ports explicitly")
	}
	if err := validatePorts(spec.Ports); err != nil {
		return err
	}
	if spec.Consumers != nil {
		return validateConsumers(spec.Consumers)
	}
	return nil
}

var entityEnum = []v1alpha1.Entity{"world", "cluster", "host", "remote-node", "kube-apiserver", "health", "ingress", "init", "unmanaged"}

func validatePorts(ports []v1alpha1.PortProtocol) error {
	for _, p := range ports {
		if p.Port < 1 || p.Port > 65535 {
			return fmt.Errorf("port %d is outside 1-65535", p.Port)
		}
		switch p.Protocol {
		case "", v1alpha1.ProtocolTCP, v1alpha1.ProtocolUDP, v1alpha1.ProtocolSCTP, v1alpha1.ProtocolANY:
		default:
			return fmt.Errorf("protocol %q: use TCP, UDP, SCTP or ANY (upper case)", p.Protocol)
		}
	}
	return nil
}
