package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BaselineSpec is a cluster-wide rule set rendered into one CiliumClusterwideNetworkPolicy that selects every
// endpoint (or every endpoint in the namespaces namespaceSelector picks). By default, selecting all endpoints
// is what turns on Cilium's default deny, so the Baselines are the floor every namespace stands on; with
// defaultDeny: false a baseline only adds its allowances, and default deny comes from each namespace's own
// netprofile-namespace policy.
// +kubebuilder:validation:XValidation:rule="!has(self.ingress) || self.ingress.all(r, !has(r.fqdns) && !has(r.dns))",message="fqdns and dns rules are egress only"
// +kubebuilder:validation:XValidation:rule="!has(self.ingress) || self.ingress.all(r, !(has(r.anyPort) && r.anyPort) || has(r.endpoints) || has(r.cidrs) || (has(r.entities) && !r.entities.exists(e, e == 'world' || e == 'cluster')))",message="anyPort is only allowed with endpoints, cidrs or entities other than world and cluster"
// +kubebuilder:validation:XValidation:rule="!has(self.egress) || self.egress.all(r, !(has(r.anyPort) && r.anyPort) || has(r.endpoints) || has(r.cidrs) || (has(r.entities) && !r.entities.exists(e, e == 'world' || e == 'cluster')))",message="anyPort is only allowed with endpoints, cidrs or entities other than world and cluster"
// +kubebuilder:validation:XValidation:rule="(has(self.ingress) && size(self.ingress) > 0) || (has(self.egress) && size(self.egress) > 0)",message="a baseline needs at least one ingress or egress rule"
type BaselineSpec struct {
	// Enabled switches the baseline on and off; off deletes its policy.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Description is copied into the generated policy.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Description string `json:"description,omitempty"`

	// DefaultDeny says whether the baseline's policy turns on Cilium's default deny for the endpoints it
	// selects (true, the default: every selected endpoint denies what no policy allows). False renders it with
	// `enableDefaultDeny: {ingress: false, egress: false}`: it only adds its allowances (DNS, probes, scrape,
	// HBONE), a namespace without netprofile labels keeps its traffic, and a namespace with a profile or a grant
	// is default-deny through its own netprofile-namespace policy. Requires Cilium's
	// enable-non-default-deny-policies (on by default); without it Cilium treats every policy as default-deny.
	// +kubebuilder:default=true
	// +optional
	DefaultDeny *bool `json:"defaultDeny,omitempty"`

	// NamespaceSelector limits the baseline to pods in namespaces with these labels (HBONE for ambient
	// namespaces, say); empty selects every endpoint in the cluster.
	// +kubebuilder:validation:MaxProperties=8
	// +optional
	NamespaceSelector map[string]string `json:"namespaceSelector,omitempty"`

	// Ingress lists who may connect to the selected endpoints.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Ingress []Rule `json:"ingress,omitempty"`

	// Egress lists what the selected endpoints may connect to.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Egress []Rule `json:"egress,omitempty"`
}

// BaselineStatus is what netprofile observed about a baseline.
type BaselineStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is True when the baseline's policy is applied (or deliberately disabled) and Cilium
	// has not marked it invalid. A baseline that is not Ready also carries Stalled=True (it needs a fix) or
	// Reconciling=True (netprofile is retrying), as kstatus expects.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Policy is the name of the generated CiliumClusterwideNetworkPolicy.
	// +optional
	Policy string `json:"policy,omitempty"`
}

// Baseline is one cluster-wide layer of allowed traffic (DNS, health probes, Prometheus scrape, HBONE) that
// netprofile renders into an operator-owned CiliumClusterwideNetworkPolicy, repairs and reports on.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=bl,categories=netprofile
// +kubebuilder:printcolumn:name="Enabled",type=boolean,JSONPath=`.spec.enabled`
// +kubebuilder:printcolumn:name="DefaultDeny",type=boolean,JSONPath=`.spec.defaultDeny`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.status.policy`
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 200",message="the name becomes part of a policy name: at most 200 characters"
type Baseline struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec BaselineSpec `json:"spec"`
	// +optional
	Status BaselineStatus `json:"status,omitempty"`
}

// BaselineList is a list of Baselines.
// +kubebuilder:object:root=true
type BaselineList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Baseline `json:"items"`
}

func init() {
	register(&Baseline{}, &BaselineList{})
}
