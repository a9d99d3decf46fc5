package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/replay"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// judgedOptions are the flags that say which policy set observed flows are judged against (replay, suggest).
type judgedOptions struct {
	files, catalogue, extra []string
	live                    bool
	output                  string
}

func (o *judgedOptions) flags(cmd *cobra.Command, files string) {
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, files)
	f.StringSliceVar(&o.catalogue, "catalogue", nil, "directories or files with the catalogue (default: the shipped catalogue)")
	f.StringSliceVar(&o.extra, "policies", nil, "hand-written policies to add: CiliumNetworkPolicies, CiliumClusterwideNetworkPolicies and NetworkPolicies (files or directories)")
	f.BoolVar(&o.live, "live", false, "judge against the cluster (kubeconfig) as it would be with enforcement on")
	outputFlag(cmd, &o.output, "text", "text", "json", "yaml")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.MarkFlagDirname("catalogue")
}

type replayOptions struct {
	judgedOptions
}

func newReplay(g *globals) *cobra.Command {
	o := &replayOptions{}
	cmd := &cobra.Command{
		Use:   "replay [hubble-output.json] (--live | -f <namespace.yaml>...) [--catalogue <dir>] [--policies <dir>]",
		Short: "Judge observed Hubble flows against a policy set: what would break, what would be fixed",
		Long: strings.TrimSpace(`
Read 'hubble observe -o json' output (a file, or stdin) and decide every flow again with Cilium's own policy
engine, as check does (egress at the source, ingress at the destination), against a policy set:

  --live           the cluster as it would be with enforcement on: its policies without netprofile's
                   allow-alls (the escape hatch's and audit mode's), so "can I switch enforcement on?"
  --live -f <ns>   the same with these Namespace manifests applied (their policies re-rendered)
  -f <ns>          offline: what the operator renders for the manifests with the catalogue (--catalogue or
                   the shipped one; catalogue objects among the files override it), with enforcement on,
                   plus the hand-written policies of --policies and of the files (Cilium's kinds
                   and networking.k8s.io/v1 NetworkPolicies, as Cilium enforces both)

Offline, only the namespaces of the manifests and of the hand-written policies are judged: for a pod in any
other namespace (the gateways, kube-dns, the database, apps not in -f) the verdict Hubble observed on its
side stands. --live judges every namespace.

Flows Hubble saw allowed (FORWARDED, or AUDIT: Cilium's audit mode) that the set drops WOULD BREAK; flows
policy dropped that the set allows WOULD BE FIXED; the rest is unchanged. Identical flows (same identities,
port and verdict) are counted once; each group shows an example, the deciding policies ("default deny: no
policy allows it" when none does) and, for what the set drops, the cause and fix diagnose gives such a drop.
Replies, L7 events, ICMP and drops for other reasons than policy are counted and left out.

Exit code 1 when anything would break.`),
		Example: strings.Trim(`
  # Can enforcement be switched on for a namespace in audit mode?
  hubble observe --namespace my-app --since 24h -o json | kubectl netprofile replay --live

  # Moving shop to profile internal: what breaks, judged against the cluster with the change applied
  hubble observe --namespace shop --since 24h -o json > shop.json
  kubectl netprofile replay shop.json --live -f apps/shop/namespace.yaml

  # Offline, in CI: a saved capture against the namespaces and the catalogue of a PR
  kubectl netprofile replay flows.json -f apps/ --catalogue platform/netprofile/ -o json`, "\n"),
		Args: cobra.MaximumNArgs(1),
		RunE: onFlows(g, o.run),
	}
	o.flags(cmd, "Namespace manifests to judge against (files or directories); with --live, applied to the cluster")
	return cmd
}

// onFlows runs a command on Hubble's output: the file of the argument, or stdin (no argument, or "-"), and
// the name to give it in errors. diagnose, replay and suggest read it the same way.
func onFlows(g *globals, run func(context.Context, *globals, string, io.Reader) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 || args[0] == "-" {
			return run(cmd.Context(), g, "<stdin>", g.stdin)
		}
		f, err := os.Open(args[0])
		if err != nil {
			return &exitError{code: ExitError, err: fmt.Errorf("failed to open %s: %w", args[0], err)}
		}
		defer f.Close()
		return run(cmd.Context(), g, args[0], f)
	}
}

// load reads and aggregates Hubble's output, and builds the policy set to judge it against.
func (o *judgedOptions) load(ctx context.Context, g *globals, source string, r io.Reader) (*replay.Flows, *judged, error) {
	if o.live && len(o.catalogue) > 0 && len(o.files) == 0 {
		return nil, nil, usageError("--live --catalogue: pass the namespaces to render with the catalogue with -f")
	}
	g.live = o.live
	in, err := diagnose.Parse(source, r)
	if err != nil {
		return nil, nil, &exitError{code: ExitError, err: err}
	}
	j, err := o.judged(ctx, g)
	if err != nil {
		return nil, nil, err
	}
	return replay.Aggregate(in), j, nil
}

func (o *replayOptions) run(ctx context.Context, g *globals, source string, r io.Reader) error {
	if !o.live && len(o.files) == 0 {
		return usageError("nothing to judge against: pass --live (the cluster with enforcement on) or -f <namespace.yaml> (the proposed namespaces)")
	}
	flows, j, err := o.load(ctx, g, source, r)
	if err != nil {
		return err
	}
	report, err := replay.Replay(flows, j.set, j.classifier)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	report.Against = j.against
	for _, ref := range j.left {
		report.Left = append(report.Left, ref.String())
	}
	if o.output == "text" {
		if err := report.WriteText(g.text()); err != nil {
			return err
		}
	} else if err := write(g.stdout, o.output, report); err != nil {
		return err
	}
	if report.Breaks() {
		return errFindings
	}
	return nil
}

