package lint

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy/api"
	policytypes "github.com/cilium/cilium/pkg/policy/types"
	yaml "go.yaml.in/yaml/v3"

	"github.com/netprofile/netprofile/pkg/check"
)

// section is one of a rule's four lists, and how its items name peers.
type section struct {
	key     string
	ingress bool
	deny    bool
}

var sections = []section{
	{key: "ingress", ingress: true},
	{key: "egress"},
	{key: "ingressDeny", ingress: true, deny: true},
	{key: "egressDeny", deny: true},
}

func (s section) peerKeys() (endpoints, entities, cidr, cidrSet string) {
	if s.ingress {
		return "fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet"
	}
	return "toEndpoints", "toEntities", "toCIDR", "toCIDRSet"
}

// peerFields are every field of an ingress or egress item that names a peer.
var peerFields = []string{
	"fromEndpoints", "fromEntities", "fromCIDR", "fromCIDRSet", "fromNodes", "fromGroups", "fromRequires",
	"toEndpoints", "toEntities", "toCIDR", "toCIDRSet", "toNodes", "toGroups", "toRequires", "toFQDNs", "toServices",
}

var (
	linkLocal = []netip.Prefix{netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10")}
	// private are ranges pods, services and nodes live in; a CIDR rule naming them is a pod IP in disguise.
	private = []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
		netip.MustParsePrefix("fc00::/7"),
	}
	// probeEntities send kubelet and Cilium health probes, which hit any container port.
	probeEntities = []string{"health", "host", "remote-node", "kube-apiserver"}
)

