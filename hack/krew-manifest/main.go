// Command krew-manifest writes the krew plugin manifest (netprofile.yaml) for the archives `make dist` built:
// one platform per archive, with its download URL under -url-base, its SHA-256 (checked against the file) and
// the files it holds. Run it from the repository root:
//
//	go run ./hack/krew-manifest -dist dist -version v1.2.3 -url-base https://github.com/netprofile/netprofile/releases/download/v1.2.3
//
// The manifest installs with `kubectl krew install --manifest=dist/netprofile.yaml` (add
// --archive=<the platform's archive> to install without downloading), and is what a krew-index PR submits.
// krew's own validator (hack/tools.sh validate-krew-manifest) checks it in test/dist.
package main

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilversion "k8s.io/apimachinery/pkg/util/version"
	"sigs.k8s.io/yaml"
)

const (
	pluginName = "netprofile"
	bin        = "kubectl-netprofile"
	sumsFile   = "sha256sums.txt"
)

// Plugin is krew's plugin manifest (sigs.k8s.io/krew/pkg/index, apiVersion
// krew.googlecontainertools.github.com/v1alpha2). krew's module cannot be a dependency of ours: it requires
// k8s.io/client-go v11.0.0+incompatible, which Go's version selection would pick over v0.36.
type Plugin struct {
	APIVersion string     `json:"apiVersion"`
	Kind       string     `json:"kind"`
	Metadata   Metadata   `json:"metadata"`
	Spec       PluginSpec `json:"spec"`
}

// Metadata is the part of metav1.ObjectMeta a manifest has (ObjectMeta would add creationTimestamp: null).
type Metadata struct {
	Name string `json:"name"`
}

// PluginSpec is krew's index.PluginSpec.
type PluginSpec struct {
	Version          string     `json:"version"`
	Homepage         string     `json:"homepage,omitempty"`
	ShortDescription string     `json:"shortDescription"`
	Description      string     `json:"description,omitempty"`
	Caveats          string     `json:"caveats,omitempty"`
	Platforms        []Platform `json:"platforms"`
}

// Platform is krew's index.Platform.
type Platform struct {
	Selector *metav1.LabelSelector `json:"selector"`
	URI      string                `json:"uri"`
	Sha256   string                `json:"sha256"`
	Files    []FileOperation       `json:"files"`
	Bin      string                `json:"bin"`
}

// FileOperation is krew's index.FileOperation.
type FileOperation struct {
	From string `json:"from"`
	To   string `json:"to"`
}

const description = `netprofile turns Namespace labels into Cilium network policies. This plugin runs the
operator's own code outside the cluster, so the daily workflows work from a laptop or CI:

  render    the policies a Namespace manifest produces, or the diff against the cluster
  check     would this flow be allowed, and which policy decides (Cilium's own engine)
  lint      hand-written CiliumNetworkPolicies against the runbook's rules (text, JSON, SARIF)
  diagnose  Hubble's dropped flows, classified, with the fix
  replay    observed flows against enforcement on or a proposed change
  suggest   the smallest profile and grants a namespace's traffic needs
  status    per namespace: profile, grants, escape hatch, conditions, policies

Cluster access and output take kubectl's flags (--context, -n, --as, -o jsonpath=..., ...).
`

const caveats = `Commands that read the cluster (status, render --diff, check/replay/suggest --live) need
the netprofile operator installed there; the others work offline.

Shell completion for "kubectl netprofile" (kubectl 1.26 or later): put the archive's
kubectl_complete-netprofile on your PATH, for example

  ln -s "${KREW_ROOT:-$HOME/.krew}/store/netprofile/%s/kubectl_complete-netprofile" "${KREW_ROOT:-$HOME/.krew}/bin/"
`

func main() {
	dist := flag.String("dist", "dist", "directory of the archives and "+sumsFile+" (make dist)")
	version := flag.String("version", "", "the archives' release version, such as v1.2.3")
	urlBase := flag.String("url-base", "", "URL the archives are downloaded from (the release's), without the file name")
	out := flag.String("out", "", "manifest file to write (default <dist>/netprofile.yaml)")
	flag.Parse()
	if *out == "" {
		*out = filepath.Join(*dist, pluginName+".yaml")
	}
	m, err := manifest(*dist, *version, *urlBase)
	if err == nil {
		err = os.WriteFile(*out, m, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "krew-manifest:", err)
		os.Exit(1)
	}
}

