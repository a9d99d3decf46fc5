package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// YAML encodes objects as multi-document YAML the way a user would write them: without status and without
// the null creationTimestamp of an object that was never stored.
func YAML(objs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range objs {
		m, err := Clean(obj)
		if err != nil {
			return nil, err
		}
		b, err := yaml.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("failed to encode YAML: %w", err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}

// Clean converts obj to a map without status, creationTimestamp, resourceVersion, uid, generation and
// managedFields: the parts of an object netprofile does not decide.
func Clean(obj any) (map[string]any, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("failed to encode object: %w", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("failed to decode object: %w", err)
	}
	unstructured.RemoveNestedField(m, "status")
	for _, f := range []string{"creationTimestamp", "resourceVersion", "uid", "generation", "managedFields"} {
		unstructured.RemoveNestedField(m, "metadata", f)
	}
	return m, nil
}

// AnnotationsHash fingerprints a policy's annotations; "" when it has none, as every rendered policy.
func AnnotationsHash(annotations map[string]string) string {
	if len(annotations) == 0 {
		return ""
	}
	b, err := json.Marshal(annotations) // Map keys are encoded sorted.
	if err != nil {
		return "unencodable"
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// RulesHash fingerprints a policy's rules (spec and specs) in their wire encoding, so a rendered policy and
// the same policy read back from the API server hash alike. "" for other objects.
func RulesHash(obj any) string {
	var v any
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		v = [2]any{p.Spec, p.Specs}
	case *cilium.CiliumClusterwideNetworkPolicy:
		v = [2]any{p.Spec, p.Specs}
	default:
		return ""
	}
	b, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
