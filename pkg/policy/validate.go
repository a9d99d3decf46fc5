package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"

	ciliumcrds "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/client/crds/v2"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
)

// schemas are the structural schemas of Cilium's own CRDs (embedded in the pinned Cilium module), compiled
// once into the validator kube-apiserver itself runs on custom resources. Cilium's validator package does
// the same but drags in its informer package, whose init installs a process-wide panic handler that exits.
var schemas = sync.OnceValues(func() (map[string]apiservervalidation.SchemaCreateValidator, error) {
	out := map[string]apiservervalidation.SchemaCreateValidator{}
	for kind, file := range map[string]string{
		cilium.CNPKindDefinition:  "ciliumnetworkpolicies.yaml",
		cilium.CCNPKindDefinition: "ciliumclusterwidenetworkpolicies.yaml",
	} {
		raw, err := ciliumcrds.EmbedFS.ReadFile(file)
		if err != nil {
			return nil, err
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(raw, crd); err != nil {
			return nil, fmt.Errorf("failed to decode Cilium CRD %s: %w", file, err)
		}
		var internal apiextensions.CustomResourceValidation
		if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(crd.Spec.Versions[0].Schema, &internal, nil); err != nil {
			return nil, fmt.Errorf("failed to convert Cilium CRD %s: %w", file, err)
		}
		v, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
		if err != nil {
			return nil, fmt.Errorf("failed to compile the schema of Cilium CRD %s: %w", file, err)
		}
		out[kind] = v
	}
	return out, nil
})

// validateSchema runs the CRD's OpenAPI schema check kube-apiserver would run.
func validateSchema(kind string, u *unstructured.Unstructured) error {
	s, err := schemas()
	if err != nil {
		return fmt.Errorf("failed to build Cilium's policy schemas: %w", err)
	}
	if errs := apiservervalidation.ValidateCustomResource(nil, u.Object, s[kind]); len(errs) > 0 {
		return errs.ToAggregate()
	}
	return nil
}

// Validate runs both of Cilium's checks on a rendered policy: the CRD schema (which rejects `protocol: tcp`)
// and the agent's Parse/Sanitize (which rejects port 70000 and rules without sections). A policy that fails
// either is never applied: the API server would accept some of them, and Cilium would then ignore them
// silently, which for an allow policy means dropped traffic and for the cluster means a false sense of safety.
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
	u, err := toUnstructured(obj)
	if err != nil {
		return verdict{"could not be encoded", err}
	}
	var kind string
	var parse func() error
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		kind, parse = cilium.CNPKindDefinition, p.Parse
	case *cilium.CiliumClusterwideNetworkPolicy:
		kind, parse = cilium.CCNPKindDefinition, p.Parse
	}
	if err := validateSchema(kind, u); err != nil {
		return verdict{"fails Cilium's schema", err}
	}
	if err := parse(); err != nil {
		return verdict{"rejected by Cilium", err}
	}
	return verdict{}
}

func toUnstructured(obj any) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("failed to encode policy: %w", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("failed to decode policy: %w", err)
	}
	return u, nil
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
