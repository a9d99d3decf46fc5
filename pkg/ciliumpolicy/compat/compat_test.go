package compat_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
)

// Edge cases of Cilium's Parse that no test file has.
const edgeCases = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: empty, namespace: a}
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: empty}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {namespace: a}
spec: {endpointSelector: {}}
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: node-selector, namespace: a}
specs:
  - endpointSelector: {}
    ingress: [{fromEntities: [host]}]
  - nodeSelector: {matchLabels: {a: b}}
    ingress: [{fromEntities: [host]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: no-namespace-node-selector}
spec:
  nodeSelector: {matchLabels: {a: b}}
  ingress: [{fromEntities: [host]}]
---
apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: no-selector}
spec:
  ingress: [{fromEntities: [host]}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: with-status, namespace: a}
spec: {endpointSelector: {}, ingress: [{fromEndpoints: [{}]}]}
status:
  conditions:
    - {type: Valid, status: "True", lastTransitionTime: "2026-01-02T03:04:05Z", message: Policy validation succeeded}
`

// TestEnvelopeMatchesCilium holds pkg/ciliumpolicy to Cilium's own cilium.io/v2 types on every policy the
// repository has (rendered goldens, lint's good and bad inputs, edge cases): the same object decodes to the
// same wire format, and Parse accepts and rejects the same policies with the same message.
func TestEnvelopeMatchesCilium(t *testing.T) {
	docs := map[string][]byte{}
	for _, glob := range []string{"../../policy/testdata/golden/*.yaml", "../../../cmd/kubectl-netprofile/internal/lint/testdata/*/*.yaml"} {
		files, err := filepath.Glob(glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("no test files at %s: %v", glob, err)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			split(t, f, raw, docs)
		}
	}
	split(t, "edge cases", []byte(edgeCases), docs)

	var valid, invalid int
	for name, raw := range docs {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(raw, &meta); err != nil {
			continue
		}
		var theirs, ours interface{ parse() error }
		switch meta.Kind {
		case cilium.CNPKindDefinition:
			theirs, ours = &theirCNP{}, &ourCNP{}
		case cilium.CCNPKindDefinition:
			theirs, ours = &theirCCNP{}, &ourCCNP{}
		default:
			continue
		}
		if err := yaml.Unmarshal(raw, theirs); err != nil {
			continue // not a policy Cilium can decode (lint's decode-error case)
		}
		if err := yaml.Unmarshal(raw, ours); err != nil {
			t.Errorf("%s: Cilium decodes it, the envelope does not: %v", name, err)
			continue
		}
		if a, b := wire(t, theirs), wire(t, ours); !reflect.DeepEqual(a, b) {
			t.Errorf("%s: wire formats differ:\nCilium:   %v\nenvelope: %v", name, a, b)
		}
		errTheirs, errOurs := theirs.parse(), ours.parse()
		if fmt.Sprint(errTheirs) != fmt.Sprint(errOurs) {
			t.Errorf("%s: Parse disagrees: Cilium %v, envelope %v", name, errTheirs, errOurs)
		}
		if errTheirs == nil {
			valid++
		} else {
			invalid++
		}
	}
	if valid < 10 || invalid < 5 {
		t.Fatalf("too few policies compared (%d valid, %d invalid): the test data moved", valid, invalid)
	}
}

// TestConversions round-trips a rendered policy through Cilium's type and back through Validate.
func TestConversions(t *testing.T) {
	ours := &cilium.CiliumNetworkPolicy{}
	if err := yaml.Unmarshal([]byte(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: p, namespace: a, labels: {team: web}}
spec:
  endpointSelector: {}
  egress: [{toEntities: [world], toPorts: [{ports: [{port: "443", protocol: TCP}]}]}]
`), ours); err != nil {
		t.Fatal(err)
	}
	theirs, err := compat.CNP(ours)
	if err != nil {
		t.Fatal(err)
	}
	if theirs.Labels["team"] != "web" || theirs.Spec == nil || len(theirs.Spec.Egress) != 1 {
		t.Fatalf("conversion lost content: %+v", theirs)
	}
	if err := compat.Validate(theirs); err != nil {
		t.Fatalf("valid policy rejected: %v", err)
	}
	theirs.Spec.Egress[0].ToPorts[0].Ports[0].Port = "70000"
	if err := compat.Validate(theirs); err == nil {
		t.Fatal("port 70000 accepted")
	}
	if err := compat.Validate(&ourCNP{}); err == nil {
		t.Fatal("Validate accepted a type it does not know")
	}
	ccnp, err := compat.CCNP(&cilium.CiliumClusterwideNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "c"}})
	if err != nil || ccnp.Name != "c" {
		t.Fatalf("CCNP conversion: %v %+v", err, ccnp)
	}
}

type (
	theirCNP  struct{ ciliumv2.CiliumNetworkPolicy }
	theirCCNP struct {
		ciliumv2.CiliumClusterwideNetworkPolicy
	}
	ourCNP  struct{ cilium.CiliumNetworkPolicy }
	ourCCNP struct {
		cilium.CiliumClusterwideNetworkPolicy
	}
)

var discard = slog.New(slog.DiscardHandler)

func (p *theirCNP) parse() error {
	_, err := p.CiliumNetworkPolicy.Parse(discard, "default")
	return err
}
func (p *theirCCNP) parse() error {
	_, err := p.CiliumClusterwideNetworkPolicy.Parse(discard, "default")
	return err
}
func (p *ourCNP) parse() error  { return p.CiliumNetworkPolicy.Parse() }
func (p *ourCCNP) parse() error { return p.CiliumClusterwideNetworkPolicy.Parse() }

// wire is the JSON form as a generic map, for comparison.
func wire(t *testing.T, obj any) map[string]any {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func split(t *testing.T, name string, raw []byte, into map[string][]byte) {
	t.Helper()
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			into[fmt.Sprintf("%s#%d", name, i)] = doc
		}
	}
}
