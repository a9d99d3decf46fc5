// Package enforcement is the single definition of the escape hatch: whether a Namespace has network policy
// enforcement disabled, since when, until when, which alerting phase it is in, and the condition that says
// so. The enforcement reconciler, the metrics collector and the kubectl plugin all decide through Evaluate.
package enforcement

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Label is what the enforcement label says.
type Label int

// Values of the enforcement label.
const (
	// Absent: enforcement is on.
	Absent Label = iota
	// Disabled: the label is exactly "disabled".
	Disabled
	// Invalid: any other value; enforcement stays on and the value is reported.
	Invalid
	// Audit: the label is exactly "audit": the namespace's policies stay in place and an allow-all beside them
	// forwards what they would drop. Planned, not an escape hatch: no alerts, no maximum duration.
	Audit
)

// Phase is how long enforcement has been off, in alerting terms.
type Phase int

// Phases of a disabled namespace.
const (
	PhaseNone Phase = iota
	// PhaseDisabled: off, younger than the warning threshold.
	PhaseDisabled
	// PhaseWarning: off longer than the warning threshold (NetworkPolicyEnforcementDisabled fires).
	PhaseWarning
	// PhaseCritical: off longer than the critical threshold (NetworkPolicyEnforcementDisabledLong fires).
	PhaseCritical
	// PhaseExpired: the bypass reached its end (until annotation or maximum duration); enforcement is back on
	// although the label is still there.
	PhaseExpired
)

// Thresholds configure the phases; they match the alert thresholds of the PrometheusRule.
type Thresholds struct {
	WarningAfter  time.Duration
	CriticalAfter time.Duration
	// MaxDisabled ends every bypass after this long; 0 means no limit.
	MaxDisabled time.Duration
}

// DefaultThresholds are the seed's: warning after 5 minutes, critical after 24 hours, no expiry.
var DefaultThresholds = Thresholds{WarningAfter: 5 * time.Minute, CriticalAfter: 24 * time.Hour}

// State is the escape hatch state of a Namespace at a moment.
type State struct {
	Label Label
	// Value is the label's value (for messages about invalid values).
	Value string
	// Open: a bypass is in force (the allow-all must stand). A bypass that netprofile recorded stays open
	// under an invalid label value: bad input never removes working access, and the alerts keep running.
	Open bool
	// Since is when netprofile first saw the bypass: its own record (Recorded), or now for a bypass seen for
	// the first time. Never later than now. Zero when no bypass is open or expired.
	Since time.Time
	// Recorded: Since comes from netprofile's record on the Namespace's condition, not from this moment.
	Recorded bool
	// Annotation is the since-annotation's value as found; the controller rewrites it when it differs from
	// Since (it is a published copy of the record, never read as a fact).
	Annotation string
	// Until is when the bypass ends; zero for no end.
	Until time.Time
	Phase Phase
	// Next is when the phase changes next; zero when it never does by itself.
	Next time.Time
	// Problems are annotations netprofile could not read; they never open anything.
	Problems []string
}

// Bypassed reports whether traffic should be allowed wholesale right now, by the escape hatch.
func (s State) Bypassed() bool {
	return s.Open && s.Phase != PhaseExpired
}

// Auditing reports whether the namespace is in audit mode right now.
func (s State) Auditing() bool {
	return s.Label == Audit && s.Phase != PhaseExpired
}

// LiftsCeiling reports whether the namespace's ceiling must be lifted right now: its deny rules would beat the
// allow-all of the escape hatch or of audit mode, which must mean "nothing dropped".
func (s State) LiftsCeiling() bool {
	return s.Bypassed() || s.Auditing()
}

// StampWanted reports whether the since-annotation must be (re)written to Since.
func (s State) StampWanted() bool {
	return !s.Since.IsZero() && s.Annotation != Format(s.Since)
}

