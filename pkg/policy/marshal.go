package policy

import (
	"bytes"
	"encoding/json"
	"fmt"

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
