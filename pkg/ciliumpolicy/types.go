// Package ciliumpolicy is netprofile's object envelope for Cilium's two policy kinds, CiliumNetworkPolicy and
// CiliumClusterwideNetworkPolicy (cilium.io/v2): Cilium's own rule types (pkg/policy/api) inside metadata
// and a status, registered under Cilium's group, version and kinds. The wire format is Cilium's; tests check
// it, and Parse, against Cilium's own API package.
//
// Why not import Cilium's API package (pkg/k8s/apis/cilium.io/v2) directly: it defines every Cilium kind and
// drags in the agent's dependency graph (hive, statedb, eBPF, the load balancer, client-go metrics hooks),
// which costs the manager 30 MB of binary and some 20 MiB of resident memory for two struct definitions. The
// CLI, which needs Cilium's policy engine anyway, uses Cilium's package.
//
// +kubebuilder:object:generate=true
// +groupName=cilium.io
package ciliumpolicy

import (
	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Kinds, as Cilium names them.
const (
	CNPKindDefinition  = "CiliumNetworkPolicy"
	CCNPKindDefinition = "CiliumClusterwideNetworkPolicy"
)

// SchemeGroupVersion is cilium.io/v2.
var SchemeGroupVersion = schema.GroupVersion{Group: "cilium.io", Version: "v2"}

// PolicyConditionValid is the condition the Cilium agent sets when it could (True) or could not (False) import
// a policy. A policy that is not Valid is not enforced.
const PolicyConditionValid = "Valid"

// CiliumNetworkPolicy is a namespaced Cilium policy.
// +kubebuilder:object:root=true
type CiliumNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec   *api.Rule           `json:"spec,omitempty"`
	Specs  api.Rules           `json:"specs,omitempty"`
	Status NetworkPolicyStatus `json:"status,omitempty"`

	// CachedRulesHash is set only on the manager's cached copy, which keeps a hash of the rules instead of
	// the rules. It is never encoded, so nothing read from the API server can set it.
	CachedRulesHash string `json:"-"`
	// CachedParts, on the cached copy too, are the parts of a namespace policy its rules carry
	// (policy.Parts): what it was rendered from, once the rules are gone.
	CachedParts []string `json:"-"`
	// CachedAnnotationsHash is, likewise, the cached copy's hash of the annotations ("" for none).
	CachedAnnotationsHash string `json:"-"`
	// CachedValidWriters are, on the cached copy, the field managers that set the Valid condition
	// (ValidWriters), which the cache cannot tell once it dropped the managed fields themselves.
	CachedValidWriters []string `json:"-"`
}

// CiliumNetworkPolicyList is a list of CiliumNetworkPolicies.
// +kubebuilder:object:root=true
type CiliumNetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumNetworkPolicy `json:"items"`
}

// CiliumClusterwideNetworkPolicy is a cluster-scoped Cilium policy.
// +kubebuilder:object:root=true
type CiliumClusterwideNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`

	Spec   *api.Rule           `json:"spec,omitempty"`
	Specs  api.Rules           `json:"specs,omitempty"`
	Status NetworkPolicyStatus `json:"status,omitempty"`

	// CachedRulesHash is set only on the manager's cached copy, which keeps a hash of the rules instead of
	// the rules. It is never encoded, so nothing read from the API server can set it.
	CachedRulesHash string `json:"-"`
	// CachedAnnotationsHash is, likewise, the cached copy's hash of the annotations ("" for none).
	CachedAnnotationsHash string `json:"-"`
	// CachedValidWriters are, on the cached copy, the field managers that set the Valid condition
	// (ValidWriters), which the cache cannot tell once it dropped the managed fields themselves.
	CachedValidWriters []string `json:"-"`
}

// CiliumClusterwideNetworkPolicyList is a list of CiliumClusterwideNetworkPolicies.
// +kubebuilder:object:root=true
type CiliumClusterwideNetworkPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata"`
	Items           []CiliumClusterwideNetworkPolicy `json:"items"`
}

// NetworkPolicyStatus is the part of a policy's status netprofile reads: the agent's conditions. (Cilium's
// per-node derivativePolicies are left out.)
type NetworkPolicyStatus struct {
	Conditions []NetworkPolicyCondition `json:"conditions,omitempty"`
}

// NetworkPolicyCondition is a condition the Cilium agent writes on a policy.
type NetworkPolicyCondition struct {
	Type               string                 `json:"type"`
	Status             corev1.ConditionStatus `json:"status"`
	LastTransitionTime metav1.Time            `json:"lastTransitionTime,omitempty"`
	Reason             string                 `json:"reason,omitempty"`
	Message            string                 `json:"message,omitempty"`
}

// AddToScheme registers the four types under cilium.io/v2.
func AddToScheme(s *runtime.Scheme) error {
	s.AddKnownTypes(SchemeGroupVersion,
		&CiliumNetworkPolicy{}, &CiliumNetworkPolicyList{},
		&CiliumClusterwideNetworkPolicy{}, &CiliumClusterwideNetworkPolicyList{})
	metav1.AddToGroupVersion(s, SchemeGroupVersion)
	return nil
}
