package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy/api"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// The ceiling makes a profile, its grants and the Baselines the most a namespace can have. Cilium's allow
// rules are a union across every policy that selects a pod, so a namespace's own users (Kubernetes' edit and
// admin roles may write NetworkPolicies) could otherwise add to what the labels give. Deny rules win over any
// allow, from any policy: the ceiling is one namespaced policy of deny rules for everything the namespace's
// allowances do not cover, computed from the very rules netprofile renders for it. Deny rules cannot name
// DNS names, so where a toFQDNs rule allows world addresses on a port, world stays open on that port to
// whatever other policies allow; the ceiling reports such a gap as partial instead of hiding it. Deny rules
// also beat the escape hatch's allow-all, so the hatch and audit mode lift the ceiling while they are open.

const podNamespaceKey = ciliumio.PodNamespaceLabel

// ceilingProtocols are the protocols with ports a deny rule can name.
var ceilingProtocols = []api.L4Proto{api.ProtoTCP, api.ProtoUDP, api.ProtoSCTP}

// ceilingEntities are the reserved identities, in the order the ceiling names them.
var ceilingEntities = []api.Entity{api.EntityHost, api.EntityRemoteNode, api.EntityKubeAPIServer, api.EntityHealth,
	api.EntityInit, api.EntityUnmanaged, api.EntityIngress, api.EntityWorld}

// entityTerms are the identities an entity selects, as Cilium maps it (aggregate identities included).
func entityTerms(e api.Entity) terms { return slices.Clone(reservedEntities[e]) }

// reservedEntities is Cilium's entity mapping for the reserved entities, read once at start: the plugin's
// policy engine rewrites the mapping's cluster entry (api.InitEntities) while it runs.
//
// Cilium's aggregate identities (reserved:aggregate-world and the like) are left out. They are not
// identities traffic comes from but buckets the datapath also looks a flow up in: a deny of
// aggregate-world would deny every world address, the ones a hole is punched for too. They are denied
// only as part of a whole entity (toEntities: [world]), which is what Cilium selects them with.
var reservedEntities = func() map[api.Entity]terms {
	out := map[api.Entity]terms{}
	for _, e := range ceilingEntities {
		for _, es := range api.EntitySelectorMapping[e] {
			t, ok := termOf(reservedAsExists(es.LabelSelector))
			if ok && !slices.ContainsFunc(slices.Collect(maps.Keys(t)), isAggregate) {
				out[e] = append(out[e], t)
			}
		}
	}
	return out
}()

func isAggregate(key string) bool {
	return strings.HasPrefix(key, labels.LabelSourceReservedKeyPrefix+"aggregate-")
}

// reservedAsExists reads `reserved:x: ""` as "the reserved label x is present".
func reservedAsExists(sel *slimv1.LabelSelector) *slimv1.LabelSelector {
	out := sel.DeepCopy()
	for k, v := range out.MatchLabels {
		if strings.HasPrefix(k, labels.LabelSourceReservedKeyPrefix) && v == "" {
			delete(out.MatchLabels, k)
			out.MatchExpressions = append(out.MatchExpressions, requirement(k, slimv1.LabelSelectorOpExists, nil))
		}
	}
	return out
}

// podTerm selects every pod: an identity with a namespace, of any cluster.
func podTerm() term {
	return term{podNamespaceKey: {exists: 1}, ciliumio.PolicyLabelCluster: {exists: 1}}
}

// clusterTerms are what the cluster entity selects: every pod of the cluster and every reserved identity of it.
func clusterTerms() terms {
	out := terms{podTerm()}
	for _, e := range ceilingEntities {
		if e != api.EntityWorld {
			out = append(out, entityTerms(e)...)
		}
	}
	return out
}

// universe is every identity traffic comes from: pods of every cluster, the reserved identities and world.
func universe() terms {
	return append(clusterTerms(), entityTerms(api.EntityWorld)...).simplify()
}

// portRange is a range of ports of one protocol.
type portRange struct {
	proto  api.L4Proto
	lo, hi int
}

func (p portRange) String() string {
	if p.lo == 1 && p.hi == 65535 {
		return string(p.proto) + " (every port)"
	}
	if p.lo == p.hi {
		return fmt.Sprintf("%s %d", p.proto, p.lo)
	}
	return fmt.Sprintf("%s %d-%d", p.proto, p.lo, p.hi)
}

