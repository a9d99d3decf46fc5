package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// LabelContractKeys are the label and annotation keys of one label domain, spelled out so that admission
// policies and clients need not rebuild them.
type LabelContractKeys struct {
	// Profile is the Namespace label that selects a NetworkProfile.
	Profile string `json:"profile"`
	// AccessPrefix starts every access label; the rest of the key names a SharedResource.
	AccessPrefix string `json:"accessPrefix"`
	// Enforcement is the escape hatch label.
	Enforcement string `json:"enforcement"`
	// Since is the annotation where netprofile publishes when a bypass started. Only netprofile writes it.
	Since string `json:"since"`
	// Until is the annotation a user sets to end a bypass at a time (RFC 3339).
	Until string `json:"until"`
	// Platform is the Namespace label that marks a namespace as the platform's (value "true"): the catalogue
	// trusts a namespace by this mark, not by its name.
	// +optional
	Platform string `json:"platform,omitempty"`
}

// LabelContractEnforcement is what the escape hatch accepts.
type LabelContractEnforcement struct {
	// Values are the values of the enforcement label netprofile understands.
	// +listType=set
	Values []string `json:"values"`
	// WarningAfter and CriticalAfter are the alerting thresholds of an open bypass.
	WarningAfter  metav1.Duration `json:"warningAfter"`
	CriticalAfter metav1.Duration `json:"criticalAfter"`
	// MaxDisabled ends every bypass after this long; 0s never ends one.
	MaxDisabled metav1.Duration `json:"maxDisabled"`
	// UntilLatest is the latest until-annotation admission accepts: when it was published, now plus
	// MaxDisabled. CEL has no clock, so netprofile republishes it every MaxDisabled/24 (at least a minute, at
	// most an hour); between publications the bound only gets stricter. Absent when MaxDisabled is 0.
	// +optional
	UntilLatest *metav1.Time `json:"untilLatest,omitempty"`
}

// LabelContract is what netprofile accepts on Namespaces, published by the manager from its flags and the
// live catalogue, one object per label domain, named after it. The chart's admission policies read it as
// their parameter and `kubectl netprofile` defaults to it, so admission, the plugin and the operator judge
// labels by the same facts. Only the manager writes it; an edit is reverted within seconds.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,categories=netprofile
// +kubebuilder:printcolumn:name="Domain",type=string,JSONPath=`.labelDomain`
// +kubebuilder:printcolumn:name="Profiles",type=string,JSONPath=`.profiles`
// +kubebuilder:printcolumn:name="Resources",type=string,JSONPath=`.sharedResources`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type LabelContract struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// LabelDomain is the domain of the labels (--label-domain).
	LabelDomain string `json:"labelDomain"`
	// Keys are the label and annotation keys under LabelDomain.
	Keys LabelContractKeys `json:"keys"`
	// PlatformNamespaces refuse profiles and grants (--platform-namespaces).
	// +listType=set
	PlatformNamespaces []string `json:"platformNamespaces"`
	// CatalogueNamespaces are the namespaces the catalogue names (providers, and the peers of profiles and
	// baselines): netprofile trusts them only when they carry the platform label, and admission lets only
	// the platform create them.
	// +listType=set
	// +optional
	CatalogueNamespaces []string `json:"catalogueNamespaces,omitempty"`
	// ProtectedNamespaceLabels are Namespace label keys only the platform may write, protected at admission
	// (--protected-namespace-labels): with kubernetes.io/metadata.name, the labels a SharedResource's
	// spec.consumers may select on without a namespace's own users forging their way in.
	// +listType=set
	// +optional
	ProtectedNamespaceLabels []string `json:"protectedNamespaceLabels,omitempty"`
	// ClusterName is the Cilium cluster every pod peer of the rendered policies names (--cluster-name).
	// +optional
	ClusterName string `json:"clusterName,omitempty"`
	// Profiles are the NetworkProfiles a profile label may name: those that exist and are not being deleted.
	// +listType=set
	Profiles []string `json:"profiles"`
	// SharedResources are the SharedResources an access label may name.
	// +listType=set
	SharedResources []string `json:"sharedResources"`
	// Enforcement is what the escape hatch accepts.
	Enforcement LabelContractEnforcement `json:"enforcement"`
}

// LabelContractList is a list of LabelContracts.
// +kubebuilder:object:root=true
type LabelContractList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []LabelContract `json:"items"`
}

func init() {
	register(&LabelContract{}, &LabelContractList{})
}
