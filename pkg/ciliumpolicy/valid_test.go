package ciliumpolicy

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func entry(manager, subresource, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: subresource,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields)}
}

const (
	validItem  = `{"f:status":{"f:conditions":{".":{},"k:{\"type\":\"Valid\"}":{".":{},"f:lastTransitionTime":{},"f:message":{},"f:status":{},"f:type":{}}}}}`
	messageOf  = `{"f:status":{"f:conditions":{"k:{\"type\":\"Valid\"}":{"f:message":{}}}}}`
	otherItem  = `{"f:status":{"f:conditions":{"k:{\"type\":\"Other\"}":{"f:status":{}}}}}`
	wholeList  = `{"f:status":{"f:conditions":{}}}`
	listOnly   = `{"f:status":{"f:conditions":{".":{}}}}`
	specFields = `{"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:specs":{}}`
)

func TestValidWriters(t *testing.T) {
	tests := map[string]struct {
		entries []metav1.ManagedFieldsEntry
		want    []string
		trusted bool
	}{
		"Cilium's operator":  {[]metav1.ManagedFieldsEntry{entry("netprofile-namespace-policy", "", specFields), entry("cilium-operator-generic", "status", validItem)}, []string{"cilium-operator-generic"}, true},
		"another provider":   {[]metav1.ManagedFieldsEntry{entry("cilium-operator-aws", "status", validItem)}, []string{"cilium-operator-aws"}, true},
		"the plain binary":   {[]metav1.ManagedFieldsEntry{entry("cilium-operator", "status", validItem)}, []string{"cilium-operator"}, true},
		"kubectl patched it": {[]metav1.ManagedFieldsEntry{entry("cilium-operator-generic", "status", messageOf), entry("kubectl-patch", "status", validItem)}, []string{"kubectl-patch"}, false},
		"a look-alike name":  {[]metav1.ManagedFieldsEntry{entry("cilium-operatorx", "status", validItem)}, []string{"cilium-operatorx"}, false},
		"another condition":  {[]metav1.ManagedFieldsEntry{entry("cilium-operator-generic", "status", otherItem), entry("script", "status", validItem)}, []string{"script"}, false},
		"an atomic list":     {[]metav1.ManagedFieldsEntry{entry("cilium-operator-generic", "status", wholeList)}, []string{"cilium-operator-generic"}, true},
		"only the list":      {[]metav1.ManagedFieldsEntry{entry("cilium-operator-generic", "status", listOnly)}, nil, false},
		"nobody recorded":    {nil, nil, false},
		"unreadable fields":  {[]metav1.ManagedFieldsEntry{entry("cilium-operator-generic", "status", `not json`)}, nil, false},
		"co-owners, one Cilium": {[]metav1.ManagedFieldsEntry{entry("cilium-operator-generic", "status", validItem), entry("gitops", "status", validItem)},
			[]string{"cilium-operator-generic", "gitops"}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := ValidWriters(tc.entries)
			if !slices.Equal(got, tc.want) {
				t.Errorf("writers %v, want %v", got, tc.want)
			}
			if ValidTrusted(got) != tc.trusted {
				t.Errorf("trusted %v, want %v", !tc.trusted, tc.trusted)
			}
		})
	}
}
