package diagnose

import (
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	flowpb "github.com/cilium/cilium/api/v1/flow"
	"github.com/cilium/cilium/pkg/identity"
	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"

	"github.com/netprofile/netprofile/api/v1alpha1"
)

// Peer is one end of a flow as Hubble describes it.
type Peer struct {
	Namespace string
	Pod       string
	// Labels are the pod's own labels; NSLabels its namespace's labels, which Cilium copies into the identity.
	Labels   map[string]string
	NSLabels map[string]string
	// Reserved are the reserved entities of the identity (world, host, kube-apiserver, ...).
	Reserved []string
	CIDR     bool
	IP       netip.Addr
	Names    []string
}

// NewPeer reads one end of a flow: the endpoint, its address and the DNS names Hubble saw it looked up as.
func NewPeer(ep *flowpb.Endpoint, ip string, names []string) Peer {
	p := Peer{Namespace: ep.GetNamespace(), Pod: ep.GetPodName(), Labels: map[string]string{}, NSLabels: map[string]string{}}
	p.IP, _ = netip.ParseAddr(ip)
	for _, n := range names {
		p.Names = append(p.Names, strings.TrimSuffix(n, "."))
	}
	for _, l := range ep.GetLabels() {
		source, kv, ok := strings.Cut(l, ":")
		if !ok {
			source, kv = "k8s", l
		}
		key, value, _ := strings.Cut(kv, "=")
		switch {
		case source == "reserved":
			p.Reserved = append(p.Reserved, key)
		case source == "cidr" || source == "fqdn":
			p.CIDR = true
		case strings.HasPrefix(key, ciliumio.PodNamespaceMetaLabelsPrefix):
			p.NSLabels[strings.TrimPrefix(key, ciliumio.PodNamespaceMetaLabelsPrefix)] = value
		case key == ciliumio.PodNamespaceLabel:
			if p.Namespace == "" {
				p.Namespace = value
			}
		default:
			p.Labels[key] = value
		}
	}
	// Some Hubble versions print the identity without labels for reserved identities.
	if id := identity.NumericIdentity(ep.GetIdentity()); len(p.Reserved) == 0 && id.IsReservedIdentity() {
		p.Reserved = append(p.Reserved, strings.TrimPrefix(id.String(), "reserved:"))
	}
	return p
}

// Ends are the source and destination of a flow.
func Ends(f *flowpb.Flow) (src, dst Peer) {
	return NewPeer(f.GetSource(), f.GetIP().GetSource(), f.GetSourceNames()),
		NewPeer(f.GetDestination(), f.GetIP().GetDestination(), f.GetDestinationNames())
}

// IsPod reports whether the peer is a pod.
func (p Peer) IsPod() bool { return p.Namespace != "" }

func (p Peer) has(reserved string) bool { return slices.Contains(p.Reserved, reserved) }

// IsWorld reports whether the peer is outside the cluster: the world identities and every CIDR or FQDN
// identity (Cilium's `world` entity matches those too).
func (p Peer) IsWorld() bool {
	return p.has("world") || p.has("world-ipv4") || p.has("world-ipv6") || (p.CIDR && !p.IsPod())
}

// Name says who the peer is, at the granularity drops are grouped by: a namespace, an entity, or world.
func (p Peer) Name() string {
	switch {
	case p.IsPod():
		return p.Namespace
	case p.IsWorld():
		return "world"
	case len(p.Reserved) > 0:
		return p.Reserved[0]
	case p.IP.IsValid():
		return p.IP.String()
	}
	return "unknown"
}

// Detail is the pod, or the names or address of a world peer, for examples.
func (p Peer) Detail() string {
	switch {
	case p.IsPod() && p.Pod != "":
		return p.Namespace + "/" + p.Pod
	case len(p.Names) > 0:
		return p.Names[0]
	case p.IP.IsValid():
		return p.IP.String()
	}
	return p.Name()
}

// matches reports whether a catalogue rule's peer selects p.
func (p Peer) matches(r *v1alpha1.Rule) bool {
	switch {
	case r.Endpoints != nil:
		return p.Namespace == r.Endpoints.Namespace && subset(r.Endpoints.MatchLabels, p.Labels)
	case len(r.Entities) > 0:
		return slices.ContainsFunc(r.Entities, p.isEntity)
	case len(r.CIDRs) > 0:
		return p.IP.IsValid() && !p.IsPod() && slices.ContainsFunc(r.CIDRs, func(c string) bool {
			prefix, err := netip.ParsePrefix(c)
			return err == nil && prefix.Contains(p.IP)
		})
	case len(r.FQDNs) > 0:
		return slices.ContainsFunc(r.FQDNs, func(f v1alpha1.FQDN) bool {
			return slices.ContainsFunc(p.Names, func(n string) bool {
				if f.MatchName != "" {
					return strings.EqualFold(strings.TrimSuffix(f.MatchName, "."), n)
				}
				ok, _ := path.Match(strings.ToLower(f.MatchPattern), strings.ToLower(n))
				return ok
			})
		})
	}
	return false
}

func (p Peer) isEntity(e v1alpha1.Entity) bool {
	switch e {
	case v1alpha1.EntityWorld:
		return p.IsWorld()
	case v1alpha1.EntityCluster:
		return p.IsPod() || (len(p.Reserved) > 0 && !p.IsWorld())
	}
	return p.has(string(e))
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Port is a flow's destination port.
type Port struct {
	Number   uint32 `json:"port,omitempty"`
	Protocol string `json:"protocol"`
}

func (p Port) String() string {
	if p.Number == 0 {
		return p.Protocol
	}
	return fmt.Sprintf("%d/%s", p.Number, p.Protocol)
}

// PortOf is the flow's destination port.
func PortOf(f *flowpb.Flow) Port {
	l4 := f.GetL4()
	switch {
	case l4.GetTCP() != nil:
		return Port{Number: l4.GetTCP().GetDestinationPort(), Protocol: "TCP"}
	case l4.GetUDP() != nil:
		return Port{Number: l4.GetUDP().GetDestinationPort(), Protocol: "UDP"}
	case l4.GetSCTP() != nil:
		return Port{Number: l4.GetSCTP().GetDestinationPort(), Protocol: "SCTP"}
	case l4.GetICMPv4() != nil, l4.GetICMPv6() != nil:
		return Port{Protocol: "ICMP"}
	}
	return Port{Protocol: "unknown"}
}

// allows reports whether a catalogue rule's ports include the flow's port.
func allows(r *v1alpha1.Rule, port Port) bool {
	if r.AnyPort {
		return true
	}
	return slices.ContainsFunc(r.Ports, func(p v1alpha1.PortProtocol) bool { return portMatches(p, port) })
}

func portMatches(p v1alpha1.PortProtocol, port Port) bool {
	proto := string(p.Protocol)
	if proto == "" {
		proto = string(v1alpha1.ProtocolTCP)
	}
	return uint32(p.Port) == port.Number && (proto == port.Protocol || proto == string(v1alpha1.ProtocolANY))
}