// allowance is one peer of an allow rule with its ports, as the ceiling reads it.
type allowance struct {
	peers terms
	// all: every identity (entity all, or ports without a peer).
	all bool
	// fqdn: world addresses that DNS names resolve to, which no deny rule can single out.
	fqdn bool
	// anyPort: every port and protocol; otherwise ports.
	anyPort bool
	ports   []portRange
	// what names the rule for a message.
	what string
}

// identities are what a allows, as terms.
func (a allowance) identities() terms {
	switch {
	case a.all:
		return universe()
	case a.fqdn:
		// Deny rules cannot tell world addresses apart by DNS name: to the ceiling, an FQDN rule is all of world.
		return entityTerms(api.EntityWorld)
	}
	return a.peers
}

// ceilingSource is a policy whose allow rules count toward a namespace's ceiling.
type ceilingSource struct {
	rules api.Rules
	// namespaced: the policy lives in the namespace, so peers without a namespace are in it.
	namespaced bool
	// what names the policy in messages.
	what string
}

// Ceiling renders the namespace's ceiling from the allow rules that apply to its pods (its own generated
// policies, the provider halves written into it, and the Baselines that select it). It returns the policy and
// the gaps it cannot close ("egress to world on TCP 443: toFQDNs rule ..."), each a phrase for a condition.
func (r Renderer) ceiling(namespace, profile string, sources []ceilingSource) (*cilium.CiliumNetworkPolicy, []string, error) {
	// Thousands of namespaces share a handful of profile, grant and baseline combinations, and the ceiling
	// differs between them only in the namespace's own name: it is computed once per combination for a
	// placeholder namespace and the name is put in after. A namespace whose name the sources also name
	// (a profiled namespace that is some rule's peer) is computed on its own.
	if slices.Contains(namedNamespaces(sources), namespace) {
		return r.computeCeiling(namespace, profile, sources)
	}
	key, err := ceilingKey(r.Contract.ProfileKey(), profile, sources)
	if err != nil {
		return r.computeCeiling(namespace, profile, sources)
	}
	v, ok := ceilings.Load(key)
	if !ok {
		cnp, gaps, err := r.computeCeiling(placeholderNamespace, profile, sources)
		v = ceilingResult{cnp: cnp, gaps: gaps, err: err}
		if ceilingCount.Add(1) > maxValidated {
			ceilings.Clear()
			ceilingCount.Store(0)
		}
		ceilings.Store(key, v)
	}
	res := v.(ceilingResult)
	if res.cnp == nil {
		return nil, res.gaps, res.err
	}
	return instantiate(res.cnp, namespace), slices.Clone(res.gaps), res.err
}

// placeholderNamespace stands for the namespace in a ceiling computed for many: a valid label value that no
// namespace can be named (upper case).
const placeholderNamespace = "Netprofile.Namespace"

// ceilingResult is a computed ceiling, kept for every namespace with the same sources.
type ceilingResult struct {
	cnp  *cilium.CiliumNetworkPolicy
	gaps []string
	err  error
}

var (
	ceilings     sync.Map
	ceilingCount atomic.Int64
)

