// Command dist builds the kubectl plugin for the release platforms into archives with their SHA-256 sums:
// what `make dist` publishes and hack/krew-manifest describes. Run it from the repository root:
//
//	go run ./hack/dist -version v1.2.3 [-platforms linux/amd64,...] [-out dist] [-also netprofile-image.tar,...]
//
// sha256sums.txt lists the archives and the -also files, which make dist has written to -out before (the
// manager image of hack/image, its digest and SBOM): one sums file for everything a release publishes.
//
// Each archive (tar.gz; zip for Windows, where krew and users expect one) holds the plugin, built static
// (CGO_ENABLED=0) with -trimpath and the version stamped into pkg/version, the kubectl_complete-netprofile
// completion script (not for Windows: it is a sh script), README.md and LICENSE (krew-index accepts no plugin
// without its license, so a checkout without one builds no archive).
// Entries carry fixed times and owners, so the same commit and Go give the same archives.
package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	plugin     = "kubectl-netprofile"
	completion = "kubectl_complete-netprofile"
	pkg        = "./cmd/kubectl-netprofile"
	versionVar = "github.com/netprofile/netprofile/pkg/version.Version"
	// sumsFile lists the archives' SHA-256 sums in sha256sum's format.
	sumsFile = "sha256sums.txt"
)

// releasePlatforms are the release platforms: what krew users run kubectl on.
var releasePlatforms = []string{"darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64", "windows/amd64"}

// epoch is every entry's modification time; zip cannot say anything before 1980.
var epoch = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func main() {
	version := flag.String("version", "", "release version to stamp and name the archives with, such as v1.2.3")
	platforms := flag.String("platforms", strings.Join(releasePlatforms, ","), "comma-separated os/arch pairs to build")
	out := flag.String("out", "dist", "directory for the archives and "+sumsFile)
	also := flag.String("also", "", "comma-separated files already in -out to list in "+sumsFile+" too, such as the image make image wrote")
	flag.Parse()
	var alsoFiles []string
	if *also != "" {
		alsoFiles = strings.Split(*also, ",")
	}
	if err := run(*version, strings.Split(*platforms, ","), *out, alsoFiles); err != nil {
		fmt.Fprintln(os.Stderr, "dist:", err)
		os.Exit(1)
	}
}

func run(version string, platforms []string, out string, also []string) error {
	if version == "" || strings.ContainsAny(version, "/\\ \t") {
		return fmt.Errorf("-version %q: give a release version such as v1.2.3", version)
	}
	if _, err := os.Stat(filepath.Join(pkg, "main.go")); err != nil {
		return fmt.Errorf("run from the repository root: %w", err)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	// Archives of an earlier run would end up in the sums and the manifest.
	stale, err := filepath.Glob(filepath.Join(out, plugin+"_*"))
	if err != nil {
		return err
	}
	for _, f := range append(stale, filepath.Join(out, sumsFile)) {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	extra := []string{"README.md", "LICENSE"}
	for _, f := range extra {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("every archive ships %s: %w", f, err)
		}
	}
	tmp, err := os.MkdirTemp("", "netprofile-dist-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	var sums []string
	for _, p := range platforms {
		goos, goarch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos == "" || goarch == "" {
			return fmt.Errorf("-platforms: %q is not os/arch", p)
		}
		name, err := build(version, goos, goarch, tmp, out, extra)
		if err != nil {
			return err
		}
		sum, err := sha256File(filepath.Join(out, name))
		if err != nil {
			return err
		}
		sums = append(sums, sum+"  "+name+"\n")
		fmt.Fprintf(os.Stderr, "dist: %s\n", filepath.Join(out, name))
	}
	for _, name := range also {
		if name == "" || strings.ContainsAny(name, "/\\") {
			return fmt.Errorf("-also %q: give names of files in %s", name, out)
		}
		sum, err := sha256File(filepath.Join(out, name))
		if err != nil {
			return fmt.Errorf("-also: %w", err)
		}
		sums = append(sums, sum+"  "+name+"\n")
	}
	slices.SortFunc(sums, func(a, b string) int { return strings.Compare(a[66:], b[66:]) })
	return os.WriteFile(filepath.Join(out, sumsFile), []byte(strings.Join(sums, "")), 0o644)
}

// build compiles the plugin for one platform and archives it into out; it returns the archive's name.
func build(version, goos, goarch, tmp, out string, extra []string) (string, error) {
	bin := plugin
	if goos == "windows" {
		bin += ".exe"
	}
	binPath := filepath.Join(tmp, goos+"_"+goarch, bin)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X "+versionVar+"="+version, "-o", binPath, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build for %s/%s: %w", goos, goarch, err)
	}
	files := []entry{{name: bin, path: binPath, mode: 0o755}}
	if goos != "windows" {
		files = append(files, entry{name: completion, path: filepath.Join("cmd", "kubectl-netprofile", completion), mode: 0o755})
	}
	for _, f := range extra {
		files = append(files, entry{name: f, path: f, mode: 0o644})
	}
	name := fmt.Sprintf("%s_%s_%s_%s", plugin, version, goos, goarch)
	var err error
	if goos == "windows" {
		name += ".zip"
		err = writeZip(filepath.Join(out, name), files)
	} else {
		name += ".tar.gz"
		err = writeTarGz(filepath.Join(out, name), files)
	}
	if err != nil {
		return "", fmt.Errorf("failed to write %s: %w", name, err)
	}
	return name, nil
}

// entry is a file to archive: its name in the archive, where it is, its mode.
type entry struct {
	name, path string
	mode       int64
}

func writeTarGz(file string, files []entry) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range files {
		b, err := os.ReadFile(e.path)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: e.mode, Size: int64(len(b)), ModTime: epoch, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

func writeZip(file string, files []entry) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range files {
		b, err := os.ReadFile(e.path)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: e.name, Method: zip.Deflate, Modified: epoch}
		hdr.SetMode(os.FileMode(e.mode))
		w, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o644)
}

func sha256File(file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
