// Package enforcement is the single definition of the escape hatch: whether a Namespace has network policy
// enforcement disabled, since when, until when, and which alerting phase it is in. The enforcement
// reconciler, its predicates and the metrics collector all decide through Evaluate.
package enforcement

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/pkg/contract"
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
	// Since is when netprofile first saw the label; zero until it stamped the annotation.
	Since time.Time
	// Until is when the bypass ends; zero for no end.
	Until time.Time
	Phase Phase
	// Next is when the phase changes next; zero when it never does by itself.
	Next time.Time
	// Problems are annotations netprofile could not read; they never open anything.
	Problems []string
}

// Bypassed reports whether traffic should be allowed wholesale right now.
func (s State) Bypassed() bool {
	return s.Label == Disabled && s.Phase != PhaseExpired
}

// Evaluate decides the escape hatch state of ns at now.
func Evaluate(c contract.Contract, ns *corev1.Namespace, now time.Time, t Thresholds) State {
	value, ok := ns.Labels[c.EnforcementKey()]
	st := State{Value: value}
	switch {
	case !ok:
		st.Label = Absent
	case value == contract.EnforcementDisabled:
		st.Label = Disabled
	default:
		st.Label = Invalid
	}
	if raw, ok := ns.Annotations[c.SinceAnnotation()]; ok {
		since, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("annotation %s=%q is not an RFC 3339 time", c.SinceAnnotation(), raw))
		} else {
			st.Since = since
		}
	}
	if st.Label != Disabled {
		return st
	}
	// An unstamped namespace was disabled just now, as far as anyone can tell.
	since := st.Since
	if since.IsZero() {
		since = now
	}
	if raw, ok := ns.Annotations[c.UntilAnnotation()]; ok {
		until, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			st.Problems = append(st.Problems, fmt.Sprintf("annotation %s=%q is not an RFC 3339 time; no end applies", c.UntilAnnotation(), raw))
		} else {
			st.Until = until
		}
	}
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
