package enforcement

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
)

func TestEvaluate(t *testing.T) {
	c := contract.Default()
	since := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	stamp := since.Format(time.RFC3339)
	// recorded is a namespace on which netprofile recorded a bypass at since.
	recorded := func(status corev1.ConditionStatus, reason string) []corev1.NamespaceCondition {
		return []corev1.NamespaceCondition{{Type: conditions.EnforcementDisabled, Status: status, Reason: reason, LastTransitionTime: metav1.NewTime(since)}}
	}
	open := recorded(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled)
	ns := func(label *string, annotations map[string]string, conds []corev1.NamespaceCondition) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{}, Annotations: annotations},
			Status: corev1.NamespaceStatus{Conditions: conds}}
		if label != nil {
			n.Labels[c.EnforcementKey()] = *label
		}
		return n
	}
	disabled, off, wrongCase := "disabled", "off", "Disabled"
	maxHour := Thresholds{WarningAfter: 5 * time.Minute, CriticalAfter: 24 * time.Hour, MaxDisabled: time.Hour}
	tests := map[string]struct {
		ns       *corev1.Namespace
		now      time.Time
		t        Thresholds
		label    Label
		phase    Phase
		bypassed bool
		since    time.Time
		next     time.Time
		stamp    bool
		problems int
	}{
		"no label":                       {ns: ns(nil, nil, nil), now: since, t: DefaultThresholds, label: Absent},
		"stale stamp without label":      {ns: ns(nil, map[string]string{c.SinceAnnotation(): stamp}, open), now: since, t: DefaultThresholds, label: Absent},
		"wrong value":                    {ns: ns(&off, nil, nil), now: since, t: DefaultThresholds, label: Invalid},
		"wrong case":                     {ns: ns(&wrongCase, nil, nil), now: since, t: DefaultThresholds, label: Invalid},
		"just disabled, not yet stamped": {ns: ns(&disabled, nil, nil), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute), stamp: true},
		"first seen, to the second":      {ns: ns(&disabled, nil, nil), now: since.Add(300 * time.Millisecond), t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute), stamp: true},
		"four minutes":                   {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}, open), now: since.Add(4 * time.Minute), t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute)},
		"exactly five minutes":           {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}, open), now: since.Add(5 * time.Minute), t: DefaultThresholds, label: Disabled, phase: PhaseWarning, bypassed: true, since: since, next: since.Add(24 * time.Hour)},
		"a day":                          {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}, open), now: since.Add(25 * time.Hour), t: DefaultThresholds, label: Disabled, phase: PhaseCritical, bypassed: true, since: since},
		"until in the future":            {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): since.Add(time.Minute).Format(time.RFC3339)}, open), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(time.Minute)},
		"until passed":                   {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): since.Add(time.Minute).Format(time.RFC3339)}, open), now: since.Add(time.Minute), t: DefaultThresholds, label: Disabled, phase: PhaseExpired, since: since},
		"max duration passed":            {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}, open), now: since.Add(2 * time.Hour), t: maxHour, label: Disabled, phase: PhaseExpired, since: since},
		"expired stays expired":          {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}, recorded(corev1.ConditionFalse, conditions.ReasonDisableExpired)), now: since.Add(3 * time.Hour), t: maxHour, label: Disabled, phase: PhaseExpired, since: since},
		"max duration earlier than until": {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): since.Add(3 * time.Hour).Format(time.RFC3339)}, open), now: since.Add(10 * time.Minute), t: maxHour,
			label: Disabled, phase: PhaseWarning, bypassed: true, since: since, next: since.Add(time.Hour)},
		"unreadable until": {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): "tomorrow"}, open), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute), problems: 1},
		// The annotation is a published copy of the record, never a fact.
		"a future annotation with the label":    {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): "2099-01-01T00:00:00Z"}, nil), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute), stamp: true},
		"a backdated annotation with the label": {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): "2020-01-01T00:00:00Z"}, nil), now: since, t: maxHour, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute), stamp: true},
		"an annotation moved later":             {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): since.Add(6 * time.Minute).Format(time.RFC3339)}, open), now: since.Add(6 * time.Minute), t: DefaultThresholds, label: Disabled, phase: PhaseWarning, bypassed: true, since: since, next: since.Add(24 * time.Hour), stamp: true},
		"an unreadable annotation":              {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): "yesterday"}, open), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute), stamp: true},
		"a record in the future is now": {ns: ns(&disabled, nil, []corev1.NamespaceCondition{{Type: conditions.EnforcementDisabled, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(since.Add(time.Hour))}}), now: since, t: DefaultThresholds,
			label: Disabled, phase: PhaseDisabled, bypassed: true, since: since, next: since.Add(5 * time.Minute), stamp: true},
		// Bad input never removes working access: a recorded bypass stays open, and keeps its clock.
		"a wrong value while open":  {ns: ns(&wrongCase, map[string]string{c.SinceAnnotation(): stamp}, open), now: since.Add(6 * time.Minute), t: DefaultThresholds, label: Invalid, phase: PhaseWarning, bypassed: true, since: since, next: since.Add(24 * time.Hour)},
		"a wrong value never opens": {ns: ns(&wrongCase, map[string]string{c.SinceAnnotation(): stamp}, recorded(corev1.ConditionFalse, conditions.ReasonInvalidEnforcement)), now: since, t: DefaultThresholds, label: Invalid},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := Evaluate(c, tc.ns, tc.now, tc.t)
			if st.Label != tc.label || st.Phase != tc.phase || st.Bypassed() != tc.bypassed || !st.Since.Equal(tc.since) || !st.Next.Equal(tc.next) ||
				st.StampWanted() != tc.stamp || len(st.Problems) != tc.problems {
				t.Errorf("got label=%v phase=%v bypassed=%v since=%v next=%v stamp=%v problems=%v; want label=%v phase=%v bypassed=%v since=%v next=%v stamp=%v problems=%d",
					st.Label, st.Phase, st.Bypassed(), st.Since, st.Next, st.StampWanted(), st.Problems, tc.label, tc.phase, tc.bypassed, tc.since, tc.next, tc.stamp, tc.problems)
			}
			if st.Since.After(tc.now) {
				t.Errorf("since %v is later than now %v", st.Since, tc.now)
			}
		})
	}
}

