// Package image_test checks the manager image users install, as make image builds it (hack/image/imagebuild,
// no container daemon): it builds the image for linux/amd64 and linux/arm64, reads the archive back with
// go-containerregistry as a registry client or container runtime would, checks what is in it and that the
// same binaries give the same digest and a rebuilt binary is the same binary, and then runs the manager it
// extracted from the image: --help, and against a real control plane until a labelled namespace has its
// policy. So the binary users get is the binary tested.
package image_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/hack/image/imagebuild"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

var meta = imagebuild.Metadata{
	Version:    "v0.0.0-test.image",
	Revision:   "0123456789abcdef0123456789abcdef01234567",
	Source:     "https://github.com/netprofile/netprofile",
	Repository: "ghcr.io/netprofile/netprofile",
	Created:    time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
}

var platforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// elfMachine is each platform's ELF machine.
var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the manager for two platforms")
	}
	root := testenv.RepoRoot()
	bins, err := imagebuild.BuildManagers(root, platforms, meta, t.TempDir())
	must(t, err)
	first, err := imagebuild.Assemble(root, bins, meta, filepath.Join(t.TempDir(), "netprofile-image.tar"))
	must(t, err)
	t.Logf("image %s, index %s", first.Archive, first.Digest)

	t.Run("the same binaries give the same archive, digest and SBOM", func(t *testing.T) {
		second, err := imagebuild.Assemble(root, bins, meta, filepath.Join(t.TempDir(), "netprofile-image.tar"))
		must(t, err)
		t.Logf("digests %s and %s", first.Digest, second.Digest)
		if first.Digest != second.Digest {
			t.Errorf("two assemblies give %s and %s", first.Digest, second.Digest)
		}
		for _, f := range [][2]string{{first.Archive, second.Archive}, {first.DigestFile, second.DigestFile}, {first.SBOM, second.SBOM}} {
			if a, b := sum(t, f[0]), sum(t, f[1]); a != b {
				t.Errorf("%s and %s differ: sha256 %s and %s", f[0], f[1], a, b)
			}
		}
		if d := read(t, first.DigestFile); string(d) != first.Digest.String()+"\n" {
			t.Errorf("%s holds %q, want %s", first.DigestFile, d, first.Digest)
		}
	})

	t.Run("a rebuilt manager is the same binary", func(t *testing.T) {
		again, err := imagebuild.BuildManager(root, bins[0].Platform, meta, filepath.Join(t.TempDir(), "manager"))
		must(t, err)
		if a, b := sum(t, bins[0].Path), sum(t, again.Path); a != b {
			t.Errorf("two builds of the %s manager differ: sha256 %s and %s", bins[0].Platform, a, b)
		}
	})

	layoutDir := t.TempDir()
	t.Run("the archive is an OCI layout with content-addressed blobs", func(t *testing.T) {
		names := untar(t, first.Archive, layoutDir)
		if !slices.IsSorted(names) {
			t.Errorf("entries are not sorted: %v", names)
		}
		for _, want := range []string{"blobs/", "blobs/sha256/", "index.json", "manifest.json", "oci-layout"} {
			if !slices.Contains(names, want) {
				t.Errorf("no %s in %v", want, names)
			}
		}
		for _, n := range names {
			if hexDigest, ok := strings.CutPrefix(n, "blobs/sha256/"); ok && hexDigest != "" {
				if got := sum(t, filepath.Join(layoutDir, n)); got != hexDigest {
					t.Errorf("blob %s has sha256 %s", n, got)
				}
			} else if !slices.Contains([]string{"blobs/", "blobs/sha256/", "index.json", "manifest.json", "oci-layout"}, n) {
				t.Errorf("unexpected entry %s", n)
			}
		}
	})

	top, err := layout.ImageIndexFromPath(layoutDir)
	must(t, err)
	topManifest, err := top.IndexManifest()
	must(t, err)
	if len(topManifest.Manifests) != 1 {
		t.Fatalf("index.json lists %d manifests, want the one image index", len(topManifest.Manifests))
	}
	ref, err := meta.Ref()
	must(t, err)
	t.Run("index.json names the multi-platform index", func(t *testing.T) {
		d := topManifest.Manifests[0]
		if d.MediaType != types.OCIImageIndex || d.Digest != first.Digest {
			t.Errorf("index.json points at %s %s, want %s %s", d.MediaType, d.Digest, types.OCIImageIndex, first.Digest)
		}
		if want := map[string]string{"io.containerd.image.name": ref.String(), "org.opencontainers.image.ref.name": meta.Version}; !maps.Equal(d.Annotations, want) {
			t.Errorf("annotations %v, want %v", d.Annotations, want)
		}
	})
	idx, err := top.ImageIndex(first.Digest)
	must(t, err)
	im, err := idx.IndexManifest()
	must(t, err)
	t.Run("the index has both platforms and the OCI annotations", func(t *testing.T) {
		var got []v1.Platform
		for _, d := range im.Manifests {
			if d.Platform != nil {
				got = append(got, *d.Platform)
			}
			if d.MediaType != types.OCIManifestSchema1 {
				t.Errorf("manifest %s is a %s", d.Digest, d.MediaType)
			}
		}
		if !slices.EqualFunc(got, platforms, func(a, b v1.Platform) bool { return a.Equals(b) }) {
			t.Errorf("platforms %v, want %v", got, platforms)
		}
		if !maps.Equal(im.Annotations, meta.Labels()) {
			t.Errorf("index annotations %v, want %v", im.Annotations, meta.Labels())
		}
	})

	wantLabels := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/netprofile/netprofile",
		"org.opencontainers.image.version":  "v0.0.0-test.image",
		"org.opencontainers.image.revision": "0123456789abcdef0123456789abcdef01234567",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.title":    "netprofile",
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
	}
	managers := map[string]string{} // arch -> the manager extracted from the image
	extracted := t.TempDir()
	var baseLayers []v1.Hash
	for i, d := range im.Manifests {
		p := platforms[i]
		t.Run("the "+p.String()+" image", func(t *testing.T) {
			img, err := idx.Image(d.Digest)
			must(t, err)
			cfg, err := img.ConfigFile()
			must(t, err)
			if cfg.OS != p.OS || cfg.Architecture != p.Architecture {
				t.Errorf("config is for %s/%s", cfg.OS, cfg.Architecture)
			}
			if cfg.Config.User != "65532:65532" || !slices.Equal(cfg.Config.Entrypoint, []string{"/manager"}) || len(cfg.Config.Cmd) != 0 {
				t.Errorf("config runs %v %v as %q, want /manager as 65532:65532", cfg.Config.Entrypoint, cfg.Config.Cmd, cfg.Config.User)
			}
			for k, v := range wantLabels {
				if cfg.Config.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, cfg.Config.Labels[k], v)
				}
			}
			if !cfg.Created.Equal(meta.Created) {
				t.Errorf("created %s, want the commit time %s", cfg.Created, meta.Created)
			}
			layers, err := img.Layers()
			must(t, err)
			if len(layers) != 2 {
				t.Fatalf("%d layers, want the base and the manager", len(layers))
			}
			for _, l := range layers {
				mt, err := l.MediaType()
				must(t, err)
				if mt != types.OCILayer {
					t.Errorf("layer of media type %s", mt)
				}
			}
			base, err := layers[0].Digest()
			must(t, err)
			baseLayers = append(baseLayers, base)

			files := extract(t, img)
			var regular []string
			for name, f := range files {
				if f.hdr.Typeflag == tar.TypeReg {
					regular = append(regular, name)
				}
				if !f.hdr.ModTime.Equal(meta.Created) {
					t.Errorf("%s has time %s, want the commit time", name, f.hdr.ModTime)
				}
				if path.Base(name) == "sh" || strings.HasPrefix(name, "bin/") || strings.HasPrefix(name, "usr/") || strings.HasPrefix(name, "sbin/") {
					t.Errorf("the image has %s: no shell, no other programs", name)
				}
			}
			slices.Sort(regular)
			if want := []string{"etc/group", "etc/passwd", "etc/ssl/certs/ca-certificates.crt", "manager"}; !slices.Equal(regular, want) {
				t.Errorf("files %v, want exactly %v", regular, want)
			}
			if passwd := string(files["etc/passwd"].content); !strings.Contains("\n"+passwd, "\nnonroot:x:65532:65532:") {
				t.Errorf("/etc/passwd has no nonroot 65532:\n%s", passwd)
			}
			if group := string(files["etc/group"].content); !strings.Contains("\n"+group, "\nnonroot:x:65532:") {
				t.Errorf("/etc/group has no nonroot 65532:\n%s", group)
			}
			if home := files["home/nonroot"].hdr; home == nil || home.Uid != 65532 || home.Typeflag != tar.TypeDir {
				t.Errorf("/home/nonroot is %+v, want a directory of 65532", home)
			}
			checkCABundle(t, files["etc/ssl/certs/ca-certificates.crt"].content)

			m := files["manager"]
			if m.hdr == nil {
				t.Fatal("no /manager")
			}
			if m.hdr.Mode != 0o755 || m.hdr.Uid != 0 {
				t.Errorf("/manager has mode %o and owner %d, want 755 and root", m.hdr.Mode, m.hdr.Uid)
			}
			if !bytes.Equal(m.content, read(t, bins[i].Path)) {
				t.Error("/manager is not the binary built for this platform")
			}
			bin := filepath.Join(extracted, p.Architecture, "manager")
			must(t, os.MkdirAll(filepath.Dir(bin), 0o755))
			must(t, os.WriteFile(bin, m.content, 0o755))
			checkStatic(t, bin, p)
			managers[p.Architecture] = bin
		})
	}
	if len(baseLayers) == 2 && baseLayers[0] != baseLayers[1] {
		t.Errorf("the platforms' base layers differ (%s, %s): a registry should store the base once", baseLayers[0], baseLayers[1])
	}

	t.Run("manifest.json is the first platform's image for docker load and crane", func(t *testing.T) {
		var docker tarball.Manifest
		must(t, json.Unmarshal(read(t, filepath.Join(layoutDir, "manifest.json")), &docker))
		if len(docker) != 1 || !slices.Equal(docker[0].RepoTags, []string{ref.String()}) {
			t.Fatalf("manifest.json = %+v, want one image tagged %s", docker, ref)
		}
		img, err := tarball.ImageFromPath(first.Archive, nil)
		must(t, err)
		amd64, err := idx.Image(im.Manifests[0].Digest)
		must(t, err)
		for what, get := range map[string]func(v1.Image) (v1.Hash, error){
			"config":    func(i v1.Image) (v1.Hash, error) { return i.ConfigName() },
			"layer 0":   func(i v1.Image) (v1.Hash, error) { return layerDigest(i, 0) },
			"layer 1":   func(i v1.Image) (v1.Hash, error) { return layerDigest(i, 1) },
			"diff id 1": func(i v1.Image) (v1.Hash, error) { return diffID(i, 1) },
		} {
			a, err := get(img)
			must(t, err)
			b, err := get(amd64)
			must(t, err)
			if a != b {
				t.Errorf("manifest.json's %s is %s, the %s image's %s", what, a, platforms[0], b)
			}
		}
	})

	t.Run("the SBOM lists every module the managers link", func(t *testing.T) {
		checkSBOM(t, first, bins)
	})

	host := v1.Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
	bin := managers[host.Architecture]
	if host.OS != "linux" || bin == "" {
		t.Skipf("the image has no manager this machine (%s) runs", host)
	}
	t.Run("the image's manager runs: --help", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin, "--help").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --help: %v\n%s", bin, err, out)
		}
		if !strings.Contains(string(out), "-leader-elect") || !strings.Contains(string(out), "-kubeconfig") {
			t.Errorf("--help does not list the manager's flags:\n%s", out)
		}
	})
	t.Run("the image's manager runs against a real control plane", func(t *testing.T) {
		runAgainstControlPlane(t, bin)
	})
}

