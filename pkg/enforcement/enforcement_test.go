package enforcement

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/contract"
)

func TestEvaluate(t *testing.T) {
	c := contract.Default()
	since := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	stamp := since.Format(time.RFC3339)
	ns := func(label *string, annotations map[string]string) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{}, Annotations: annotations}}
		if label != nil {
			n.Labels[c.EnforcementKey()] = *label
		}
		return n
	}
	disabled, off, wrongCase := "disabled", "off", "Disabled"
	tests := map[string]struct {
		ns       *corev1.Namespace
		now      time.Time
		t        Thresholds
		label    Label
		phase    Phase
		bypassed bool
		next     time.Time
		problems int
	}{
		"no label":                        {ns: ns(nil, nil), now: since, t: DefaultThresholds, label: Absent},
		"stale stamp without label":       {ns: ns(nil, map[string]string{c.SinceAnnotation(): stamp}), now: since, t: DefaultThresholds, label: Absent},
		"wrong value":                     {ns: ns(&off, nil), now: since, t: DefaultThresholds, label: Invalid},
		"wrong case":                      {ns: ns(&wrongCase, nil), now: since, t: DefaultThresholds, label: Invalid},
		"just disabled, not yet stamped":  {ns: ns(&disabled, nil), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, next: since.Add(5 * time.Minute)},
		"four minutes":                    {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}), now: since.Add(4 * time.Minute), t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, next: since.Add(5 * time.Minute)},
		"exactly five minutes":            {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}), now: since.Add(5 * time.Minute), t: DefaultThresholds, label: Disabled, phase: PhaseWarning, bypassed: true, next: since.Add(24 * time.Hour)},
		"a day":                           {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}), now: since.Add(25 * time.Hour), t: DefaultThresholds, label: Disabled, phase: PhaseCritical, bypassed: true},
		"until in the future":             {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): since.Add(time.Minute).Format(time.RFC3339)}), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, next: since.Add(time.Minute)},
		"until passed":                    {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): since.Add(time.Minute).Format(time.RFC3339)}), now: since.Add(time.Minute), t: DefaultThresholds, label: Disabled, phase: PhaseExpired},
		"max duration passed":             {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp}), now: since.Add(2 * time.Hour), t: Thresholds{WarningAfter: 5 * time.Minute, CriticalAfter: 24 * time.Hour, MaxDisabled: time.Hour}, label: Disabled, phase: PhaseExpired},
		"max duration earlier than until": {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): since.Add(3 * time.Hour).Format(time.RFC3339)}), now: since.Add(10 * time.Minute), t: Thresholds{WarningAfter: 5 * time.Minute, CriticalAfter: 24 * time.Hour, MaxDisabled: time.Hour}, label: Disabled, phase: PhaseWarning, bypassed: true, next: since.Add(time.Hour)},
		"unreadable until":                {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): stamp, c.UntilAnnotation(): "tomorrow"}), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, next: since.Add(5 * time.Minute), problems: 1},
		"unreadable since counts as now":  {ns: ns(&disabled, map[string]string{c.SinceAnnotation(): "yesterday"}), now: since, t: DefaultThresholds, label: Disabled, phase: PhaseDisabled, bypassed: true, next: since.Add(5 * time.Minute), problems: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			st := Evaluate(c, tc.ns, tc.now, tc.t)
			if st.Label != tc.label || st.Phase != tc.phase || st.Bypassed() != tc.bypassed || !st.Next.Equal(tc.next) || len(st.Problems) != tc.problems {
				t.Errorf("got label=%v phase=%v bypassed=%v next=%v problems=%v; want label=%v phase=%v bypassed=%v next=%v problems=%d",
					st.Label, st.Phase, st.Bypassed(), st.Next, st.Problems, tc.label, tc.phase, tc.bypassed, tc.next, tc.problems)
			}
		})
	}
}
