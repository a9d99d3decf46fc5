package check

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/cilium/cilium/pkg/crypto/certificatemanager"
	envoypolicy "github.com/cilium/cilium/pkg/envoy/policy"
	"github.com/cilium/cilium/pkg/fqdn/dns"
	"github.com/cilium/cilium/pkg/identity"
	"github.com/cilium/cilium/pkg/identity/identitymanager"
	ipcachetypes "github.com/cilium/cilium/pkg/ipcache/types"
	"github.com/cilium/cilium/pkg/k8s"
	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	slimnetworkingv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/api/networking/v1"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/option"
	ciliumpolicy "github.com/cilium/cilium/pkg/policy"
	"github.com/cilium/cilium/pkg/policy/api"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	policyutils "github.com/cilium/cilium/pkg/policy/utils"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/netprofile/netprofile/pkg/ownership"
)

// Policies is the policy set to check flows against, and the namespace labels pods' identities carry.
type Policies struct {
	CNPs  []*ciliumv2.CiliumNetworkPolicy
	CCNPs []*ciliumv2.CiliumClusterwideNetworkPolicy
	// KNPs are Kubernetes NetworkPolicies, which Cilium enforces beside its own kinds.
	KNPs []*networkingv1.NetworkPolicy
	// Cluster is the local cluster's name (Cilium's cluster-name; ClusterName when empty): the cluster of
	// pods that name none, and of the cluster entity.
	Cluster string
	// AnyClusterByDefault parses policies as an agent with policy-default-local-cluster off (Cilium before
	// 1.19, or switched off): a peer without the cluster key selects pods of every cluster. By default a
	// peer without it means the local cluster.
	AnyClusterByDefault bool
	// NamespaceLabels are the labels of each namespace, by name; a namespace missing here has none.
	NamespaceLabels map[string]map[string]string
}

// PolicyRef names a policy.
type PolicyRef struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
}

func (r PolicyRef) String() string {
	if r.Namespace == "" {
		return r.Kind + " " + r.Name
	}
	return r.Kind + " " + r.Namespace + "/" + r.Name
}

// Direction is the verdict of one side of a flow: egress at the source, or ingress at the destination.
type Direction struct {
	Allowed bool `json:"allowed"`
	// Enforced is true when at least one policy selects the endpoint in this direction, which turns on Cilium's
	// default deny for it; otherwise everything is allowed.
	Enforced bool `json:"enforced"`
	// DecidedBy are the policies whose rules produced the verdict: the allowing rules, or the deny rules. Empty
	// for a default deny and for an unenforced direction.
	DecidedBy []PolicyRef `json:"decidedBy,omitempty"`
	// SelectedBy are the policies that select the endpoint in this direction, that is, the ones whose default
	// deny applies.
	SelectedBy []PolicyRef `json:"selectedBy,omitempty"`
	// Ceiling: denied by the deny rules of netprofile's ceiling alone. The namespace's labels do not allow the
	// flow, and the ceiling holds every other policy to them: a drop by the labels, not by someone's deny rule.
	Ceiling bool `json:"ceiling,omitempty"`
	// Explanation says in words why.
	Explanation string `json:"explanation"`
}

// Result is the verdict on a flow.
type Result struct {
	From    Endpoint  `json:"from"`
	To      Endpoint  `json:"to"`
	Port    Port      `json:"port"`
	Allowed bool      `json:"allowed"`
	Egress  Direction `json:"egress"`
	Ingress Direction `json:"ingress"`
}

// InitEntities fills in the cluster entity's selectors for the local cluster, as the agent does at startup
// (without it `cluster` selects nothing). Cilium keeps them in one process-wide map: every user of Cilium's
// policy API in a process calls this, engines of one process share one local cluster, and the map is
// written only when it changes.
func InitEntities(cluster string) {
	entitiesMu.Lock()
	defer entitiesMu.Unlock()
	if entitiesFor != cluster {
		api.InitEntities(cluster)
		entitiesFor = cluster
	}
}

var (
	entitiesMu  sync.Mutex
	entitiesFor = "\x00"
)

