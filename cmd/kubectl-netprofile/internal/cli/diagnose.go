package cli

import (
	"context"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
)

type diagnoseOptions struct {
	output    string
	catalogue []string
}

func newDiagnose(g *globals) *cobra.Command {
	o := &diagnoseOptions{}
	cmd := &cobra.Command{
		Use:   "diagnose [hubble-output.json]",
		Short: "Classify Hubble's dropped flows and print the fix",
		Long: strings.TrimSpace(`
Read 'hubble observe -o json' output (a file, or stdin), keep the flows dropped by policy, group them by
direction, peers and port, and classify each group with the runbook's "Classify the Drop" table, generalised
to the catalogue: a drop a Baseline should allow means the baseline is missing (DNS, Prometheus); a drop a
SharedResource covers means the namespace lacks the access label (named exactly); a drop another profile
allows means switching profile (named, least privileged first). AUDIT verdicts (Cilium's own audit mode,
policyAuditMode: let through, dropped once it enforces) count as would-be drops and are classified with them.
Forwarded flows and drops for reasons other than policy are counted and left out.`),
		Example: strings.Trim(`
  # The runbook's step 1, piped straight in
  hubble observe --verdict DROPPED --namespace my-app --since 5m -o json | kubectl netprofile diagnose

  # A saved capture, against the catalogue in git, as JSON
  kubectl netprofile diagnose drops.json --catalogue platform/netprofile/ -o json`, "\n"),
		Args: cobra.MaximumNArgs(1),
		RunE: onFlows(g, o.run),
	}
	cmd.Flags().StringSliceVar(&o.catalogue, "catalogue", nil, "directories or files with the catalogue (default: the shipped catalogue)")
	outputFlag(cmd, &o.output, "text", "text", "json", "yaml")
	return cmd
}

func (o *diagnoseOptions) run(ctx context.Context, g *globals, source string, r io.Reader) error {
	ctr, err := g.contract(ctx)
	if err != nil {
		return err
	}
	cat, err := g.loadCatalogue(o.catalogue, nil)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	in, err := diagnose.Parse(source, r)
	if err != nil {
		return &exitError{code: ExitError, err: err}
	}
	report := (&diagnose.Classifier{Contract: ctr, Catalogue: cat, PlatformNamespaces: g.platform}).Diagnose(in)
	if report.Groups == nil {
		report.Groups = []diagnose.Group{}
	}
	if o.output == "text" {
		return report.WriteText(g.text())
	}
	return write(g.stdout, o.output, report)
}