// Format is how times are written in annotations and messages.
func Format(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Record returns netprofile's own record of when it first saw the bypass of ns: the transition time of the
// EnforcementDisabled condition while that condition describes a bypass (open, kept open under an invalid
// value, or expired). The condition lives in the Namespace's status, which whoever may label a namespace
// usually may not write, and netprofile writes its transition time as the start of the bypass.
func Record(ns *corev1.Namespace) (time.Time, bool) {
	c := conditions.Find(ns.Status.Conditions, conditions.EnforcementDisabled)
	if c == nil || c.LastTransitionTime.IsZero() {
		return time.Time{}, false
	}
	if c.Status == corev1.ConditionTrue || c.Status == corev1.ConditionFalse && c.Reason == conditions.ReasonDisableExpired {
		return c.LastTransitionTime.Time, true
	}
	return time.Time{}, false
}

// Evaluate decides the escape hatch state of ns at now. The since-annotation is never read as a fact: a
// value set by hand, later or earlier, neither extends a bypass nor silences its alerts.
func Evaluate(c contract.Contract, ns *corev1.Namespace, now time.Time, t Thresholds) State {
	value, ok := ns.Labels[c.EnforcementKey()]
	st := State{Value: value, Annotation: ns.Annotations[c.SinceAnnotation()]}
	switch {
	case !ok:
		st.Label = Absent
	case value == contract.EnforcementDisabled:
		st.Label = Disabled
	case value == contract.EnforcementAudit:
		st.Label = Audit
		return evaluateAudit(c, ns, now, st)
	default:
		st.Label = Invalid
	}
	record, recorded := Record(ns)
	switch {
	case st.Label == Disabled && recorded:
		st.Open, st.Since, st.Recorded = true, record, true
	case st.Label == Disabled:
		// Seen for the first time: whatever the annotation says, the bypass starts now (to the second, as
		// the record and the annotation store it).
		st.Open, st.Since = true, now.Truncate(time.Second)
	case st.Label == Invalid && recorded:
		st.Open, st.Since, st.Recorded = true, record, true
	default:
		return st
	}
	if st.Since.After(now) {
		st.Since = now.Truncate(time.Second)
	}
	since := st.Since
	st = withUntil(c, ns, st)
	if t.MaxDisabled > 0 {
		if limit := since.Add(t.MaxDisabled); st.Until.IsZero() || limit.Before(st.Until) {
			st.Until = limit
		}
	}

	warn, crit := since.Add(t.WarningAfter), since.Add(t.CriticalAfter)
	switch {
	case !st.Until.IsZero() && !now.Before(st.Until):
		st.Phase = PhaseExpired
		return st
	case !now.Before(crit):
		st.Phase = PhaseCritical
	case !now.Before(warn):
		st.Phase, st.Next = PhaseWarning, crit
	default:
		st.Phase, st.Next = PhaseDisabled, warn
	}
	if !st.Until.IsZero() && (st.Next.IsZero() || st.Until.Before(st.Next)) {
		st.Next = st.Until
	}
	return st
}

// evaluateAudit fills in an audit: since when (netprofile's record on the Audit condition, else now) and the
// end the until-annotation sets. A bypass recorded before is closed: audit forwards everything too, so
// moving from the escape hatch to audit removes no access.
func evaluateAudit(c contract.Contract, ns *corev1.Namespace, now time.Time, st State) State {
	st.Since = now.Truncate(time.Second)
	if cond := conditions.Find(ns.Status.Conditions, conditions.Audit); cond != nil && !cond.LastTransitionTime.IsZero() &&
		(cond.Status == corev1.ConditionTrue || cond.Reason == conditions.ReasonAuditExpired) && !cond.LastTransitionTime.After(now) {
		st.Since, st.Recorded = cond.LastTransitionTime.Time, true
	}
	st = withUntil(c, ns, st)
	switch {
	case !st.Until.IsZero() && !now.Before(st.Until):
		st.Phase = PhaseExpired
	case !st.Until.IsZero():
		st.Phase, st.Next = PhaseDisabled, st.Until
	default:
		st.Phase = PhaseDisabled
	}
	return st
}

// withUntil reads the until-annotation, which ends a bypass or an audit; an unreadable one is a problem and sets
// no end.
func withUntil(c contract.Contract, ns *corev1.Namespace, st State) State {
	raw, ok := ns.Annotations[c.UntilAnnotation()]
	if !ok {
		return st
	}
	until, err := time.Parse(time.RFC3339, raw)
	if err != nil {
		st.Problems = append(st.Problems, fmt.Sprintf("annotation %s=%q is not an RFC 3339 time; no end applies", c.UntilAnnotation(), raw))
		return st
	}
	st.Until = until
	return st
}

// AuditCondition is the Audit condition for st; nil when the label does not ask for audit.
func AuditCondition(c contract.Contract, st State) *corev1.NamespaceCondition {
	if st.Label != Audit {
		return nil
	}
	cond := &corev1.NamespaceCondition{Type: conditions.Audit, LastTransitionTime: metav1.NewTime(st.Since)}
	if st.Phase == PhaseExpired {
		cond.Status, cond.Reason = corev1.ConditionFalse, conditions.ReasonAuditExpired
		cond.Message = fmt.Sprintf("the audit that started %s ended at %s: the namespace's policies are enforced although label %s=%s is still set; remove the label",
			Format(st.Since), Format(st.Until), c.EnforcementKey(), contract.EnforcementAudit)
	} else {
		cond.Status, cond.Reason = corev1.ConditionTrue, conditions.ReasonAuditMode
		cond.Message = fmt.Sprintf("audit mode since %s by label %s=%s: the namespace's policies are in place but nothing is dropped; CiliumNetworkPolicy %s forwards what they would drop, so Hubble shows it (judge it with `kubectl netprofile replay`); remove the label to enforce",
			Format(st.Since), c.EnforcementKey(), contract.EnforcementAudit, ownership.AuditPolicyName)
		if !st.Until.IsZero() {
			cond.Message += fmt.Sprintf("; the audit ends by itself at %s", Format(st.Until))
		}
	}
	for _, p := range st.Problems {
		cond.Message += "; " + p
	}
	return cond
}

// Condition is the EnforcementDisabled condition for st; nil when there is nothing to say (no label). While
// a bypass is open or expired the transition time is Since: that is netprofile's record (see Record).
func Condition(c contract.Contract, st State, t Thresholds) *corev1.NamespaceCondition {
	since := Format(st.Since)
	cond := &corev1.NamespaceCondition{Type: conditions.EnforcementDisabled, LastTransitionTime: metav1.NewTime(st.Since)}
	switch {
	case st.Label == Absent, st.Label == Audit:
		return nil
	case !st.Open:
		cond.Status, cond.Reason, cond.LastTransitionTime = corev1.ConditionFalse, conditions.ReasonInvalidEnforcement, metav1.Time{}
		cond.Message = conditions.InvalidEnforcementMessage(c.EnforcementKey(), st.Value) + ", so enforcement stays on"
		return cond
	case st.Phase == PhaseExpired:
		cond.Status, cond.Reason = corev1.ConditionFalse, conditions.ReasonDisableExpired
		cond.Message = fmt.Sprintf("the enforcement bypass that started %s ended at %s: enforcement is back on although label %s=%s is still set; remove the label",
			since, Format(st.Until), c.EnforcementKey(), st.Value)
		return cond
	}
	// The message changes only with the phase, never with the clock, so a resync writes nothing.
	cond.Status, cond.Reason = corev1.ConditionTrue, conditions.ReasonEnforcementDisabled
	age := ""
	switch st.Phase {
	case PhaseWarning:
		cond.Reason, age = conditions.ReasonEnforcementDisabledWarning, fmt.Sprintf(" (more than %s)", t.WarningAfter)
	case PhaseCritical:
		cond.Reason, age = conditions.ReasonEnforcementDisabledCritical, fmt.Sprintf(" (more than %s)", t.CriticalAfter)
	}
	if st.Label == Invalid {
		cond.Reason = conditions.ReasonInvalidEnforcement
		cond.Message = fmt.Sprintf("label %s=%q is not understood, so the bypass stays open as it was: enforcement stays disabled since %s%s and the alerts keep running; set the label back to %q, or remove it to restore enforcement",
			c.EnforcementKey(), st.Value, since, age, contract.EnforcementDisabled)
	} else {
		cond.Message = fmt.Sprintf("network policy enforcement is disabled since %s%s by label %s=%s: CiliumNetworkPolicy %s allows all traffic; fix the policy and remove the label",
			since, age, c.EnforcementKey(), contract.EnforcementDisabled, ownership.AllowAllPolicyName)
	}
	if !st.Until.IsZero() {
		cond.Message += fmt.Sprintf("; the bypass ends by itself at %s", Format(st.Until))
	}
	for _, p := range st.Problems {
		cond.Message += "; " + p
	}
	return cond
}
