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

	// Consumers limits which Namespaces may be granted the resource, as Gateway API's ReferenceGrant does: the
	// provider's owner decides who gets in, not only the consumer's label. Absent means any Namespace with
	// the access label.
	// +optional
	Consumers *Consumers `json:"consumers,omitempty"`
}

// Consumers names the Namespaces a SharedResource may be granted to. A Namespace carrying the access label
// outside them is refused (its NetworkPolicyReady says why) and let in by neither half of the grant.
//
// The bounds keep the rendered provider policy small and the rules below cheap for the API server; the
// operators are the four Cilium can evaluate on namespace labels.
// +kubebuilder:validation:XValidation:rule="!has(self.namespaceSelector.matchLabels) || self.namespaceSelector.matchLabels.size() <= 16",message="namespaceSelector.matchLabels: at most 16 labels"
// +kubebuilder:validation:XValidation:rule="!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.size() <= 16",message="namespaceSelector.matchExpressions: at most 16 expressions"
// +kubebuilder:validation:XValidation:rule="!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="namespaceSelector.matchExpressions: operator must be In, NotIn, Exists or DoesNotExist"
// +kubebuilder:validation:XValidation:rule="!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, (e.operator in ['In', 'NotIn']) == (has(e.values) && e.values.size() > 0))",message="namespaceSelector.matchExpressions: In and NotIn need values, Exists and DoesNotExist take none"
// +kubebuilder:validation:XValidation:rule="!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, !has(e.values) || e.values.size() <= 64)",message="namespaceSelector.matchExpressions: at most 64 values in an expression"
type Consumers struct {
	// NamespaceSelector selects the consumer Namespaces by their labels (matchLabels and matchExpressions, as
	// everywhere in Kubernetes). An empty selector selects every Namespace.
	// +required
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`
}

// SharedResourceStatus is what netprofile observed about a shared resource.
type SharedResourceStatus struct {
	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready is True when both halves render to policies Cilium accepts and the provider half is
	// applied. A resource that is not Ready also carries Stalled=True (it needs a fix: the spec, a name clash,
	// a missing provider namespace) or Reconciling=True (netprofile is retrying), as kstatus expects.
	// With spec.consumers, ConsumersTrusted says whether its selector keys only on labels a namespace's own
	// users cannot write (kubernetes.io/metadata.name, labels protected at admission): False
	// (TenantWritableLabels) is a warning, not a refusal; the grants stand.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Consumers is how many Namespaces carry the access label and are admitted by spec.consumers (all of
	// them when spec.consumers is absent).
	// +optional
	Consumers int32 `json:"consumers"`

	// RefusedConsumerCount is how many Namespaces carry the access label but are outside spec.consumers.
	// +optional
	RefusedConsumerCount int32 `json:"refusedConsumerCount"`

	// RefusedConsumers names them, sorted; only the first 100 when there are more (RefusedConsumerCount has
	// the total), so the status stays small however many namespaces ask.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=atomic
	// +optional
	RefusedConsumers []string `json:"refusedConsumers,omitempty"`
}

// SharedResource is a service in a platform namespace (or a Cilium entity) that app namespaces are granted
// access to by label. netprofile generates both halves of a grant: egress from the consumer and ingress into
// the provider.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=sr,categories=netprofile
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Consumers",type=integer,JSONPath=`.status.consumers`
// +kubebuilder:printcolumn:name="Refused",type=integer,JSONPath=`.status.refusedConsumerCount`
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
	register(&SharedResource{}, &SharedResourceList{})
}
