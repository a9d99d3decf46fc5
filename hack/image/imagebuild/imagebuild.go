// Package imagebuild builds netprofile's manager image from Go alone: no container daemon, no base image to
// pull, no registry. hack/image (make image) runs it, and test/image checks and runs what it builds.
//
// Each platform's image is two layers. The base is built here, the same for every platform (so a registry
// stores it once): /etc/passwd and /etc/group with distroless's users (root, nobody, and nonroot 65532, the
// user the chart's securityContext runs as), the CA certificates of golang.org/x/crypto/x509roots/fallback
// (Mozilla's NSS roots, pinned by go.mod: /etc/ssl/certs on the build machine would differ from machine to
// machine), /home/nonroot and /tmp. On top of it is the static manager binary, /manager. There is no shell
// and no other program.
//
// The output is an OCI image layout in a tar (index.json, oci-layout, blobs/) whose index.json points at
// the multi-platform image index, named <repository>:<version> for containerd (kind load image-archive),
// Docker ≥ 25 and skopeo, plus a Docker-style manifest.json for the first platform, which older Docker
// (docker load) and crane (crane push <tar>) read. Every byte follows from the commit, the Go toolchain and
// go.sum: files and entries carry the commit time, tar entries are sorted, gzip has no timestamp, so the same
// commit gives the same digest.
package imagebuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

const (
	// ManagerPackage is what the image runs.
	ManagerPackage = "./cmd/manager"
	// User is the image's user and group: distroless's nonroot.
	User = "65532:65532"
	// Entrypoint is where the manager is in the image.
	Entrypoint = "/manager"
	// CABundle is the CA certificates file, where Go's crypto/x509 looks first on Linux.
	CABundle = "etc/ssl/certs/ca-certificates.crt"

	versionVar  = "github.com/netprofile/netprofile/pkg/version.Version"
	revisionVar = "github.com/netprofile/netprofile/pkg/version.Revision"
	nonroot     = 65532
)

// Metadata is what the image says about itself.
type Metadata struct {
	// Version is stamped into pkg/version and is the image's version label and tag.
	Version string
	// Revision is the commit, stamped into pkg/version and the revision label.
	Revision string
	// Source is the repository URL of the source label.
	Source string
	// Repository is the image name the archive tags, such as ghcr.io/netprofile/netprofile.
	Repository string
	// Created is the commit time: every file's and the image's creation time.
	Created time.Time
}

// Ref is the name the archive gives the image: Repository:Version.
func (m Metadata) Ref() (name.Tag, error) {
	return name.NewTag(m.Repository+":"+m.Version, name.StrictValidation)
}

func (m Metadata) validate() error {
	if m.Version == "" || m.Revision == "" || m.Source == "" || m.Created.IsZero() {
		return fmt.Errorf("version, revision, source and creation time are all required: %+v", m)
	}
	if strings.ContainsAny(m.Version+m.Revision, " \t'\"") {
		return fmt.Errorf("version %q and revision %q must be single words", m.Version, m.Revision)
	}
	if _, err := m.Ref(); err != nil {
		return fmt.Errorf("%s:%s is no image tag: %w", m.Repository, m.Version, err)
	}
	return nil
}

// Labels are the image's OCI annotations, as config labels and on the index.
func (m Metadata) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "netprofile",
		"org.opencontainers.image.description": "Kubernetes operator that turns Namespace labels into Cilium network policies",
		"org.opencontainers.image.source":      m.Source,
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Revision,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.created":     m.Created.UTC().Format(time.RFC3339),
	}
}

// ParsePlatforms reads "linux/amd64,linux/arm64".
func ParsePlatforms(s string) ([]v1.Platform, error) {
	var out []v1.Platform
	for _, p := range strings.Split(s, ",") {
		goos, arch, ok := strings.Cut(strings.TrimSpace(p), "/")
		if !ok || goos != "linux" || arch == "" || strings.Contains(arch, "/") {
			return nil, fmt.Errorf("platform %q: want linux/<arch>", p)
		}
		if slices.ContainsFunc(out, func(q v1.Platform) bool { return q.Architecture == arch }) {
			return nil, fmt.Errorf("platform %q given twice", p)
		}
		out = append(out, v1.Platform{OS: goos, Architecture: arch})
	}
	return out, nil
}

// Binary is a manager binary built for a platform.
type Binary struct {
	Platform v1.Platform
	Path     string
}

