// Package enforcement is the single definition of the escape hatch and of audit mode, the two ways a
// Namespace's enforcement is bypassed (an allow-all beside its policies): whether a bypass is asked for, since
// when, until when, which alerting phase it is in, the conditions that say so, and netprofile's own record of
// it. The enforcement reconciler, the namespace reconciler (the ceiling a bypass lifts), the metrics collector
// and the kubectl plugin all decide through Decide (the plugin through Evaluate, from what netprofile publishes).
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
	// forwards what they would drop. Planned rather than an emergency, but in the datapath the same bypass as
	// the escape hatch: one clock with it, the same maximum, its own alert.
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
	// MaxDisabled ends every bypass, escape hatch or audit, this long after it started; 0 means no limit.
	MaxDisabled time.Duration
	// SameBypassWithin: a bypass asked for again within this long of its label's removal is the same bypass,
	// with its start, its alerts and its end (removing the label and putting it back resets no clock).
	SameBypassWithin time.Duration
	// BypassWindow is how far back the record keeps a namespace's openings, for the time it was bypassed
	// within it (Record.BypassedWithin, the NetworkPolicyEnforcementBypassedOften alert).
	BypassWindow time.Duration
}

// DefaultThresholds are the seed's (warning after 5 minutes, critical after 24 hours, no expiry); a bypass
// asked for again within an hour continues, and openings are counted over a week.
var DefaultThresholds = Thresholds{WarningAfter: 5 * time.Minute, CriticalAfter: 24 * time.Hour,
	SameBypassWithin: time.Hour, BypassWindow: 7 * 24 * time.Hour}

// State is the escape hatch state of a Namespace at a moment.
type State struct {
	Label Label
	// Value is the label's value (for messages about invalid values).
	Value string
	// Open: a bypass is in force (the allow-all must stand). A bypass that netprofile recorded stays open
	// under an invalid label value: bad input never removes working access, and the alerts keep running.
	Open bool
	// Since is when netprofile first saw the bypass (escape hatch or audit: switching between the two, or
	// asking again within Thresholds.SameBypassWithin, continues it): its own record (Recorded), or now for a
	// bypass seen for the first time. Never later than now. Zero when no bypass is asked for.
	Since time.Time
	// Recorded: Since comes from netprofile's record, not from this moment.
	Recorded bool
	// Resumed: the label came back within Thresholds.SameBypassWithin of its removal; the bypass continues.
	Resumed bool
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

// Evaluate decides the state of ns at now from what netprofile publishes on the Namespace (Published): the
// view of clients that cannot read netprofile's own record, such as the kubectl plugin. The since-annotation
// is never read as a fact: a value set by hand, later or earlier, neither extends a bypass nor silences its
// alerts.
func Evaluate(c contract.Contract, ns *corev1.Namespace, now time.Time, t Thresholds) State {
	return Decide(c, ns, Published(ns), now, t)
}

// Decide decides the state of ns at now from rec, netprofile's record of its bypasses (see Trusted; nil:
// none). A bypass asked for while the record says the same one is going on (the label never left, or came
// back within t.SameBypassWithin) keeps the record's start; any other starts now. An escape hatch stays
// open under a label value netprofile does not understand (bad input never removes working access, and the
// alerts keep running); an audit ends (fail closed). The maximum and the until-annotation end either.
func Decide(c contract.Contract, ns *corev1.Namespace, rec *Record, now time.Time, t Thresholds) State {
	value, ok := ns.Labels[c.EnforcementKey()]
	st := State{Value: value, Annotation: ns.Annotations[c.SinceAnnotation()]}
	switch {
	case !ok:
		st.Label = Absent
	case value == contract.EnforcementDisabled:
		st.Label = Disabled
	case value == contract.EnforcementAudit:
		st.Label = Audit
	default:
		st.Label = Invalid
	}
	rec = rec.of(ns.UID)
	going := rec != nil && (rec.Closed.IsZero() || !now.After(rec.Closed.Add(t.SameBypassWithin)))
	switch {
	case st.Label == Disabled || st.Label == Audit:
		st.Open = st.Label == Disabled
		if going {
			st.Since, st.Recorded, st.Resumed = rec.Since, true, !rec.Closed.IsZero()
		} else {
			// Seen for the first time: whatever the annotation says, the bypass starts now (to the second, as
			// the record and the annotation store it).
			st.Since = now.Truncate(time.Second)
		}
	case st.Label == Invalid && rec != nil && rec.Closed.IsZero() && rec.Mode == Disabled:
		st.Open, st.Since, st.Recorded = true, rec.Since, true
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
	case st.Label == Audit:
		// An audit has no alerting phases of its own on the condition: its alert reads the since-gauge.
		st.Phase = PhaseDisabled
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
		cond.Message = fmt.Sprintf("the audit (a bypass since %s) ended at %s: the namespace's policies are enforced although label %s=%s is still set; remove the label",
			Format(st.Since), Format(st.Until), c.EnforcementKey(), contract.EnforcementAudit)
	} else {
		cond.Status, cond.Reason = corev1.ConditionTrue, conditions.ReasonAuditMode
		cond.Message = fmt.Sprintf("audit mode by label %s=%s, nothing dropped since %s: the namespace's policies are in place and CiliumNetworkPolicy %s forwards what they would drop, so Hubble shows it (judge it with `kubectl netprofile replay`); remove the label to enforce",
			c.EnforcementKey(), contract.EnforcementAudit, Format(st.Since), ownership.AuditPolicyName)
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
// a bypass is open or expired the transition time is Since, which Published reads back.
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
