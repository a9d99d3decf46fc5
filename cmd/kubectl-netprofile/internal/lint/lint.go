package lint

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"slices"
	"strings"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/terminal"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	yaml "go.yaml.in/yaml/v3"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/check"
	"github.com/netprofile/netprofile/pkg/ciliumpolicy/compat"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/desired"
	"github.com/netprofile/netprofile/pkg/manifest"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// Rule ids. Each finding carries one.
const (
	RuleDecode               = "decode-error"
	RuleCiliumRejects        = "cilium-rejects"
	RuleDefaultDeny          = "explicit-default-deny"
	RuleDenyRule             = "deny-rule"
	RuleHardcodedIP          = "hardcoded-ip"
	RuleMissingPorts         = "missing-ports"
	RuleEmptySection         = "empty-section"
	RuleClusterwideEmptyPeer = "clusterwide-empty-peer"
	RuleLowercaseProtocol    = "lowercase-protocol"
	RulePlatformPrometheus   = "platform-prometheus-scrape"
	RulePlatformHBONE        = "platform-hbone"
	RulePlatformDNSIngress   = "platform-kube-dns-ingress"
	RuleBeyondLabels         = "beyond-labels"
	RuleUnscopedCluster      = "cluster-unscoped-peer"
	RuleSinceAnnotation      = "namespace-since-annotation"
	RuleNetworkPolicyInvalid = "networkpolicy-invalid"
	RuleForgeableConsumers   = "forgeable-consumers"
)

// Rules describes every rule id, for `lint --rules` and the README.
var Rules = map[string]string{
	RuleDecode:               "the document does not decode as a Cilium policy or a NetworkPolicy (wrong type, unknown field)",
	RuleNetworkPolicyInvalid: "the API server refuses the NetworkPolicy, or Cilium's parser rejects it: it cannot take effect as written",
	RuleCiliumRejects:        "Cilium's CRD schema or its Parse/Sanitize rejects the policy: an invalid CNP is stored but never enforced",
	RuleDefaultDeny:          "an explicit default-deny (deny to all, or `ingress: [{}]`): default-deny baselines already deny implicitly, and a namespace netprofile manages is default-deny through its own policy",
	RuleDenyRule:             "a deny rule: in Cilium deny beats allow, so the escape hatch's allow-all cannot lift it",
	RuleHardcodedIP:          "a CIDR peer that is not link-local or a configured external range: use selectors and entities",
	RuleMissingPorts:         "an allow rule without explicit ports (any port), other than health-probe ingress",
	RuleEmptySection:         "an empty section (`egress: []`) counts as absent in Cilium",
	RuleClusterwideEmptyPeer: "an empty `{}` peer in a clusterwide policy means every pod of every namespace",
	RuleLowercaseProtocol:    "a lowercase protocol: Sanitize accepts it, the CRD rejects it",
	RulePlatformPrometheus:   "a platform namespace's policies do not let Prometheus (monitoring, app.kubernetes.io/name=prometheus) scrape",
	RulePlatformHBONE:        "an ambient platform namespace's policies do not allow HBONE (TCP 15008) in and out",
	RulePlatformDNSIngress:   "kube-system's policies do not let the cluster's pods reach kube-dns on 53/UDP and 53/TCP (the baselines select kube-dns too)",
	RuleUnscopedCluster:      "with --clustermesh: a pod peer without io.cilium.k8s.policy.cluster means this cluster's pods with Cilium's policy-default-local-cluster on (1.19 and later) and every cluster's with it off (1.18 and earlier): name the cluster",
	RuleSinceAnnotation:      "a Namespace manifest carries netprofile's since-annotation (<domain>/enforcement-disabled-since): only netprofile writes that record, so admission refuses every sync that re-applies it, and without admission the file would forge when the escape hatch opened",
	RuleForgeableConsumers:   "a SharedResource's spec.consumers selects on Namespace labels a namespace's own users may write: any tenant that copies them is admitted (select by kubernetes.io/metadata.name, or by a label admission protects)",
	RuleBeyondLabels:         "a policy in a namespace with a profile (its Namespace manifest among the files) allows flows its labels do not: Cilium's engine names them; the profile's ceiling denies them, or, where it only reports, the policy widens the namespace",
}

// Finding is one problem at one place.
type Finding struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Rule    string `json:"rule"`
	Object  string `json:"object"`
	Message string `json:"message"`
	Hint    string `json:"hint"`
}

