package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netprofile/netprofile/pkg/version"
)

func newVersion(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the plugin's version, VCS revision, Go version and platform",
		Long: strings.TrimSpace(`
Print which build of the plugin this is: the release version it was stamped with ("dev" for a build without
one), the VCS revision it was built from (with "+modified" for uncommitted changes), the Go version and the
platform. It reads no cluster.`),
		Example: strings.Trim(`
  # Which plugin is installed?
  kubectl netprofile version

  # For a bug report
  kubectl netprofile version -o yaml`, "\n"),
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			info := version.Get()
			if output != "text" {
				return write(g.stdout, output, info)
			}
			rev := info.Revision
			if info.Modified {
				rev += "+modified"
			}
			_, err := fmt.Fprintf(g.stdout, "kubectl-netprofile %s (revision %s, %s, %s)\n", info.Version, rev, info.GoVersion, info.Platform)
			return err
		},
	}
	outputFlag(cmd, &output, "text", "text", "json", "yaml")
	return cmd
}