// BuildManager compiles the manager in the module at root for platform p into out: static (CGO_ENABLED=0),
// -trimpath, stripped (-s -w), with the version and revision stamped into pkg/version. -buildvcs=false and
// the baseline GOAMD64/GOARM64 make the binary the same wherever the commit is built (a clone, a source
// tarball, a container) and runnable on every CPU of the architecture.
func BuildManager(root string, p v1.Platform, m Metadata, out string) (Binary, error) {
	if err := m.validate(); err != nil {
		return Binary{}, err
	}
	ldflags := fmt.Sprintf("-s -w -X %s=%s -X %s=%s", versionVar, m.Version, revisionVar, m.Revision)
	cmd := exec.Command("go", "build", "-trimpath", "-buildvcs=false", "-ldflags", ldflags, "-o", out, ManagerPackage)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Architecture, "GOAMD64=v1", "GOARM64=v8.0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return Binary{}, fmt.Errorf("go build %s for %s: %w\n%s", ManagerPackage, p, err, b)
	}
	return Binary{Platform: p, Path: out}, nil
}

// BuildManagers builds the manager for each platform into dir.
func BuildManagers(root string, platforms []v1.Platform, m Metadata, dir string) ([]Binary, error) {
	var out []Binary
	for _, p := range platforms {
		b, err := BuildManager(root, p, m, filepath.Join(dir, p.OS+"_"+p.Architecture, "manager"))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Result is what Assemble wrote.
type Result struct {
	// Digest is the image index's digest: what a registry serves under the tag, and image.digest in the chart.
	Digest v1.Hash
	// Archive, DigestFile and SBOM are the files: <archive>, <archive>.digest and <archive>.spdx.json.
	Archive, DigestFile, SBOM string
}

// Assemble builds the image of the binaries (one per platform; the first is manifest.json's) of the module at
// root and writes the archive to out, the index digest to out.digest and the SBOM to out.spdx.json.
func Assemble(root string, binaries []Binary, m Metadata, out string) (Result, error) {
	if err := m.validate(); err != nil {
		return Result{}, err
	}
	if len(binaries) == 0 {
		return Result{}, errors.New("no binaries to assemble")
	}
	base, err := layer(baseFiles(), m.Created)
	if err != nil {
		return Result{}, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var first v1.Image
	for _, b := range binaries {
		img, err := image(b, base, m)
		if err != nil {
			return Result{}, err
		}
		if first == nil {
			first = img
		}
		p := b.Platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx, ok := mutate.Annotations(idx, m.Labels()).(v1.ImageIndex)
	if !ok {
		return Result{}, errors.New("annotating the index did not give an index")
	}
	digest, err := idx.Digest()
	if err != nil {
		return Result{}, err
	}
	res := Result{Digest: digest, Archive: out, DigestFile: out + ".digest", SBOM: out + ".spdx.json"}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return Result{}, err
	}
	if err := writeFile(out, func(w io.Writer) error { return writeArchive(w, idx, first, m) }); err != nil {
		return Result{}, fmt.Errorf("failed to write %s: %w", out, err)
	}
	if err := os.WriteFile(res.DigestFile, []byte(digest.String()+"\n"), 0o644); err != nil {
		return Result{}, err
	}
	sbom, err := SBOM(root, binaries, m, digest)
	if err != nil {
		return Result{}, err
	}
	if err := os.WriteFile(res.SBOM, sbom, 0o644); err != nil {
		return Result{}, err
	}
	return res, nil
}

// image is one platform's image: the base layer, the manager on top.
func image(b Binary, base v1.Layer, m Metadata) (v1.Image, error) {
	bin, err := os.ReadFile(b.Path)
	if err != nil {
		return nil, err
	}
	manager, err := layer([]file{{name: strings.TrimPrefix(Entrypoint, "/"), mode: 0o755, content: bin}}, m.Created)
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: b.Platform.Architecture,
		OS:           b.Platform.OS,
		Created:      v1.Time{Time: m.Created.UTC()},
		Config: v1.Config{
			User:       User,
			Entrypoint: []string{Entrypoint},
			Labels:     m.Labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	created := v1.Time{Time: m.Created.UTC()}
	return mutate.Append(img,
		mutate.Addendum{Layer: base, History: v1.History{Created: created, CreatedBy: "hack/image: base: users root, nobody, nonroot (65532); CA certificates of golang.org/x/crypto/x509roots/fallback"}},
		mutate.Addendum{Layer: manager, History: v1.History{Created: created, CreatedBy: "hack/image: /manager: CGO_ENABLED=0 go build -trimpath -buildvcs=false -ldflags=-s -w " + ManagerPackage}},
	)
}

// file is a layer entry; a name ending in / is a directory.
type file struct {
	name     string
	mode     int64
	uid, gid int
	content  []byte
}

// baseFiles is what every image has besides the manager.
func baseFiles() []file {
	var certs bytes.Buffer
	for root := range bundle.Roots() {
		// A PEM file cannot say "distrusted for certificates issued after": leave those roots out rather
		// than trust them without the limit.
		if root.Constraint != nil {
			continue
		}
		_ = pem.Encode(&certs, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate})
	}
	return []file{
		{name: "etc/", mode: 0o755},
		{name: "etc/group", mode: 0o644, content: []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")},
		{name: "etc/passwd", mode: 0o644, content: []byte("root:x:0:0:root:/root:/sbin/nologin\n" +
			"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
			"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: CABundle, mode: 0o644, content: certs.Bytes()},
		{name: "home/", mode: 0o755},
		{name: "home/nonroot/", mode: 0o700, uid: nonroot, gid: nonroot},
		{name: "tmp/", mode: 0o1777},
	}
}

// layer is a gzipped tar of files, sorted, every entry with the time t and no user or group names.
func layer(files []file, t time.Time) (v1.Layer, error) {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.name, b.name) })
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Uid: f.uid, Gid: f.gid, ModTime: t.UTC(), Format: tar.FormatPAX}
		if strings.HasSuffix(f.name, "/") {
			hdr.Typeflag = tar.TypeDir
		} else {
			hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.content))
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.content); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithCompressedCaching)
}