func within(p netip.Prefix, ranges []netip.Prefix) bool {
	for _, r := range ranges {
		if r.Bits() <= p.Bits() && r.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// lintRule applies the per-rule checks to one spec.
func (l *Linter) lintRule(d *doc, rule *yaml.Node) {
	for _, sec := range sections {
		list := get(rule, sec.key)
		if list == nil {
			continue
		}
		if isEmpty(list) {
			l.add(d, keyNode(rule, sec.key), RuleEmptySection,
				fmt.Sprintf("`%s: []` is empty, and Cilium treats an empty section as absent", sec.key),
				fmt.Sprintf("remove %s, or list the rules it should allow; a policy whose every section is empty is not enforced at all", sec.key))
			continue
		}
		for _, item := range items(list) {
			l.lintProtocols(d, item)
			if l.opts.ClusterMesh {
				l.lintClusterKey(d, sec, item)
			}
			if sec.deny {
				l.lintDeny(d, sec, item)
				continue
			}
			l.lintAllow(d, sec, item)
		}
	}
}

// lintClusterKey flags the pod peers that do not name a cluster. In a ClusterMesh, Cilium's Parse scopes such
// a peer to the local cluster only when policy-default-local-cluster is on (the default from 1.19): the same
// policy means something else on an older agent or with the option off, the difference `cilium clustermesh
// inspect-policy-default-local-cluster` reports.
func (l *Linter) lintClusterKey(d *doc, sec section, item *yaml.Node) {
	endpoints, _, _, _ := sec.peerKeys()
	cluster := cmp.Or(l.opts.Cluster, check.ClusterName)
	for _, sel := range items(get(item, endpoints)) {
		if namesCluster(sel) {
			continue
		}
		l.add(d, sel, RuleUnscopedCluster,
			fmt.Sprintf("this %s peer names no cluster: with policy-default-local-cluster on (Cilium 1.19 and later) it selects this cluster's pods, with it off (1.18 and earlier) the pods of every cluster in the mesh", endpoints),
			fmt.Sprintf("add `%s: %s` to its matchLabels (or name the remote clusters it means), so it means the same on every agent", ciliumio.PolicyLabelCluster, cluster))
	}
}

// namesCluster reports whether an endpoint selector says which cluster it means, or selects something that is
// not a pod (a reserved: identity).
func namesCluster(sel *yaml.Node) bool {
	var keys []string
	if ml := get(sel, "matchLabels"); ml != nil && ml.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(ml.Content); i += 2 {
			keys = append(keys, ml.Content[i].Value)
		}
	}
	for _, e := range items(get(sel, "matchExpressions")) {
		keys = append(keys, str(e, "key"))
	}
	return slices.ContainsFunc(keys, func(k string) bool {
		src, key, ok := strings.Cut(k, ":")
		if !ok {
			return k == ciliumio.PolicyLabelCluster
		}
		return src == labels.LabelSourceReserved || (key == ciliumio.PolicyLabelCluster && (src == labels.LabelSourceK8s || src == labels.LabelSourceAny))
	})
}

func (l *Linter) lintProtocols(d *doc, item *yaml.Node) {
	for _, pr := range items(get(item, "toPorts")) {
		for _, port := range items(get(pr, "ports")) {
			proto := get(port, "protocol")
			if proto == nil || proto.Value == strings.ToUpper(proto.Value) {
				continue
			}
			l.add(d, proto, RuleLowercaseProtocol,
				fmt.Sprintf("protocol %q is lower case: Cilium's Sanitize accepts it but the CRD rejects it", proto.Value),
				fmt.Sprintf("write protocol: %s", strings.ToUpper(proto.Value)))
		}
	}
}

// lintDeny flags every deny rule: an explicit default-deny is redundant with the baselines, and any deny beats
// the escape hatch's allow-all.
func (l *Linter) lintDeny(d *doc, sec section, item *yaml.Node) {
	endpoints, entities, cidr, cidrSet := sec.peerKeys()
	all := !slices.ContainsFunc(peerFields, func(k string) bool { return get(item, k) != nil })
	for _, e := range items(get(item, entities)) {
		all = all || e.Value == string(api.EntityAll)
	}
	for _, sel := range items(get(item, endpoints)) {
		all = all || isEmptySelector(sel)
	}
	for _, c := range append(items(get(item, cidr)), cidrValues(get(item, cidrSet))...) {
		all = all || c.Value == "0.0.0.0/0" || c.Value == "::/0"
	}
	if all {
		l.add(d, item, RuleDefaultDeny,
			fmt.Sprintf("%s denies everything: an explicit default-deny", sec.key),
			"delete it: the cluster-wide baselines already make all traffic implicitly denied, and a deny rule would also defeat the escape hatch")
		return
	}
	l.add(d, item, RuleDenyRule,
		fmt.Sprintf("%s is a deny rule: in Cilium deny beats allow, so `network-policy.homelab/enforcement: disabled` cannot lift it", sec.key),
		"remove the deny rule and rely on the implicit deny: allow only what is needed")
}

func cidrValues(set *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for _, c := range items(set) {
		if v := get(c, "cidr"); v != nil {
			out = append(out, v)
		}
	}
	return out
}

func (l *Linter) lintAllow(d *doc, sec section, item *yaml.Node) {
	endpoints, entities, cidr, cidrSet := sec.peerKeys()
	if isEmpty(item) {
		l.add(d, item, RuleDefaultDeny,
			fmt.Sprintf("`%s: [{}]` allows nothing and turns on default deny for %s: an explicit default-deny", sec.key, sec.key),
			"delete it where the baselines deny by default (spec.defaultDeny, true unless you changed it): they already make all traffic implicitly denied; with additive baselines it is what makes this namespace default-deny, so keep it there")
		return
	}
	if d.kind == ciliumv2.CCNPKindDefinition {
		for _, sel := range items(get(item, endpoints)) {
			if isEmptySelector(sel) {
				l.add(d, sel, RuleClusterwideEmptyPeer,
					fmt.Sprintf("%s: {} in a clusterwide policy means every pod of every namespace (Cilium adds only `io.kubernetes.pod.namespace` Exists), not the same namespace", endpoints),
					"name the namespace (matchLabels: {io.kubernetes.pod.namespace: <ns>}), or move the rule into a namespaced CiliumNetworkPolicy where {} means the policy's namespace")
			}
		}
	}
	l.lintCIDRs(d, sec, append(items(get(item, cidr)), cidrValues(get(item, cidrSet))...))
	l.lintPorts(d, sec, item, entities, cidr, cidrSet)
}

func (l *Linter) lintCIDRs(d *doc, sec section, cidrs []*yaml.Node) {
	for _, c := range cidrs {
		p, err := netip.ParsePrefix(c.Value)
		if err != nil {
			if a, aerr := netip.ParseAddr(c.Value); aerr == nil {
				p = netip.PrefixFrom(a, a.BitLen())
			} else {
				continue // Cilium's validation reports it
			}
		}
		p = p.Masked()
		switch {
		case within(p, linkLocal), within(p, l.opts.ExternalCIDRs):
			continue
		case p.Bits() == 0:
			l.add(d, c, RuleHardcodedIP, fmt.Sprintf("%s %s is the whole internet as a CIDR", sec.key, c.Value),
				"use toEntities: [world] (and explicit ports)")
		case within(p, private):
			l.add(d, c, RuleHardcodedIP,
				fmt.Sprintf("%s names %s, a private address range: a hard-coded pod, service or node IP", sec.key, c.Value),
				"Cilium matches CIDR rules only outside the cluster: select pods with endpoints (io.kubernetes.pod.namespace plus labels), nodes with the host/remote-node entities, the API server with kube-apiserver; for a range outside the cluster pass --external-cidr")
		default:
			l.add(d, c, RuleHardcodedIP,
				fmt.Sprintf("%s names the hard-coded address range %s", sec.key, c.Value),
				"use toFQDNs for external services, or declare the range as external with --external-cidr if it is stable")
		}
	}
}

// lintPorts flags allow rules that open every port, except health-probe ingress: kubelet probes hit any
// container port.
func (l *Linter) lintPorts(d *doc, sec section, item *yaml.Node, entities, cidr, cidrSet string) {
	if get(item, "icmps") != nil {
		return
	}
	ports := items(get(item, "toPorts"))
	anyPort := len(ports) == 0
	for _, pr := range ports {
		list := items(get(pr, "ports"))
		anyPort = anyPort || len(list) == 0
		for _, p := range list {
			if v := str(p, "port"); v == "" || v == "0" {
				anyPort = true
			}
		}
	}
	if !anyPort {
		return
	}
	if sec.ingress && isProbeSource(item, entities, cidr, cidrSet) {
		return
	}
	l.add(d, item, RuleMissingPorts,
		fmt.Sprintf("this %s rule has no explicit ports, so it allows every port", sec.key),
		`add toPorts: [{ports: [{port: "<port>", protocol: TCP}]}] with exactly the ports the traffic uses`)
}

func isProbeSource(item *yaml.Node, entities, cidr, cidrSet string) bool {
	onlyProbes := true
	peers := 0
	for _, k := range peerFields {
		if get(item, k) == nil {
			continue
		}
		peers++
		switch k {
		case entities:
			for _, e := range items(get(item, k)) {
				onlyProbes = onlyProbes && slices.Contains(probeEntities, e.Value)
			}
		case cidr, cidrSet:
			nodes := items(get(item, k))
			if k == cidrSet {
				nodes = cidrValues(get(item, k))
			}
			for _, c := range nodes {
				p, err := netip.ParsePrefix(c.Value)
				onlyProbes = onlyProbes && err == nil && within(p.Masked(), linkLocal)
			}
		default:
			onlyProbes = false
		}
	}
	return peers > 0 && onlyProbes
}

// platformFindings checks that the policies of each platform namespace, together, carry the rules the seed
// requires of every platform CNP.
func (l *Linter) platformFindings() []Finding {
	byNS := map[string][]*doc{}
	for _, d := range l.policies {
		if d.kind == ciliumv2.CNPKindDefinition && slices.Contains(l.opts.PlatformNamespaces, d.namespace) {
			byNS[d.namespace] = append(byNS[d.namespace], d)
		}
	}
	var out []Finding
	for _, ns := range slices.Sorted(maps.Keys(byNS)) {
		docs := byNS[ns]
		var rules api.Rules
		for _, d := range docs {
			if d.rules == nil {
				// Cilium rejects it; that finding says enough, and its rules would not be enforced anyway.
				continue
			}
			rules = append(rules, d.rules...)
		}
		first := docs[0]
		at := func(rule, msg, hint string) {
			out = append(out, Finding{File: first.file, Line: line(get(first.root, "metadata"), first.root), Rule: rule,
				Object: first.object(), Message: msg, Hint: hint})
		}
		// The DNS baseline gives every pod egress to kube-dns, but the baselines also select kube-dns itself, so
		// without this ingress every lookup in the cluster is dropped at the server.
		if ns == kubeSystem && !(allows(rules, true, kubeDNS, anyPod, 53, "UDP") && allows(rules, true, kubeDNS, anyPod, 53, "TCP")) {
			at(RulePlatformDNSIngress,
				"no policy in kube-system lets the cluster's pods reach kube-dns (k8s-app=kube-dns) on 53/UDP and 53/TCP: with the baselines on, every DNS lookup would be dropped",
				`add a policy with endpointSelector: {matchLabels: {k8s-app: kube-dns}} and ingress: [{fromEntities: [cluster], toPorts: [{ports: [{port: "53", protocol: UDP}, {port: "53", protocol: TCP}]}]}]`)
		}
		if !allowsIngressFrom(rules, prometheus) {
			at(RulePlatformPrometheus,
				fmt.Sprintf("no policy in platform namespace %s lets Prometheus (monitoring, app.kubernetes.io/name=prometheus) scrape it", ns),
				`add an ingress rule: fromEndpoints: [{matchLabels: {io.kubernetes.pod.namespace: monitoring, app.kubernetes.io/name: prometheus}}] with toPorts on the metrics port`)
		}
		if l.ambient[ns] {
			in, out := allows(rules, true, nil, ztunnel, 15008, "TCP"), allows(rules, false, nil, ztunnel, 15008, "TCP")
			if !in || !out {
				missing := []string{}
				if !in {
					missing = append(missing, "ingress from")
				}
				if !out {
					missing = append(missing, "egress to")
				}
				at(RulePlatformHBONE,
					fmt.Sprintf("namespace %s is in the ambient mesh but its policies allow no HBONE (TCP 15008) %s ztunnel", ns, strings.Join(missing, " or ")),
					`add fromEndpoints and toEndpoints [{matchLabels: {io.kubernetes.pod.namespace: istio-system, app: ztunnel}}] with toPorts: [{ports: [{port: "15008", protocol: TCP}]}]`)
			}
		}
	}
	return out
}

const kubeSystem = "kube-system"

// podIdentity is the identity of a pod as the agent labels it (only what the rules below look at).
func podIdentity(namespace string, podLabels map[string]string) labels.LabelArray {
	la := labels.LabelArray{
		labels.NewLabel(ciliumio.PodNamespaceLabel, namespace, labels.LabelSourceK8s),
		labels.NewLabel(ciliumio.PodNamespaceMetaNameLabel, namespace, labels.LabelSourceK8s),
		labels.NewLabel(ciliumio.PolicyLabelCluster, "default", labels.LabelSourceK8s),
	}
	for k, v := range podLabels {
		la = append(la, labels.NewLabel(k, v, labels.LabelSourceK8s))
	}
	return la.Sort()
}

var (
	prometheus = podIdentity("monitoring", map[string]string{"app.kubernetes.io/name": "prometheus"})
	ztunnel    = podIdentity("istio-system", map[string]string{"app": "ztunnel"})
	// kubeDNS is the DNS baseline's target.
	kubeDNS = podIdentity(kubeSystem, map[string]string{"k8s-app": "kube-dns"})
	// anyPod stands for an application pod of the cluster.
	anyPod = podIdentity("netprofile-lint-any-app", map[string]string{"app": "any"})
)

// allowsIngressFrom reports whether some ingress rule's peers select the identity, on any port, with
// Cilium's own selector matching on the parsed (namespace-scoped) selectors.
func allowsIngressFrom(rules api.Rules, id labels.LabelArray) bool {
	return allows(rules, true, nil, id, 0, "")
}

// allows reports whether some allow rule of the direction, in a policy that selects subject (nil: any
// endpoint), selects the peer and opens the port for the protocol (port 0: any port at all).
func allows(rules api.Rules, ingress bool, subject, peer labels.LabelArray, port int, protocol string) bool {
	for _, r := range rules {
		if subject != nil && !policytypes.NewLabelSelector(r.EndpointSelector).Matches(subject) {
			continue
		}
		type peerPorts struct {
			sels  []api.EndpointSelector
			ports api.PortRules
		}
		var candidates []peerPorts
		if ingress {
			for _, in := range r.Ingress {
				candidates = append(candidates, peerPorts{append(slices.Clone(in.FromEndpoints), in.FromEntities.GetAsEndpointSelectors()...), in.ToPorts})
			}
		} else {
			for _, out := range r.Egress {
				candidates = append(candidates, peerPorts{append(slices.Clone(out.ToEndpoints), out.ToEntities.GetAsEndpointSelectors()...), out.ToPorts})
			}
		}
		for _, c := range candidates {
			if slices.ContainsFunc(c.sels, func(s api.EndpointSelector) bool { return policytypes.NewLabelSelector(s).Matches(peer) }) &&
				opensPort(c.ports, port, protocol) {
				return true
			}
		}
	}
	return false
}

func opensPort(prs api.PortRules, port int, protocol string) bool {
	if len(prs) == 0 || port == 0 {
		return true
	}
	want := fmt.Sprint(port)
	for _, pr := range prs {
		for _, p := range pr.Ports {
			proto := strings.ToUpper(string(p.Protocol))
			if (p.Port == want || p.Port == "0") && (proto == protocol || proto == "ANY" || proto == "") {
				return true
			}
		}
	}
	return false
}
