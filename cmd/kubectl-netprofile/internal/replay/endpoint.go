package replay

import (
	"errors"
	"maps"
	"net/netip"
	"slices"

	"github.com/cilium/cilium/pkg/identity"
	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/diagnose"
	"github.com/netprofile/netprofile/pkg/check"
)

// errUnknownIdentity: Hubble could not say who the peer is (no labels, identity 0 or unknown).
var errUnknownIdentity = errors.New("unknown identity")

// Endpoint maps one end of a Hubble flow, as cmd/kubectl-netprofile/internal/diagnose reads it, to the endpoint Cilium's engine needs to
// give it the identity the agent gave it:
//
//   - a pod: its namespace, pod labels and cluster (the namespace's labels come from the judged policy set,
//     or from the flow for a namespace the set does not know). A pod of another cluster of a mesh is judged
//     as one: the judged set's peers name the local cluster (check.Policies.Cluster).
//   - a reserved identity: the entity (host, remote-node, kube-apiserver, health, ingress, ...). The host
//     that runs the API server carries kube-apiserver too; a remote node that does is the kube-apiserver
//     identity (whose labels are kube-apiserver and remote-node).
//   - world, and every CIDR or FQDN identity: the address as a /32 (/128), since the judged set, not the
//     observed one, decides which CIDR and FQDN selectors it falls under; with the DNS names Hubble saw it
//     looked up as, so toFQDNs selectors of the judged set match it, and kube-apiserver when the address
//     serves the API. Without an address, the world entity.
func Endpoint(p diagnose.Peer) (check.Endpoint, error) {
	if p.IsPod() {
		labels := maps.Clone(p.Labels)
		cluster := labels[ciliumio.PolicyLabelCluster]
		delete(labels, ciliumio.PolicyLabelCluster)
		return check.Endpoint{Namespace: p.Namespace, Labels: labels, Cluster: cluster}, nil
	}
	has := func(r string) bool { return slices.Contains(p.Reserved, r) }
	api := has("kube-apiserver")
	switch {
	case p.IsWorld():
		if !p.IP.IsValid() {
			world := "world"
			for _, r := range []string{"world-ipv4", "world-ipv6"} {
				if has(r) {
					world = r
				}
			}
			return check.Endpoint{Entity: world}, nil
		}
		ep := check.Endpoint{CIDR: netip.PrefixFrom(p.IP.Unmap(), p.IP.Unmap().BitLen()).String(), Names: slices.Clone(p.Names)}
		if api {
			ep.Entities = []string{"kube-apiserver"}
		}
		return ep, nil
	case has("host"):
		ep := check.Endpoint{Entity: "host"}
		if api {
			ep.Entities = []string{"kube-apiserver"}
		}
		return ep, nil
	case api:
		// Cilium's kube-apiserver identity is the API server on a remote node: kube-apiserver and remote-node.
		return check.Endpoint{Entity: "kube-apiserver"}, nil
	case len(p.Reserved) > 0 && identity.GetReservedID(p.Reserved[0]) != identity.IdentityUnknown:
		return check.Endpoint{Entity: p.Reserved[0]}, nil
	}
	return check.Endpoint{}, errUnknownIdentity
}