// ceilingKey identifies the inputs of a ceiling but for the namespace's name: the label that records the
// profile, the profile and every source's rules.
func ceilingKey(profileKey, profile string, sources []ceilingSource) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%q|%q", profileKey, profile)
	for _, src := range sources {
		b, err := json.Marshal(src.rules)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "|%t|%q|%s", src.namespaced, src.what, b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// namedNamespaces are the namespaces the sources' peers name.
func namedNamespaces(sources []ceilingSource) []string {
	var out []string
	add := func(sels []api.EndpointSelector) {
		for _, es := range sels {
			if es.LabelSelector == nil {
				continue
			}
			if ns, ok := es.MatchLabels[podNamespaceKey]; ok {
				out = append(out, ns)
			}
			for _, e := range es.MatchExpressions {
				if e.Key == podNamespaceKey {
					out = append(out, e.Values...)
				}
			}
		}
	}
	for _, src := range sources {
		for _, r := range src.rules {
			for _, in := range r.Ingress {
				add(in.FromEndpoints)
			}
			for _, eg := range r.Egress {
				add(eg.ToEndpoints)
			}
		}
	}
	return out
}

// instantiate is a ceiling computed for the placeholder namespace, for namespace: the placeholder in every
// namespace requirement replaced by the name, the values sorted again as a computation for the name sorts them.
func instantiate(placeholder *cilium.CiliumNetworkPolicy, namespace string) *cilium.CiliumNetworkPolicy {
	cnp := placeholder.DeepCopy()
	cnp.Namespace = namespace
	fix := func(sels []api.EndpointSelector) {
		for _, es := range sels {
			if es.LabelSelector == nil {
				continue
			}
			if es.MatchLabels[podNamespaceKey] == placeholderNamespace {
				es.MatchLabels[podNamespaceKey] = namespace
			}
			for i := range es.MatchExpressions {
				e := &es.MatchExpressions[i]
				if e.Key == podNamespaceKey && slices.Contains(e.Values, placeholderNamespace) {
					e.Values[slices.Index(e.Values, placeholderNamespace)] = namespace
					slices.Sort(e.Values)
				}
			}
		}
	}
	for i := range cnp.Spec.IngressDeny {
		fix(cnp.Spec.IngressDeny[i].FromEndpoints)
	}
	for i := range cnp.Spec.EgressDeny {
		fix(cnp.Spec.EgressDeny[i].ToEndpoints)
	}
	return cnp
}

// computeCeiling computes the ceiling of one namespace from its sources.
func (r Renderer) computeCeiling(namespace, profile string, sources []ceilingSource) (*cilium.CiliumNetworkPolicy, []string, error) {
	var ingress, egress []allowance
	var gaps []string
	for _, src := range sources {
		for _, rule := range src.rules {
			subset := !isAllPods(rule.EndpointSelector)
			var in, out []allowance
			for i := range rule.Ingress {
				in = append(in, ingressAllowance(namespace, src, &rule.Ingress[i])...)
			}
			for i := range rule.Egress {
				out = append(out, egressAllowance(namespace, src, &rule.Egress[i])...)
			}
			if subset && len(in)+len(out) > 0 {
				// The allowance holds for some pods only; held for all, the others may get it from other policies.
				gaps = append(gaps, fmt.Sprintf("%s allows some of this namespace's pods more than the others; the others are held only to the most any pod here may have", src.what))
			}
			ingress, egress = append(ingress, in...), append(egress, out...)
		}
	}
	inRules, inGaps := denyRules(ingress)
	outRules, outGaps := denyRules(egress)
	for _, g := range inGaps {
		gaps = append(gaps, "ingress from "+g)
	}
	for _, g := range outGaps {
		gaps = append(gaps, "egress to "+g)
	}
	rule := &api.Rule{
		EndpointSelector:  api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
		Description:       fmt.Sprintf("netprofile: ceiling of profile %s: denies what the namespace's labels and the baselines do not allow, whatever other policies allow", profile),
		EnableDefaultDeny: additive(),
	}
	for _, d := range inRules {
		rule.IngressDeny = append(rule.IngressDeny, api.IngressDenyRule{IngressCommonRule: api.IngressCommonRule{FromEndpoints: d.endpoints, FromEntities: d.entities}, ToPorts: d.ports})
	}
	for _, d := range outRules {
		rule.EgressDeny = append(rule.EgressDeny, api.EgressDenyRule{EgressCommonRule: api.EgressCommonRule{ToEndpoints: d.endpoints, ToEntities: d.entities}, ToPorts: d.ports})
	}
	cnp := &cilium.CiliumNetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: cilium.SchemeGroupVersion.String(), Kind: cilium.CNPKindDefinition},
		ObjectMeta: metav1.ObjectMeta{
			Name:      ownership.CeilingPolicyName,
			Namespace: namespace,
			Labels:    ownership.Labels(ownership.ComponentNamespacePolicy, map[string]string{r.Contract.ProfileKey(): profile}),
		},
		Spec: rule,
	}
	if len(rule.IngressDeny)+len(rule.EgressDeny) == 0 {
		return nil, gaps, nil // nothing to deny: every identity is allowed everywhere
	}
	if err := Validate(cnp); err != nil {
		return nil, gaps, refuse(conditions.ReasonPolicyInvalid, "%v", err)
	}
	return cnp, gaps, nil
}

// isAllPods reports whether a rule's subject is every pod of the namespace it applies to: a selector on
// nothing but the namespace (a Baseline's namespaceSelector, which withCeiling has matched already).
func isAllPods(es api.EndpointSelector) bool {
	t, ok := termOf(es.LabelSelector)
	return ok && !slices.ContainsFunc(slices.Collect(maps.Keys(t)), func(k string) bool {
		return k != podNamespaceKey && !strings.HasPrefix(k, ciliumio.PodNamespaceMetaLabelsPrefix)
	})
}

