package imagebuild

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os/exec"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// caModule is the module the CA certificates come from.
const caModule = "golang.org/x/crypto/x509roots/fallback"

// SPDX is the subset of an SPDX 2.3 document SBOM writes.
type SPDX struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      SPDXCreationInfo   `json:"creationInfo"`
	Packages          []SPDXPackage      `json:"packages"`
	Relationships     []SPDXRelationship `json:"relationships"`
}

// SPDXCreationInfo says who made the document, and when (the commit time, so the document is reproducible).
type SPDXCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

// SPDXPackage is the image, the manager, a Go module or the Go standard library.
type SPDXPackage struct {
	SPDXID           string       `json:"SPDXID"`
	Name             string       `json:"name"`
	VersionInfo      string       `json:"versionInfo"`
	DownloadLocation string       `json:"downloadLocation"`
	FilesAnalyzed    bool         `json:"filesAnalyzed"`
	PrimaryPurpose   string       `json:"primaryPackagePurpose,omitempty"`
	ExternalRefs     []SPDXExtRef `json:"externalRefs,omitempty"`
	Comment          string       `json:"comment,omitempty"`
}

// SPDXExtRef is a package URL.
type SPDXExtRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

// SPDXRelationship relates two elements.
type SPDXRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

// SBOM is the SPDX document of the image whose index has digest: the image contains the manager (the main
// module) and the CA certificates (their module, as the module at root requires it); the manager depends on
// every module its binaries' build information lists (the honest list: what the linker put in, for every
// platform; go version -m shows the same) and on the Go standard library.
func SBOM(root string, binaries []Binary, m Metadata, digest v1.Hash) ([]byte, error) {
	doc := SPDX{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT",
		Name:              "netprofile-image-" + m.Version,
		DocumentNamespace: strings.TrimSuffix(m.Source, "/") + "/spdx/netprofile-image/" + m.Version + "/" + digest.Hex,
		CreationInfo:      SPDXCreationInfo{Created: m.Created.UTC().Format(time.RFC3339), Creators: []string{"Organization: netprofile", "Tool: netprofile-hack-image"}},
	}
	const imageID, managerID = "SPDXRef-Package-image", "SPDXRef-Package-manager"
	// pkg:oci/<name>@sha256%3A<hex>?repository_url=<repository>, as the purl specification's examples write it.
	imagePURL := "pkg:oci/" + m.Repository[strings.LastIndex(m.Repository, "/")+1:] + "@" + digest.Algorithm + "%3A" + digest.Hex +
		"?repository_url=" + m.Repository
	doc.Packages = append(doc.Packages, SPDXPackage{
		SPDXID: imageID, Name: m.Repository, VersionInfo: m.Version, DownloadLocation: "NOASSERTION", PrimaryPurpose: "CONTAINER",
		ExternalRefs: []SPDXExtRef{purl(imagePURL)},
	})
	doc.Relationships = append(doc.Relationships, SPDXRelationship{"SPDXRef-DOCUMENT", "DESCRIBES", imageID})

	var mainPath, goVersion string
	modules := map[string]*debug.Module{}
	for _, b := range binaries {
		info, err := buildinfo.ReadFile(b.Path)
		if err != nil {
			return nil, fmt.Errorf("failed to read the build information of %s: %w", b.Path, err)
		}
		if mainPath != "" && (info.Main.Path != mainPath || info.GoVersion != goVersion) {
			return nil, fmt.Errorf("%s is %s built with %s, not %s built with %s", b.Path, info.Main.Path, info.GoVersion, mainPath, goVersion)
		}
		mainPath, goVersion = info.Main.Path, info.GoVersion
		for _, d := range info.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			modules[d.Path+"@"+d.Version] = d
		}
	}
	doc.Packages = append(doc.Packages, SPDXPackage{
		SPDXID: managerID, Name: mainPath, VersionInfo: m.Version, DownloadLocation: "git+" + m.Source + "@" + m.Revision,
		PrimaryPurpose: "APPLICATION", ExternalRefs: []SPDXExtRef{purl(golangPURL(mainPath, m.Version))},
		Comment: "the manager, " + Entrypoint,
	})
	doc.Relationships = append(doc.Relationships, SPDXRelationship{imageID, "CONTAINS", managerID})

	// The CA certificates' module, as the module at root selects it: the one this package is built with.
	// (Not this program's build information: a test binary has no module list.)
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", caModule)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m %s: %w", caModule, err)
	}
	caVersion := strings.TrimSpace(string(out))
	doc.Packages = append(doc.Packages, SPDXPackage{
		SPDXID: "SPDXRef-Package-ca-certificates", Name: caModule, VersionInfo: caVersion, DownloadLocation: "NOASSERTION",
		PrimaryPurpose: "DATA", ExternalRefs: []SPDXExtRef{purl(golangPURL(caModule, caVersion))},
		Comment: "Mozilla's NSS roots without distrust-after constraints, /" + CABundle,
	})
	doc.Relationships = append(doc.Relationships, SPDXRelationship{imageID, "CONTAINS", "SPDXRef-Package-ca-certificates"})

	add := func(id, name, version, locator string) {
		doc.Packages = append(doc.Packages, SPDXPackage{SPDXID: id, Name: name, VersionInfo: version, DownloadLocation: "NOASSERTION",
			PrimaryPurpose: "LIBRARY", ExternalRefs: []SPDXExtRef{purl(locator)}})
		doc.Relationships = append(doc.Relationships, SPDXRelationship{managerID, "DEPENDS_ON", id})
	}
	add("SPDXRef-Package-go-stdlib", "stdlib", goVersion, golangPURL("stdlib", strings.TrimPrefix(goVersion, "go")))
	ids := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(modules)) {
		d := modules[key]
		id := "SPDXRef-Package-go-" + spdxID.ReplaceAllString(key, "-")
		for n := 2; ids[id]; n++ {
			id = fmt.Sprintf("SPDXRef-Package-go-%s-%d", spdxID.ReplaceAllString(key, "-"), n)
		}
		ids[id] = true
		add(id, d.Path, d.Version, golangPURL(d.Path, d.Version))
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// spdxID is what an SPDX identifier may not hold.
var spdxID = regexp.MustCompile(`[^A-Za-z0-9.-]`)

func purl(locator string) SPDXExtRef {
	return SPDXExtRef{Category: "PACKAGE-MANAGER", Type: "purl", Locator: locator}
}

// golangPURL is the package URL of a Go module: pkg:golang/<path>@<version>, the version percent-encoded
// (v2.0.0+incompatible is v2.0.0%2Bincompatible).
func golangPURL(path, version string) string {
	return "pkg:golang/" + path + "@" + strings.ReplaceAll(url.PathEscape(version), "+", "%2B")
}