// runAgainstControlPlane starts the manager bin on envtest's kube-apiserver and etcd with the shipped catalogue
// and waits until a namespace labelled with the standard profile has its policy and says so.
func runAgainstControlPlane(t *testing.T, bin string) {
	g := NewWithT(t)
	ctrllog.SetLogger(testr.New(t)) // envtest's own log
	ctx := context.Background()
	env, err := testenv.Start(testenv.Options{})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Error(err)
		}
	})
	scheme, err := controllers.NewScheme()
	g.Expect(err).NotTo(HaveOccurred())
	k8s, err := client.New(env.Config, client.Options{Scheme: scheme})
	g.Expect(err).NotTo(HaveOccurred())
	_, err = testenv.CreateCatalogue(ctx, k8s)
	g.Expect(err).NotTo(HaveOccurred())

	metricsAddr, err := testenv.FreeAddr()
	g.Expect(err).NotTo(HaveOccurred())
	probeAddr, err := testenv.FreeAddr()
	g.Expect(err).NotTo(HaveOccurred())
	m, err := testenv.StartManager("image", bin, []string{
		"--kubeconfig=" + env.Kubeconfig, "--leader-elect=false", "--metrics-secure=false",
		"--metrics-bind-address=" + metricsAddr, "--health-probe-bind-address=" + probeAddr,
	}, []string{"HOME=" + t.TempDir()})
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(m.Stop)
	log := func() string { return "manager log:\n" + m.Log.String() }

	const ns = "image-test"
	g.Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Labels: map[string]string{"network-policy.homelab/profile": "standard"}}})).To(Succeed())
	g.Eventually(func() (corev1.ConditionStatus, error) {
		obj := &corev1.Namespace{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, obj); err != nil {
			return "", err
		}
		if c := conditions.Find(obj.Status.Conditions, conditions.Ready); c != nil {
			return c.Status, nil
		}
		return "", errors.New("no NetworkPolicyReady condition yet")
	}).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).Should(Equal(corev1.ConditionTrue), log)
	g.Eventually(func() error {
		return k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: ownership.NamespacePolicyName}, &cilium.CiliumNetworkPolicy{})
	}).WithTimeout(time.Minute).WithPolling(200*time.Millisecond).Should(Succeed(), log)
	g.Expect(m.Exited()).To(BeFalse(), log)

	// It is the stamped build: the version and revision make image gives it.
	g.Eventually(func() (string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+metricsAddr+"/metrics", nil)
		if err != nil {
			return "", err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "netprofile_build_info{") {
				return line, err
			}
		}
		return "", err
	}).WithTimeout(30*time.Second).Should(And(
		ContainSubstring(`version="`+meta.Version+`"`), ContainSubstring(`revision="`+meta.Revision+`"`),
	), log)
}

