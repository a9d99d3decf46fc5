package check

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	"github.com/cilium/cilium/pkg/policy/api"
	networkingv1 "k8s.io/api/networking/v1"

	"github.com/netprofile/netprofile/pkg/ownership"
)

// Beyond is what a namespace's own policies do to it, judged against what its labels give it.
type Beyond struct {
	// Opened are flows the policies open beyond the labels, with the ceiling as it stands: real widenings.
	Opened []Flow
	// Held are flows the policies would open but the namespace's ceiling denies: they only show once the
	// ceiling is off (spec.ceiling: Report), and are no widening while it holds.
	Held []Flow
}

// BeyondLabels judges, with Cilium's engine, the flows out of and into a pod of namespace that extra policies
// (its own users' CiliumNetworkPolicies and NetworkPolicies) allow and rendered (netprofile's policy set for
// the namespace, its ceiling included when the profile enforces one) does not. The probe flows reach every
// peer and port any of the policies name, and a few more.
func BeyondLabels(rendered Policies, extraCNPs []*ciliumv2.CiliumNetworkPolicy, extraKNPs []*networkingv1.NetworkPolicy, namespace string) (*Beyond, error) {
	all := rendered
	all.CNPs = append(slices.Clone(rendered.CNPs), extraCNPs...)
	all.KNPs = append(slices.Clone(rendered.KNPs), extraKNPs...)
	open := rendered
	open.CNPs = slices.DeleteFunc(slices.Clone(rendered.CNPs), func(p *ciliumv2.CiliumNetworkPolicy) bool {
		return p.Namespace == namespace && p.Name == ownership.CeilingPolicyName
	})
	unheld := all
	unheld.CNPs = append(slices.Clone(open.CNPs), extraCNPs...)

	flows, ingress := probeFlows(namespace, all, extraCNPs, extraKNPs)
	verdicts := make([][]bool, 0, 3)
	for _, p := range []Policies{rendered, all, unheld} {
		v, err := subjectSide(p, flows, ingress)
		if err != nil {
			return nil, err
		}
		verdicts = append(verdicts, v)
	}
	out := &Beyond{}
	for i, f := range flows {
		switch base, with, without := verdicts[0][i], verdicts[1][i], verdicts[2][i]; {
		case with && !base:
			out.Opened = append(out.Opened, f)
		case without && !base:
			out.Held = append(out.Held, f)
		}
	}
	return out, nil
}

// subjectSide judges each flow on the subject's side: its egress, or (ingress[i]) its ingress.
func subjectSide(p Policies, flows []Flow, ingress []bool) ([]bool, error) {
	e, err := New(p)
	if err != nil {
		return nil, err
	}
	res, err := e.CheckAll(flows)
	if err != nil {
		return nil, err
	}
	out := make([]bool, len(res))
	for i, r := range res {
		out[i] = r.Egress.Allowed
		if ingress[i] {
			out[i] = r.Ingress.Allowed
		}
	}
	return out, nil
}

