package cli

import (
	"cmp"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/pmezard/go-difflib/difflib"
	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

type renderOptions struct {
	files, catalogue []string
	cluster, diff    bool
	print            *printFlags
	// rendered are the namespaces of the manifests, including those that render nothing (whose generated
	// policies the operator would delete).
	rendered []string
}

func newRender(g *globals) *cobra.Command {
	o := &renderOptions{}
	cmd := &cobra.Command{
		Use:   "render -f <namespace.yaml>... [--catalogue <dir>] [--cluster-policies] [--diff]",
		Short: "Print exactly the policies the operator would generate",
		Long: strings.TrimSpace(fmt.Sprintf(`
Render the Cilium policies netprofile generates for Namespace manifests, with the operator's own code: each
namespace's policy (profile and access grants), the escape hatch's allow-all, and with --cluster-policies the
provider halves of the shared resources and the baselines. Use it to review a GitOps PR or in CI.

The catalogue (NetworkProfiles, SharedResources, Baselines) is the one the chart ships unless --catalogue
names directories; catalogue objects among the -f files override it by name. A namespace netprofile would
refuse (unknown profile, a typo in a label, a profile on a platform namespace, an enforcement value other
than %s) is reported on stderr with the condition reason the operator would set, and
makes the exit code 1. Each namespace is also judged as the chart's label admission policy judges a new namespace, against
the catalogue in use: a problem for which admission would turn the manifest away ends with "(admission would
reject the namespace)"; one only admission has (a grant of a SharedResource being deleted, say) is reported
as RejectedByAdmission. One line per problem.

The label domain and platform namespaces are --label-domain's and --platform-namespaces'; with --diff, or
with --cluster-defaults, the cluster's LabelContract supplies those you do not set, and the escape hatch's
thresholds (a bypass past the manager's maximum renders as expired).

--diff compares the rendered policies with the cluster's (kubeconfig) and prints a unified diff, including
generated policies the operator would delete; exit code 1 when they differ.

-o yaml (the default) prints one YAML document per policy, ready for kubectl apply or a GitOps repository;
the other formats are kubectl get's and see the policies as one List: json, name, jsonpath, go-template and
custom-columns.`, quotedOr(contract.EnforcementValues))),
		Example: strings.Trim(`
  # What does my app's namespace get?
  kubectl netprofile render -f apps/my-app/namespace.yaml

  # Every namespace of a GitOps repository, plus baselines and provider policies, with a changed catalogue
  kubectl netprofile render -f clusters/prod/namespaces/ --catalogue platform/netprofile/ --cluster-policies

  # What would merging this PR change in the cluster?
  kubectl netprofile render -f apps/my-app/namespace.yaml --diff

  # Offline, but with the cluster's label domain and platform namespaces
  kubectl netprofile render -f apps/my-app/namespace.yaml --cluster-defaults

  # Which policies, and where?
  kubectl netprofile render -f clusters/prod/namespaces/ -o custom-columns=KIND:.kind,NAMESPACE:.metadata.namespace,NAME:.metadata.name`, "\n"),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return o.run(cmd.Context(), g) },
	}
	f := cmd.Flags()
	f.StringSliceVarP(&o.files, "filename", "f", nil, "Namespace manifests: files or directories ('-' for stdin)")
	f.StringSliceVar(&o.catalogue, "catalogue", nil, "directories or files with NetworkProfiles, SharedResources and Baselines (default: the shipped catalogue)")
	f.BoolVar(&o.cluster, "cluster-policies", false, "also render the provider halves of the shared resources and the baselines")
	f.BoolVar(&o.diff, "diff", false, "compare with the live cluster instead of printing the policies")
	o.print = addPrintFlags(cmd, "yaml")
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml", "json")
	_ = cmd.MarkFlagDirname("catalogue")
	return cmd
}

func (o *renderOptions) run(ctx context.Context, g *globals) error {
	if len(o.files) == 0 && !o.cluster {
		return usageError("nothing to render: pass -f <namespace.yaml> and/or --cluster-policies")
	}
	g.live = o.diff
	set, err := o.compute(ctx, g)
	if err != nil {
		return err
	}
	for _, p := range set.Problems {
		terminal.Fprintf(g.stderr, "refused: %s\n", p)
	}
	if o.diff {
		differs, err := o.runDiff(ctx, g, set)
		if err != nil {
			return err
		}
		if differs || len(set.Problems) > 0 {
			return errFindings
		}
		return nil
	}
	if err := printPolicies(g, o.print, set.Objects()); err != nil {
		return err
	}
	if len(set.Problems) > 0 {
		return errFindings
	}
	return nil
}