// String is the finding for a terminal: the file name, the object and the messages (which quote the file) are
// escaped.
func (f Finding) String() string {
	return terminal.Sprintf("%s:%d: [%s] %s: %s\n    fix: %s", f.File, f.Line, f.Rule, f.Object, f.Message, f.Hint)
}

// Options configure the rules that depend on the cluster.
type Options struct {
	// PlatformNamespaces get the platform rules (Prometheus scrape, HBONE).
	PlatformNamespaces []string
	// AmbientNamespaces are in the Istio ambient mesh (besides those whose Namespace manifest, in the linted
	// files, carries istio.io/dataplane-mode=ambient).
	AmbientNamespaces []string
	// ExternalCIDRs are address ranges outside the cluster that policies may name.
	ExternalCIDRs []netip.Prefix
	// Render is what the beyond-labels rule renders a namespace's policies with (renderer, catalogue, clock);
	// nil skips the rule.
	Render *desired.Input
	// ClusterMesh: the cluster is in a Cilium ClusterMesh, where a pod peer that does not name its cluster
	// changes meaning with the agent's policy-default-local-cluster.
	ClusterMesh bool
	// Cluster is the local cluster's name, for the cluster entity and the fixes the rules suggest (Cilium's
	// default cluster-name when empty).
	Cluster string
	// Reader reads the files (manifest.DefaultLimits when nil).
	Reader *manifest.Reader
	// ProtectedNamespaceLabels are the Namespace label keys admission lets only the platform write (the
	// manager's --protected-namespace-labels); the forgeable-consumers rule trusts them.
	ProtectedNamespaceLabels []string
}

// Linter collects policies from files, then reports on them together: the platform rules look at all the
// policies of a namespace at once.
type Linter struct {
	opts     Options
	reader   *manifest.Reader
	findings []Finding
	policies []*doc
	ambient  map[string]bool
	// namespaces are the labels of the Namespace manifests among the files.
	namespaces map[string]map[string]string
}

// doc is one Cilium policy document.
type doc struct {
	file      string
	root      *yaml.Node
	kind      string
	name      string
	namespace string
	// rules are the policy's specs after Cilium's Parse (selectors scoped as the agent scopes them); nil when
	// Cilium rejects the policy.
	rules api.Rules
	// cnp is the decoded CiliumNetworkPolicy, when it is one Cilium accepts.
	cnp *ciliumv2.CiliumNetworkPolicy
	// knp is the decoded NetworkPolicy, when the API server and Cilium accept it.
	knp *networkingv1.NetworkPolicy
}

func (d *doc) object() string {
	if d.namespace == "" {
		return d.kind + " " + d.name
	}
	return d.kind + " " + d.namespace + "/" + d.name
}

// contract is the label contract of the rendering the rules judge with (the default one without).
func (o Options) contract() contract.Contract {
	if o.Render != nil && o.Render.Renderer.Contract.Domain() != "" {
		return o.Render.Renderer.Contract
	}
	return contract.Default()
}

// New returns a linter.
func New(opts Options) *Linter {
	// The agent fills in the cluster entity's selectors at startup, from its cluster name; without this the
	// cluster entity selects nothing.
	check.InitEntities(cmp.Or(opts.Cluster, check.ClusterName))
	l := &Linter{opts: opts, reader: opts.Reader, ambient: map[string]bool{}, namespaces: map[string]map[string]string{}}
	if l.reader == nil {
		l.reader = manifest.NewReader(manifest.DefaultLimits)
	}
	for _, ns := range opts.AmbientNamespaces {
		l.ambient[ns] = true
	}
	return l
}

// Policies is how many policies were read: Cilium's kinds and NetworkPolicies.
func (l *Linter) Policies() int { return len(l.policies) }

// AddPaths reads every .yaml, .yml and .json file under the paths; "-" is standard input.
func (l *Linter) AddPaths(stdin io.Reader, paths ...string) error {
	objs, err := l.reader.ReadPaths(stdin, paths...)
	if err != nil {
		return err
	}
	l.addObjects(objs)
	return nil
}

// Add lints the documents of one file. Documents of other kinds are skipped, except Namespaces, which say
// whether a namespace is in the ambient mesh and give beyond-labels its labels.
func (l *Linter) Add(file string, data []byte) error {
	objs, err := l.reader.Parse(file, data)
	if err != nil {
		return err
	}
	l.addObjects(objs)
	return nil
}

