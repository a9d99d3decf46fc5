package cli

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/check"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/desired"
)

type checkOptions struct {
	from, to, port          string
	files, catalogue, extra []string
	live                    bool
	output                  string
}

func newCheck(g *globals) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check --from <endpoint> --to <endpoint> --port <N/PROTO> [-f <namespace.yaml>...] [--policies <dir>] [--live]",
		Short: "Would this flow be allowed, and which policy decides? (Cilium's own policy engine)",
		Long: strings.TrimSpace(`
Answer whether a flow would be allowed, and which policies decide it, with Cilium's own policy engine (the
version netprofile targets): the policies go through the agent's Parse into a policy repository, both ends
get the identities the agent would give them (pod labels, namespace, namespace labels), and the flow is
looked up in each side's distilled policy map: egress at the source, ingress at the destination.

The policy set is, offline, what the operator renders for the -f Namespace manifests with the catalogue
(every namespace's policy, the provider halves and the baselines) plus the hand-written policies of
--policies; with --live, the cluster's policies (those Cilium marked invalid are left out, as the agent does)
plus --policies, so a proposed policy can be tried against the cluster. Namespaces not in -f have no labels.
Hand-written policies, from --policies or beside the manifests of -f, are every kind Cilium enforces:
CiliumNetworkPolicies, CiliumClusterwideNetworkPolicies and networking.k8s.io/v1 NetworkPolicies (which a
namespace's own users may write), each decoded strictly and refused when the API server or Cilium would.

Endpoints: <namespace>, <namespace>/<label>=<value>[,...], an entity (world, host, remote-node,
kube-apiserver, health, ingress, init, unmanaged) or cidr:<prefix>. Exit code 1 when the flow is denied.`),
		Example: strings.Trim(`
  # Can the isolated batch namespace resolve names?
  kubectl netprofile check -f batch.yaml --from batch/app=job --to kube-system/k8s-app=kube-dns --port 53/UDP \
    --policies platform/kube-system/

  # Does my app reach the database once the postgres label is merged?
  kubectl netprofile check -f apps/shop/namespace.yaml --from shop/app=api --to database --port 5432/TCP

  # Against the live cluster, with a proposed hand-written policy added
  kubectl netprofile check --live --policies proposed-cnp.yaml --from my-app/app=api --to world --port 443/TCP`, "\n"),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), g) },
	}
	f := cmd.Flags()
	f.StringVar(&o.from, "from", "", "source endpoint")
	f.StringVar(&o.to, "to", "", "destination endpoint")
	f.StringVar(&o.port, "port", "", "destination port and protocol, such as 443/TCP or 53/UDP")
	f.StringSliceVarP(&o.files, "filename", "f", nil, "Namespace manifests whose rendered policies to use (files or directories)")
	f.StringSliceVar(&o.catalogue, "catalogue", nil, "directories or files with the catalogue (default: the shipped catalogue)")
	f.StringSliceVar(&o.extra, "policies", nil, "hand-written policies to add: CiliumNetworkPolicies, CiliumClusterwideNetworkPolicies and NetworkPolicies (files or directories)")
	f.BoolVar(&o.live, "live", false, "use the cluster's policies and namespace labels (kubeconfig) instead of rendering")
	outputFlag(cmd, &o.output, "text", "text", "json", "yaml")
	for _, name := range []string{"from", "to", "port"} {
		_ = cmd.MarkFlagRequired(name)
	}
	_ = cmd.RegisterFlagCompletionFunc("port", cobra.FixedCompletions([]string{"53/UDP", "53/TCP", "443/TCP", "5432/TCP", "6379/TCP", "6443/TCP"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o *checkOptions) run(ctx context.Context, g *globals) error {
	from, err := check.ParseEndpoint(o.from)
	if err != nil {
		return usageError("--from: %v", err)
	}
	to, err := check.ParseEndpoint(o.to)
	if err != nil {
		return usageError("--to: %v", err)
	}
	port, err := check.ParsePort(o.port)
	if err != nil {
		return usageError("--port: %v", err)
	}
	if o.live && (len(o.files) > 0 || len(o.catalogue) > 0) {
		return usageError("--live reads the cluster's policies: -f and --catalogue do not apply (--policies does)")
	}
	var pols check.Policies
	if o.live {
		pols, err = o.livePolicies(ctx, g)
	} else {
		pols, err = o.renderedPolicies(ctx, g)
	}
	if err != nil {
		return err
	}
	extra, err := g.loadFiles(o.extra)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	hand, err := handWritten(extra.Other)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	pols = withPolicies(pols, hand)
	for _, ns := range extra.Namespaces {
		pols.NamespaceLabels[ns.Name] = ns.Labels
	}

	pols.Cluster = g.cluster
	engine, err := check.New(pols)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	res, err := engine.Check(from, to, port)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	if o.output == "text" {
		writeCheck(g, res)
	} else if err := write(g.stdout, o.output, res); err != nil {
		return err
	}
	if !res.Allowed {
		return errFindings
	}
	return nil
}

func (o *checkOptions) renderedPolicies(ctx context.Context, g *globals) (check.Policies, error) {
	files, err := g.loadFiles(o.files)
	if err != nil {
		return check.Policies{}, &exitError{code: ExitError, err: err}
	}
	cat, err := g.loadCatalogue(o.catalogue, files)
	if err != nil {
		return check.Policies{}, &exitError{code: ExitError, err: err}
	}
	r, err := g.renderer(ctx)
	if err != nil {
		return check.Policies{}, err
	}
	in := desired.Input{Renderer: r, Namespaces: files.Namespaces, Catalogue: cat, Scope: desired.All,
		Now: time.Now(), Thresholds: g.thresholds}
	set := desired.Compute(in)
	for _, p := range set.Problems {
		terminal.Fprintf(g.stderr, "warning: %s (the check uses no policy for it)\n", p)
	}
	// Hand-written policies may sit next to the Namespace manifests.
	hand, err := handWritten(files.Other)
	if err != nil {
		return check.Policies{}, &exitError{code: ExitError, err: err}
	}
	return withPolicies(check.Policies{CNPs: set.CNPs, CCNPs: set.CCNPs, NamespaceLabels: in.NamespaceLabels()}, hand), nil
}

func (o *checkOptions) livePolicies(ctx context.Context, g *globals) (check.Policies, error) {
	c, err := g.client()
	if err != nil {
		return check.Policies{}, err
	}
	pols := check.Policies{NamespaceLabels: map[string]map[string]string{}}
	var namespaces corev1.NamespaceList
	if err := c.List(ctx, &namespaces); err != nil {
		return pols, fmt.Errorf("failed to list namespaces: %w", err)
	}
	for _, ns := range namespaces.Items {
		pols.NamespaceLabels[ns.Name] = ns.Labels
	}
	var cnps ciliumv2.CiliumNetworkPolicyList
	if err := c.List(ctx, &cnps); err != nil {
		return pols, fmt.Errorf("failed to list CiliumNetworkPolicies: %w", err)
	}
	for i := range cnps.Items {
		p := &cnps.Items[i]
		if invalid(g, ciliumv2.CNPKindDefinition, p.Namespace+"/"+p.Name, p.ManagedFields, p.Status) {
			fmt.Fprintf(g.stderr, "warning: CiliumNetworkPolicy %s/%s is marked invalid by Cilium and not enforced; left out\n", p.Namespace, p.Name)
			continue
		}
		pols.CNPs = append(pols.CNPs, p)
	}
	var ccnps ciliumv2.CiliumClusterwideNetworkPolicyList
	if err := c.List(ctx, &ccnps); err != nil {
		return pols, fmt.Errorf("failed to list CiliumClusterwideNetworkPolicies: %w", err)
	}
	for i := range ccnps.Items {
		p := &ccnps.Items[i]
		if invalid(g, ciliumv2.CCNPKindDefinition, p.Name, p.ManagedFields, p.Status) {
			fmt.Fprintf(g.stderr, "warning: CiliumClusterwideNetworkPolicy %s is marked invalid by Cilium and not enforced; left out\n", p.Name)
			continue
		}
		pols.CCNPs = append(pols.CCNPs, p)
	}
	// Cilium enforces Kubernetes NetworkPolicies beside its own kinds: a namespace's own users write them.
	var knps networkingv1.NetworkPolicyList
	if err := c.List(ctx, &knps); err != nil {
		return pols, fmt.Errorf("failed to list NetworkPolicies: %w", err)
	}
	for i := range knps.Items {
		pols.KNPs = append(pols.KNPs, &knps.Items[i])
	}
	return pols, nil
}

// invalid reports whether Cilium's operator marked a policy invalid (so Cilium does not enforce it). A Valid
// condition someone else wrote is not Cilium's verdict: it is ignored, with a warning.
func invalid(g *globals, kind, name string, fields []metav1.ManagedFieldsEntry, s ciliumv2.CiliumNetworkPolicyStatus) bool {
	for _, c := range s.Conditions {
		if c.Type != ciliumv2.PolicyConditionValid {
			continue
		}
		if writers := cilium.ValidWriters(fields); !cilium.ValidTrusted(writers) {
			fmt.Fprintf(g.stderr, "warning: %s\n", conditions.IgnoredValidMessage(kind, name, string(c.Status), writers))
			return false
		}
		return c.Status == corev1.ConditionFalse
	}
	return false
}

// writeCheck prints the verdict; the explanations name policies and labels from the files and the cluster.
func writeCheck(g *globals, r *check.Result) {
	verdict := "ALLOWED"
	if !r.Allowed {
		verdict = "DENIED"
	}
	out := g.text()
	terminal.Fprintf(out, "%s  %s -> %s on %s\n", verdict, r.From, r.To, r.Port)
	terminal.Fprintf(out, "  egress  at %s: %s\n", r.From, r.Egress.Explanation)
	terminal.Fprintf(out, "  ingress at %s: %s\n", r.To, r.Ingress.Explanation)
}
