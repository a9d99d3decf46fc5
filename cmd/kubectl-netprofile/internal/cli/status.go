package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/liggitt/tabwriter"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/status"
	"github.com/netprofile/netprofile/pkg/ownership"
)

type statusOptions struct {
	print *printFlags
	now   func() time.Time
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
policy is not enforced). Problems are listed under the table (on stderr with --no-headers). -n <namespace> is
the same as the argument.

-o takes kubectl get's formats: wide adds the Ready condition's message and the number of problems; json,
yaml, jsonpath, go-template and custom-columns work on a List with one item per row (the fields of -o json),
and name prints the namespaces as namespace/<name>.

Exit code 1 when a namespace is not OK: NetworkPolicyReady is not True, netprofile has not reported on a
labelled namespace, a label is not understood, or Cilium rejected a generated policy.

Labels are read in the label domain of the cluster's LabelContract unless --label-domain is set (see
kubectl netprofile --help).`),
		Example: strings.Trim(`
  # Every namespace netprofile manages
  kubectl netprofile status

  # One namespace, as JSON for scripts
  kubectl netprofile status -n my-app -o json

  # Which namespaces have the escape hatch open?
  kubectl netprofile status -o jsonpath='{range .items[?(@.enforcement=="disabled")]}{.namespace}{"\n"}{end}'

  # Profiles only, for a script
  kubectl netprofile status -o custom-columns=NAMESPACE:.namespace,PROFILE:.profile --no-headers

  # As another user would see it
  kubectl netprofile status --context prod --as jane --as-group platform-team`, "\n"),
		Args: cobra.MaximumNArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeNamespaces(cmd.Context(), g)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ns := g.namespace()
			if len(args) == 1 {
				if ns != "" && ns != args[0] {
					return usageError("namespace %q and -n %q: give one", args[0], ns)
				}
				ns = args[0]
			}
			return o.run(cmd.Context(), g, ns)
		},
	}
	o.print = addPrintFlags(cmd, formatTable, formatTable, formatWide)
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
	if err := o.write(g, rows); err != nil {
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
	var opts []client.ListOption
	if name != "" {
		opts = append(opts, client.InNamespace(name))
	}
	var policies ciliumv2.CiliumNetworkPolicyList
	if err := c.List(ctx, &policies, opts...); err != nil {
		return nil, fmt.Errorf("failed to list CiliumNetworkPolicies: %w", err)
	}
	// Labels are no proof: netprofile's are the ones at its reserved names that its field managers wrote.
	owned := map[string][]ciliumv2.CiliumNetworkPolicy{}
	others := map[string][]string{}
	for _, p := range policies.Items {
		if ownership.Generated(&p) {
			owned[p.Namespace] = append(owned[p.Namespace], p)
		} else {
			others[p.Namespace] = append(others[p.Namespace], ciliumv2.CNPKindDefinition+" "+p.Name)
		}
	}
	var knps networkingv1.NetworkPolicyList
	switch err := c.List(ctx, &knps, opts...); {
	case apierrors.IsForbidden(err):
		fmt.Fprintln(g.stderr, "notice: not allowed to list NetworkPolicies; the policies beside netprofile's leave them out")
	case err != nil:
		return nil, fmt.Errorf("failed to list NetworkPolicies: %w", err)
	}
	for _, p := range knps.Items {
		others[p.Namespace] = append(others[p.Namespace], "NetworkPolicy "+p.Name)
	}
	rows := []status.Row{}
	now := o.now()
	for i := range namespaces {
		ns := &namespaces[i]
		if name == "" && !status.Relevant(ctr, ns, len(owned[ns.Name])) {
			continue
		}
		rows = append(rows, status.Summarize(ctr, ns, owned[ns.Name], slices.Sorted(slices.Values(others[ns.Name])), now, g.thresholds))
	}
	if len(rows) == 0 && name == "" {
		fmt.Fprintln(g.stderr, "no namespace uses netprofile's labels, conditions or policies")
	}
	return rows, nil
}

// write prints the rows in the format of -o.
func (o *statusOptions) write(g *globals, rows []status.Row) error {
	if o.print.isHuman() {
		return o.table(g, rows)
	}
	// The other formats carry conditions and names exactly: JSON and YAML escape as they encode, and a template
	// prints what the user asked for.
	pr, err := o.print.printer()
	if err != nil {
		return err
	}
	var obj runtime.Object
	if o.print.format() == "name" {
		// A row is about a namespace: -o name names it, for kubectl get $(kubectl netprofile status -o name).
		ns := make([]map[string]any, 0, len(rows))
		for _, r := range rows {
			ns = append(ns, map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": r.Namespace}})
		}
		obj = list(ns)
	} else {
		items := make([]map[string]any, 0, len(rows))
		for _, r := range rows {
			m, err := toMap(r)
			if err != nil {
				return err
			}
			items = append(items, m)
		}
		obj = list(items)
	}
	return pr.PrintObj(obj, g.stdout)
}

// statusColumns are the table's columns; Priority 1 only with -o wide, as in kubectl's tables.
var statusColumns = []metav1.TableColumnDefinition{
	{Name: "Namespace", Type: "string", Format: "name"},
	{Name: "Profile", Type: "string"},
	{Name: "Grants", Type: "string"},
	{Name: "Enforcement", Type: "string"},
	{Name: "Ready", Type: "string"},
	{Name: "Policies", Type: "string"},
	{Name: "Ceiling", Type: "string", Description: "the NetworkPolicyCeiling condition: can other policies reach past the labels?"},
	{Name: "Others", Type: "string", Priority: 1, Description: "policies in the namespace netprofile did not generate"},
	{Name: "Message", Type: "string", Priority: 1, Description: "the NetworkPolicyReady condition's message"},
	{Name: "Problems", Type: "integer", Priority: 1},
}

// table prints the rows with kubectl's table printer, then the problems in words: on stdout under the table,
// on stderr with --no-headers, whose stdout is only rows for scripts.
func (o *statusOptions) table(g *globals, rows []status.Row) error {
	t := &metav1.Table{ColumnDefinitions: statusColumns}
	var problems []string
	now := o.now()
	for _, r := range rows {
		msg := "-"
		if r.Ready != nil {
			msg = dash(r.Ready.Message)
		}
		// Conditions, names and Cilium's messages are anyone's who may write them: escaped, cell by cell, before
		// the table is laid out.
		cells := []string{r.Namespace, dash(r.Profile), dash(strings.Join(r.Grants, ",")),
			r.EnforcementText(now), r.ReadyText(), r.PoliciesText(), r.CeilingText(), r.OthersText(), msg}
		row := make([]any, 0, len(cells)+1)
		for _, c := range cells {
			row = append(row, terminal.Escape(c))
		}
		t.Rows = append(t.Rows, metav1.TableRow{Cells: append(row, int64(len(r.Problems)))})
		for _, p := range r.Problems {
			problems = append(problems, terminal.Escape(r.Namespace+": "+p))
		}
	}
	// The plugin's table has always been padded with two spaces, not kubectl's three: a tab writer of our own
	// keeps it so (the printer uses the writer it is given).
	w := tabwriter.NewWriter(g.text(), 0, 4, 2, ' ', 0)
	pr := printers.NewTablePrinter(printers.PrintOptions{NoHeaders: o.print.noHeaders, Wide: o.print.output == formatWide})
	if err := pr.PrintObj(t, w); err != nil {
		return fmt.Errorf("failed to print the table: %w", err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if len(problems) > 0 {
		out := g.text()
		if o.print.noHeaders {
			out = g.stderr
		}
		fmt.Fprintf(out, "\nProblems:\n%s", bullet(problems))
	}
	return nil
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