func (o *renderOptions) compute(ctx context.Context, g *globals) (*desired.Set, error) {
	files, err := g.loadFiles(o.files)
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	if len(o.files) > 0 && len(files.Namespaces) == 0 {
		return nil, usageError("no Namespace found in %s", strings.Join(o.files, ", "))
	}
	for _, ns := range files.Namespaces {
		o.rendered = append(o.rendered, ns.Name)
	}
	cat, err := g.loadCatalogue(o.catalogue, files)
	if err != nil {
		return nil, &exitError{code: ExitError, err: err}
	}
	r, err := g.renderer(ctx)
	if err != nil {
		return nil, err
	}
	set := desired.Compute(desired.Input{
		Renderer: r, Namespaces: files.Namespaces, Catalogue: cat,
		Scope: desired.Scope{Namespaces: true, Cluster: o.cluster},
		Now:   time.Now(), Thresholds: g.thresholds,
	})
	set.Problems = admission(r, files.Namespaces, cat, set.Problems)
	return set, nil
}

// quotedOr is values quoted and joined for a sentence: "a", "b" or "c".
func quotedOr(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = strconv.Quote(v)
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// ReasonRejectedByAdmission names a problem only the chart's label admission policy has with a namespace.
const ReasonRejectedByAdmission = "RejectedByAdmission"

// admissionNote ends every problem for which admission would turn the namespace manifest away.
const admissionNote = " (admission would reject the namespace)"

// admission adds to the renderer's problems what the chart's label admission policy would refuse in each
// namespace, judged as a creation against the names of the catalogue in use, exactly as the policy judges
// them against the published LabelContract (pkg/policy Admission). Both speak the same words, so a problem
// the renderer already reports is only marked as one admission rejects: one line per problem. What only
// admission refuses becomes a problem of its own.
func admission(r policy.Renderer, namespaces []*corev1.Namespace, cat *catalogue.Set, problems []desired.Problem) []desired.Problem {
	profiles, resources := admissible(cat)
	out := slices.Clone(problems)
	marked := map[int]bool{} // indexes into out of the problems admission would refuse too
	for _, ns := range namespaces {
		object := "Namespace " + ns.Name
		for _, msg := range r.Admission(ns, nil, profiles, resources) {
			i := slices.IndexFunc(out, func(p desired.Problem) bool { return p.Object == object && sameProblem(p.Message, msg) })
			if i < 0 {
				out = append(out, desired.Problem{Object: object, Reason: ReasonRejectedByAdmission, Message: msg})
				marked[len(out)-1] = true
				continue
			}
			marked[i] = true
		}
	}
	for i := range out {
		if marked[i] {
			out[i].Message += admissionNote
		}
	}
	// Each namespace's problems together, in the renderer's order (namespaces by name, then the cluster's).
	rank := func(p desired.Problem) (int, string) {
		if ns, ok := strings.CutPrefix(p.Object, "Namespace "); ok {
			return 0, ns
		}
		return 1, ""
	}
	slices.SortStableFunc(out, func(a, b desired.Problem) int {
		ra, na := rank(a)
		rb, nb := rank(b)
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(na, nb))
	})
	return out
}

// admissible are the names a label may use, as the manager publishes them in the LabelContract: the
// catalogue's profiles and shared resources that are not being deleted.
func admissible(cat *catalogue.Set) (profiles, resources []string) {
	for name, p := range cat.Profiles {
		if p.DeletionTimestamp.IsZero() {
			profiles = append(profiles, name)
		}
	}
	for name, sr := range cat.Resources {
		if sr.DeletionTimestamp.IsZero() {
			resources = append(resources, name)
		}
	}
	slices.Sort(profiles)
	slices.Sort(resources)
	return profiles, resources
}

// labelRef is how the renderer's and admission's messages name the label a problem is about.
var labelRef = regexp.MustCompile(`\(label [^)]+\)`)

