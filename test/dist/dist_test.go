// Package dist_test checks what `make dist` ships, as a user meets it: it builds the archive for this machine's
// platform (cross-building all five takes many minutes on two cores; hack/krew-manifest's test covers the
// manifest of all five), checks the archive and its sum, validates the krew manifest with krew's own validator,
// installs the plugin with krew from a local release URL, and runs it and its completion through kubectl. The
// manager image is published beside it (for this machine's architecture only, here; test/image checks the
// image itself): its archive, digest and SBOM are in the same sums file.
package dist_test

import (
	"archive/tar"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/netprofile/netprofile/test/testenv"
)

const version = "v0.0.0-test.1"

func TestDist(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the archive of this platform is a zip and the completion script a sh script")
	}
	root := testenv.RepoRoot()
	dist := t.TempDir()
	// The release, served from loopback: krew downloads the archive from the manifest's URL as it would from
	// GitHub, and checks its SHA-256.
	srv := httptest.NewServer(http.StripPrefix("/releases/"+version+"/", http.FileServer(http.Dir(dist))))
	t.Cleanup(srv.Close)
	host := runtime.GOOS + "/" + runtime.GOARCH
	build := exec.Command("make", "dist", "DIST_PLATFORMS="+host, "IMAGE_PLATFORMS=linux/"+runtime.GOARCH, "VERSION="+version, "DIST="+dist, "RELEASE_URL="+srv.URL+"/releases/"+version)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("make dist: %v\n%s", err, out)
	}

	archive := "kubectl-netprofile_" + version + "_" + runtime.GOOS + "_" + runtime.GOARCH + ".tar.gz"
	files, err := os.ReadDir(dist)
	must(t, err)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	image := []string{"netprofile-image.tar", "netprofile-image.tar.digest", "netprofile-image.tar.spdx.json"}
	if want := append([]string{archive}, append(slices.Clone(image), "netprofile.yaml", "sha256sums.txt")...); !slices.Equal(names, want) {
		t.Fatalf("dist holds %v, want %v", names, want)
	}
	t.Run("the sums file has the SHA-256 of the archive and of the image's files", func(t *testing.T) {
		var want string
		for _, f := range append([]string{archive}, image...) {
			b, err := os.ReadFile(filepath.Join(dist, f))
			must(t, err)
			sum := sha256.Sum256(b)
			want += hex.EncodeToString(sum[:]) + "  " + f + "\n"
		}
		sums, err := os.ReadFile(filepath.Join(dist, "sha256sums.txt"))
		must(t, err)
		if string(sums) != want {
			t.Errorf("sha256sums.txt = %q, want %q", sums, want)
		}
	})
	t.Run("the image's digest file is the digest of its index", func(t *testing.T) {
		digest, err := os.ReadFile(filepath.Join(dist, "netprofile-image.tar.digest"))
		must(t, err)
		var index struct{ Manifests []struct{ Digest string } }
		must(t, json.Unmarshal([]byte(untarFile(t, filepath.Join(dist, "netprofile-image.tar"), "index.json")), &index))
		if len(index.Manifests) != 1 || string(digest) != index.Manifests[0].Digest+"\n" {
			t.Errorf("digest file %q, index.json %+v", digest, index)
		}
	})
	t.Run("the archive holds the plugin, the completion script, the README and the LICENSE", func(t *testing.T) {
		got := untar(t, filepath.Join(dist, archive))
		want := []string{"kubectl-netprofile", "kubectl_complete-netprofile", "README.md", "LICENSE"}
		var entries []string
		for _, e := range got {
			entries = append(entries, e.name)
		}
		if !slices.Equal(entries, want) {
			t.Fatalf("archive entries %v, want %v", entries, want)
		}
		script, err := os.ReadFile(filepath.Join(root, "cmd", "kubectl-netprofile", "kubectl_complete-netprofile"))
		must(t, err)
		license, err := os.ReadFile(filepath.Join(root, "LICENSE"))
		must(t, err)
		for _, e := range got {
			executable := e.name == "kubectl-netprofile" || e.name == "kubectl_complete-netprofile"
			if executable != (e.mode&0o111 != 0) {
				t.Errorf("%s has mode %o", e.name, e.mode)
			}
			if e.name == "kubectl_complete-netprofile" && e.content != string(script) {
				t.Errorf("the archive's completion script is not cmd/kubectl-netprofile/kubectl_complete-netprofile")
			}
			if e.name == "LICENSE" && e.content != string(license) {
				t.Errorf("the archive's LICENSE is not the repository's")
			}
		}
	})

	manifest := filepath.Join(dist, "netprofile.yaml")
	// kubectl and krew as a user has them: kubectl on PATH, krew as its plugin kubectl-krew.
	kubectl, err := testenv.Kubectl()
	must(t, err)
	path := t.TempDir()
	must(t, os.Symlink(kubectl, filepath.Join(path, "kubectl")))
	must(t, os.Symlink(tool(t, "krew"), filepath.Join(path, "kubectl-krew")))
	krewRoot := t.TempDir()
	env := []string{"PATH=" + filepath.Join(krewRoot, "bin") + string(os.PathListSeparator) + path + string(os.PathListSeparator) + os.Getenv("PATH"),
		"KREW_ROOT=" + krewRoot, "KREW_NO_UPGRADE_CHECK=1", "HOME=" + t.TempDir()}
	kc := func(args ...string) (string, error) {
		cmd := exec.Command("kubectl", args...)
		cmd.Env = env
		out, err := cmd.Output()
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			return string(out), &runError{err: ee, stderr: string(ee.Stderr)}
		}
		return string(out), err
	}
	t.Run("krew's own validator accepts the manifest, installing it and finding its LICENSE", func(t *testing.T) {
		// Without -skip-install: the validator installs the plugin with kubectl krew (from the loopback
		// release) and demands the LICENSE among the installed files, as krew-index's CI does.
		validate := exec.Command(tool(t, "validate-krew-manifest"), "-manifest", manifest)
		validate.Env = env
		out, err := validate.CombinedOutput()
		if err != nil {
			t.Fatalf("validate-krew-manifest: %v\n%s", err, out)
		}
		for _, step := range []string{"structural validation OK", "all spec.platform[] items are used", "no overlapping spec.platform[].selector"} {
			if !strings.Contains(string(out), step) {
				t.Errorf("validate-krew-manifest did not say %q:\n%s", step, out)
			}
		}
	})
	if out, err := kc("krew", "install", "--manifest="+manifest); err != nil {
		t.Fatalf("kubectl krew install --manifest: %v\n%s", err, out)
	}
	t.Run("the installed plugin runs as kubectl netprofile, with the version stamped", func(t *testing.T) {
		out, err := kc("netprofile", "version", "-o", "json")
		must(t, err)
		var info struct{ Version, Platform string }
		must(t, json.Unmarshal([]byte(out), &info))
		if info.Version != version || info.Platform != host {
			t.Errorf("version = %s", out)
		}
	})
	t.Run("kubectl completes the plugin through kubectl_complete-netprofile", func(t *testing.T) {
		// Without the script kubectl has nothing to ask.
		before, err := kc("__complete", "netprofile", "status", "--output", "")
		must(t, err)
		if strings.Contains(before, "wide") {
			t.Fatalf("kubectl completes without the script:\n%s", before)
		}
		// With it on PATH, as the manifest's caveats say.
		store := filepath.Join(krewRoot, "store", "netprofile", version, "kubectl_complete-netprofile")
		must(t, os.Symlink(store, filepath.Join(krewRoot, "bin", "kubectl_complete-netprofile")))
		direct, err := kc("netprofile", "__complete", "status", "--output", "")
		must(t, err)
		script := exec.Command(filepath.Join(krewRoot, "bin", "kubectl_complete-netprofile"), "status", "--output", "")
		script.Env = env
		viaScript, err := script.Output()
		must(t, err)
		if string(viaScript) != direct || !strings.Contains(direct, "table\nwide\njson\n") {
			t.Errorf("the script answers\n%s\nthe plugin\n%s", viaScript, direct)
		}
		viaKubectl, err := kc("__complete", "netprofile", "status", "--output", "")
		must(t, err)
		if viaKubectl != direct {
			t.Errorf("kubectl completes\n%s\nthe plugin\n%s", viaKubectl, direct)
		}
	})
}

// untarFile is the content of one file of an (uncompressed) tar archive.
func untarFile(t *testing.T, archive, name string) string {
	t.Helper()
	f, err := os.Open(archive)
	must(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s holds no %s", archive, name)
		}
		must(t, err)
		if hdr.Name == name {
			b, err := io.ReadAll(tr)
			must(t, err)
			return string(b)
		}
	}
}

type file struct {
	name, content string
	mode          int64
}

func untar(t *testing.T, archive string) []file {
	t.Helper()
	f, err := os.Open(archive)
	must(t, err)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(gz)
	var out []file
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		must(t, err)
		content := ""
		if hdr.Size < 1<<20 {
			b, err := io.ReadAll(tr)
			must(t, err)
			content = string(b)
		}
		out = append(out, file{name: hdr.Name, content: content, mode: hdr.Mode})
	}
}

// tool builds (once per machine) and returns a pinned tool of hack/tools.sh.
func tool(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "tools.sh"), name).Output()
	if err != nil {
		t.Fatalf("hack/tools.sh %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

type runError struct {
	err    error
	stderr string
}

func (e *runError) Error() string { return e.err.Error() + ": " + e.stderr }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
