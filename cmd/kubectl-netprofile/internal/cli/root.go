// Package cli is the kubectl-netprofile command tree: flag parsing, input loading, cluster access and
// output. The decisions live in pkg/ (desired, lint, diagnose, check, status), so what the plugin says is what
// the operator does.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/manifest"
	"github.com/netprofile/netprofile/pkg/policy"
)

// Exit codes, the same for every subcommand.
const (
	// ExitOK: success, nothing to report.
	ExitOK = 0
	// ExitFindings: the command worked and the answer is negative (lint findings, a namespace not Ready, a
	// denied flow, a diff, a render refusal).
	ExitFindings = 1
	// ExitError: the command could not do its job (bad flags, unreadable input, no cluster).
	ExitError = 2
)

// exitError carries an exit code; err is nil when the command already printed everything.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit code %d", e.code)
	}
	return e.err.Error()
}

// errFindings ends a command whose negative answer is already printed.
var errFindings = &exitError{code: ExitFindings}

// Main runs the plugin and returns its exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := NewRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return ExitOK
	}
	// An error may quote a file name or a field: one line, escaped.
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			terminal.Fprintf(stderr, "Error: %s\n", ee.err)
		}
		return ee.code
	}
	terminal.Fprintf(stderr, "Error: %s\n", err)
	return ExitError
}

// globals are the flags every subcommand shares.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	// config are kubectl's cluster access flags (--kubeconfig, --context, -n, --as, --request-timeout, ...).
	config   *genericclioptions.ConfigFlags
	domain   string
	platform []string
	// protected are the Namespace label keys the cluster's LabelContract says admission protects (set by resolve).
	protected       []string
	cluster         string
	clusterDefaults bool
	// thresholds are the escape hatch's, as the cluster's manager runs with them (its LabelContract) or the
	// defaults offline: when a bypass has ended decides what stands.
	thresholds enforcement.Thresholds

	// flags are the persistent flags, to tell a value the user set from a default.
	flags *pflag.FlagSet
	// live is set by a command that reads the cluster: it takes its defaults from the cluster (resolve).
	live bool
	// resolved: domain and platform are settled.
	resolved bool
	// cl is the cluster client, made once.
	cl client.Client
	// files reads the user's files (see reader).
	files *manifest.Reader
}

// text is stdout for a text output (a table, a report, findings): escaped as stderr is, so that a string that
// missed terminal.Escape cannot reach the terminal as a control sequence. JSON, YAML and SARIF go to stdout
// as encoded.
func (g *globals) text() io.Writer { return terminal.NewWriter(g.stdout) }

// contract is the label contract the command judges labels by (see resolve).
func (g *globals) contract(ctx context.Context) (contract.Contract, error) {
	if err := g.resolve(ctx); err != nil {
		return contract.Contract{}, err
	}
	c, err := contract.New(g.domain)
	if err != nil {
		return contract.Contract{}, usageError("%v", err)
	}
	return c, nil
}

// platformNamespaces are the namespaces that keep hand-crafted policies (see resolve).
func (g *globals) platformNamespaces(ctx context.Context) ([]string, error) {
	if err := g.resolve(ctx); err != nil {
		return nil, err
	}
	return g.platform, nil
}

func (g *globals) renderer(ctx context.Context) (policy.Renderer, error) {
	c, err := g.contract(ctx)
	if err != nil {
		return policy.Renderer{}, err
	}
	return policy.Renderer{Contract: c, PlatformNamespaces: policy.PlatformSet(g.platform), ClusterName: g.cluster}, nil
}