// sameProblem says whether the renderer's message already reports admission's: admission's words are part of
// the condition the operator sets for the same label, or (a profile being deleted, which admission calls
// absent) both name the same label.
func sameProblem(rendered, admitted string) bool {
	if strings.Contains(rendered, admitted) {
		return true
	}
	ref := labelRef.FindString(admitted)
	return ref != "" && strings.Contains(rendered, ref)
}

// printPolicies prints the rendered policies, cleaned of what the API server sets, with -o's printer.
func printPolicies(g *globals, p *printFlags, objs []any) error {
	pr, err := p.printer()
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(objs))
	for _, obj := range objs {
		m, err := policy.Clean(obj)
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	l := list(items)
	switch p.format() {
	case "yaml", "kyaml":
		// One document per policy, as kubectl apply -f and a GitOps repository take them.
		for i := range l.Items {
			if err := pr.PrintObj(&l.Items[i], g.stdout); err != nil {
				return err
			}
		}
		return nil
	}
	return pr.PrintObj(l, g.stdout)
}

// objectKey names a policy in diffs.
type objectKey struct{ kind, namespace, name string }

func (k objectKey) String() string {
	if k.namespace == "" {
		return k.kind + "/" + k.name
	}
	return k.kind + "/" + k.namespace + "/" + k.name
}

// runDiff prints, per policy, the difference between the cluster and the rendering, and reports whether
// there was any. Namespaces netprofile (or admission) refuses are left out: the operator keeps what they have.
func (o *renderOptions) runDiff(ctx context.Context, g *globals, set *desired.Set) (bool, error) {
	c, err := g.client()
	if err != nil {
		return false, err
	}
	refused := map[string]bool{}
	for _, p := range set.Problems {
		if ns, ok := strings.CutPrefix(p.Object, "Namespace "); ok {
			refused[ns] = true
		}
	}
	want := map[objectKey]any{}
	for _, p := range set.CNPs {
		want[objectKey{ciliumv2.CNPKindDefinition, p.Namespace, p.Name}] = p
	}
	for _, p := range set.CCNPs {
		want[objectKey{ciliumv2.CCNPKindDefinition, "", p.Name}] = p
	}
	live, err := o.live(ctx, c, set, refused)
	if err != nil {
		return false, err
	}
	keys := map[objectKey]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range live {
		keys[k] = true
	}
	sorted := make([]objectKey, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	slices.SortFunc(sorted, func(a, b objectKey) int { return strings.Compare(a.String(), b.String()) })
	differs := false
	for _, k := range sorted {
		before, err := comparableYAML(live[k])
		if err != nil {
			return false, err
		}
		after, err := comparableYAML(want[k])
		if err != nil {
			return false, err
		}
		if before == after {
			continue
		}
		differs = true
		from, to := terminal.Escape("live/"+k.String()), terminal.Escape("rendered/"+k.String())
		switch {
		case before == "":
			from += " (absent: the operator creates it)"
		case after == "":
			to += " (not generated: the operator deletes it)"
		}
		d, err := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{
			A: lines(before), B: lines(after), FromFile: from, ToFile: to, Context: 3,
		})
		if err != nil {
			return false, fmt.Errorf("failed to diff %s: %w", k, err)
		}
		fmt.Fprint(g.text(), d)
	}
	if !differs {
		fmt.Fprintln(g.stderr, "no differences: the cluster has exactly the rendered policies")
	}
	return differs, nil
}

