// Package schema checks a policy against the OpenAPI schema of Cilium's own CRDs (embedded in the pinned Cilium
// module), with the validator kube-apiserver runs on custom resources. kube-apiserver applies that schema on
// every write, so the manager leaves it there and keeps only Cilium's Parse/Sanitize (policy.Validate), which no
// API server runs; the plugin and the tests check both, so a rendered policy the API server would refuse is
// caught before it reaches a cluster. Cilium's validator package does the same but drags in its informer
// package, whose init installs a process-wide panic handler that exits.
package schema

import (
	"encoding/json"
	"fmt"
	"sync"

	ciliumcrds "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/client/crds/v2"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"sigs.k8s.io/yaml"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
)

// schemas are compiled once, by kind.
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

// Validate runs the CRD schema check kube-apiserver would run on a *ciliumpolicy.CiliumNetworkPolicy or
// *ciliumpolicy.CiliumClusterwideNetworkPolicy.
func Validate(obj any) error {
	var kind, what string
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		kind, what = cilium.CNPKindDefinition, fmt.Sprintf("CiliumNetworkPolicy %s/%s", p.Namespace, p.Name)
	case *cilium.CiliumClusterwideNetworkPolicy:
		kind, what = cilium.CCNPKindDefinition, "CiliumClusterwideNetworkPolicy "+p.Name
	default:
		return fmt.Errorf("cannot validate %T", obj)
	}
	s, err := schemas()
	if err != nil {
		return fmt.Errorf("failed to build Cilium's policy schemas: %w", err)
	}
	b, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("failed to encode policy: %w", err)
	}
	var u map[string]any
	if err := json.Unmarshal(b, &u); err != nil {
		return fmt.Errorf("failed to decode policy: %w", err)
	}
	if errs := apiservervalidation.ValidateCustomResource(nil, u, s[kind]); len(errs) > 0 {
		return fmt.Errorf("%s fails Cilium's schema: %w", what, errs.ToAggregate())
	}
	return nil
}