// Engine checks flows against a parsed policy set.
type Engine struct {
	logger          *slog.Logger
	resources       []resource
	namespaceLabels map[string]map[string]string
	// cluster is the local cluster; parseCluster what policies are parsed for ("" with AnyClusterByDefault).
	cluster, parseCluster string

	fqdnOnce sync.Once
	fqdns    []api.FQDNSelector
}

type resource struct {
	ref   PolicyRef
	id    ipcachetypes.ResourceID
	rules api.Rules
	// knp is a NetworkPolicy as Cilium reads it; rules is empty then.
	knp *slimnetworkingv1.NetworkPolicy
}

// entries are the resource's rules as a repository takes them, made anew for each repository (it keeps and
// indexes them).
func (r resource) entries(logger *slog.Logger, parseCluster string) (policytypes.PolicyEntries, error) {
	if r.knp != nil {
		return k8s.ParseNetworkPolicy(logger, parseCluster, r.knp)
	}
	return policyutils.RulesToPolicyEntries(r.rules), nil
}

// New parses every policy as the agent does. A policy Cilium would reject is an error: the agent would not
// enforce it, and a check that silently dropped it would answer for a different cluster.
func New(p Policies) (*Engine, error) {
	// Cilium's defaults: policy applies to an endpoint once a rule selects it.
	ciliumpolicy.SetPolicyEnabled(option.DefaultEnforcement)
	e := &Engine{logger: slog.New(slog.DiscardHandler), namespaceLabels: p.NamespaceLabels, cluster: cmp.Or(p.Cluster, ClusterName)}
	e.parseCluster = e.cluster
	if p.AnyClusterByDefault {
		e.parseCluster = ""
	}
	InitEntities(e.cluster)
	for _, cnp := range p.CNPs {
		ref := PolicyRef{Kind: ciliumv2.CNPKindDefinition, Namespace: cnp.Namespace, Name: cnp.Name}
		rules, err := cnp.DeepCopy().Parse(e.logger, e.parseCluster)
		if err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", ref, err)
		}
		e.resources = append(e.resources, resource{ref: ref, rules: rules,
			id: ipcachetypes.NewResourceID(ipcachetypes.ResourceKindCNP, cnp.Namespace, cnp.Name)})
	}
	for _, ccnp := range p.CCNPs {
		ref := PolicyRef{Kind: ciliumv2.CCNPKindDefinition, Name: ccnp.Name}
		rules, err := ccnp.DeepCopy().Parse(e.logger, e.parseCluster)
		if err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", ref, err)
		}
		e.resources = append(e.resources, resource{ref: ref, rules: rules,
			id: ipcachetypes.NewResourceID(ipcachetypes.ResourceKindCCNP, "", ccnp.Name)})
	}
	for _, knp := range p.KNPs {
		ref := PolicyRef{Kind: "NetworkPolicy", Namespace: knp.Namespace, Name: knp.Name}
		slim, err := slimNetworkPolicy(knp)
		if err != nil {
			return nil, fmt.Errorf("failed to read %s: %w", ref, err)
		}
		// Parsed once here so a policy Cilium rejects is an error now, as for the other kinds.
		if _, err := k8s.ParseNetworkPolicy(e.logger, e.parseCluster, slim); err != nil {
			return nil, fmt.Errorf("failed to parse %s: %w", ref, err)
		}
		e.resources = append(e.resources, resource{ref: ref, knp: slim,
			id: ipcachetypes.NewResourceID(ipcachetypes.ResourceKindNetpol, knp.Namespace, knp.Name)})
	}
	return e, nil
}

// slimNetworkPolicy converts a NetworkPolicy into the slim type Cilium's parser takes (the same wire format).
func slimNetworkPolicy(knp *networkingv1.NetworkPolicy) (*slimnetworkingv1.NetworkPolicy, error) {
	b, err := json.Marshal(knp)
	if err != nil {
		return nil, err
	}
	out := &slimnetworkingv1.NetworkPolicy{}
	return out, json.Unmarshal(b, out)
}