// live fetches the generated policies the rendering is compared with: by name what was rendered, and what
// the operator owns at its reserved names in the same scope (which it would delete if no longer rendered).
func (o *renderOptions) live(ctx context.Context, c client.Client, set *desired.Set, refused map[string]bool) (map[objectKey]any, error) {
	out := map[objectKey]any{}
	for _, p := range set.CNPs {
		live := &ciliumv2.CiliumNetworkPolicy{}
		err := c.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name}, live)
		if client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("failed to get CiliumNetworkPolicy %s/%s: %w", p.Namespace, p.Name, err)
		}
		if err == nil {
			out[objectKey{ciliumv2.CNPKindDefinition, p.Namespace, p.Name}] = live
		}
	}
	for _, p := range set.CCNPs {
		live := &ciliumv2.CiliumClusterwideNetworkPolicy{}
		err := c.Get(ctx, client.ObjectKey{Name: p.Name}, live)
		if client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("failed to get CiliumClusterwideNetworkPolicy %s: %w", p.Name, err)
		}
		if err == nil {
			out[objectKey{ciliumv2.CCNPKindDefinition, "", p.Name}] = live
		}
	}
	// What the operator would delete: the policies at reserved names in scope that it owns (the same
	// ownership rule as the operator's, pkg/ownership).
	uids := map[string]types.UID{} // by owner kind and name: each owner is read once
	ownerUID := func(obj client.Object, name string) (types.UID, error) {
		k := fmt.Sprintf("%T/%s", obj, name)
		if uid, ok := uids[k]; ok {
			return uid, nil
		}
		if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
			return "", client.IgnoreNotFound(err)
		}
		uids[k] = obj.GetUID()
		return uids[k], nil
	}
	add := func(live client.Object, kind, ownerName string, owner client.Object) error {
		comp, _, ok := ownership.Reserved(live.GetName(), live.GetNamespace() != "")
		if !ok {
			return nil
		}
		uid, err := ownerUID(owner, ownerName)
		if err != nil {
			return err
		}
		if ownership.Ours(live, comp, uid) {
			out[objectKey{kind, live.GetNamespace(), live.GetName()}] = live
		}
		return nil
	}
	for _, ns := range o.namespaces(set, refused) {
		for _, name := range ownership.NamespaceNames() {
			live := &ciliumv2.CiliumNetworkPolicy{}
			if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, live); err != nil {
				if client.IgnoreNotFound(err) != nil {
					return nil, fmt.Errorf("failed to get CiliumNetworkPolicy %s/%s: %w", ns, name, err)
				}
				continue
			}
			if err := add(live, ciliumv2.CNPKindDefinition, ns, &corev1.Namespace{}); err != nil {
				return nil, err
			}
		}
	}
	if o.cluster {
		var cnps ciliumv2.CiliumNetworkPolicyList
		if err := c.List(ctx, &cnps); err != nil {
			return nil, fmt.Errorf("failed to list policies: %w", err)
		}
		for i := range cnps.Items {
			if comp, _, _ := ownership.Reserved(cnps.Items[i].Name, true); comp == ownership.ComponentProvider {
				if err := add(&cnps.Items[i], ciliumv2.CNPKindDefinition, cnps.Items[i].Namespace, &corev1.Namespace{}); err != nil {
					return nil, err
				}
			}
		}
		var ccnps ciliumv2.CiliumClusterwideNetworkPolicyList
		if err := c.List(ctx, &ccnps); err != nil {
			return nil, fmt.Errorf("failed to list clusterwide policies: %w", err)
		}
		for i := range ccnps.Items {
			if _, baseline, ok := ownership.Reserved(ccnps.Items[i].Name, false); ok {
				if err := add(&ccnps.Items[i], ciliumv2.CCNPKindDefinition, baseline, &v1alpha1.Baseline{}); err != nil {
					return nil, err
				}
			}
		}
	}
	// The typed client leaves apiVersion and kind empty; the rendered side has them.
	for k, obj := range out {
		obj.(client.Object).GetObjectKind().SetGroupVersionKind(ciliumv2.SchemeGroupVersion.WithKind(k.kind))
	}
	return out, nil
}

// namespaces are the namespaces of the rendered manifests that netprofile does not refuse.
func (o *renderOptions) namespaces(set *desired.Set, refused map[string]bool) []string {
	seen := map[string]bool{}
	for _, p := range set.CNPs {
		seen[p.Namespace] = true
	}
	for _, ns := range o.rendered {
		seen[ns] = true
	}
	var out []string
	for ns := range seen {
		if !refused[ns] {
			out = append(out, ns)
		}
	}
	slices.Sort(out)
	return out
}

func lines(s string) []string {
	if s == "" {
		return nil
	}
	return difflib.SplitLines(s)
}

// comparableYAML is the YAML of the parts of a policy netprofile decides: no status, no server-set metadata, no
// owner references (set at apply time) and no annotations (netprofile writes none).
func comparableYAML(obj any) (string, error) {
	if obj == nil {
		return "", nil
	}
	m, err := policy.Clean(obj)
	if err != nil {
		return "", err
	}
	unstructured.RemoveNestedField(m, "metadata", "ownerReferences")
	unstructured.RemoveNestedField(m, "metadata", "annotations")
	b, err := yaml.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("failed to encode YAML: %w", err)
	}
	return string(b), nil
}
