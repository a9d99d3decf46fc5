package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NetworkProfileSpec is what a Namespace labelled with the profile's name is allowed to send and receive,
// beyond the cluster-wide Baselines.
// +kubebuilder:validation:XValidation:rule="!has(self.ingress) || self.ingress.all(r, !has(r.fqdns) && !has(r.dns))",message="fqdns and dns rules are egress only"
// +kubebuilder:validation:XValidation:rule="!has(self.ingress) || self.ingress.all(r, !(has(r.anyPort) && r.anyPort) || has(r.endpoints))",message="anyPort is only allowed with an endpoints peer; list the ports for entities, cidrs and fqdns"
// +kubebuilder:validation:XValidation:rule="!has(self.egress) || self.egress.all(r, !(has(r.anyPort) && r.anyPort) || has(r.endpoints))",message="anyPort is only allowed with an endpoints peer; list the ports for entities, cidrs and fqdns"
type NetworkProfileSpec struct {
	// Description is shown to users choosing a profile.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Description string `json:"description,omitempty"`

	// AllowSameNamespace allows all traffic between pods of the namespace itself.
	// +kubebuilder:default=true
	// +optional
	AllowSameNamespace *bool `json:"allowSameNamespace,omitempty"`

	// Ingress lists who may connect to the namespace's pods.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Ingress []Rule `json:"ingress,omitempty"`

	// Egress lists what the namespace's pods may connect to.
	// +kubebuilder:validation:MaxItems=32
	// +listType=atomic
	// +optional
	Egress []Rule `json:"egress,omitempty"`

	// Ceiling says whether the profile is the most a namespace can have. Enforce (the default) adds a policy of
	// deny rules (netprofile-ceiling) for everything the profile, the namespace's grants and the Baselines do
	// not allow, so other policies in the namespace (a NetworkPolicy its own users write, say) can narrow
	// access but never widen it. Report only reports such policies on the Namespace's NetworkPolicyCeiling
	// condition: for adopting netprofile where namespaces already have policies of their own.
	// +kubebuilder:default=Enforce
	// +optional
	Ceiling CeilingMode `json:"ceiling,omitempty"`
}

// CeilingMode is whether a profile's ceiling is enforced in the datapath or only reported.
// +kubebuilder:validation:Enum=Enforce;Report
type CeilingMode string

// Ceiling modes.
const (
	CeilingEnforce CeilingMode = "Enforce"
	CeilingReport  CeilingMode = "Report"
)

// EnforcesCeiling reports whether the profile's ceiling is enforced: unset means Enforce, as the CRD defaults it.
func (s *NetworkProfileSpec) EnforcesCeiling() bool { return s.Ceiling != CeilingReport }

// NetworkProfileStatus is what netprofile observed about a profile.
type NetworkProfileStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is True when the profile renders to policies Cilium accepts. A profile that is not
	// Ready also carries Stalled=True (it needs a fix) or Reconciling=True (netprofile is retrying), as
	// kstatus expects.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Namespaces is how many Namespaces are labelled with this profile.
	// +optional
	Namespaces int32 `json:"namespaces"`
}

// NetworkProfile is a named set of network rules; a Namespace selects it with the label
// `network-policy.homelab/profile: <name>`.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=np,categories=netprofile
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Namespaces",type=integer,JSONPath=`.status.namespaces`
// +kubebuilder:printcolumn:name="Ceiling",type=string,JSONPath=`.spec.ceiling`
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="the name is a label value: at most 63 characters"
type NetworkProfile struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec NetworkProfileSpec `json:"spec"`
	// +optional
	Status NetworkProfileStatus `json:"status,omitempty"`
}

// NetworkProfileList is a list of NetworkProfiles.
// +kubebuilder:object:root=true
type NetworkProfileList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []NetworkProfile `json:"items"`
}

func init() {
	register(&NetworkProfile{}, &NetworkProfileList{})
}