func (l *Linter) addObjects(objs []manifest.Object) {
	for i := range objs {
		if objs[i].Node != nil {
			l.addDocument(objs[i].File, objs[i].Node)
		}
	}
}

func (l *Linter) addDocument(file string, root *yaml.Node) {
	apiVersion, kind := str(root, "apiVersion"), str(root, "kind")
	meta := get(root, "metadata")
	switch {
	case apiVersion == "v1" && kind == "Namespace":
		labels := map[string]string{}
		if n := get(meta, "labels"); n != nil {
			_ = n.Decode(&labels) // a label map that does not decode is the API server's to refuse
		}
		l.namespaces[str(meta, "name")] = labels
		if labels["istio.io/dataplane-mode"] == "ambient" {
			l.ambient[str(meta, "name")] = true
		}
		l.lintNamespace(file, root, meta)
		return
	case apiVersion == networkingv1.SchemeGroupVersion.String() && kind == networkPolicyKind:
		// Cilium enforces a namespace's NetworkPolicies beside its own kinds. The Cilium rules do not apply to
		// them; beyond-labels does, since the edit role lets a namespace's own users write them.
		d := &doc{file: file, root: root, kind: kind, name: str(meta, "name"), namespace: str(meta, "namespace")}
		l.policies = append(l.policies, d)
		l.decodeNetworkPolicy(d)
		return
	case apiVersion == v1alpha1.GroupVersion.String() && kind == "SharedResource":
		l.lintSharedResource(file, root, meta)
		return
	case apiVersion != ciliumv2.SchemeGroupVersion.String() || (kind != ciliumv2.CNPKindDefinition && kind != ciliumv2.CCNPKindDefinition):
		return
	}
	d := &doc{file: file, root: root, kind: kind, name: str(meta, "name"), namespace: str(meta, "namespace")}
	l.policies = append(l.policies, d)
	l.decodeAndValidate(d)
	for _, spec := range d.specs() {
		l.lintRule(d, spec)
	}
}

// lintNamespace judges a Namespace manifest. The since-annotation is netprofile's record of when it first saw
// the escape hatch open: the chart's manager-writes policy refuses anyone else setting, changing or removing
// it, so a GitOps tool re-applying a manifest that carries it (typically copied from `kubectl get -o yaml`) is
// refused on every sync, and where that policy is off the file moves the record and the alerts' clock.
func (l *Linter) lintNamespace(file string, root, meta *yaml.Node) {
	since := l.opts.contract().SinceAnnotation()
	key := keyNode(get(meta, "annotations"), since)
	if key == nil {
		return
	}
	c := l.opts.contract()
	l.findings = append(l.findings, Finding{File: file, Line: line(key, root), Rule: RuleSinceAnnotation, Object: "Namespace " + str(meta, "name"),
		Message: fmt.Sprintf("the annotation %s is netprofile's record of when it first saw enforcement disabled: admission refuses anyone else writing it, so every sync that applies this manifest is refused, and without that policy the file would move the record and the alerts' clock", since),
		Hint:    fmt.Sprintf("remove the annotation from the manifest (netprofile writes it); to end a bypass at a time, set %s, and to end it now, remove %s", c.UntilAnnotation(), c.EnforcementKey())})
}

// lintSharedResource judges spec.consumers by the definition the manager's ConsumersTrusted condition uses.
func (l *Linter) lintSharedResource(file string, root, meta *yaml.Node) {
	node := get(get(root, "spec"), "consumers")
	if node == nil {
		return
	}
	// Through JSON: the API types carry JSON names only.
	var raw any
	var c v1alpha1.Consumers
	if err := node.Decode(&raw); err != nil {
		return // the API server's to refuse
	}
	if b, err := json.Marshal(raw); err != nil || json.Unmarshal(b, &c) != nil {
		return
	}
	protected := policy.ProtectedKeys(l.opts.contract(), l.opts.ProtectedNamespaceLabels)
	keys := policy.TenantWritableKeys(&c, protected)
	if len(keys) == 0 {
		return
	}
	name := str(meta, "name")
	selector := policy.ConsumersText(&v1alpha1.SharedResourceSpec{Consumers: &c})
	l.findings = append(l.findings, Finding{File: file, Line: line(node, root), Rule: RuleForgeableConsumers, Object: "SharedResource " + name,
		Message: policy.ForgeableMessage(name, selector, keys, protected),
		Hint: fmt.Sprintf("select the consumers by name (key %s, operator In) or by a label the platform protects (--%s, the chart's admission.protectedNamespaceLabels.keys)",
			policy.NameLabel, "protected-namespace-labels")})
}