func ingressAllowance(namespace string, src ceilingSource, in *api.IngressRule) []allowance {
	base := allowance{what: src.what}
	base.anyPort, base.ports = portsOf(in.ToPorts)
	switch {
	case len(in.FromEndpoints) > 0:
		base.peers = podPeers(namespace, src.namespaced, in.FromEndpoints)
	case len(in.FromEntities) > 0:
		base.peers, base.all = entityPeers(in.FromEntities)
	case len(in.FromCIDRSet) > 0 || len(in.FromCIDR) > 0:
		base.peers = cidrPeers(in.FromCIDR, in.FromCIDRSet)
	case len(in.ToPorts) > 0:
		base.all = true // ports without a peer: from anyone
	default:
		return nil // `{}`: allows nothing
	}
	return []allowance{base}
}

func egressAllowance(namespace string, src ceilingSource, out *api.EgressRule) []allowance {
	base := allowance{what: src.what}
	base.anyPort, base.ports = portsOf(out.ToPorts)
	switch {
	case len(out.ToEndpoints) > 0:
		base.peers = podPeers(namespace, src.namespaced, out.ToEndpoints)
	case len(out.ToEntities) > 0:
		base.peers, base.all = entityPeers(out.ToEntities)
	case len(out.ToCIDRSet) > 0 || len(out.ToCIDR) > 0:
		base.peers = cidrPeers(out.ToCIDR, out.ToCIDRSet)
	case len(out.ToFQDNs) > 0:
		base.fqdn = true
	case len(out.ToPorts) > 0:
		base.all = true
	default:
		return nil
	}
	return []allowance{base}
}

// podPeers reads endpoint selectors as Cilium scopes them: a selector with no namespace in a namespaced policy
// means that namespace, and one with no cluster means any (the ceiling never assumes Cilium narrows it).
func podPeers(namespace string, namespaced bool, sels []api.EndpointSelector) terms {
	var out terms
	for _, es := range sels {
		t, ok := termOf(reservedAsExists(es.LabelSelector))
		if !ok {
			continue
		}
		if hasReserved(t) {
			out = append(out, t)
			continue
		}
		_, hasNamespace := t[podNamespaceKey]
		if namespaced && !hasNamespace && !hasNamespaceLabels(t) {
			t[podNamespaceKey] = constraint{in: []string{namespace}, exists: 1}
		}
		if _, ok := t[podNamespaceKey]; !ok {
			t[podNamespaceKey] = constraint{exists: 1} // a clusterwide policy's peers are pods
		}
		out = append(out, t)
	}
	return out
}

func hasReserved(t term) bool {
	return slices.ContainsFunc(slices.Collect(maps.Keys(t)), func(k string) bool { return strings.HasPrefix(k, labels.LabelSourceReservedKeyPrefix) })
}

func hasNamespaceLabels(t term) bool {
	return slices.ContainsFunc(slices.Collect(maps.Keys(t)), func(k string) bool { return strings.HasPrefix(k, ciliumio.PodNamespaceMetaLabelsPrefix) })
}

func entityPeers(es api.EntitySlice) (terms, bool) {
	var out terms
	for _, e := range es {
		switch e {
		case api.EntityAll:
			return nil, true
		case api.EntityCluster:
			out = append(out, clusterTerms()...)
		default:
			out = append(out, entityTerms(e)...)
		}
	}
	return out, false
}

func cidrPeers(plain api.CIDRSlice, set api.CIDRRuleSlice) terms {
	var out terms
	add := func(c api.CIDR) {
		// An except narrows the allowance; reading it whole only ever denies less.
		if l, err := labels.IPStringToLabel(string(c)); err == nil {
			out = append(out, term{l.GetExtendedKey(): {exists: 1}})
		}
	}
	for _, c := range plain {
		add(c)
	}
	for _, c := range set {
		add(c.Cidr)
	}
	return out
}

// portsOf reads Cilium port rules: nil is every port and protocol. Named ports cannot be placed in a range, so
// they count as every port of their protocol (the ceiling then denies less, never more).
func portsOf(rules api.PortRules) (bool, []portRange) {
	if len(rules) == 0 {
		return true, nil
	}
	var out []portRange
	for _, pr := range rules {
		if len(pr.Ports) == 0 {
			return true, nil
		}
		for _, p := range pr.Ports {
			lo, err := strconv.Atoi(p.Port)
			hi := int(p.EndPort)
			if err != nil || lo == 0 {
				lo, hi = 1, 65535
			}
			if hi < lo {
				hi = lo
			}
			protos := []api.L4Proto{p.Protocol}
			if p.Protocol == api.ProtoAny || p.Protocol == "" {
				protos = ceilingProtocols
			}
			for _, proto := range protos {
				out = append(out, portRange{proto: proto, lo: lo, hi: hi})
			}
		}
	}
	return false, out
}

