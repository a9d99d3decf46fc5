package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
)

// Admission lists what the chart's label admission policy (templates/admission-labels.yaml) refuses when a
// request turns old's labels into ns's (old is nil on create), one message per label the request adds or
// changes, in the words of the condition the operator would set. Labels the request leaves as they were are
// not judged, so a namespace with an old bad label can still be edited otherwise. profiles and resources are
// the names a label may use (the published LabelContract's). The e2e suite holds the policy's CEL to this.
func (r Renderer) Admission(ns, old *corev1.Namespace, profiles, resources []string) []string {
	var oldLabels map[string]string
	if old != nil {
		oldLabels = old.Labels
	}
	changed := map[string]string{}
	for k, v := range ns.Labels {
		if was, ok := oldLabels[k]; (!ok || was != v) && r.Contract.Owns(k) {
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return nil
	}
	var msgs []string
	if v, ok := changed[r.Contract.EnforcementKey()]; ok && !slices.Contains(contract.EnforcementValues, v) {
		msgs = append(msgs, conditions.InvalidEnforcementMessage(r.Contract.EnforcementKey(), v))
	}
	delete(changed, r.Contract.EnforcementKey())
	// The platform mark is what a platform namespace carries; who may set it is admission-platform-namespaces'.
	if changed[r.Contract.PlatformKey()] == contract.PlatformMarked {
		delete(changed, r.Contract.PlatformKey())
	}
	if len(changed) > 0 && r.PlatformNamespaces[ns.Name] {
		return append(msgs, r.platformMessage(ns.Name))
	}
	_, problems := r.Contract.Parse(changed)
	for _, p := range problems {
		msgs = append(msgs, p.String())
		delete(changed, p.Key)
	}
	for _, k := range slices.Sorted(maps.Keys(changed)) {
		if k == r.Contract.ProfileKey() {
			if !slices.Contains(profiles, changed[k]) {
				msgs = append(msgs, r.profileNotFound(changed[k], profiles))
			}
		} else if name, ok := strings.CutPrefix(k, r.Contract.AccessPrefix()); ok && !slices.Contains(resources, name) {
			msgs = append(msgs, r.resourceNotFound(name, resources))
		}
	}
	return msgs
}

func (r Renderer) platformMessage(namespace string) string {
	return fmt.Sprintf("%s is a platform namespace: it keeps its hand-crafted policies, so profiles and access grants are refused here; remove the %s labels",
		namespace, r.Contract.Domain())
}

func (r Renderer) profileNotFound(name string, profiles []string) string {
	return fmt.Sprintf("NetworkProfile %q does not exist (label %s=%s); known profiles: %s", name, r.Contract.ProfileKey(), name, known(profiles))
}

func (r Renderer) resourceNotFound(name string, resources []string) string {
	return fmt.Sprintf("SharedResource %q does not exist (label %s); known resources: %s", name, r.Contract.AccessKey(name), known(resources))
}
