package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/cli"
)

// nestedLists is a Namespace inside depth Lists, in JSON: about 43 bytes a level. Depth 2000 is the 88 KB file
// that kept render busy for minutes and gigabytes: each level re-encoded the whole rest of the file.
func nestedLists(depth int) string {
	return strings.Repeat(`{"apiVersion":"v1","kind":"List","items":[`, depth) +
		`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"deep"}}` + strings.Repeat("]}", depth)
}

// TestHostileFiles: every command that reads files a pull request or a pipe hands it refuses a file past the
// reader's limits, at once, with an error that names the file and the limit (exit code 2), instead of working
// on it for minutes.
func TestHostileFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	lists := write("lists.json", nestedLists(8))
	deep := write("deep.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: deep\n  labels: "+
		strings.Repeat("[", 200)+strings.Repeat("]", 200)+"\n")
	docs := write("docs.yaml", strings.Repeat("---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n", 10_001))
	flows := write("flows.json", strings.Repeat(`{"flow":{"verdict":"DROPPED"}}`+"\n", 1)+strings.Repeat("[", 20_000)+"\n")

	listsErr := lists + ":1: a kind: List nested in 4 other Lists"
	cases := map[string]struct {
		args  []string
		stdin string
		want  string
	}{
		"render -f":              {args: []string{"render", "-f", lists}, want: listsErr},
		"render --catalogue":     {args: []string{"render", "-f", apps, "--catalogue", lists}, want: listsErr},
		"render from stdin":      {args: []string{"render", "-f", "-"}, stdin: nestedLists(8), want: "<stdin>:1: a kind: List nested in 4 other Lists"},
		"lint":                   {args: []string{"lint", lists}, want: listsErr},
		"lint from stdin":        {args: []string{"lint", "-"}, stdin: nestedLists(8), want: "<stdin>:1: a kind: List nested in 4 other Lists"},
		"check -f":               {args: []string{"check", "-f", lists, "--from", "shop", "--to", "database", "--port", "80/TCP"}, want: listsErr},
		"check --policies":       {args: []string{"check", "-f", apps, "--policies", lists, "--from", "shop", "--to", "database", "--port", "80/TCP"}, want: listsErr},
		"replay -f":              {args: []string{"replay", shopCapture, "-f", lists}, want: listsErr},
		"suggest -f":             {args: []string{"suggest", "-n", "shop", shopCapture, "-f", lists}, want: listsErr},
		"diagnose --catalogue":   {args: []string{"diagnose", hubbleCapture, "--catalogue", lists}, want: listsErr},
		"nesting depth":          {args: []string{"render", "-f", deep}, want: deep + ":5: nested deeper than 128 levels"},
		"documents":              {args: []string{"lint", docs}, want: docs + ": more than 10000 YAML documents"},
		"a Hubble line too deep": {args: []string{"diagnose", flows}, want: flows + ": failed to parse line 2 as JSON"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := run(t, tc.stdin, tc.args...)
			if r.code != cli.ExitError || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", r.code, r.stderr, cli.ExitError, tc.want)
			}
		})
	}
}