// manifest builds the manifest for the archives listed in dist's sums file.
func manifest(dist, version, urlBase string) ([]byte, error) {
	// krew takes only semantic versions with a leading v.
	if _, err := utilversion.ParseSemantic(strings.TrimPrefix(version, "v")); err != nil || !strings.HasPrefix(version, "v") {
		return nil, fmt.Errorf("-version %q: krew needs a semantic version with a leading v, such as v1.2.3", version)
	}
	base, err := url.Parse(urlBase)
	if err != nil || !base.IsAbs() || base.Host == "" {
		return nil, fmt.Errorf("-url-base %q: give the absolute URL the archives are published at", urlBase)
	}
	sums, err := readSums(filepath.Join(dist, sumsFile))
	if err != nil {
		return nil, err
	}
	p := Plugin{
		APIVersion: "krew.googlecontainertools.github.com/v1alpha2",
		Kind:       "Plugin",
		Metadata:   Metadata{Name: pluginName},
		Spec: PluginSpec{
			Version:          version,
			Homepage:         "https://github.com/netprofile/netprofile",
			ShortDescription: "Render, check, lint and debug netprofile's Cilium network policies",
			Description:      description,
			Caveats:          fmt.Sprintf(caveats, version),
		},
	}
	prefix := bin + "_" + version + "_"
	for _, s := range sums {
		// The release's other files (the manager image, its digest and SBOM) are not krew's.
		if !strings.HasPrefix(s.name, bin+"_") {
			continue
		}
		rest, ok := strings.CutPrefix(s.name, prefix)
		if !ok {
			return nil, fmt.Errorf("%s: %s is not an archive of %s %s", sumsFile, s.name, bin, version)
		}
		var ext string
		for _, e := range []string{".tar.gz", ".zip"} {
			if strings.HasSuffix(rest, e) {
				ext = e
			}
		}
		goos, goarch, ok := strings.Cut(strings.TrimSuffix(rest, ext), "_")
		if ext == "" || !ok || goos == "" || goarch == "" {
			return nil, fmt.Errorf("%s: %s is not named %s<os>_<arch>.tar.gz or .zip", sumsFile, s.name, prefix)
		}
		file := filepath.Join(dist, s.name)
		actual, err := sha256File(file)
		if err != nil {
			return nil, err
		}
		if actual != s.sum {
			return nil, fmt.Errorf("%s: the SHA-256 of %s is %s, the file's is %s: rebuild with make dist", sumsFile, s.name, s.sum, actual)
		}
		names, err := entries(file, ext)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s: %w", file, err)
		}
		exe := bin
		if goos == "windows" {
			exe += ".exe"
		}
		// krew-index installs the license with the plugin, and accepts no plugin without one.
		for _, want := range []string{exe, "LICENSE"} {
			if !slices.Contains(names, want) {
				return nil, fmt.Errorf("%s holds no %s: rebuild with make dist", s.name, want)
			}
		}
		pl := Platform{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"os": goos, "arch": goarch}},
			URI:      base.JoinPath(s.name).String(),
			Sha256:   s.sum,
			Bin:      exe,
		}
		for _, n := range names {
			pl.Files = append(pl.Files, FileOperation{From: n, To: "."})
		}
		p.Spec.Platforms = append(p.Spec.Platforms, pl)
	}
	if len(p.Spec.Platforms) == 0 {
		return nil, fmt.Errorf("%s lists no archive: run make dist", filepath.Join(dist, sumsFile))
	}
	b, err := yaml.Marshal(p)
	if err != nil {
		return nil, err
	}
	return append([]byte("# Generated by hack/krew-manifest (make dist) from the archives' sums: do not edit.\n"), b...), nil
}

type sum struct{ sum, name string }

// readSums reads sha256sum's format: "<hex>  <file>" per line.
func readSums(file string) ([]sum, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%w: run make dist first", err)
	}
	defer f.Close()
	var out []sum
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		h, name, ok := strings.Cut(sc.Text(), "  ")
		if b, err := hex.DecodeString(h); !ok || err != nil || len(b) != sha256.Size || strings.ContainsAny(name, "/\\") {
			return nil, fmt.Errorf("%s:%d: not \"<sha256>  <file>\": %q", file, n, sc.Text())
		}
		out = append(out, sum{sum: h, name: name})
	}
	return out, sc.Err()
}

// entries are the names of the files in an archive; krew copies each into the plugin's directory.
func entries(file, ext string) ([]string, error) {
	var names []string
	if ext == ".zip" {
		zr, err := zip.OpenReader(file)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if !f.FileInfo().IsDir() {
				names = append(names, f.Name)
			}
		}
		return names, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, err
		}
		if hdr.Typeflag == tar.TypeReg {
			names = append(names, hdr.Name)
		}
	}
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