func TestCondition(t *testing.T) {
	c := contract.Default()
	since := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	tests := map[string]struct {
		st      State
		status  corev1.ConditionStatus
		reason  string
		message string
		ltt     time.Time
	}{
		"absent": {st: State{Label: Absent}},
		"invalid, never open": {st: State{Label: Invalid, Value: "off"}, status: corev1.ConditionFalse, reason: conditions.ReasonInvalidEnforcement,
			message: `netprofile understands "disabled" (the escape hatch) and "audit" (audit mode), so enforcement stays on`},
		"open": {st: State{Label: Disabled, Open: true, Since: since, Phase: PhaseDisabled}, status: corev1.ConditionTrue, reason: conditions.ReasonEnforcementDisabled,
			message: "disabled since 2026-11-26T10:00:00Z by label", ltt: since},
		"warning": {st: State{Label: Disabled, Open: true, Since: since, Phase: PhaseWarning}, status: corev1.ConditionTrue, reason: conditions.ReasonEnforcementDisabledWarning,
			message: "(more than 5m0s)", ltt: since},
		"critical": {st: State{Label: Disabled, Open: true, Since: since, Phase: PhaseCritical}, status: corev1.ConditionTrue, reason: conditions.ReasonEnforcementDisabledCritical,
			message: "(more than 24h0m0s)", ltt: since},
		"invalid while open": {st: State{Label: Invalid, Value: "Disabled", Open: true, Since: since, Phase: PhaseWarning}, status: corev1.ConditionTrue, reason: conditions.ReasonInvalidEnforcement,
			message: "the bypass stays open as it was: enforcement stays disabled since 2026-11-26T10:00:00Z (more than 5m0s)", ltt: since},
		"expired": {st: State{Label: Disabled, Value: "disabled", Open: true, Since: since, Until: since.Add(time.Hour), Phase: PhaseExpired}, status: corev1.ConditionFalse, reason: conditions.ReasonDisableExpired,
			message: "ended at 2026-11-26T11:00:00Z", ltt: since},
		"with an end": {st: State{Label: Disabled, Open: true, Since: since, Until: since.Add(time.Hour), Phase: PhaseDisabled}, status: corev1.ConditionTrue, reason: conditions.ReasonEnforcementDisabled,
			message: "ends by itself at 2026-11-26T11:00:00Z", ltt: since},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cond := Condition(c, tc.st, DefaultThresholds)
			if tc.status == "" {
				if cond != nil {
					t.Fatalf("want no condition, got %+v", cond)
				}
				return
			}
			if cond.Status != tc.status || cond.Reason != tc.reason || !strings.Contains(cond.Message, tc.message) || !cond.LastTransitionTime.Time.Equal(tc.ltt) {
				t.Errorf("got %s %s %q at %v; want %s %s containing %q at %v", cond.Status, cond.Reason, cond.Message, cond.LastTransitionTime, tc.status, tc.reason, tc.message, tc.ltt)
			}
			// What Published reads back from the condition is the start of the bypass.
			ns := &corev1.Namespace{Status: corev1.NamespaceStatus{Conditions: []corev1.NamespaceCondition{*cond}}}
			if rec := Published(ns); (rec != nil) != tc.st.Open || rec != nil && !rec.Since.Equal(since) {
				t.Errorf("Published = %+v; want a record: %v", rec, tc.st.Open)
			}
		})
	}
}

