// Package samples embeds netprofile's default catalogue (the seed's profiles, shared resources and baselines),
// so that binaries used outside the checkout, such as the kubectl plugin, render with exactly what the chart
// ships.
package samples

import "embed"

// FS holds the default catalogue's YAML files.
//
//go:embed *.yaml
var FS embed.FS
