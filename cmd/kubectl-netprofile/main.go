// Command kubectl-netprofile is netprofile's kubectl plugin (`kubectl netprofile ...`): it renders, lints,
// diagnoses and checks Cilium policies offline with the operator's own packages, and reports the live state
// of a cluster. See `kubectl netprofile --help`.
package main

import (
	"os"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