func TestAudit(t *testing.T) {
	c := contract.Default()
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ns := func(value string, annotations map[string]string, conds ...corev1.NamespaceCondition) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{c.EnforcementKey(): value}, Annotations: annotations},
			Status: corev1.NamespaceStatus{Conditions: conds}}
	}
	audited := corev1.NamespaceCondition{Type: conditions.Audit, Status: corev1.ConditionTrue, Reason: conditions.ReasonAuditMode, LastTransitionTime: metav1.NewTime(start)}
	hatch := corev1.NamespaceCondition{Type: conditions.EnforcementDisabled, Status: corev1.ConditionTrue, Reason: conditions.ReasonEnforcementDisabled, LastTransitionTime: metav1.NewTime(start)}
	until := map[string]string{c.UntilAnnotation(): start.Add(2 * time.Hour).Format(time.RFC3339)}
	tests := map[string]struct {
		ns       *corev1.Namespace
		now      time.Time
		auditing bool
		since    time.Time
		next     time.Time
		reason   string
	}{
		"first seen":               {ns: ns("audit", nil), now: start.Add(time.Hour), auditing: true, since: start.Add(time.Hour), next: start.Add(2 * time.Hour), reason: conditions.ReasonAuditMode},
		"recorded keeps its start": {ns: ns("audit", nil, audited), now: start.Add(30 * time.Minute), auditing: true, since: start, next: start.Add(time.Hour), reason: conditions.ReasonAuditMode},
		"an end before the maximum": {ns: ns("audit", map[string]string{c.UntilAnnotation(): start.Add(10 * time.Minute).Format(time.RFC3339)}, audited), now: start.Add(time.Minute),
			auditing: true, since: start, next: start.Add(10 * time.Minute), reason: conditions.ReasonAuditMode},
		"an end past the maximum ends at the maximum": {ns: ns("audit", until, audited), now: start.Add(30 * time.Minute), auditing: true, since: start, next: start.Add(time.Hour), reason: conditions.ReasonAuditMode},
		"past its end": {ns: ns("audit", until, audited), now: start.Add(3 * time.Hour), since: start, reason: conditions.ReasonAuditExpired},
		// In the datapath an audit is the bypass the escape hatch is: switching continues it, and the maximum
		// ends it.
		"after the escape hatch":        {ns: ns("audit", nil, hatch), now: start.Add(30 * time.Minute), auditing: true, since: start, next: start.Add(time.Hour), reason: conditions.ReasonAuditMode},
		"past the maximum":              {ns: ns("audit", nil, audited), now: start.Add(time.Hour), since: start, reason: conditions.ReasonAuditExpired},
		"after the escape hatch, ended": {ns: ns("audit", nil, hatch), now: start.Add(48 * time.Hour), since: start, reason: conditions.ReasonAuditExpired},
		"a record from the future":      {ns: ns("audit", nil, corev1.NamespaceCondition{Type: conditions.Audit, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(start.Add(time.Hour))}), now: start, auditing: true, since: start, next: start.Add(time.Hour), reason: conditions.ReasonAuditMode},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := Evaluate(c, tc.ns, tc.now, Thresholds{WarningAfter: time.Minute, CriticalAfter: time.Hour, MaxDisabled: time.Hour})
			if st.Label != Audit || st.Bypassed() || st.Auditing() != tc.auditing || !st.Since.Equal(tc.since) || !st.Next.Equal(tc.next) {
				t.Errorf("state %+v: want audit, auditing=%v since %s next %s, never bypassed", st, tc.auditing, tc.since, tc.next)
			}
			if Condition(c, st, DefaultThresholds) != nil {
				t.Error("an audit has no EnforcementDisabled condition: the escape hatch alerts and records stay out of it")
			}
			cond := AuditCondition(c, st)
			if cond == nil || cond.Reason != tc.reason || !cond.LastTransitionTime.Time.Equal(tc.since) {
				t.Fatalf("Audit condition %+v, want reason %s since %s", cond, tc.reason, tc.since)
			}
			if tc.auditing && !strings.Contains(cond.Message, "netprofile-enforcement-audit") {
				t.Errorf("message %q does not name the audit's policy", cond.Message)
			}
		})
	}
	if AuditCondition(c, Evaluate(c, ns("disabled", nil), start, DefaultThresholds)) != nil {
		t.Error("the escape hatch is not an audit")
	}
}
