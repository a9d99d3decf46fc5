// Package v1alpha1 holds the netprofile API: the catalogue that Namespace labels refer to (NetworkProfile,
// SharedResource) and the cluster-wide Baselines. The types carry no logic; rendering lives in pkg/policy.
//
// +kubebuilder:object:generate=true
// +groupName=network-policy.homelab
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the group and version of the netprofile API.
	GroupVersion = schema.GroupVersion{Group: "network-policy.homelab", Version: "v1alpha1"}

	// SchemeBuilder registers the netprofile types with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the netprofile types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
