package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/status"
)

type statusOptions struct {
	output string
	now    func() time.Time
}

func newStatus(g *globals) *cobra.Command {
	o := &statusOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "status [namespace]",
		Short: "Show, per namespace, the profile, grants, escape hatch, conditions and generated policies",
		Long: strings.TrimSpace(`
Read the cluster (kubeconfig) and print one row per namespace netprofile is involved with: the profile and
access grants its labels ask for, whether enforcement is disabled and since when, the NetworkPolicyReady
condition, and the policies netprofile generated there (marked INVALID when Cilium rejected one: an invalid
policy is not enforced). Problems are listed under the table.

Exit code 1 when a namespace is not OK: NetworkPolicyReady is not True, netprofile has not reported on a
labelled namespace, a label is not understood, or Cilium rejected a generated policy.

Labels are read in the label domain of the cluster's LabelContract unless --label-domain is set (see
kubectl netprofile --help).`),
		Example: strings.Trim(`
  # Every namespace netprofile manages
  kubectl netprofile status

  # One namespace, as JSON for scripts
  kubectl netprofile status my-app -o json

  # Which namespaces have the escape hatch open?
  kubectl netprofile status -o json | jq -r '.[] | select(.enforcement == "disabled") | .namespace'`, "\n"),
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeNamespaces(cmd.Context(), g)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := ""
			if len(args) == 1 {
				ns = args[0]
			}
			return o.run(cmd.Context(), g, ns)
		},
	}
	outputFlag(cmd, &o.output, "table", "table", "json", "yaml")
	return cmd
}

func (o *statusOptions) run(ctx context.Context, g *globals, name string) error {
	g.live = true
	c, err := g.client()
	if err != nil {
		return err
	}
	rows, err := o.rows(ctx, g, c, name)
	if err != nil {
		return err
	}
	if o.output == "table" {
		o.table(g, rows)
	} else if err := write(g.stdout, o.output, rows); err != nil {
		return err
	}
	for _, r := range rows {
		if !r.OK {
			return errFindings
		}
	}
	return nil
}

func (o *statusOptions) rows(ctx context.Context, g *globals, c client.Client, name string) ([]status.Row, error) {
	ctr, err := g.contract(ctx)
	if err != nil {
		return nil, err
	}
	var namespaces []corev1.Namespace
	if name != "" {
		ns := corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &ns); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, usageError("namespace %q not found", name)
			}
			return nil, fmt.Errorf("failed to get namespace %s: %w", name, err)
		}
		namespaces = []corev1.Namespace{ns}
	} else {
		var list corev1.NamespaceList
		if err := c.List(ctx, &list); err != nil {
			return nil, fmt.Errorf("failed to list namespaces: %w", err)
		}
		namespaces = list.Items
	}
	var policies ciliumv2.CiliumNetworkPolicyList
	opts := []client.ListOption{client.MatchingLabelsSelector{Selector: ownership.Selector()}}
	if name != "" {
		opts = append(opts, client.InNamespace(name))
	}
	if err := c.List(ctx, &policies, opts...); err != nil {
		return nil, fmt.Errorf("failed to list netprofile's policies: %w", err)
	}
	owned := map[string][]ciliumv2.CiliumNetworkPolicy{}
	for _, p := range policies.Items {
		owned[p.Namespace] = append(owned[p.Namespace], p)
	}
	rows := []status.Row{}
	now := o.now()
	for i := range namespaces {
		ns := &namespaces[i]
		if name == "" && !status.Relevant(ctr, ns, len(owned[ns.Name])) {
			continue
		}
		rows = append(rows, status.Summarize(ctr, ns, owned[ns.Name], now, enforcement.DefaultThresholds))
	}
	if len(rows) == 0 && name == "" {
		fmt.Fprintln(g.stderr, "no namespace uses netprofile's labels, conditions or policies")
	}
	return rows, nil
}

func (o *statusOptions) table(g *globals, rows []status.Row) {
	w := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "NAMESPACE\tPROFILE\tGRANTS\tENFORCEMENT\tREADY\tPOLICIES")
	var problems []string
	now := o.now()
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Namespace, dash(r.Profile), dash(strings.Join(r.Grants, ",")),
			r.EnforcementText(now), r.ReadyText(), r.PoliciesText())
		for _, p := range r.Problems {
			problems = append(problems, r.Namespace+": "+p)
		}
	}
	_ = w.Flush()
	if len(problems) > 0 {
		fmt.Fprintf(g.stdout, "\nProblems:\n%s", bullet(problems))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func completeNamespaces(ctx context.Context, g *globals) ([]string, cobra.ShellCompDirective) {
	c, err := g.client()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var list corev1.NamespaceList
	if err := c.List(ctx, &list); err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	names := make([]string, 0, len(list.Items))
	for _, ns := range list.Items {
		names = append(names, ns.Name)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}