// denyRule is one rendered deny rule: endpoints or entities (Cilium does not combine them), on ports.
type denyRule struct {
	endpoints []api.EndpointSelector
	entities  api.EntitySlice
	ports     api.PortDenyRules
}

// region is a part of the identity space that the same allowances cover.
type region struct {
	ids terms
	by  []int
}

// regions cuts every identity into parts by the allowances that cover them: each allowance splits every part
// into what it allows and what it does not.
func regions(allowed []allowance) []region {
	rs := []region{{ids: universe()}}
	for i, a := range allowed {
		peers := a.identities()
		var next []region
		for _, r := range rs {
			var in terms
			for _, t := range r.ids {
				for _, p := range peers {
					if both, ok := t.and(p); ok {
						in = append(in, both)
					}
				}
			}
			out := r.ids
			for _, p := range peers {
				out = out.minus(p)
			}
			if in = in.simplify(); len(in) > 0 {
				next = append(next, region{ids: in, by: append(slices.Clone(r.by), i)})
			}
			if len(out) > 0 {
				next = append(next, region{ids: out, by: r.by})
			}
		}
		rs = next
	}
	return rs
}

// denyRules computes the deny rules of one direction: for every part of the identity space, the ports none
// of the allowances that cover it allow. Parts denied the same ports share a rule. What no allowance covers
// at all is denied on every port and protocol. The second result names the gaps: world ports open only to
// DNS names, which a deny rule cannot name.
func denyRules(allowed []allowance) ([]denyRule, []string) {
	type denied struct {
		ids   terms
		ports []portRange
		all   bool
	}
	var order []string
	byPorts := map[string]*denied{}
	var gaps []string
	for _, r := range regions(allowed) {
		open, named := openPorts(allowed, r.by, false), openPorts(allowed, r.by, true)
		if gapPorts := minusRanges(named.ranges(), open.ranges()); len(gapPorts) > 0 {
			// Only DNS names open these ports to world: deny rules cannot hold them there.
			var fqdns []string
			for _, i := range r.by {
				if allowed[i].fqdn && !slices.Contains(fqdns, allowed[i].what) {
					fqdns = append(fqdns, allowed[i].what)
				}
			}
			gap := fmt.Sprintf("world on %s beyond the DNS names %s allows: deny rules cannot name DNS names",
				joinRanges(gapPorts), strings.Join(fqdns, " and "))
			if !slices.Contains(gaps, gap) {
				gaps = append(gaps, gap)
			}
			open = named
		}
		if open.all {
			continue
		}
		d := denied{ids: r.ids, all: len(open.ports) == 0 && !open.all}
		if !d.all {
			d.ports = complementRanges(open.ranges())
		}
		key := fmt.Sprint(d.all, d.ports)
		if existing, ok := byPorts[key]; ok {
			existing.ids = append(existing.ids, r.ids...)
			continue
		}
		order = append(order, key)
		byPorts[key] = &d
	}
	var out []denyRule
	for _, key := range order {
		d := byPorts[key]
		out = append(out, render(d.ids.simplify(), d.ports)...)
	}
	return out, gaps
}

// openSet is what some allowances open: every port, or these ports.
type openSet struct {
	all   bool
	ports []portRange
}

// ranges are the open ports as ranges (every port of every protocol with ports when all).
func (o openSet) ranges() []portRange {
	if o.all {
		return complementRanges(nil)
	}
	return o.ports
}

// openPorts is what the allowances (by index) open; FQDN allowances count only with names.
func openPorts(allowed []allowance, which []int, names bool) openSet {
	var o openSet
	for _, i := range which {
		a := allowed[i]
		if a.fqdn && !names {
			continue
		}
		if a.anyPort {
			return openSet{all: true}
		}
		o.ports = append(o.ports, a.ports...)
	}
	o.ports = normalRanges(o.ports)
	if len(complementRanges(o.ports)) == 0 && len(o.ports) > 0 {
		// Every port of every protocol with ports; protocols without ports (ICMP) stay to the allowances.
		return openSet{all: true}
	}
	return o
}

