// Package status summarises, per namespace, what netprofile did and whether it is healthy: the profile and
// grants the labels ask for, the escape hatch, the conditions netprofile wrote and the policies it owns with
// Cilium's verdict on them. It is pure: the kubectl plugin fetches the objects and prints the rows.
package status

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Condition is a Namespace condition netprofile wrote.
type Condition struct {
	Status  corev1.ConditionStatus `json:"status"`
	Reason  string                 `json:"reason"`
	Message string                 `json:"message"`
	Since   time.Time              `json:"since"`
}

// Policy is a policy netprofile owns in the namespace, with Cilium's verdict.
type Policy struct {
	Name      string `json:"name"`
	Component string `json:"component"`
	// Valid is Cilium's Valid condition ("" before Cilium's operator reported, or when someone else wrote it:
	// Message then says so). An invalid policy is not enforced.
	Valid   string `json:"valid,omitempty"`
	Message string `json:"message,omitempty"`
	// ValidIgnored: the policy carries a Valid condition Cilium did not write; Message says who did.
	ValidIgnored bool `json:"validIgnored,omitempty"`
}

// Row is one namespace.
type Row struct {
	Namespace string   `json:"namespace"`
	Profile   string   `json:"profile,omitempty"`
	Grants    []string `json:"grants,omitempty"`
	// Enforcement is "enabled", "disabled", "audit", "expired" (disabled or audited past its end) or
	// "invalid" (a value netprofile does not understand, which keeps enforcement on).
	Enforcement   string     `json:"enforcement"`
	DisabledSince *time.Time `json:"disabledSince,omitempty"`
	Ready         *Condition `json:"ready,omitempty"`
	// EnforcementDisabled is the escape hatch condition, when netprofile wrote one.
	EnforcementDisabled *Condition `json:"enforcementDisabled,omitempty"`
	// AuditSince is when audit mode started, while it lasts.
	AuditSince *time.Time `json:"auditSince,omitempty"`
	// Audit is the audit mode condition, when netprofile wrote one.
	Audit *Condition `json:"audit,omitempty"`
	// Ceiling is the NetworkPolicyCeiling condition: whether other policies can reach past the labels.
	Ceiling  *Condition `json:"ceiling,omitempty"`
	Policies []Policy   `json:"policies"`
	// Others are the policies in the namespace netprofile did not generate ("NetworkPolicy allow-all"): what
	// Cilium adds to netprofile's, and the ceiling holds to the labels.
	Others []string `json:"others,omitempty"`
	// Problems say, in words, why the row is not OK.
	Problems []string `json:"problems,omitempty"`
	OK       bool     `json:"ok"`
}

// Summarize builds the row of a namespace from the namespace, the policies netprofile generated in it and
// the names of the others.
func Summarize(c contract.Contract, ns *corev1.Namespace, owned []ciliumv2.CiliumNetworkPolicy, others []string, now time.Time, t enforcement.Thresholds) Row {
	sel, labelProblems := c.Parse(ns.Labels)
	row := Row{Namespace: ns.Name, Profile: sel.Profile, Grants: sel.Grants, Policies: []Policy{}, Others: others}
	for _, p := range labelProblems {
		row.Problems = append(row.Problems, p.String())
	}

	st := enforcement.Evaluate(c, ns, now, t)
	switch {
	case st.Label == enforcement.Invalid && !st.Open:
		row.Enforcement = "invalid"
		row.Problems = append(row.Problems, conditions.InvalidEnforcementMessage(c.EnforcementKey(), st.Value)+"; enforcement stays on")
	case st.Auditing():
		row.Enforcement = "audit"
		since := st.Since.UTC()
		row.AuditSince = &since
	case st.Phase == enforcement.PhaseExpired:
		row.Enforcement = "expired"
	case st.Label == enforcement.Invalid:
		row.Enforcement = "disabled"
		row.Problems = append(row.Problems, conditions.InvalidEnforcementMessage(c.EnforcementKey(), st.Value)+"; the bypass stays open as it was")
	case st.Open:
		row.Enforcement = "disabled"
	default:
		row.Enforcement = "enabled"
	}
	if st.Open {
		since := st.Since.UTC()
		row.DisabledSince = &since
	}
	row.Ready = condition(ns, conditions.Ready)
	row.EnforcementDisabled = condition(ns, conditions.EnforcementDisabled)
	row.Audit = condition(ns, conditions.Audit)
	row.Ceiling = condition(ns, conditions.Ceiling)

	sorted := slices.Clone(owned)
	slices.SortFunc(sorted, func(a, b ciliumv2.CiliumNetworkPolicy) int { return cmp.Compare(a.Name, b.Name) })
	for _, p := range sorted {
		// The reserved name says which component wrote it; the component label is anyone's to edit.
		comp, _, _ := ownership.Reserved(p.Name, true)
		pol := Policy{Name: p.Name, Component: comp}
		for _, pc := range p.Status.Conditions {
			if pc.Type != ciliumv2.PolicyConditionValid {
				continue
			}
			if writers := cilium.ValidWriters(p.ManagedFields); !cilium.ValidTrusted(writers) {
				// Not Cilium's verdict: anyone who may write the policy's status could have set it.
				pol.Message = conditions.IgnoredValidMessage(ciliumv2.CNPKindDefinition, p.Namespace+"/"+p.Name, string(pc.Status), writers)
				pol.ValidIgnored = true
				continue
			}
			pol.Valid, pol.Message = string(pc.Status), pc.Message
		}
		if pol.Valid == string(corev1.ConditionFalse) {
			row.Problems = append(row.Problems, fmt.Sprintf("Cilium marked policy %s invalid, so it is not enforced: %s", p.Name, pol.Message))
		}
		row.Policies = append(row.Policies, pol)
	}

	switch {
	case row.Ready != nil && row.Ready.Status != corev1.ConditionTrue:
		row.Problems = append(row.Problems, fmt.Sprintf("%s=%s (%s): %s", conditions.Ready, row.Ready.Status, row.Ready.Reason, row.Ready.Message))
	case row.Ready == nil && (!sel.IsEmpty() || len(labelProblems) > 0):
		row.Problems = append(row.Problems, fmt.Sprintf("netprofile has not reported %s on this namespace yet: is the operator running?", conditions.Ready))
	}
	if e := row.EnforcementDisabled; e != nil && e.Reason == conditions.ReasonNameClash {
		row.Problems = append(row.Problems, fmt.Sprintf("%s (%s): %s", conditions.EnforcementDisabled, e.Reason, e.Message))
	}
	if a := row.Audit; a != nil && (a.Reason == conditions.ReasonNameClash || a.Reason == conditions.ReasonRejectedByAgent) {
		row.Problems = append(row.Problems, fmt.Sprintf("%s (%s): %s", conditions.Audit, a.Reason, a.Message))
	}
	if ce := row.Ceiling; ce != nil && ce.Status == corev1.ConditionFalse {
		row.Problems = append(row.Problems, fmt.Sprintf("%s (%s): %s", conditions.Ceiling, ce.Reason, ce.Message))
	}
	row.OK = len(row.Problems) == 0
	return row
}