// checkCABundle: PEM certificates only, CA certificates, enough of them, and the roots public sites chain to.
func checkCABundle(t *testing.T, b []byte) {
	t.Helper()
	var subjects []string
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if len(bytes.TrimSpace(rest)) != 0 {
				t.Errorf("the CA bundle has %d bytes that are not PEM", len(rest))
			}
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil || block.Type != "CERTIFICATE" || !c.IsCA {
			t.Errorf("the CA bundle has a %s that is no CA certificate: %v", block.Type, err)
			continue
		}
		subjects = append(subjects, c.Subject.CommonName)
	}
	if len(subjects) < 100 {
		t.Errorf("the CA bundle has %d certificates", len(subjects))
	}
	for _, want := range []string{"ISRG Root X1", "DigiCert Global Root G2", "GTS Root R1"} {
		if !slices.Contains(subjects, want) {
			t.Errorf("the CA bundle lacks %s", want)
		}
	}
}

// checkStatic: an ELF of the platform's machine, with no interpreter and no shared libraries, built without
// cgo, with -trimpath and the version stamped.
func checkStatic(t *testing.T, bin string, p v1.Platform) {
	t.Helper()
	f, err := elf.Open(bin)
	must(t, err)
	defer f.Close()
	if f.Machine != elfMachine[p.Architecture] {
		t.Errorf("ELF machine %s, want %s", f.Machine, elfMachine[p.Architecture])
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("the manager has a %s program header: it is dynamically linked", prog.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the manager needs shared libraries %v (%v)", libs, err)
	}
	info, err := buildinfo.ReadFile(bin)
	must(t, err)
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for k, v := range map[string]string{"CGO_ENABLED": "0", "GOOS": p.OS, "GOARCH": p.Architecture, "-trimpath": "true"} {
		if settings[k] != v {
			t.Errorf("build setting %s = %q, want %q", k, settings[k], v)
		}
	}
	// -trimpath keeps -ldflags out of the build information: look at the binary. -s -w strip the symbol
	// table and DWARF; -X stamps the version and revision as strings (the manager's metrics report them, below).
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			t.Errorf("the manager has a %s section: it is not stripped", s.Name)
		}
	}
	b := read(t, bin)
	for _, stamp := range []string{meta.Version, meta.Revision} {
		if !bytes.Contains(b, []byte(stamp)) {
			t.Errorf("%s is not stamped into the manager", stamp)
		}
	}
	if info.Path != "github.com/netprofile/netprofile/cmd/manager" {
		t.Errorf("the binary is %s", info.Path)
	}
}