// normalRanges sorts ranges by protocol and port and merges the ones that touch.
func normalRanges(rs []portRange) []portRange {
	out := slices.Clone(rs)
	slices.SortFunc(out, func(a, b portRange) int {
		if c := strings.Compare(string(a.proto), string(b.proto)); c != 0 {
			return protoOrder(a.proto) - protoOrder(b.proto)
		}
		return a.lo - b.lo
	})
	var merged []portRange
	for _, r := range out {
		if n := len(merged); n > 0 && merged[n-1].proto == r.proto && r.lo <= merged[n-1].hi+1 {
			merged[n-1].hi = max(merged[n-1].hi, r.hi)
			continue
		}
		merged = append(merged, r)
	}
	return merged
}

func protoOrder(p api.L4Proto) int { return slices.Index(ceilingProtocols, p) }

// complementRanges is every port of TCP, UDP and SCTP that rs does not hold.
func complementRanges(rs []portRange) []portRange {
	rs = normalRanges(rs)
	var out []portRange
	for _, proto := range ceilingProtocols {
		next := 1
		for _, r := range rs {
			if r.proto != proto {
				continue
			}
			if r.lo > next {
				out = append(out, portRange{proto: proto, lo: next, hi: r.lo - 1})
			}
			next = max(next, r.hi+1)
		}
		if next <= 65535 {
			out = append(out, portRange{proto: proto, lo: next, hi: 65535})
		}
	}
	return out
}

// minusRanges is a without b.
func minusRanges(a, b []portRange) []portRange {
	var out []portRange
	keep := complementRanges(b)
	for _, r := range normalRanges(a) {
		for _, k := range keep {
			if k.proto == r.proto && k.lo <= r.hi && r.lo <= k.hi {
				out = append(out, portRange{proto: r.proto, lo: max(r.lo, k.lo), hi: min(r.hi, k.hi)})
			}
		}
	}
	return out
}

func joinRanges(rs []portRange) string {
	s := make([]string, 0, len(rs))
	for _, r := range rs {
		s = append(s, r.String())
	}
	return strings.Join(s, ", ")
}

// render turns a set of identities into deny rules on ports (nil: every port and protocol). Reserved
// identities an entity names whole are written as that entity; everything else as selectors.
func render(s terms, ports []portRange) []denyRule {
	if len(s) == 0 {
		return nil
	}
	portRules := denyPorts(ports)
	if within(universe(), s) {
		return []denyRule{{entities: api.EntitySlice{api.EntityAll}, ports: portRules}}
	}
	var entities api.EntitySlice
	rest := slices.Clone(s)
	for _, e := range ceilingEntities {
		whole := entityTerms(e)
		if len(whole) > 0 && within(whole, s) {
			entities = append(entities, e)
			rest = slices.DeleteFunc(rest, func(t term) bool { return slices.ContainsFunc(whole, func(w term) bool { return t.covers(w) }) })
		}
	}
	var out []denyRule
	if len(rest) > 0 {
		d := denyRule{ports: portRules}
		for _, t := range rest {
			d.endpoints = append(d.endpoints, api.EndpointSelector{LabelSelector: t.selector()})
		}
		out = append(out, d)
	}
	if len(entities) > 0 {
		out = append(out, denyRule{entities: entities, ports: portRules})
	}
	return out
}

// within reports whether every identity a selects is selected by s.
func within(a, s terms) bool {
	left := a
	for _, t := range s {
		if left = left.minus(t); len(left) == 0 {
			return true
		}
	}
	return false
}

// denyPorts writes port ranges as Cilium deny port rules, at most 40 ports a rule as Cilium allows.
func denyPorts(ranges []portRange) api.PortDenyRules {
	if len(ranges) == 0 {
		return nil
	}
	var out api.PortDenyRules
	for i, r := range ranges {
		if i%40 == 0 {
			out = append(out, api.PortDenyRule{})
		}
		p := api.PortProtocol{Port: strconv.Itoa(r.lo), Protocol: r.proto}
		switch {
		case r.lo == 1 && r.hi == 65535:
			p.Port = "0"
		case r.hi > r.lo:
			p.EndPort = int32(r.hi)
		}
		out[len(out)-1].Ports = append(out[len(out)-1].Ports, p)
	}
	return out
}

// BaselineSelects reports whether a Baseline's policy selects the pods of a namespace with these labels.
func BaselineSelects(b *v1alpha1.Baseline, namespaceLabels map[string]string) bool {
	for k, v := range b.Spec.NamespaceSelector {
		if namespaceLabels[k] != v {
			return false
		}
	}
	return true
}