// writeArchive writes the OCI layout of idx as a tar, with a Docker manifest.json for dockerImage.
func writeArchive(w io.Writer, idx v1.ImageIndex, dockerImage v1.Image, m Metadata) error {
	ref, err := m.Ref()
	if err != nil {
		return err
	}
	blobs := map[string]func() (io.ReadCloser, error){}
	raw := func(b []byte) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	add := func(h v1.Hash, open func() (io.ReadCloser, error)) string {
		p := "blobs/" + h.Algorithm + "/" + h.Hex
		blobs[p] = open
		return p
	}
	idxRaw, err := idx.RawManifest()
	if err != nil {
		return err
	}
	idxDigest, err := idx.Digest()
	if err != nil {
		return err
	}
	add(idxDigest, raw(idxRaw))
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	dockerDigest, err := dockerImage.Digest()
	if err != nil {
		return err
	}
	var docker tarball.Descriptor
	for _, desc := range im.Manifests {
		img, err := idx.Image(desc.Digest)
		if err != nil {
			return err
		}
		manifest, err := img.RawManifest()
		if err != nil {
			return err
		}
		add(desc.Digest, raw(manifest))
		config, err := img.RawConfigFile()
		if err != nil {
			return err
		}
		configName, err := img.ConfigName()
		if err != nil {
			return err
		}
		configPath := add(configName, raw(config))
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		var layerPaths []string
		for _, l := range layers {
			d, err := l.Digest()
			if err != nil {
				return err
			}
			layerPaths = append(layerPaths, add(d, l.Compressed))
		}
		if desc.Digest == dockerDigest {
			docker = tarball.Descriptor{Config: configPath, RepoTags: []string{ref.String()}, Layers: layerPaths}
		}
	}
	if docker.Config == "" {
		return errors.New("the Docker manifest's image is not in the index")
	}
	dockerManifest, err := json.Marshal(tarball.Manifest{docker})
	if err != nil {
		return err
	}
	index, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIImageIndex, Size: int64(len(idxRaw)), Digest: idxDigest,
			Annotations: map[string]string{
				// containerd (ctr import, kind load) and Docker name the image by this; skopeo and the OCI
				// spec by the tag.
				"io.containerd.image.name":          ref.String(),
				"org.opencontainers.image.ref.name": ref.TagStr(),
			},
		}},
	})
	if err != nil {
		return err
	}
	blobs["oci-layout"] = raw([]byte(`{"imageLayoutVersion":"1.0.0"}`))
	blobs["index.json"] = raw(index)
	blobs["manifest.json"] = raw(dockerManifest)

	tw := tar.NewWriter(w)
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: m.Created.UTC(), Format: tar.FormatPAX})
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	for _, p := range slices.Sorted(maps.Keys(blobs)) {
		if err := writeEntry(tw, p, blobs[p], m.Created); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, p string, open func() (io.ReadCloser, error), t time.Time) error {
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: p, Mode: 0o644, Size: int64(len(b)), ModTime: t.UTC(), Format: tar.FormatPAX}); err != nil {
		return err
	}
	_, err = tw.Write(b)
	return err
}

// writeFile writes a file through a temporary one, so a failed build leaves no half archive.
func writeFile(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