// checkSBOM: the SPDX document describes the image by its digest, and lists exactly the modules of the
// binaries' build information, the main module and the standard library, each with its package URL.
func checkSBOM(t *testing.T, res imagebuild.Result, bins []imagebuild.Binary) {
	t.Helper()
	var doc imagebuild.SPDX
	must(t, json.Unmarshal(read(t, res.SBOM), &doc))
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" || doc.CreationInfo.Created != "2026-01-02T03:04:05Z" {
		t.Errorf("document header %+v", doc)
	}
	purls := map[string]string{} // purl -> SPDX id
	ids := map[string]bool{}
	for _, p := range doc.Packages {
		if ids[p.SPDXID] {
			t.Errorf("SPDX id %s twice", p.SPDXID)
		}
		ids[p.SPDXID] = true
		for _, r := range p.ExternalRefs {
			if r.Type == "purl" {
				purls[r.Locator] = p.SPDXID
			}
		}
	}
	described := ""
	for _, r := range doc.Relationships {
		if !ids[r.Related] || (r.Element != "SPDXRef-DOCUMENT" && !ids[r.Element]) {
			t.Errorf("relationship %+v relates an unknown element", r)
		}
		if r.Element == "SPDXRef-DOCUMENT" && r.Type == "DESCRIBES" {
			described = r.Related
		}
	}
	imagePURL := "pkg:oci/netprofile@sha256%3A" + res.Digest.Hex + "?repository_url=ghcr.io/netprofile/netprofile"
	if purls[imagePURL] == "" || purls[imagePURL] != described {
		t.Errorf("the document does not describe %s: %v", imagePURL, slices.Sorted(maps.Keys(purls)))
	}
	want := map[string]bool{
		"pkg:golang/github.com/netprofile/netprofile@" + meta.Version:      true,
		"pkg:golang/stdlib@" + strings.TrimPrefix(runtime.Version(), "go"): true,
		imagePURL: true,
	}
	for _, b := range bins {
		info, err := buildinfo.ReadFile(b.Path)
		must(t, err)
		for _, d := range info.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			want["pkg:golang/"+d.Path+"@"+strings.ReplaceAll(d.Version, "+", "%2B")] = true
		}
	}
	if len(want) < 30 {
		t.Fatalf("the managers link only %d modules?", len(want))
	}
	for p := range want {
		if purls[p] == "" {
			t.Errorf("the SBOM lacks %s", p)
		}
	}
	// The CA certificates' module, at the version go.mod requires.
	gomod := read(t, filepath.Join(testenv.RepoRoot(), "go.mod"))
	ca := regexp.MustCompile(`(?m)^\s*golang\.org/x/crypto/x509roots/fallback (\S+)`).FindSubmatch(gomod)
	if ca == nil {
		t.Fatal("go.mod does not require golang.org/x/crypto/x509roots/fallback")
	}
	caPURL := "pkg:golang/golang.org/x/crypto/x509roots/fallback@" + string(ca[1])
	if purls[caPURL] == "" {
		t.Errorf("the SBOM lacks the CA certificates' module %s", caPURL)
	}
	for p := range purls {
		if !want[p] && p != caPURL {
			t.Errorf("the SBOM lists %s, which no manager links", p)
		}
	}
}

