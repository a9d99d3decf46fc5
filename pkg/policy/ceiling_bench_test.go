package policy_test

import (
	"fmt"
	"testing"
)

// BenchmarkNamespace renders a namespace's policy and ceiling, as every namespace reconcile does.
func BenchmarkNamespace(b *testing.B) {
	cat := samples(b).Catalogue()
	labels := map[string]string{profileKey: "standard", access + "postgres": "true", access + "kube-api": "true"}
	r := renderer()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		res, err := r.Namespace(namespace(fmt.Sprintf("ns-%d", i), labels), cat, nil)
		if err != nil || res.Ceiling == nil {
			b.Fatal(err, res.CeilingErr)
		}
	}
}