func (d *doc) specs() []*yaml.Node {
	var out []*yaml.Node
	if s := get(d.root, "spec"); s != nil && s.Kind == yaml.MappingNode {
		out = append(out, s)
	}
	return append(out, items(get(d.root, "specs"))...)
}

func (l *Linter) add(d *doc, n *yaml.Node, rule, msg, hint string) {
	l.findings = append(l.findings, Finding{File: d.file, Line: line(n, d.root), Rule: rule, Object: d.object(), Message: msg, Hint: hint})
}

// decodeStrict decodes d into obj, refusing unknown fields: the API server prunes one (a typo such as
// `toPort`), silently dropping a rule. It reports a failure as a finding (reference: what to check the field
// names against) and returns false.
func (l *Linter) decodeStrict(d *doc, obj any, reference string) bool {
	var m any
	if err := d.root.Decode(&m); err != nil {
		l.add(d, d.root, RuleDecode, err.Error(), "fix the YAML")
		return false
	}
	b, err := json.Marshal(m)
	if err != nil {
		l.add(d, d.root, RuleDecode, err.Error(), "fix the YAML")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		l.add(d, unknownField(d.root, err), RuleDecode, err.Error(), "check the field names and types against the "+reference)
		return false
	}
	return true
}

// decodeAndValidate runs Cilium's own checks: the CRD schema and the agent's Parse/Sanitize.
func (l *Linter) decodeAndValidate(d *doc) {
	var obj any
	if d.kind == ciliumv2.CNPKindDefinition {
		cnp := &ciliumv2.CiliumNetworkPolicy{}
		if !l.decodeStrict(d, cnp, "CiliumNetworkPolicy reference (ports are strings)") {
			return
		}
		if cnp.Namespace == "" {
			// Applied with kubectl -n; lint it as if in "default".
			cnp.Namespace = "default"
		}
		obj = cnp
	} else {
		ccnp := &ciliumv2.CiliumClusterwideNetworkPolicy{}
		if !l.decodeStrict(d, ccnp, "CiliumClusterwideNetworkPolicy reference (ports are strings)") {
			return
		}
		obj = ccnp
	}
	if err := compat.Validate(obj); err != nil {
		l.add(d, d.root, RuleCiliumRejects, err.Error(),
			"Cilium stores this policy but marks it invalid and does not enforce it; fix the error above")
		return
	}
	var err2 error
	switch p := obj.(type) {
	case *ciliumv2.CiliumNetworkPolicy:
		d.cnp = p.DeepCopy()
		d.rules, err2 = p.Parse(discard, "")
	case *ciliumv2.CiliumClusterwideNetworkPolicy:
		d.rules, err2 = p.Parse(discard, "")
	}
	if err2 != nil {
		// Validate parsed the same object; this cannot differ, but a silent nil would skip the platform rules.
		l.add(d, d.root, RuleCiliumRejects, err2.Error(), "fix the error above")
	}
}

var discard = slog.New(slog.DiscardHandler)

const networkPolicyKind = "NetworkPolicy"

// decodeNetworkPolicy decodes a NetworkPolicy strictly and refuses what the API server or Cilium would.
func (l *Linter) decodeNetworkPolicy(d *doc) {
	knp := &networkingv1.NetworkPolicy{}
	if !l.decodeStrict(d, knp, "NetworkPolicy reference") {
		return
	}
	if knp.Namespace == "" {
		knp.Namespace = "default" // as kubectl apply without -n
	}
	if err := check.ValidateNetworkPolicy(knp); err != nil {
		l.add(d, d.root, RuleNetworkPolicyInvalid, strings.ReplaceAll(err.Error(), "\n", "; "), "fix the fields named above")
		return
	}
	d.knp = knp
}

