package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Provider is where a shared resource runs: pods in a namespace, or a Cilium entity. Exactly one is set.
// +kubebuilder:validation:XValidation:rule="has(self.namespace) != has(self.entity)",message="set exactly one of namespace and entity"
// +kubebuilder:validation:XValidation:rule="!has(self.podSelector) || has(self.namespace)",message="podSelector needs namespace"
type Provider struct {
	// Namespace the provider's pods run in. netprofile generates the provider half (ingress from consumers)
	// there.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// PodSelector narrows the provider to pods with these labels; empty means every pod in the namespace.
	// +kubebuilder:validation:MaxProperties=16
	// +optional
	PodSelector map[string]string `json:"podSelector,omitempty"`

	// Entity is a Cilium entity, such as kube-apiserver, for providers outside the pod network.
	// +optional
	Entity Entity `json:"entity,omitempty"`
}

// SharedResourceSpec is a service several namespaces may use; a consumer Namespace opts in with the label
// `access.network-policy.homelab/<name>: "true"`.
type SharedResourceSpec struct {
	// Description is shown to users choosing grants.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Description string `json:"description,omitempty"`

	// Provider is where the resource runs.
	// +required
	Provider Provider `json:"provider"`

	// Ports consumers may reach. Always explicit.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +required
	Ports []PortProtocol `json:"ports"`
}

// SharedResourceStatus is what netprofile observed about a shared resource.
type SharedResourceStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is True when both halves render to policies Cilium accepts and the provider half is
	// applied.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Consumers is how many Namespaces carry the access label.
	// +optional
	Consumers int32 `json:"consumers"`
}

// SharedResource is a service in a platform namespace (or a Cilium entity) that app namespaces are granted
// access to by label. netprofile generates both halves of a grant: egress from the consumer and ingress into
// the provider.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sr,categories=netprofile
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Consumers",type=integer,JSONPath=`.status.consumers`
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.spec.provider.namespace`
// +kubebuilder:printcolumn:name="Entity",type=string,JSONPath=`.spec.provider.entity`
// +kubebuilder:printcolumn:name="Description",type=string,JSONPath=`.spec.description`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:validation:XValidation:rule="self.metadata.name.size() <= 63",message="the name is part of a label key: at most 63 characters"
type SharedResource struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec SharedResourceSpec `json:"spec"`
	// +optional
	Status SharedResourceStatus `json:"status,omitempty"`
}

// SharedResourceList is a list of SharedResources.
// +kubebuilder:object:root=true
type SharedResourceList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SharedResource `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SharedResource{}, &SharedResourceList{})
}
