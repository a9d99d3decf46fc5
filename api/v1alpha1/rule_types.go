package v1alpha1

// Protocol is an L4 protocol, upper case as Cilium's CRD requires (it rejects `tcp`).
// +kubebuilder:validation:Enum=TCP;UDP;SCTP;ANY
type Protocol string

// The protocols a port may name.
const (
	ProtocolTCP  Protocol = "TCP"
	ProtocolUDP  Protocol = "UDP"
	ProtocolSCTP Protocol = "SCTP"
	ProtocolANY  Protocol = "ANY"
)

// PortProtocol is one destination port and its protocol.
type PortProtocol struct {
	// Port is the destination port number.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +required
	Port int32 `json:"port"`

	// Protocol is the L4 protocol.
	// +kubebuilder:default=TCP
	// +optional
	Protocol Protocol `json:"protocol,omitempty"`
}

// Entity is a Cilium entity. `all` is deliberately absent: allow-all is the escape hatch's job alone.
// +kubebuilder:validation:Enum=world;cluster;host;remote-node;kube-apiserver;health;ingress;init;unmanaged
type Entity string

// Entities netprofile's defaults use.
const (
	EntityWorld         Entity = "world"
	EntityCluster       Entity = "cluster"
	EntityHost          Entity = "host"
	EntityRemoteNode    Entity = "remote-node"
	EntityKubeAPIServer Entity = "kube-apiserver"
	EntityHealth        Entity = "health"
)

// EndpointsPeer selects pods in one namespace.
type EndpointsPeer struct {
	// Namespace the pods run in. Required, so a peer can never widen to "any namespace".
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`

	// MatchLabels selects pods in that namespace by label; empty selects every pod in it.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// FQDN matches DNS names. Exactly one of matchName and matchPattern is set. FQDN rules only match when DNS
// traffic goes through Cilium's DNS proxy, which the `dns` baseline enables.
// +kubebuilder:validation:XValidation:rule="has(self.matchName) != has(self.matchPattern)",message="set exactly one of matchName and matchPattern"
type FQDN struct {
	// MatchName is an exact DNS name.
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[-a-zA-Z0-9_.]+$`
	// +optional
	MatchName string `json:"matchName,omitempty"`

	// MatchPattern is a DNS name with `*` wildcards.
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[-a-zA-Z0-9_.*]+$`
	// +optional
	MatchPattern string `json:"matchPattern,omitempty"`
}

// DNSMatch is an L7 DNS rule: which names the DNS proxy lets through.
type DNSMatch struct {
	// MatchPattern is a DNS name with `*` wildcards; "*" allows every name and is what makes FQDN rules work.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=255
	// +kubebuilder:validation:Pattern=`^[-a-zA-Z0-9_.*]+$`
	// +required
	MatchPattern string `json:"matchPattern"`
}

// Rule allows traffic with one kind of peer on explicit ports. Exactly one of endpoints, entities, cidrs and
// fqdns is set. Ports are listed, unless anyPort is set where the enclosing object allows it.
// +kubebuilder:validation:XValidation:rule="(has(self.endpoints) ? 1 : 0) + (has(self.entities) ? 1 : 0) + (has(self.cidrs) ? 1 : 0) + (has(self.fqdns) ? 1 : 0) == 1",message="a rule names exactly one kind of peer: endpoints, entities, cidrs or fqdns"
// +kubebuilder:validation:XValidation:rule="has(self.ports) != (has(self.anyPort) && self.anyPort)",message="a rule lists its ports, or sets anyPort: true (not both)"
// +kubebuilder:validation:XValidation:rule="!has(self.dns) || has(self.ports)",message="dns rules need explicit ports"
type Rule struct {
	// Description says why the rule exists.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Description string `json:"description,omitempty"`

	// Endpoints selects pods in a named namespace.
	// +optional
	Endpoints *EndpointsPeer `json:"endpoints,omitempty"`

	// Entities are Cilium entities such as world or kube-apiserver.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=set
	// +optional
	Entities []Entity `json:"entities,omitempty"`

	// CIDRs are IP ranges. Cilium matches CIDRs only outside the cluster: use endpoints for pods and the
	// kube-apiserver entity for the API server.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self)",message="must be a CIDR such as 10.0.0.0/8"
	// +listType=set
	// +optional
	CIDRs []string `json:"cidrs,omitempty"`

	// FQDNs are DNS names (egress only).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	FQDNs []FQDN `json:"fqdns,omitempty"`

	// Ports are the destination ports this rule allows.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	Ports []PortProtocol `json:"ports,omitempty"`

	// AnyPort allows every port. Only allowed where the enclosing object says so: for a NetworkProfile only
	// with an endpoints peer (a gateway, say), never with world, CIDRs or FQDNs.
	// +optional
	AnyPort bool `json:"anyPort,omitempty"`

	// DNS adds an L7 DNS rule on these ports (egress only), which sends DNS through Cilium's DNS proxy.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	DNS []DNSMatch `json:"dns,omitempty"`
}
