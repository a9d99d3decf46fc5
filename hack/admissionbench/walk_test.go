package main

import (
	"fmt"
	"testing"

	"github.com/google/cel-go/cel"
)

// BenchmarkLabelWalk times the walk the label policies make over a Namespace's labels (the namespace-labels
// policy's variables.changed), with and without CEL's cost tracking, which kube-apiserver always turns on. The
// tracked walk grows with the square of the number of labels while its cost units grow linearly, so the API
// server's cost budget never stops it: that is why the chart bounds the labels it judges
// (admission.maxNamespaceLabels).
//
//	go test ./hack/admissionbench -run '^$' -bench LabelWalk
func BenchmarkLabelWalk(b *testing.B) {
	env, err := cel.NewEnv(cel.Variable("labels", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("oldLabels", cel.MapType(cel.StringType, cel.StringType)))
	if err != nil {
		b.Fatal(err)
	}
	ast, iss := env.Compile(`labels.filter(k, (k.startsWith('network-policy.homelab/') || k.startsWith('access.network-policy.homelab/')) &&
		(!(k in oldLabels) || oldLabels[k] != labels[k]))`)
	if iss.Err() != nil {
		b.Fatal(iss.Err())
	}
	for _, tracked := range []bool{false, true} {
		var opts []cel.ProgramOption
		if tracked {
			opts = append(opts, cel.CostTracking(nil))
		}
		prg, err := env.Program(ast, opts...)
		if err != nil {
			b.Fatal(err)
		}
		for _, n := range []int{250, 1000, 4000} {
			labels := make(map[string]string, n)
			for i := range n {
				labels[fmt.Sprintf("example.com/label-%05d", i)] = "v"
			}
			b.Run(fmt.Sprintf("costTracking=%v/labels=%d", tracked, n), func(b *testing.B) {
				for b.Loop() {
					if _, _, err := prg.Eval(map[string]any{"labels": labels, "oldLabels": labels}); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