// beyondFindings judges each valid CiliumNetworkPolicy and NetworkPolicy of a namespace whose manifest is
// among the files against the namespace's labels (Options.Beyond).
func (l *Linter) beyondFindings() []Finding {
	var out []Finding
	for _, d := range l.policies {
		labels, ok := l.namespaces[d.namespace]
		if l.opts.Render == nil || (d.cnp == nil && d.knp == nil) || !ok {
			continue
		}
		msg, hint, err := beyondLabels(*l.opts.Render, labels, d.cnp, d.knp)
		switch {
		case err != nil:
			out = append(out, Finding{File: d.file, Line: line(d.root, d.root), Rule: RuleBeyondLabels, Object: d.object(),
				Message: "could not judge it against the namespace's labels: " + err.Error(), Hint: "fix the Namespace manifest or the catalogue"})
		case msg != "":
			out = append(out, Finding{File: d.file, Line: line(d.root, d.root), Rule: RuleBeyondLabels, Object: d.object(), Message: msg, Hint: hint})
		}
	}
	return out
}

// unknownField finds the key encoding/json names in an unknown-field error, so the finding points at the typo
// rather than at the document.
func unknownField(root *yaml.Node, err error) *yaml.Node {
	_, name, ok := strings.Cut(err.Error(), "unknown field ")
	if !ok {
		return root
	}
	name = strings.Trim(name, `"`)
	var find func(n *yaml.Node) *yaml.Node
	find = func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == name {
					return n.Content[i]
				}
			}
		}
		for _, c := range n.Content {
			if found := find(c); found != nil {
				return found
			}
		}
		return nil
	}
	if found := find(root); found != nil {
		return found
	}
	return root
}

// Findings returns every finding, sorted by file, line and rule, after the rules that need all policies.
func (l *Linter) Findings() []Finding {
	out := append(slices.Clone(l.findings), l.platformFindings()...)
	out = append(out, l.beyondFindings()...)
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Rule, b.Rule))
	})
	return slices.Compact(out)
}

// beyondLabels judges a tenant's policy (a CiliumNetworkPolicy or a NetworkPolicy) with Cilium's engine against
// what netprofile renders for its namespace's labels: the flows it opens past them, or the flows the
// namespace's ceiling holds. It returns a finding's message and fix, or "" when the policy stays within the
// labels or the namespace has no profile.
func beyondLabels(in desired.Input, labels map[string]string, cnp *ciliumv2.CiliumNetworkPolicy, knp *networkingv1.NetworkPolicy) (string, string, error) {
	profile := labels[in.Renderer.Contract.ProfileKey()]
	if profile == "" {
		return "", "", nil
	}
	var cnps []*ciliumv2.CiliumNetworkPolicy
	var knps []*networkingv1.NetworkPolicy
	var namespace string
	if cnp != nil {
		cnps, namespace = append(cnps, cnp), cnp.Namespace
	} else {
		knps, namespace = append(knps, knp), knp.Namespace
	}
	in.Namespaces = []*corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: labels}}}
	set := desired.Compute(in)
	b, err := check.BeyondLabels(check.Policies{CNPs: set.CNPs, CCNPs: set.CCNPs, NamespaceLabels: in.NamespaceLabels(),
		Cluster: in.Renderer.ClusterName}, cnps, knps, namespace)
	if err != nil {
		return "", "", err
	}
	switch {
	case len(b.Opened) > 0:
		return fmt.Sprintf("allows %s past the labels of namespace %s (profile %s): %s", flowCount(len(b.Opened)), namespace, profile, firstFlows(b.Opened)),
			fmt.Sprintf("NetworkProfile %s only reports its ceiling (spec.ceiling: Report): ask for the access with labels (a profile or an access grant), or set spec.ceiling: Enforce", profile), nil
	case len(b.Held) > 0:
		return fmt.Sprintf("would allow %s past the labels of namespace %s (profile %s), but the namespace's ceiling (%s) denies them: %s", flowCount(len(b.Held)), namespace, profile, ownership.CeilingPolicyName, firstFlows(b.Held)),
			"those rules have no effect: ask for the access with labels (a profile or an access grant), and keep the policy to narrowing", nil
	}
	return "", "", nil
}

func flowCount(n int) string {
	if n == 1 {
		return "1 flow"
	}
	return fmt.Sprintf("%d flows", n)
}

// firstFlows names the first three flows, and how many more.
func firstFlows(flows []check.Flow) string {
	names := make([]string, 0, 3)
	for _, f := range flows[:min(3, len(flows))] {
		names = append(names, f.String())
	}
	if len(flows) > 3 {
		return strings.Join(names, "; ") + fmt.Sprintf("; and %d more", len(flows)-3)
	}
	return strings.Join(names, "; ")
}