func condition(ns *corev1.Namespace, t corev1.NamespaceConditionType) *Condition {
	c := conditions.Find(ns.Status.Conditions, t)
	if c == nil {
		return nil
	}
	return &Condition{Status: c.Status, Reason: c.Reason, Message: c.Message, Since: c.LastTransitionTime.UTC()}
}

// Relevant reports whether netprofile has anything to say about the namespace: it uses the label contract,
// carries netprofile's conditions or holds policies netprofile owns (a provider namespace, say).
func Relevant(c contract.Contract, ns *corev1.Namespace, owned int) bool {
	return c.Mentions(ns.Labels) || owned > 0 ||
		conditions.Find(ns.Status.Conditions, conditions.Ready) != nil ||
		conditions.Find(ns.Status.Conditions, conditions.EnforcementDisabled) != nil
}

// EnforcementText is the enforcement column: the state, and for an audited or disabled namespace since when, how long,
// and the alert phase netprofile reported (the EnforcementDisabled condition's reason).
func (r Row) EnforcementText(now time.Time) string {
	if r.AuditSince != nil {
		return fmt.Sprintf("%s since %s (%s)", r.Enforcement, r.AuditSince.Format(time.RFC3339), now.Sub(*r.AuditSince).Truncate(time.Second))
	}
	if r.DisabledSince == nil {
		return r.Enforcement
	}
	detail := now.Sub(*r.DisabledSince).Truncate(time.Second).String()
	if e := r.EnforcementDisabled; e != nil && e.Reason != conditions.ReasonEnforcementDisabled {
		detail += ", " + e.Reason
	}
	return fmt.Sprintf("%s since %s (%s)", r.Enforcement, r.DisabledSince.Format(time.RFC3339), detail)
}

// CeilingText is the ceiling column: the condition's reason, "-" without one.
func (r Row) CeilingText() string {
	if r.Ceiling == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", r.Ceiling.Status, r.Ceiling.Reason)
}

// OthersText is the column of the policies netprofile did not generate.
func (r Row) OthersText() string {
	if len(r.Others) == 0 {
		return "-"
	}
	return strings.Join(r.Others, ",")
}

// ReadyText is the ready column.
func (r Row) ReadyText() string {
	if r.Ready == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", r.Ready.Status, r.Ready.Reason)
}

// PoliciesText is the policies column; an invalid policy is marked, and so is one whose Valid condition
// Cilium did not write.
func (r Row) PoliciesText() string {
	if len(r.Policies) == 0 {
		return "-"
	}
	names := make([]string, 0, len(r.Policies))
	for _, p := range r.Policies {
		if p.Valid == string(corev1.ConditionFalse) {
			names = append(names, p.Name+" (INVALID)")
			continue
		}
		if p.ValidIgnored {
			names = append(names, p.Name+" (status not Cilium's, ignored)")
			continue
		}
		names = append(names, p.Name)
	}
	return strings.Join(names, ",")
}
