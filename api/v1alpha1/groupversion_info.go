// Package v1alpha1 holds the netprofile API: the catalogue that Namespace labels refer to (NetworkProfile,
// SharedResource) and the cluster-wide Baselines. The types carry no logic; rendering lives in pkg/policy.
//
// +kubebuilder:object:generate=true
// +groupName=network-policy.homelab
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of the netprofile API.
	GroupVersion = schema.GroupVersion{Group: "network-policy.homelab", Version: "v1alpha1"}

	// SchemeBuilder registers the netprofile types with a runtime.Scheme. It is apimachinery's, not
	// controller-runtime's (deprecated there): an API package should import as little as possible.
	SchemeBuilder = runtime.NewSchemeBuilder(func(s *runtime.Scheme) error {
		metav1.AddToGroupVersion(s, GroupVersion)
		return nil
	})

	// AddToScheme adds the netprofile types to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

// register adds types of this group version to the scheme builder, as each kind's file does in init.
func register(objs ...runtime.Object) {
	SchemeBuilder.Register(func(s *runtime.Scheme) error {
		s.AddKnownTypes(GroupVersion, objs...)
		return nil
	})
}
