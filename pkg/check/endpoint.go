package check

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cilium/cilium/pkg/identity"
	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	"github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/u8proto"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/netprofile/netprofile/pkg/policy"
)

// ClusterName is the local cluster when Policies names none: Cilium's own default cluster-name.
const ClusterName = policy.DefaultClusterName

// Endpoint is one end of a flow: a pod (namespace and pod labels), a Cilium entity (world, host,
// kube-apiserver, ...), or an address outside the cluster (a CIDR).
type Endpoint struct {
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	Entity    string            `json:"entity,omitempty"`
	CIDR      string            `json:"cidr,omitempty"`
	// Entities are further reserved labels the identity of an entity or a CIDR carries, as the agent gives
	// them: the host's identity is also kube-apiserver when the API server runs on the node, and an address
	// outside the cluster that serves the API is kube-apiserver beside world.
	Entities []string `json:"entities,omitempty"`
	// Names are the DNS names a CIDR endpoint was looked up as (Hubble's destination_names). As the agent's
	// DNS proxy does, its identity gets the fqdn: label of every toFQDNs selector of the policy set that
	// matches one of them, so toFQDNs rules apply to it.
	Names []string `json:"names,omitempty"`
	// Cluster is the ClusterMesh cluster of a pod; empty is the local one (Policies.Cluster).
	Cluster string `json:"cluster,omitempty"`
}

// entities are the reserved identities an endpoint may name.
var entities = []string{"world", "host", "remote-node", "kube-apiserver", "health", "ingress", "init", "unmanaged"}

// ParseEndpoint reads "namespace", "namespace/key=value,key=value", an entity name ("world",
// "kube-apiserver", ...) or "cidr:203.0.113.7/32". A namespace named like an entity is written "host/".
func ParseEndpoint(s string) (Endpoint, error) {
	switch {
	case s == "":
		return Endpoint{}, fmt.Errorf("empty endpoint: use <namespace>[/key=value,...], an entity (%s) or cidr:<prefix>", strings.Join(entities, ", "))
	case strings.HasPrefix(s, "cidr:"):
		p, err := netip.ParsePrefix(strings.TrimPrefix(s, "cidr:"))
		if err != nil {
			return Endpoint{}, fmt.Errorf("endpoint %q: %w", s, err)
		}
		return Endpoint{CIDR: p.Masked().String()}, nil
	case slices.Contains(entities, s):
		return Endpoint{Entity: s}, nil
	}
	ns, rest, _ := strings.Cut(s, "/")
	if errs := validation.IsDNS1123Label(ns); len(errs) > 0 {
		return Endpoint{}, fmt.Errorf("endpoint %q: namespace %q: %s", s, ns, strings.Join(errs, "; "))
	}
	ep := Endpoint{Namespace: ns}
	if rest == "" {
		return ep, nil
	}
	ep.Labels = map[string]string{}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return Endpoint{}, fmt.Errorf("endpoint %q: pod label %q is not key=value", s, kv)
		}
		ep.Labels[k] = v
	}
	return ep, nil
}

func (e Endpoint) String() string {
	switch {
	case e.Entity != "":
		return strings.Join(append([]string{e.Entity}, e.Entities...), "+")
	case e.CIDR != "":
		s := "cidr:" + e.CIDR
		if len(e.Entities) > 0 {
			s += "+" + strings.Join(e.Entities, "+")
		}
		if len(e.Names) > 0 {
			s += " (" + strings.Join(e.Names, ", ") + ")"
		}
		return s
	case e.Cluster != "":
		return e.Cluster + ":" + Endpoint{Namespace: e.Namespace, Labels: e.Labels}.String()
	case len(e.Labels) == 0:
		return e.Namespace
	}
	kv := make([]string, 0, len(e.Labels))
	for _, k := range slices.Sorted(maps.Keys(e.Labels)) {
		kv = append(kv, k+"="+e.Labels[k])
	}
	return e.Namespace + "/" + strings.Join(kv, ",")
}

// IsPod reports whether the endpoint is a pod.
func (e Endpoint) IsPod() bool { return e.Namespace != "" }

// identityLabels are the labels the agent gives the endpoint's security identity: for a pod, its labels,
// its namespace, the namespace's labels (which is how namespace-label selectors match) and its cluster
// (local unless Cluster says another).
func (e Endpoint) identityLabels(namespaceLabels map[string]string, local string) (labels.Labels, error) {
	switch {
	case e.Entity != "":
		id := identity.LookupReservedIdentity(identity.GetReservedID(e.Entity))
		if id == nil {
			return nil, fmt.Errorf("unknown entity %q", e.Entity)
		}
		if len(e.Entities) == 0 {
			return id.Labels, nil
		}
		return e.withEntities(maps.Clone(id.Labels))
	case e.CIDR != "":
		prefix, err := netip.ParsePrefix(e.CIDR)
		if err != nil {
			return nil, fmt.Errorf("endpoint %q: %w", e, err)
		}
		return e.withEntities(labels.GetCIDRLabels(prefix))
	}
	l := labels.Labels{}
	add := func(k, v string) { l[k] = labels.NewLabel(k, v, labels.LabelSourceK8s) }
	// Defaults a pod label may override (--from ns/io.cilium.k8s.policy.serviceaccount=api).
	add(ciliumio.PolicyLabelServiceAccount, "default")
	cluster := local
	if e.Cluster != "" {
		cluster = e.Cluster
	}
	add(ciliumio.PolicyLabelCluster, cluster)
	for k, v := range e.Labels {
		add(k, v)
	}
	nsLabels := maps.Clone(namespaceLabels)
	if nsLabels == nil {
		nsLabels = map[string]string{}
	}
	// The API server sets this label on every namespace.
	nsLabels["kubernetes.io/metadata.name"] = e.Namespace
	for k, v := range nsLabels {
		add(ciliumio.PodNamespaceMetaLabelsPrefix+k, v)
	}
	add(ciliumio.PodNamespaceLabel, e.Namespace)
	return l, nil
}

// withEntities adds the reserved labels of Entities.
func (e Endpoint) withEntities(l labels.Labels) (labels.Labels, error) {
	for _, name := range e.Entities {
		if identity.GetReservedID(name) == identity.IdentityUnknown {
			return nil, fmt.Errorf("unknown entity %q", name)
		}
		l[name] = labels.NewLabel(name, "", labels.LabelSourceReserved)
	}
	return l, nil
}

// Port is a destination port and its L4 protocol.
type Port struct {
	Number   uint16 `json:"port"`
	Protocol string `json:"protocol"`
}

// ParsePort reads "443", "443/TCP" or "53/udp".
func ParsePort(s string) (Port, error) {
	num, proto, ok := strings.Cut(s, "/")
	if !ok {
		proto = "TCP"
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil || n == 0 {
		return Port{}, fmt.Errorf("port %q: want N/PROTO with N in 1-65535", s)
	}
	p := Port{Number: uint16(n), Protocol: strings.ToUpper(proto)}
	if _, err := p.proto(); err != nil {
		return Port{}, err
	}
	return p, nil
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Number, p.Protocol) }

func (p Port) proto() (u8proto.U8proto, error) {
	switch p.Protocol {
	case "TCP", "UDP", "SCTP":
		return u8proto.ParseProtocol(p.Protocol)
	}
	return 0, fmt.Errorf("protocol %q: use TCP, UDP or SCTP", p.Protocol)
}