// probeFlows are flows out of and into a pod of namespace, one with each set of pod labels the extra
// policies select, to and from every peer and on every port any policy names.
func probeFlows(namespace string, p Policies, extraCNPs []*ciliumv2.CiliumNetworkPolicy, extraKNPs []*networkingv1.NetworkPolicy) ([]Flow, []bool) {
	subjects := []map[string]string{{"netprofile.io/probe": "pod"}}
	for _, c := range extraCNPs {
		for _, r := range rulesOf(c.Spec, c.Specs) {
			if r.EndpointSelector.LabelSelector != nil && len(r.EndpointSelector.MatchLabels) > 0 {
				subjects = append(subjects, maps.Clone(r.EndpointSelector.MatchLabels))
			}
		}
	}
	for _, k := range extraKNPs {
		if len(k.Spec.PodSelector.MatchLabels) > 0 {
			subjects = append(subjects, maps.Clone(k.Spec.PodSelector.MatchLabels))
		}
	}
	peers := []Endpoint{{Namespace: namespace, Labels: map[string]string{"netprofile.io/probe": "peer"}},
		{Namespace: "netprofile-probe-elsewhere"}, {CIDR: "203.0.113.1/32"}}
	for _, e := range entities {
		peers = append(peers, Endpoint{Entity: e})
	}
	peers = append(peers, Endpoint{Entity: "host", Entities: []string{"kube-apiserver"}})
	ports := map[Port]bool{}
	for _, n := range []uint16{1, 22, 53, 80, 443, 8080, 65535} {
		ports[Port{Number: n, Protocol: "TCP"}] = true
	}
	ports[Port{Number: 53, Protocol: "UDP"}] = true
	addRules := func(rules api.Rules) {
		for _, r := range rules {
			for _, in := range r.Ingress {
				peers = append(peers, selectorPeers(in.FromEndpoints, in.FromCIDR, in.FromCIDRSet)...)
				addPorts(ports, in.ToPorts)
			}
			for _, out := range r.Egress {
				peers = append(peers, selectorPeers(out.ToEndpoints, out.ToCIDR, out.ToCIDRSet)...)
				addPorts(ports, out.ToPorts)
			}
		}
	}
	for _, c := range p.CNPs {
		addRules(rulesOf(c.Spec, c.Specs))
	}
	for _, c := range p.CCNPs {
		addRules(rulesOf(c.Spec, c.Specs))
	}
	for _, k := range p.KNPs {
		var knpPorts []networkingv1.NetworkPolicyPort
		for _, r := range k.Spec.Ingress {
			knpPorts = append(knpPorts, r.Ports...)
		}
		for _, r := range k.Spec.Egress {
			knpPorts = append(knpPorts, r.Ports...)
		}
		for _, port := range knpPorts {
			if port.Port != nil && port.Port.IntValue() > 0 && port.Port.IntValue() <= 65535 {
				proto := "TCP"
				if port.Protocol != nil {
					proto = string(*port.Protocol)
				}
				ports[Port{Number: uint16(port.Port.IntValue()), Protocol: proto}] = true
			}
		}
	}
	sortedPorts := slices.SortedFunc(maps.Keys(ports), func(a, b Port) int {
		return cmp.Or(strings.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Number, b.Number))
	})
	var flows []Flow
	var ingress []bool
	seen := map[string]bool{}
	for _, labels := range subjects {
		me := Endpoint{Namespace: namespace, Labels: labels}
		for _, peer := range peers {
			key := endpointKey(me) + "|" + endpointKey(peer)
			if seen[key] {
				continue
			}
			seen[key] = true
			for _, port := range sortedPorts {
				flows = append(flows, Flow{From: me, To: peer, Port: port}, Flow{From: peer, To: me, Port: port})
				ingress = append(ingress, false, true)
			}
		}
	}
	return flows, ingress
}

// selectorPeers are a pod for each selector that names its namespace, and the first address of each CIDR.
func selectorPeers(sels []api.EndpointSelector, cidrs api.CIDRSlice, sets api.CIDRRuleSlice) []Endpoint {
	var out []Endpoint
	for _, s := range sels {
		if s.LabelSelector == nil {
			continue
		}
		labels := maps.Clone(s.MatchLabels)
		ns := labels[ciliumio.PodNamespaceLabel]
		delete(labels, ciliumio.PodNamespaceLabel)
		if ns == "" || slices.ContainsFunc(slices.Collect(maps.Keys(labels)), func(k string) bool { return !validPodLabel(k) }) {
			continue
		}
		out = append(out, Endpoint{Namespace: ns, Labels: labels})
	}
	for _, c := range cidrs {
		out = append(out, cidrPeer(string(c))...)
	}
	for _, c := range sets {
		out = append(out, cidrPeer(string(c.Cidr))...)
	}
	return out
}

// validPodLabel leaves out selector keys that are not a pod's own labels: namespace labels, and keys with a
// source (reserved:, k8s:).
func validPodLabel(k string) bool {
	return k != "" && !strings.Contains(k, ":") && !strings.HasPrefix(k, ciliumio.PodNamespaceMetaLabelsPrefix)
}

func cidrPeer(c string) []Endpoint {
	p, err := netip.ParsePrefix(c)
	if err != nil {
		return nil
	}
	return []Endpoint{{CIDR: netip.PrefixFrom(p.Masked().Addr(), p.Addr().BitLen()).String()}}
}

func addPorts(ports map[Port]bool, rules api.PortRules) {
	for _, pr := range rules {
		for _, p := range pr.Ports {
			n, err := strconv.ParseUint(p.Port, 10, 16)
			if err != nil || n == 0 {
				continue
			}
			for _, proto := range []string{"TCP", "UDP", "SCTP"} {
				if string(p.Protocol) == proto || p.Protocol == api.ProtoAny || p.Protocol == "" && proto == "TCP" {
					ports[Port{Number: uint16(n), Protocol: proto}] = true
				}
			}
		}
	}
}

func rulesOf(spec *api.Rule, specs api.Rules) api.Rules {
	if spec == nil {
		return specs
	}
	return append(api.Rules{spec}, specs...)
}

// String says what a flow is, for messages.
func (f Flow) String() string { return fmt.Sprintf("%s -> %s on %s", f.From, f.To, f.Port) }
