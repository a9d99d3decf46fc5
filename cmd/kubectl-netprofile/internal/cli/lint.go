package cli

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/lint"
	"github.com/netprofile/netprofile/pkg/desired"
)

type lintOptions struct {
	output    string
	ambient   []string
	external  []string
	catalogue []string
	rules     bool
	mesh      bool
	protected []string
}

func newLint(g *globals) *cobra.Command {
	o := &lintOptions{}
	cmd := &cobra.Command{
		Use:   "lint <file or directory>...",
		Short: "Check hand-written Cilium policies and NetworkPolicies against the runbook's rules and Cilium's traps",
		Long: strings.TrimSpace(`
Lint CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies (YAML files or directories, '-' for stdin)
against the seed runbook's anti-patterns and the Cilium behaviours that fail silently. Every finding has a
file:line, a rule id and a fix. Namespace manifests among the files mark namespaces as ambient
(istio.io/dataplane-mode: ambient), and are flagged when they carry netprofile's since-annotation (only
netprofile writes it: a GitOps tool re-applying it is refused on every sync). networking.k8s.io/v1
NetworkPolicies among the files, which Cilium enforces too, are decoded strictly, refused where the API server
or Cilium would refuse them, and judged by beyond-labels. SharedResources are flagged when spec.consumers
selects on Namespace labels a namespace's own users may write (anything but kubernetes.io/metadata.name, the
platform mark <domain>/platform and --protected-namespace-labels). Exit code 1 when there are findings.

Rules (--rules lists them): explicit default-deny, deny rules (they defeat the escape hatch), hard-coded IPs
in CIDR rules (link-local and --external-cidr ranges are fine), rules without explicit ports (health-probe
ingress excepted), empty sections, {} peers in clusterwide policies, lowercase protocols, Cilium's own schema
and Parse/Sanitize errors, NetworkPolicies the API server or Cilium refuses, and for platform namespaces
(--platform-namespaces) the required Prometheus scrape ingress, HBONE when ambient, and in kube-system DNS
ingress to kube-dns from the cluster. With --clustermesh, pod peers that name no cluster
(io.cilium.k8s.policy.cluster), whose meaning depends on the agent's policy-default-local-cluster.

-o sarif prints a SARIF 2.1.0 log for code scanning (GitHub's upload-sarif, GitLab, Azure DevOps): the rules
with their help, each finding at its file and line.`),
		Example: strings.Trim(`
  # The platform CNPs of a GitOps repository
  kubectl netprofile lint kubernetes/platform/config/network-policy/platform/

  # In CI, machine-readable, with the cluster's external ranges and ambient namespaces
  kubectl netprofile lint policies/ --external-cidr 203.0.113.0/24 --ambient-namespaces database,cache -o json

  # One policy from a pipe
  kubectl get cnp -n database database-default -o yaml | kubectl netprofile lint -

  # For GitHub code scanning (upload the file with github/codeql-action/upload-sarif)
  kubectl netprofile lint kubernetes/platform/ -o sarif > netprofile.sarif`, "\n"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.rules {
				return o.listRules(g)
			}
			if len(args) == 0 {
				return usageError("lint needs files or directories (or - for stdin)")
			}
			return o.run(cmd.Context(), g, args)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.ambient, "ambient-namespaces", nil, "namespaces in the Istio ambient mesh (they need HBONE rules)")
	f.StringSliceVar(&o.external, "external-cidr", nil, "address ranges outside the cluster that CIDR rules may name")
	f.BoolVar(&o.rules, "rules", false, "list the rule ids and exit")
	f.StringSliceVar(&o.protected, "protected-namespace-labels", nil, "Namespace label keys admission lets only the platform write (the manager's --protected-namespace-labels), which a SharedResource's spec.consumers may select on; if unset, --cluster-defaults reads them from the cluster's LabelContract")
	f.BoolVar(&o.mesh, "clustermesh", false, "the cluster is in a Cilium ClusterMesh: flag pod peers that name no cluster (their meaning depends on policy-default-local-cluster)")
	f.StringSliceVar(&o.catalogue, "catalogue", nil, "directories or files with the catalogue the beyond-labels rule renders with (default: the shipped catalogue)")
	outputFlag(cmd, &o.output, "text", "text", "json", "sarif")
	return cmd
}

func (o *lintOptions) run(ctx context.Context, g *globals, paths []string) error {
	platform, err := g.platformNamespaces(ctx)
	if err != nil {
		return err
	}
	opts := lint.Options{PlatformNamespaces: platform, AmbientNamespaces: o.ambient}
	for _, c := range o.external {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return usageError("--external-cidr %q: %v", c, err)
		}
		opts.ExternalCIDRs = append(opts.ExternalCIDRs, p.Masked())
	}
	r, err := g.renderer(ctx)
	if err != nil {
		return err
	}
	cat, err := g.loadCatalogue(o.catalogue, nil)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	opts.Render = &desired.Input{Renderer: r, Catalogue: cat, Scope: desired.All, Now: time.Now(), Thresholds: g.thresholds}
	opts.ClusterMesh, opts.Cluster = o.mesh, r.ClusterName
	opts.ProtectedNamespaceLabels = o.protected
	if o.protected == nil {
		opts.ProtectedNamespaceLabels = g.protected
	}
	l := lint.New(opts)
	if err := l.AddPaths(g.stdin, paths...); err != nil {
		return &exitError{code: ExitError, err: err}
	}
	findings := l.Findings()
	switch o.output {
	case "json":
		if findings == nil {
			findings = []lint.Finding{}
		}
		if err := writeJSON(g.stdout, findings); err != nil {
			return err
		}
	case "sarif":
		if err := writeSARIF(g.stdout, findings); err != nil {
			return err
		}
	default:
		out := g.text()
		for _, f := range findings {
			fmt.Fprintln(out, f)
		}
		fmt.Fprintf(g.stderr, "%d findings in %d policies\n", len(findings), l.Policies())
	}
	if l.Policies() == 0 {
		fmt.Fprintln(g.stderr, "warning: no CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy or NetworkPolicy found")
	}
	if len(findings) > 0 {
		return errFindings
	}
	return nil
}

func (o *lintOptions) listRules(g *globals) error {
	for _, id := range slices.Sorted(maps.Keys(lint.Rules)) {
		fmt.Fprintf(g.stdout, "%-28s %s\n", id, lint.Rules[id])
	}
	return nil
}
