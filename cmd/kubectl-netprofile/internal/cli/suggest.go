package cli

import (
	"context"
	"io"
	"maps"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/suggest"
)

type suggestOptions struct {
	judgedOptions
}

func newSuggest(g *globals) *cobra.Command {
	o := &suggestOptions{}
	cmd := &cobra.Command{
		Use:   "suggest --namespace <ns> [hubble-output.json] [--live | -f <namespace.yaml>...] [--catalogue <dir>] [--policies <dir>]",
		Short: "The smallest profile and grants that allow a namespace's observed traffic, as labels for git",
		Long: strings.TrimSpace(`
Read 'hubble observe -o json' output (a file, or stdin) and find the smallest profile of the catalogue and the
fewest grants (SharedResources) under which every observed flow with the namespace at one end is allowed,
each candidate decided with Cilium's engine against the rendered policy set, exactly as replay judges flows.
Print them as the Namespace labels to put in git.

"Smallest" is computed from the catalogue, never from names: a profile another profile contains (every rule
within one of the other's, same-namespace traffic included) comes first; between profiles neither of which
contains the other, the one naming fewer peers, then fewer ports. With every grant the namespace may have,
the profiles that allow the most flows are the candidates and the smallest wins; then each grant no flow
needs is dropped. Flows no profile and grant allow are listed, with diagnose's cause and fix: they need a
platform policy or a new profile.

The rest of the policy set is, offline, the catalogue's cluster policies (provider halves, baselines), the
-f namespaces and --policies (only the namespace and those are judged; other namespaces keep the verdict
Hubble observed on their side); with --live, the cluster with enforcement on. The namespace's current labels
come from -f, else the cluster (--live), else the flows.

Exit code 1 when some flow is allowed by no profile and grant.`),
		Example: strings.Trim(`
  # A namespace in audit mode for a day: which profile and grants does it need?
  hubble observe --namespace my-app --since 24h -o json | kubectl netprofile suggest --namespace my-app

  # Against the live cluster (its platform policies decide the other ends), as YAML
  kubectl netprofile suggest --namespace my-app my-app.json --live -o yaml`, "\n"),
		Args: cobra.MaximumNArgs(1),
		RunE: onFlows(g, o.run),
	}
	o.flags(cmd, "Namespace manifests: the namespace's current labels, and other namespaces to judge with (files or directories)")
	return cmd
}

func (o *suggestOptions) run(ctx context.Context, g *globals, source string, r io.Reader) error {
	// -n is kubectl's namespace flag; suggest needs it given, and never takes the kubeconfig's default: the
	// labels are for one namespace the user names, offline as well.
	namespace := g.namespace()
	if namespace == "" {
		return usageError("suggest needs the namespace to suggest labels for: -n <namespace>")
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return usageError("--namespace %q: %s", namespace, strings.Join(errs, "; "))
	}
	flows, j, err := o.load(ctx, g, source, r)
	if err != nil {
		return err
	}
	rdr, err := g.renderer(ctx)
	if err != nil {
		return err
	}
	// The namespace's labels now: the manifest's, the cluster's, or those Hubble reported.
	current, ok := j.set.Policies.NamespaceLabels[namespace]
	if !ok {
		for _, f := range flows.List {
			for _, p := range []struct {
				ns     string
				labels map[string]string
			}{{f.Src.Namespace, f.Src.NSLabels}, {f.Dst.Namespace, f.Dst.NSLabels}} {
				if p.ns == namespace && current == nil {
					current = maps.Clone(p.labels)
					delete(current, "kubernetes.io/metadata.name")
				}
			}
		}
	}
	res, err := suggest.Suggest(suggest.Input{
		Namespace: namespace, Flows: flows, Catalogue: j.catalogue, Renderer: rdr, Base: j.set, Labels: current,
		Classifier: j.classifier,
	})
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if o.output == "text" {
		if err := res.WriteText(g.text()); err != nil {
			return err
		}
	} else if err := write(g.stdout, o.output, res); err != nil {
		return err
	}
	if !res.AllAllowed() {
		return errFindings
	}
	return nil
}