type entry struct {
	hdr     *tar.Header
	content []byte
}

// extract is the image's file system, as a runtime unpacks it.
func extract(t *testing.T, img v1.Image) map[string]entry {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		must(t, err)
		b, err := io.ReadAll(tr)
		must(t, err)
		out[strings.TrimSuffix(path.Clean(hdr.Name), "/")] = entry{hdr: hdr, content: b}
	}
}

// untar unpacks archive into dir and returns its entry names in order.
func untar(t *testing.T, archive, dir string) []string {
	t.Helper()
	f, err := os.Open(archive)
	must(t, err)
	defer f.Close()
	tr := tar.NewReader(f)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		must(t, err)
		names = append(names, hdr.Name)
		if !hdr.ModTime.Equal(meta.Created) || hdr.Uid != 0 || hdr.Gid != 0 {
			t.Errorf("%s: time %s, owner %d:%d; want the commit time and root", hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid)
		}
		target := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			must(t, os.MkdirAll(target, 0o755))
			continue
		}
		w, err := os.Create(target)
		must(t, err)
		_, err = io.Copy(w, tr)
		must(t, errors.Join(err, w.Close()))
	}
}

func layerDigest(img v1.Image, i int) (v1.Hash, error) {
	ls, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	return ls[i].Digest()
}

func diffID(img v1.Image, i int) (v1.Hash, error) {
	ls, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	return ls[i].DiffID()
}

func sum(t *testing.T, file string) string {
	t.Helper()
	s := sha256.Sum256(read(t, file))
	return hex.EncodeToString(s[:])
}

func read(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	must(t, err)
	return b
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