// NewRoot builds the command tree.
func NewRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	// stderr is only ever text: every warning and notice goes through the escaping writer.
	stderr = terminal.NewWriter(stderr)
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, config: genericclioptions.NewConfigFlags(true), thresholds: enforcement.DefaultThresholds}
	root := &cobra.Command{
		Use:   "kubectl-netprofile",
		Short: "Render, check and debug netprofile's Cilium policies, offline and live",
		Long: strings.TrimSpace(`
netprofile turns Namespace labels into Cilium network policies. This plugin runs the operator's own code
outside the cluster, so the seed runbook's daily workflows work from a laptop or CI:

  deploy an app      render the policies a Namespace manifest produces, check a flow before merging
  debug a drop       diagnose Hubble's dropped flows, check which policy decides a flow
  platform CNPs      lint hand-written CiliumNetworkPolicies against the runbook's rules
  escape hatch       status shows who has enforcement disabled, and since when
  adopt, enforce     replay observed Hubble flows against the cluster with enforcement on or a proposed
                     change (what would break, what would be fixed); suggest a namespace's profile and grants

Label domain, platform namespaces and the escape hatch's thresholds (its maximum duration among them):
commands that read the cluster (status, render --diff) take them from the cluster's LabelContract, which the
manager publishes (the one named after --label-domain if given, else the default domain's, else the only
one), so they judge labels as the manager and admission do. A flag you set wins; the thresholds have none.
Without a LabelContract (an older manager, no right to read it) they use the built-in defaults and say so on
stderr. Offline commands use the flags' values and built-in thresholds, or the cluster's with
--cluster-defaults.

Cluster access takes kubectl's flags (--kubeconfig, --context, --as, --as-group, --request-timeout, ...), so
the plugin reads the cluster as kubectl does with the same flags; commands that work offline never read it.

Exit codes: 0 OK; 1 the answer is negative (findings, not Ready, denied, differences, refusals);
2 the command failed (bad flags, unreadable input, cluster unreachable).`),
		SilenceErrors: true,
		SilenceUsage:  true,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl netprofile"},
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &exitError{code: ExitError, err: err} })
	pf := root.PersistentFlags()
	g.config.AddFlags(pf)
	pf.Lookup("namespace").Usage = "the namespace of status (as its argument) and of suggest"
	pf.StringVar(&g.domain, flagLabelDomain, contract.DefaultDomain,
		"label domain of the contract (the manager's --label-domain); if unset, live commands read the cluster's LabelContract")
	pf.StringSliceVar(&g.platform, flagPlatform, policy.DefaultPlatformNamespaces,
		"namespaces that keep hand-crafted policies (the manager's --platform-namespaces); if unset, live commands read the cluster's LabelContract")
	pf.StringVar(&g.cluster, flagClusterName, policy.DefaultClusterName,
		"the Cilium cluster the policies are for (the manager's --cluster-name; not kubectl's --cluster); if unset, live commands read the cluster's LabelContract")
	pf.BoolVar(&g.clusterDefaults, flagClusterDefaults, false,
		"offline commands too: take unset --label-domain and --platform-namespaces, and the escape hatch's thresholds, from the cluster's LabelContract (the catalogue stays --catalogue's)")
	g.flags = pf
	completeConfigFlags(root, g)

	root.AddCommand(newRender(g), newStatus(g), newLint(g), newDiagnose(g), newCheck(g), newReplay(g), newSuggest(g), newVersion(g))
	return root
}

// completeConfigFlags completes -n from the cluster and --context, --cluster and --user from the kubeconfig,
// as kubectl does.
func completeConfigFlags(root *cobra.Command, g *globals) {
	_ = root.RegisterFlagCompletionFunc("namespace", func(cmd *cobra.Command, _ []string, _ string) ([]string, cobra.ShellCompDirective) {
		return completeNamespaces(cmd.Context(), g)
	})
	fromKubeconfig := func(names func(raw clientcmdapi.Config) []string) cobra.CompletionFunc {
		return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			raw, err := g.config.ToRawKubeConfigLoader().RawConfig()
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return slices.Sorted(slices.Values(names(raw))), cobra.ShellCompDirectiveNoFileComp
		}
	}
	_ = root.RegisterFlagCompletionFunc("context", fromKubeconfig(func(raw clientcmdapi.Config) []string { return slices.Collect(maps.Keys(raw.Contexts)) }))
	_ = root.RegisterFlagCompletionFunc("cluster", fromKubeconfig(func(raw clientcmdapi.Config) []string { return slices.Collect(maps.Keys(raw.Clusters)) }))
	_ = root.RegisterFlagCompletionFunc("user", fromKubeconfig(func(raw clientcmdapi.Config) []string { return slices.Collect(maps.Keys(raw.AuthInfos)) }))
}

// outputFlag registers -o with its allowed values and their completion.
func outputFlag(cmd *cobra.Command, into *string, def string, allowed ...string) {
	cmd.Flags().StringVarP(into, "output", "o", def, "output format: "+strings.Join(allowed, "|"))
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions(allowed, cobra.ShellCompDirectiveNoFileComp))
	checkBeforeRun(cmd, func() error {
		if !slices.Contains(allowed, *into) {
			return usageError("--output %q: use one of %s", *into, strings.Join(allowed, ", "))
		}
		return nil
	})
}

// checkBeforeRun runs check before the command's own PreRunE: a flag mistake is a usage error before any work.
func checkBeforeRun(cmd *cobra.Command, check func() error) {
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, args []string) error {
		if err := check(); err != nil {
			return err
		}
		if prev != nil {
			return prev(c, args)
		}
		return nil
	}
}

// usageError is a flag or argument mistake.
func usageError(format string, args ...any) error {
	return &exitError{code: ExitError, err: fmt.Errorf(format, args...)}
}