// Check looks the flow up with Cilium's engine: the source's egress policy and the destination's ingress
// policy, each distilled into the policy map the datapath would use.
func (e *Engine) Check(from, to Endpoint, port Port) (*Result, error) {
	proto, err := port.proto()
	if err != nil {
		return nil, err
	}
	if from.IsPod() && to.IsPod() && from.String() == to.String() {
		// One identity on both ends is legal (a pod calling its replica), but the lookup needs two.
		to.Labels = maps.Clone(to.Labels)
	}
	src, err := e.identity(from, 10000)
	if err != nil {
		return nil, err
	}
	dst, err := e.identity(to, 10001)
	if err != nil {
		return nil, err
	}
	if src.ID == dst.ID && from.IsPod() {
		// Two pods with the same labels share an identity in the agent; Cilium can look that up too.
		dst = src
	}

	ids := identity.ListReservedIdentities()
	ids[src.ID] = src.LabelArray
	ids[dst.ID] = dst.LabelArray
	idmgr := identitymanager.NewIDManager(e.logger)
	repo := ciliumpolicy.NewPolicyRepository(e.logger, ids, nil,
		envoypolicy.NewEnvoyL7RulesTranslator(e.logger, certificatemanager.NewMockSecretManagerInline()), idmgr, nil)
	repo.UpdateIdentities(ids, nil)
	var entries []entryOf
	for _, r := range e.resources {
		es, err := r.entries(e.logger, e.parseCluster)
		if err != nil {
			return nil, err
		}
		repo.ReplaceByResource(es, r.id)
		for _, entry := range es {
			entries = append(entries, entryOf{ref: r.ref, entry: entry})
		}
	}

	verdict, egressMeta, ingressMeta, err := ciliumpolicy.LookupFlow(e.logger, repo, idmgr,
		policytypes.Flow{From: src, To: dst, Proto: proto, Dport: port.Number})
	if err != nil {
		return nil, fmt.Errorf("failed to look up the flow in Cilium's policy engine: %w", err)
	}
	res := &Result{From: from, To: to, Port: port}
	res.Egress = direction(verdict.Egress == policytypes.DecisionAllowed, egressMeta, selecting(entries, src, false), "egress", from)
	res.Ingress = direction(verdict.Ingress == policytypes.DecisionAllowed, ingressMeta, selecting(entries, dst, true), "ingress", to)
	// Only pods are Cilium endpoints here: nothing enforces policy at world, a CIDR or the API server, even
	// though clusterwide `{}` selectors match their identities too (and the host firewall is off by default).
	if !from.IsPod() {
		res.Egress = notAnEndpoint(from, "egress")
	}
	if !to.IsPod() {
		res.Ingress = notAnEndpoint(to, "ingress")
	}
	res.Allowed = res.Egress.Allowed && res.Ingress.Allowed
	return res, nil
}

func (e *Engine) identity(ep Endpoint, id identity.NumericIdentity) (*identity.Identity, error) {
	if ep.Entity != "" && len(ep.Entities) == 0 {
		reserved := identity.LookupReservedIdentity(identity.GetReservedID(ep.Entity))
		if reserved == nil {
			return nil, fmt.Errorf("unknown entity %q", ep.Entity)
		}
		return reserved, nil
	}
	lbls, err := e.labelsOf(ep)
	if err != nil {
		return nil, err
	}
	if ep.Entity != "" {
		// A reserved identity keeps its number; with further reserved labels (Entities) it is that identity
		// as the agent labels it on such a node.
		return identity.NewIdentity(identity.GetReservedID(ep.Entity), lbls), nil
	}
	if ep.CIDR != "" {
		// CIDR identities are node-local, in their own numeric scope.
		id = identity.IdentityScopeLocal | id
	}
	return identity.NewIdentity(id, lbls), nil
}

// labelsOf are the labels of the endpoint's identity: those of identityLabels, and for a CIDR endpoint with
// DNS names the fqdn: label of each toFQDNs selector of the policy set that matches one of the names, as the
// agent's DNS proxy labels the addresses it saw resolved.
func (e *Engine) labelsOf(ep Endpoint) (labels.Labels, error) {
	lbls, err := ep.identityLabels(e.namespaceLabels[ep.Namespace], e.cluster)
	if err != nil {
		return nil, err
	}
	if ep.CIDR == "" || len(ep.Names) == 0 {
		return lbls, nil
	}
	for _, sel := range e.fqdnSelectors() {
		re, err := sel.ToRegex()
		if err != nil {
			continue // Parse validated every selector; nothing the agent would match
		}
		for _, name := range ep.Names {
			if re.MatchString(dns.FQDN(name)) {
				l := sel.IdentityLabel()
				lbls[l.Key] = l
				break
			}
		}
	}
	return lbls, nil
}

