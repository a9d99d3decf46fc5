package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/test/testenv"
)

const version = "v1.2.3-rc.1"

var release = []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64"}

// fakeDist writes archives named and laid out as hack/dist writes them, for every release platform, with
// their sums file (which also lists the image, as make dist's does): the manifest of a full release without
// cross-building the plugin five times (test/dist builds the real one for this machine).
func fakeDist(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var sums strings.Builder
	for _, p := range release {
		goos, goarch, _ := strings.Cut(p, "/")
		name := "kubectl-netprofile_" + version + "_" + goos + "_" + goarch
		var b []byte
		if goos == "windows" {
			name += ".zip"
			b = zipOf(t, "kubectl-netprofile.exe", "README.md", "LICENSE")
		} else {
			name += ".tar.gz"
			b = tarOf(t, "kubectl-netprofile", "kubectl_complete-netprofile", "README.md", "LICENSE")
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		sums.WriteString(hex.EncodeToString(sum[:]) + "  " + name + "\n")
	}
	// make dist lists the manager image in the same sums file; it is no plugin archive.
	image := []byte("not a plugin")
	if err := os.WriteFile(filepath.Join(dir, "netprofile-image.tar"), image, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(image)
	sums.WriteString(hex.EncodeToString(sum[:]) + "  netprofile-image.tar\n")
	if err := os.WriteFile(filepath.Join(dir, sumsFile), []byte(sums.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestManifest(t *testing.T) {
	dist := fakeDist(t)
	m, err := manifest(dist, version, "https://github.com/netprofile/netprofile/releases/download/"+version)
	if err != nil {
		t.Fatal(err)
	}
	var p Plugin
	if err := yaml.UnmarshalStrict(m, &p); err != nil {
		t.Fatal(err)
	}
	if p.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || p.Kind != "Plugin" || p.Metadata.Name != "netprofile" ||
		p.Spec.Version != version || len(p.Spec.Platforms) != len(release) {
		t.Fatalf("manifest:\n%s", m)
	}
	for i, pl := range p.Spec.Platforms {
		goos, goarch, _ := strings.Cut(release[i], "/")
		ext, bin, files := ".tar.gz", "kubectl-netprofile", 4
		if goos == "windows" {
			ext, bin, files = ".zip", "kubectl-netprofile.exe", 3
		}
		uri := "https://github.com/netprofile/netprofile/releases/download/" + version + "/kubectl-netprofile_" + version + "_" + goos + "_" + goarch + ext
		if pl.Selector.MatchLabels["os"] != goos || pl.Selector.MatchLabels["arch"] != goarch || pl.URI != uri || pl.Bin != bin ||
			len(pl.Files) != files || pl.Files[0].From != bin || pl.Files[0].To != "." {
			t.Errorf("platform %d: %+v", i, pl)
		}
		// krew-index's rule: the license is installed with the plugin.
		if !slices.Contains(pl.Files, FileOperation{From: "LICENSE", To: "."}) {
			t.Errorf("platform %d does not install LICENSE: %+v", i, pl.Files)
		}
	}
	if !strings.Contains(p.Spec.Caveats, "/store/netprofile/"+version+"/kubectl_complete-netprofile") {
		t.Errorf("the caveats do not say where the completion script is:\n%s", p.Spec.Caveats)
	}

	// krew's own validator: structure, every platform selector used, none overlapping.
	file := filepath.Join(t.TempDir(), "netprofile.yaml")
	if err := os.WriteFile(file, m, 0o644); err != nil {
		t.Fatal(err)
	}
	validator := validateKrewManifest(t)
	if out, err := exec.Command(validator, "-manifest", file, "-skip-install").CombinedOutput(); err != nil {
		t.Fatalf("validate-krew-manifest rejects the manifest: %v\n%s", err, out)
	}
	// ... which does reject what krew cannot install.
	broken := strings.Replace(string(m), "os: windows", "os: linux", 1)
	if err := os.WriteFile(file, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(validator, "-manifest", file, "-skip-install").CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "overlapping selectors") {
		t.Errorf("validate-krew-manifest accepts two linux/amd64 platforms: %v\n%s", err, out)
	}
}

func TestManifestRefuses(t *testing.T) {
	url := "https://example.org/releases/" + version
	cases := map[string]struct {
		change  func(t *testing.T, dist string)
		version string
		url     string
		says    string
	}{
		"a version krew cannot parse": {version: "1.2.3", says: "semantic version with a leading v"},
		"no URL":                      {url: "releases/", says: "absolute URL"},
		"an archive changed after its sum": {
			change: func(t *testing.T, dist string) {
				f := filepath.Join(dist, "kubectl-netprofile_"+version+"_linux_amd64.tar.gz")
				if err := os.WriteFile(f, tarOf(t, "kubectl-netprofile"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			says: "rebuild with make dist",
		},
		"archives of another version": {version: "v1.2.4", says: "is not an archive of kubectl-netprofile v1.2.4"},
		"an archive without the plugin": {
			change: func(t *testing.T, dist string) {
				onlyArchive(t, dist, tarOf(t, "README.md"))
			},
			says: "holds no kubectl-netprofile",
		},
		"an archive without a LICENSE": {
			change: func(t *testing.T, dist string) {
				onlyArchive(t, dist, tarOf(t, "kubectl-netprofile", "README.md"))
			},
			says: "holds no LICENSE",
		},
		"no sums": {
			change: func(t *testing.T, dist string) {
				if err := os.Remove(filepath.Join(dist, sumsFile)); err != nil {
					t.Fatal(err)
				}
			},
			says: "run make dist first",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			dist := fakeDist(t)
			if tc.change != nil {
				tc.change(t, dist)
			}
			v, u := version, url
			if tc.version != "" {
				v = tc.version
			}
			if tc.url != "" {
				u = tc.url
			}
			_, err := manifest(dist, v, u)
			if err == nil || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %v, want one that says %q", err, tc.says)
			}
		})
	}
}

// onlyArchive makes b the linux/arm64 archive in dist and the only one the sums list.
func onlyArchive(t *testing.T, dist string, b []byte) {
	t.Helper()
	name := "kubectl-netprofile_" + version + "_linux_arm64.tar.gz"
	if err := os.WriteFile(filepath.Join(dist, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if err := os.WriteFile(filepath.Join(dist, sumsFile), []byte(hex.EncodeToString(sum[:])+"  "+name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func tarOf(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, n := range names {
		content := []byte("#!/bin/sh\n")
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o755, Size: int64(len(content))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(content); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zipOf(t *testing.T, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("MZ")); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// validateKrewManifest is krew's manifest validator, pinned and built by hack/tools.sh.
func validateKrewManifest(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(testenv.RepoRoot(), "hack", "tools.sh"), "validate-krew-manifest").Output()
	if err != nil {
		t.Fatalf("hack/tools.sh validate-krew-manifest: %v", err)
	}
	return strings.TrimSpace(string(out))
}
