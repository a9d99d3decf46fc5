package manifest_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/pkg/manifest"
)

// nestedLists is a Namespace inside depth Lists, in JSON on one line: the shape that made the old reader
// re-encode the rest of the file at every level.
func nestedLists(depth int) string {
	return strings.Repeat(`{"apiVersion":"v1","kind":"List","items":[`, depth) +
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"deep"}}` + strings.Repeat("]}", depth)
}

const namespace = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n"

func TestParse(t *testing.T) {
	type obj struct {
		line int
		kind string
	}
	cases := map[string]struct {
		input string
		want  []obj
	}{
		"documents, with the lines of the file": {
			input: "# a comment\n" + namespace + "---\n\n" + namespace + "--- # the last one\n" + namespace,
			want:  []obj{{2, "Namespace"}, {8, "Namespace"}, {13, "Namespace"}},
		},
		"a leading separator and empty documents": {
			input: "---\n---\n# nothing\n---\n" + namespace + "...\n",
			want:  []obj{{5, "Namespace"}},
		},
		"a separator followed by content": {
			input: namespace + "--- {apiVersion: v1, kind: ConfigMap}\n",
			want:  []obj{{1, "Namespace"}, {5, "ConfigMap"}},
		},
		"a List's items at their own lines": {
			input: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n- kind: List\n  items:\n  - kind: ConfigMap\n",
			want:  []obj{{4, "Namespace"}, {8, "ConfigMap"}},
		},
		"Lists as deep as allowed": {
			input: nestedLists(4),
			want:  []obj{{1, "Namespace"}},
		},
		"an empty List and one with null items": {
			input: "kind: List\n---\nkind: List\nitems: null\n",
		},
		"a document that is not a mapping is an object without a kind": {
			input: "- a\n- b\n",
			want:  []obj{{1, ""}},
		},
		"JSON": {
			input: `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}`,
			want:  []obj{{1, "Namespace"}},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := manifest.NewReader(manifest.DefaultLimits).Parse("f.yaml", []byte(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			var got []obj
			for _, o := range objs {
				got = append(got, obj{o.Line, o.Kind})
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestYAML: an object decodes from its YAML as it was written: a whole document is its own bytes, a List item
// is encoded on its own, with the aliases it uses resolved.
func TestYAML(t *testing.T) {
	input := "# head\n" + namespace + "---\nkind: List\nitems:\n- &ns {apiVersion: v1, kind: Namespace, metadata: {name: b, labels: &l {on: yes}}}\n" +
		"- {apiVersion: v1, kind: Namespace, metadata: {name: c, labels: *l}}\n- *ns\n"
	objs, err := manifest.NewReader(manifest.DefaultLimits).Parse("f.yaml", []byte(input))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		b, err := o.YAML()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	want := []string{
		"# head\n" + namespace,
		"{apiVersion: v1, kind: Namespace, metadata: {name: b, labels: {on: yes}}}\n",
		"{apiVersion: v1, kind: Namespace, metadata: {name: c, labels: {on: yes}}}\n",
		"{apiVersion: v1, kind: Namespace, metadata: {name: b, labels: {on: yes}}}\n",
	}
	if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	small := manifest.Limits{FileBytes: 1 << 10, Documents: 3, Depth: 5, ListDepth: 1, Objects: 4, Nodes: 100}
	cases := map[string]struct {
		input string
		want  string
	}{
		"a file too large": {
			input: strings.Repeat("#", 1025), want: "f.yaml: larger than 1 KiB, the most the plugin reads from one file",
		},
		"too many documents": {
			input: strings.Repeat("a: 1\n---\n", 4), want: "f.yaml: more than 3 YAML documents",
		},
		"empty documents count": {
			input: strings.Repeat("---\n# nothing\n", 4), want: "f.yaml: more than 3 YAML documents",
		},
		"nested too deep": {
			input: "a:\n  b: [[[[x]]]]\n", want: "f.yaml:2: nested deeper than 5 levels",
		},
		"a List in a List": {
			input: "kind: List\nitems:\n- kind: List\n  items: []\n", want: "f.yaml:3: a kind: List nested in 1 other Lists; the plugin reads Lists at most 1 deep",
		},
		"too many objects": {
			input: "kind: List\nitems: [{kind: A}, {kind: B}, {kind: C}, {kind: D}]\n", want: "f.yaml:2: more than 4 objects (Lists and their items)",
		},
		"too many nodes, from the bytes": {
			input: "[" + strings.Repeat("1,", 100) + "1]", want: "f.yaml: more than 100 YAML nodes (counted from the lines",
		},
		"aliases multiply a List's items past the nodes": {
			input: "a: &a [" + strings.Repeat("[x, x, x, x], ", 7) + "[x, x, x, x]]\nkind: List\nitems: [{b: *a}, {b: *a}, {b: *a}]\n",
			want:  "more than 100 YAML nodes with aliases expanded",
		},
		"not YAML, at the file's line": {
			input: "a: 1\n---\na: 1\nb: [\n", want: "f.yaml: yaml: line 4: did not find expected node content",
		},
		"items that are not a list": {
			input: "kind: List\nitems: {a: 1}\n", want: "f.yaml:2: the items of a List must be a list",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := manifest.NewReader(small).Parse("f.yaml", []byte(tc.input))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestObjectsAcrossFiles: the objects limit holds over every file a reader reads.
func TestObjectsAcrossFiles(t *testing.T) {
	r := manifest.NewReader(manifest.Limits{FileBytes: 1 << 10, Documents: 10, Depth: 10, ListDepth: 1, Objects: 3, Nodes: 100})
	for i, want := range []string{"", "", "", "g.yaml:1: more than 3 objects"} {
		_, err := r.Parse([]string{"a.yaml", "b.yaml", "c.yaml", "g.yaml"}[i], []byte("kind: A\n"))
		if (err == nil) != (want == "") || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("file %d: error %v, want %q", i, err, want)
		}
	}
}

func TestReadAll(t *testing.T) {
	if _, err := manifest.ReadAll("in", strings.NewReader(strings.Repeat("a", 10)), 10); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	_, err := manifest.ReadAll("in", strings.NewReader(strings.Repeat("a", 11)), 10)
	if le, ok := errors.AsType[*manifest.LimitError](err); !ok || le.Error() != "in: larger than 10 bytes, the most the plugin reads from one file: refused, as no manifest is; split or fix the file" {
		t.Errorf("past the limit: %v", err)
	}
}

// hostile are the shapes that cost a naive reader most per byte: Lists in Lists, deep nesting, flow
// collections of tiny scalars, many documents, aliases.
func hostile(size int) map[string]string {
	return map[string]string{
		"nested Lists":    nestedLists(size / 43),
		"deep nesting":    "a: " + strings.Repeat("[", size/2) + strings.Repeat("]", size/2),
		"tiny scalars":    "[" + strings.Repeat("1,", size/2) + "1]",
		"flow mappings":   "{" + strings.Repeat("a,", size/2) + "a}",
		"documents":       strings.Repeat("a: 1\n---\n", size/9),
		"null items":      strings.Repeat("-\n", size/2),
		"aliased items":   "a: &a {apiVersion: v1, kind: Namespace}\nkind: List\nitems: [" + strings.Repeat("*a,", size/3) + "*a]\n",
		"a List per line": strings.Repeat("---\nkind: List\nitems: [{kind: A}]\n", size/30),
	}
}

// TestBoundedWork: reading a hostile file costs memory in proportion to its size, whatever its shape: the
// bytes allocated per byte read do not grow with the file, and stay under a constant (a YAML node is about
// 200 bytes). The old reader allocated 26000 per byte for the 88 KB nested Lists, and more the larger the file.
func TestBoundedWork(t *testing.T) {
	perByte := func(input string) float64 {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _ = manifest.NewReader(manifest.DefaultLimits).Parse("f", []byte(input))
		runtime.ReadMemStats(&after)
		return float64(after.TotalAlloc-before.TotalAlloc) / float64(len(input))
	}
	small, large := hostile(64<<10), hostile(1<<20)
	for name := range small {
		t.Run(name, func(t *testing.T) {
			s, l := perByte(small[name]), perByte(large[name])
			if l > 2*s+8 || l > 256 {
				t.Errorf("%.0f bytes allocated per byte read at 64 KiB, %.0f at 1 MiB", s, l)
			}
		})
	}
}

// BenchmarkParse reads the hostile shapes at 88 KB, the size of the file that kept render busy for 279 s.
func BenchmarkParse(b *testing.B) {
	for name, input := range hostile(88 << 10) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(input)))
			b.ReportAllocs()
			for b.Loop() {
				_, _ = manifest.NewReader(manifest.DefaultLimits).Parse("f", []byte(input))
			}
		})
	}
}

// FuzzParse: whatever the bytes, the reader does not panic, and what it returns stays within its limits: the
// objects it counts, and YAML for each that is no larger than the nodes the limits allow.
func FuzzParse(f *testing.F) {
	for _, input := range hostile(2 << 10) {
		f.Add(input)
	}
	f.Add(namespace + "---\n" + nestedLists(3))
	f.Add("kind: List\nitems:\n- &a {kind: List, items: [{kind: A}]}\n- *a\n- *a\n")
	f.Add("a: &a [*a]\n")
	f.Add("--- {kind: List, items: *x}\n")
	limits := manifest.Limits{FileBytes: 4 << 10, Documents: 20, Depth: 16, ListDepth: 3, Objects: 50, Nodes: 500}
	f.Fuzz(func(t *testing.T, input string) {
		objs, err := manifest.NewReader(limits).Parse("f", []byte(input))
		if err != nil {
			return
		}
		if len(objs) > limits.Objects {
			t.Fatalf("%d objects, limit %d", len(objs), limits.Objects)
		}
		total := 0
		for _, o := range objs {
			b, err := o.YAML()
			if err != nil {
				continue // a List item the encoder refuses is a decode error for the caller
			}
			total += len(b)
		}
		// Every node encodes to at most its own bytes or a short scalar's worth more; a whole document is
		// itself.
		if bound := len(input) + 64*limits.Nodes; total > bound {
			t.Fatalf("%d bytes of YAML out of %d in", total, len(input))
		}
	})
}