// judged is the policy set flows are judged against, and what it is in words.
type judged struct {
	set        replay.Set
	against    string
	left       []check.PolicyRef
	classifier *diagnose.Classifier
	files      *catalogue.Set
	catalogue  *catalogue.Set
}

// judged builds the policy set: offline the rendering of -f with enforcement on; live the cluster's policies
// without netprofile's allow-alls, with the -f namespaces re-rendered. Both add --policies.
func (o *judgedOptions) judged(ctx context.Context, g *globals) (*judged, error) {
	files, err := g.loadFiles(o.files)
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	if len(o.files) > 0 && len(files.Namespaces) == 0 && len(files.Other) == 0 {
		return nil, usageError("no Namespace found in %s", strings.Join(o.files, ", "))
	}
	cat, err := g.loadCatalogue(o.catalogue, files)
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	r, err := g.renderer(ctx)
	if err != nil {
		return nil, err
	}
	extra, err := g.loadFiles(o.extra)
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	hand, err := handWritten(append(slices.Clone(files.Other), extra.Other...))
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	in := desired.Input{Renderer: r, Namespaces: files.Namespaces, Catalogue: cat, Scope: desired.All,
		Now: time.Now(), Thresholds: g.thresholds}
	j := &judged{files: files, catalogue: cat,
		classifier: &diagnose.Classifier{Contract: r.Contract, Catalogue: cat, PlatformNamespaces: g.platform}}
	var problems []desired.Problem
	if o.live {
		pols, err := (&checkOptions{}).livePolicies(ctx, g)
		if err != nil {
			return nil, err
		}
		if len(files.Namespaces) > 0 {
			in.Scope = desired.Scope{Namespaces: true}
			rendered := desired.Compute(in)
			problems = rendered.Problems
			pols = applyNamespaces(pols, files, rendered, problems)
		}
		pols = withPolicies(pols, hand)
		pols = withLiftedCeilings(pols, in, files)
		pols.Cluster = r.ClusterName
		j.set.Policies, j.left = replay.EnforcementOn(pols)
		j.against = "the cluster with enforcement on"
		if len(files.Namespaces) > 0 {
			j.against += " and " + namespaceList(files) + " as in " + strings.Join(o.files, ", ")
		}
	} else {
		j.set, problems, j.left = replay.Proposed(in, hand)
		j.against = namespaceList(files) + " as rendered, with enforcement on"
	}
	for _, ns := range extra.Namespaces {
		j.set.Policies.NamespaceLabels[ns.Name] = ns.Labels
	}
	for _, p := range problems {
		terminal.Fprintf(g.stderr, "warning: refused: %s (judged without its policies)\n", p)
	}
	return j, nil
}

// applyNamespaces replaces the generated policies of the manifests' namespaces (namespace policy and
// allow-alls) with their rendering, and their labels with the manifests'. A namespace the operator would
// refuse keeps what it has, as the operator keeps its last good policies.
func applyNamespaces(pols check.Policies, files *catalogue.Set, rendered *desired.Set, problems []desired.Problem) check.Policies {
	refused := map[string]bool{}
	for _, p := range problems {
		if ns, ok := strings.CutPrefix(p.Object, "Namespace "); ok {
			refused[ns] = true
		}
	}
	renders := map[string]bool{}
	for _, p := range rendered.CNPs {
		renders[p.Namespace] = true
	}
	replaced := map[string]bool{}
	for _, ns := range files.Namespaces {
		pols.NamespaceLabels[ns.Name] = ns.Labels
		if !refused[ns.Name] || renders[ns.Name] {
			replaced[ns.Name] = true
		}
	}
	out := pols
	out.CNPs = nil
	for _, p := range pols.CNPs {
		if comp, _, ok := ownership.Reserved(p.Name, true); ok && replaced[p.Namespace] &&
			(comp == ownership.ComponentNamespacePolicy || comp == ownership.ComponentEnforcement) {
			continue
		}
		out.CNPs = append(out.CNPs, p)
	}
	for _, p := range append(slices.Clone(rendered.CNPs), rendered.Lifted...) {
		if replaced[p.Namespace] {
			out.CNPs = append(out.CNPs, p)
		}
	}
	return out
}

// withLiftedCeilings adds, for every live namespace whose escape hatch or audit mode is open (it has one of
// netprofile's allow-alls) and that the manifests do not replace, the ceiling that returns with enforcement:
// rendered from its live labels and the catalogue, as the manager renders it.
func withLiftedCeilings(pols check.Policies, in desired.Input, files *catalogue.Set) check.Policies {
	inFiles := map[string]bool{}
	for _, ns := range files.Namespaces {
		inFiles[ns.Name] = true
	}
	var open []*corev1.Namespace
	for _, p := range pols.CNPs {
		if ownership.AllowsAll(p.Name) && !inFiles[p.Namespace] && !slices.ContainsFunc(open, func(ns *corev1.Namespace) bool { return ns.Name == p.Namespace }) {
			open = append(open, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: p.Namespace, Labels: pols.NamespaceLabels[p.Namespace]}})
		}
	}
	if len(open) == 0 {
		return pols
	}
	in.Namespaces, in.Scope = open, desired.Scope{Namespaces: true}
	pols.CNPs = append(pols.CNPs, desired.Compute(in).Lifted...)
	return pols
}

func namespaceList(files *catalogue.Set) string {
	names := make([]string, 0, len(files.Namespaces))
	for _, ns := range files.Namespaces {
		names = append(names, ns.Name)
	}
	slices.Sort(names)
	switch len(names) {
	case 0:
		return "no namespace"
	case 1:
		return "namespace " + names[0]
	}
	return "namespaces " + strings.Join(names, ", ")
}
