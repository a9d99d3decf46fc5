package image_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/hack/image/imagebuild"
	"github.com/netprofile/netprofile/test/testenv"
)

// The Dockerfile stays for those who build with a daemon. It copies the whole module and relies on
// .dockerignore, so these tests keep the two honest: every file the manager's build reads is in the build
// context, nothing big that it does not read is, and the Dockerfile builds what make image builds.
func TestDockerBuildContext(t *testing.T) {
	root := testenv.RepoRoot()
	ignore := readDockerignore(t, filepath.Join(root, ".dockerignore"))

	t.Run("the matcher follows Docker's rules", func(t *testing.T) {
		allow := dockerignore{}
		for _, l := range []string{"*", "!go.mod", "!pkg/", "pkg/**/testdata", "/bin"} {
			allow.add(l)
		}
		for p, want := range map[string]bool{
			"controllers/x.go": true, "go.sum": true, "go.mod": false, "pkg/a/b.go": false,
			"pkg/a/testdata/c.yaml": true, "pkg/testdata/d": true, "bin": true,
		} {
			if got := allow.excluded(p); got != want {
				t.Errorf("excluded(%s) = %v, want %v", p, got, want)
			}
		}
	})

	t.Run("what the manager does not need is left out", func(t *testing.T) {
		for _, p := range []string{".git/HEAD", "bin/manager", "dist/netprofile-image.tar", "demo", "manager", "charts/netprofile/values.yaml",
			"test/e2e/suite_test.go", "hack/image/main.go", "docs/runbooks/escape-hatch.md", "README.md",
			"pkg/policy/policy_test.go", "pkg/policy/testdata/golden/x.yaml", "cmd/manager/deps_test.go"} {
			if !ignore.excluded(p) {
				t.Errorf(".dockerignore lets %s into the build context", p)
			}
		}
	})

	need := managerBuildFiles(t, root)
	t.Run("every file the manager's build reads is in the build context", func(t *testing.T) {
		for _, f := range need {
			if ignore.excluded(f) {
				t.Errorf(".dockerignore leaves out %s, which go build %s reads", f, imagebuild.ManagerPackage)
			}
		}
	})

	t.Run("nothing big the build does not read is in the build context", func(t *testing.T) {
		out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
		if err != nil {
			t.Skipf("no git checkout to list: %v", err)
		}
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if ignore.excluded(f) || slices.Contains(need, f) {
				continue
			}
			if fi, err := os.Stat(filepath.Join(root, f)); err == nil && fi.Size() > 1<<20 {
				t.Errorf("%s (%d bytes) is sent to the daemon with every build, and the manager does not need it: add it to .dockerignore", f, fi.Size())
			}
		}
	})

	t.Run("the Dockerfile builds the manager as make image does", func(t *testing.T) {
		b, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
		must(t, err)
		// Instructions, continuation lines joined, comments dropped.
		var instructions []string
		for _, l := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				instructions = append(instructions, strings.Join(strings.Fields(l), " "))
			}
		}
		copyAll := slices.Index(instructions, "COPY . .")
		build := slices.IndexFunc(instructions, func(s string) bool { return strings.HasPrefix(s, "RUN ") && strings.Contains(s, "go build") })
		if copyAll < 0 || build < copyAll {
			t.Fatalf("want COPY . . and then a RUN of go build: %q", instructions)
		}
		run := instructions[build]
		for _, want := range []string{"CGO_ENABLED=0", " -trimpath ", " -buildvcs=false ", "-s -w",
			"-X github.com/netprofile/netprofile/pkg/version.Version=${VERSION}",
			"-X github.com/netprofile/netprofile/pkg/version.Revision=${REVISION}"} {
			if !strings.Contains(run, want) {
				t.Errorf("the build does not say %q: %s", want, run)
			}
		}
		if !strings.HasSuffix(run, " "+imagebuild.ManagerPackage) {
			t.Errorf("the build does not build %s: %s", imagebuild.ManagerPackage, run)
		}
		last := instructions[len(instructions)-2:]
		if want := []string{"USER " + imagebuild.User, `ENTRYPOINT ["` + imagebuild.Entrypoint + `"]`}; !slices.Equal(last, want) {
			t.Errorf("the image ends with %q, want %q", last, want)
		}
	})
}

// managerBuildFiles is every file, relative to root, that building the manager for linux reads: go.mod,
// go.sum, and the Go, assembly and embedded files of each package of this module it links, on every
// platform of the image.
func managerBuildFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{"go.mod", "go.sum"}
	const format = `{{if .Module}}{{if .Module.Main}}{{.Dir}}{{range .GoFiles}} {{.}}{{end}}{{range .SFiles}} {{.}}{{end}}` +
		`{{range .HFiles}} {{.}}{{end}}{{range .SysoFiles}} {{.}}{{end}}{{range .EmbedFiles}} {{.}}{{end}}{{"\n"}}{{end}}{{end}}`
	packages := 0
	for _, arch := range []string{"amd64", "arm64"} {
		cmd := exec.Command("go", "list", "-deps", "-f", format, imagebuild.ManagerPackage)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+arch, "CGO_ENABLED=0")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				t.Fatalf("go list printed %q", line)
			}
			packages++
			for _, f := range fields[1:] {
				rel, err := filepath.Rel(root, filepath.Join(fields[0], f))
				must(t, err)
				files = append(files, filepath.ToSlash(rel))
			}
		}
	}
	if packages < 20 {
		t.Fatalf("go list found %d packages of this module in the manager", packages)
	}
	slices.Sort(files)
	return slices.Compact(files)
}

// dockerignore is a .dockerignore, matched as Docker (moby/patternmatcher) matches it: patterns in order,
// the last that matches a path or one of its parent directories decides, ! re-includes; * and ? do not
// cross a /, ** does.
type dockerignore struct {
	patterns []ignorePattern
}

type ignorePattern struct {
	re        *regexp.Regexp
	exclusion bool
}

func readDockerignore(t *testing.T, file string) dockerignore {
	t.Helper()
	b, err := os.ReadFile(file)
	must(t, err)
	var d dockerignore
	for _, l := range strings.Split(string(b), "\n") {
		d.add(l)
	}
	if len(d.patterns) == 0 {
		t.Fatalf("%s has no patterns", file)
	}
	return d
}

func (d *dockerignore) add(line string) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return
	}
	p := ignorePattern{}
	if rest, ok := strings.CutPrefix(line, "!"); ok {
		p.exclusion, line = true, strings.TrimSpace(rest)
	}
	line = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '*' && i+1 < len(line) && line[i+1] == '*':
			i++
			if i+1 < len(line) && line[i+1] == '/' {
				i++
			}
			if i+1 == len(line) {
				re.WriteString(".*")
			} else {
				re.WriteString("(.*/)?")
			}
		case c == '*':
			re.WriteString("[^/]*")
		case c == '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	p.re = regexp.MustCompile(re.String())
	d.patterns = append(d.patterns, p)
}

func (d *dockerignore) excluded(file string) bool {
	parts := strings.Split(file, "/")
	matched := false
	for _, p := range d.patterns {
		// An inclusion matters only while the path is in; an exclusion only once it is out.
		if p.exclusion != matched {
			continue
		}
		match := false
		for i := range parts {
			if p.re.MatchString(strings.Join(parts[:i+1], "/")) {
				match = true
				break
			}
		}
		if match {
			matched = !p.exclusion
		}
	}
	return matched
}
