package ciliumpolicy

import (
	"encoding/json"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The Valid condition is written by Cilium's operator (operator/pkg/networkpolicy in Cilium 1.15 to 1.20; the
// agent does not write it) with a plain UpdateStatus through client-go. The API server names the field manager
// of such a write after the client's user agent, "<binary>/<version>", so the manager is the binary's name:
// cilium-operator, or cilium-operator-<provider> (generic, aws, azure, alibabacloud), as Cilium's chart runs
// them. Anyone who may write a policy's status subresource can write the condition too, under any name they
// choose: the manager's name tells Cilium's write from kubectl's, a GitOps tool's or a script's, and RBAC on
// ciliumnetworkpolicies/status keeps the name honest.

// CiliumOperatorManager is the field manager of Cilium's operator as the default chart runs it.
const CiliumOperatorManager = "cilium-operator-generic"

// IsCiliumManager reports whether a field manager is one of Cilium's operator binaries.
func IsCiliumManager(manager string) bool {
	return manager == "cilium-operator" || strings.HasPrefix(manager, "cilium-operator-")
}

// ValidWriters returns, sorted, the field managers that own what the Valid condition says
// (status.conditions[type=Valid].status): who set it to its value. A manager owning the whole conditions list
// (a CRD that keeps it atomic) counts too. Entries whose fields cannot be read are skipped.
func ValidWriters(entries []metav1.ManagedFieldsEntry) []string {
	var out []string
	for _, e := range entries {
		if e.FieldsV1 == nil || !ownsValidStatus(e.FieldsV1.GetRawBytes()) || slices.Contains(out, e.Manager) {
			continue
		}
		out = append(out, e.Manager)
	}
	slices.Sort(out)
	return out
}

// ValidTrusted reports whether Cilium's operator set the Valid condition to what it says: one of its writers is
// Cilium's. A condition nobody is recorded as writing (managedFields reset) is not trusted either.
func ValidTrusted(writers []string) bool {
	return slices.ContainsFunc(writers, IsCiliumManager)
}

// ownsValidStatus reports whether managed fields (FieldsV1) own status.conditions[type=Valid].status, or the
// whole conditions list as one value ("f:conditions":{}, a list the CRD keeps atomic).
func ownsValidStatus(raw []byte) bool {
	// Every value in FieldsV1 is an object, so three levels always decode.
	var fields map[string]map[string]map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil {
		return false
	}
	conds, ok := fields["f:status"]["f:conditions"]
	if !ok {
		return false
	}
	if len(conds) == 0 {
		return true
	}
	for key, v := range conds {
		k, isItem := strings.CutPrefix(key, "k:")
		if !isItem {
			continue
		}
		var id struct {
			Type string `json:"type"`
		}
		if json.Unmarshal([]byte(k), &id) != nil || id.Type != PolicyConditionValid {
			continue
		}
		var item map[string]json.RawMessage
		if json.Unmarshal(v, &item) == nil {
			if _, ok := item["f:status"]; ok {
				return true
			}
		}
	}
	return false
}
