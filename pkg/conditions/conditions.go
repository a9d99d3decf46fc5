// Package conditions defines the conditions netprofile writes on Namespaces (types, reasons) and the pure
// logic of changing them: a write happens only when type, status, reason or message change, and the
// transition time moves only when the status does. The API server does not validate custom Namespace
// conditions (an empty type or status "Maybe" is stored), so every condition is validated here first.
package conditions

import (
	"fmt"
	"regexp"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types on a Namespace.
const (
	// Ready says whether the namespace's profile and grants are in effect.
	Ready corev1.NamespaceConditionType = "NetworkPolicyReady"
	// EnforcementDisabled says whether the escape hatch is open, and since when.
	EnforcementDisabled corev1.NamespaceConditionType = "NetworkPolicyEnforcementDisabled"
)

// Reasons of the Ready condition (refusal reasons come from pkg/policy).
const (
	ReasonPoliciesApplied = "PoliciesApplied"
	ReasonNoRulesNeeded   = "NoPolicyNeeded"
	ReasonNameClash       = "PolicyNameClash"
	ReasonApplyFailed     = "ApplyFailed"
	ReasonRejectedByAgent = "PolicyRejectedByCilium"
	ReasonBaselineFailing = "BaselineNotReady"
)

// Reasons of the EnforcementDisabled condition.
const (
	ReasonEnforcementDisabled         = "EnforcementDisabled"
	ReasonEnforcementDisabledWarning  = "EnforcementDisabledWarning"
	ReasonEnforcementDisabledCritical = "EnforcementDisabledCritical"
	ReasonDisableExpired              = "EnforcementDisableExpired"
	ReasonInvalidEnforcement          = "InvalidEnforcementValue"
)

// Find returns the condition of type t, or nil.
func Find(conds []corev1.NamespaceCondition, t corev1.NamespaceConditionType) *corev1.NamespaceCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// Desired returns the condition to write, keeping the existing transition time when the status did not
// change, and whether it differs from the existing one at all (false: do not write).
func Desired(existing []corev1.NamespaceCondition, c corev1.NamespaceCondition, now metav1.Time) (corev1.NamespaceCondition, bool) {
	old := Find(existing, c.Type)
	if old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
		return c, old.Reason != c.Reason || old.Message != c.Message
	}
	c.LastTransitionTime = now
	return c, true
}

var reasonRE = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// Validate checks what metav1.Condition's schema would check, since nothing checks Namespace conditions.
func Validate(c corev1.NamespaceCondition) error {
	switch {
	case c.Type != Ready && c.Type != EnforcementDisabled:
		return fmt.Errorf("condition type %q is not one of netprofile's", c.Type)
	case c.Status != corev1.ConditionTrue && c.Status != corev1.ConditionFalse && c.Status != corev1.ConditionUnknown:
		return fmt.Errorf("condition %s: status %q is not True, False or Unknown", c.Type, c.Status)
	case len(c.Reason) > 1024 || !reasonRE.MatchString(c.Reason):
		return fmt.Errorf("condition %s: reason %q is not CamelCase", c.Type, c.Reason)
	case len(c.Message) > 32768:
		return fmt.Errorf("condition %s: message is longer than 32768 bytes", c.Type)
	case c.LastTransitionTime.IsZero():
		return fmt.Errorf("condition %s: no transition time", c.Type)
	}
	return nil
}