// fqdnSelectors are the toFQDNs selectors of every rule of the policy set.
func (e *Engine) fqdnSelectors() []api.FQDNSelector {
	e.fqdnOnce.Do(func() {
		for _, r := range e.resources {
			for _, rule := range r.rules {
				for _, eg := range rule.Egress {
					e.fqdns = append(e.fqdns, eg.ToFQDNs...)
				}
			}
		}
	})
	return e.fqdns
}

type entryOf struct {
	ref   PolicyRef
	entry *policytypes.PolicyEntry
}

// selecting returns the policies with a default-deny rule selecting the identity in the direction.
func selecting(entries []entryOf, id *identity.Identity, ingress bool) []PolicyRef {
	var refs []PolicyRef
	for _, e := range entries {
		subjectIsNode := id.ID == identity.ReservedIdentityHost
		if e.entry.Ingress != ingress || !e.entry.DefaultDeny || e.entry.Node != subjectIsNode {
			continue
		}
		if e.entry.Subject.Matches(id.LabelArray) {
			refs = append(refs, e.ref)
		}
	}
	return sortRefs(refs)
}

// direction explains one side's verdict, naming the policies behind it.
func direction(allowed bool, meta ciliumpolicy.RuleMeta, selectedBy []PolicyRef, dir string, ep Endpoint) Direction {
	d := Direction{Allowed: allowed, Enforced: len(selectedBy) > 0, SelectedBy: selectedBy, DecidedBy: refsFromMeta(meta)}
	verb := "allowed"
	if !allowed {
		verb = "denied"
	}
	d.Ceiling = !allowed && len(d.DecidedBy) > 0 && !slices.ContainsFunc(d.DecidedBy, func(r PolicyRef) bool {
		return r.Kind != ciliumv2.CNPKindDefinition || r.Name != ownership.CeilingPolicyName || r.Namespace != ep.Namespace
	})
	switch {
	case d.Ceiling:
		d.Explanation = fmt.Sprintf("denied: the namespace's labels do not allow it (the ceiling, %s, holds every other policy to them)", joinRefs(d.DecidedBy))
	case !d.Enforced && allowed:
		d.Explanation = fmt.Sprintf("allowed: no default-deny policy selects %s for %s (additive ones only add), so Cilium does not enforce it", ep, dir)
	case len(d.DecidedBy) > 0:
		d.Explanation = fmt.Sprintf("%s by %s", verb, joinRefs(d.DecidedBy))
	case !allowed:
		d.Explanation = fmt.Sprintf("denied: no rule allows it (default deny: %s is selected for %s by %s)", ep, dir, joinRefs(selectedBy))
	default:
		d.Explanation = "allowed"
	}
	return d
}

func notAnEndpoint(ep Endpoint, dir string) Direction {
	return Direction{Allowed: true, Explanation: fmt.Sprintf("allowed: %s is not a Cilium endpoint, so no %s policy applies there", ep, dir)}
}

// refsFromMeta reads the policies out of the labels the agent puts on every rule it imports from Kubernetes.
func refsFromMeta(meta ciliumpolicy.RuleMeta) []PolicyRef {
	var refs []PolicyRef
	for _, la := range meta.LabelArray() {
		name := la.Get(labels.LabelSourceK8sKeyPrefix + ciliumio.PolicyLabelName)
		if name == "" {
			continue
		}
		refs = append(refs, PolicyRef{
			Kind:      la.Get(labels.LabelSourceK8sKeyPrefix + ciliumio.PolicyLabelDerivedFrom),
			Namespace: la.Get(labels.LabelSourceK8sKeyPrefix + ciliumio.PolicyLabelNamespace),
			Name:      name,
		})
	}
	return sortRefs(refs)
}

func sortRefs(refs []PolicyRef) []PolicyRef {
	slices.SortFunc(refs, func(a, b PolicyRef) int {
		return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Kind, b.Kind))
	})
	return slices.Compact(refs)
}

func joinRefs(refs []PolicyRef) string {
	s := make([]string, 0, len(refs))
	for _, r := range refs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}
