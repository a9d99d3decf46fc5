package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/netprofile/netprofile/pkg/version"
)

// BuildInfo is netprofile_build_info: always 1, labelled with the build. Besides saying which build runs, it
// is the one series every netprofile manager exports whatever its state, so rules can tell "the manager is
// scraped" from "it is not", and pick netprofile's series out of generic ones (controller-runtime's) by the
// scrape target they share.
func BuildInfo(info version.Info) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: BuildInfoName,
		Help: "Always 1; labelled with the netprofile build: version, VCS revision and Go version.",
		ConstLabels: prometheus.Labels{
			"version":   info.Version,
			"revision":  info.Revision,
			"goversion": info.GoVersion,
		},
	})
	g.Set(1)
	return g
}
