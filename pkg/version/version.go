// Package version owns the one answer to "which netprofile is this": the manager exports it as
// netprofile_build_info and the kubectl plugin prints it. Release builds stamp Version with
//
//	-ldflags "-X github.com/netprofile/netprofile/pkg/version.Version=v1.2.3"
//
// and every build carries the VCS revision Go records (go build from a git checkout), so a binary built
// without the stamp still says which commit it is. Builds that must not depend on the checkout's VCS state
// (the image, hack/image: -buildvcs=false, so the same commit gives the same binary from a clone, a tarball
// or a container build) stamp the revision instead, with -X .../pkg/version.Revision=<commit>.
package version

import (
	"runtime"
	"runtime/debug"
)

// Version is set at link time; "dev" when it was not.
var Version = "dev"

// Revision is the VCS revision set at link time; when empty, the one Go recorded in the build info.
var Revision string

// Info says which build this is.
type Info struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get reads the stamped version and the build's VCS settings.
func Get() Info {
	info := Info{Version: Version, Revision: "unknown", GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if Revision != "" {
		info.Revision = Revision
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		// go install module@version records the module version.
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if Revision == "" {
				info.Revision = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	return info
}
