package enforcement

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
)

const uid = types.UID("0b0c3a6e-uid")

// namespace is a Namespace with the enforcement label (nil: none) and annotations.
func namespace(value *string, annotations map[string]string, conds ...corev1.NamespaceCondition) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: uid, Labels: map[string]string{}, Annotations: annotations},
		Status: corev1.NamespaceStatus{Conditions: conds}}
	if value != nil {
		ns.Labels[contract.Default().EnforcementKey()] = *value
	}
	return ns
}

func ptr(s string) *string { return &s }

// step is one look of the enforcement controller at a namespace: its label then, and what it must find.
type step struct {
	at       time.Duration // after t0
	label    *string
	until    time.Duration // the until-annotation, after t0; 0 for none
	since    time.Duration // the state's Since after t0; -1 for none
	bypassed bool          // the escape hatch's allow-all in force
	auditing bool          // the audit's allow-all in force
	phase    Phase
	resumed  bool
	kept     bool // a record remains after the step
}

// run plays steps through Decide and Observe as the controller does, carrying the record between looks.
func run(t *testing.T, th Thresholds, steps []step) *Record {
	t.Helper()
	c := contract.Default()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	var rec *Record
	for i, s := range steps {
		now := t0.Add(s.at)
		var ann map[string]string
		if s.until != 0 {
			ann = map[string]string{c.UntilAnnotation(): t0.Add(s.until).Format(time.RFC3339)}
		}
		st := Decide(c, namespace(s.label, ann), rec, now, th)
		wantSince := time.Time{}
		if s.since >= 0 {
			wantSince = t0.Add(s.since)
		}
		if !st.Since.Equal(wantSince) || st.Bypassed() != s.bypassed || st.Auditing() != s.auditing || st.Resumed != s.resumed ||
			(s.bypassed || s.auditing) && st.Phase != s.phase {
			t.Fatalf("step %d (+%s, label %v): since %s bypassed %v auditing %v phase %v resumed %v; want since %s bypassed %v auditing %v phase %v resumed %v",
				i, s.at, deref(s.label), st.Since, st.Bypassed(), st.Auditing(), st.Phase, st.Resumed, wantSince, s.bypassed, s.auditing, s.phase, s.resumed)
		}
		rec = st.Observe(rec, uid, now, th)
		if (rec != nil) != s.kept {
			t.Fatalf("step %d (+%s): record %+v, want one kept: %v", i, s.at, rec, s.kept)
		}
		if rec != nil {
			back, err := ParseRecord(rec.Data("shop"))
			if err != nil || !Equal(back, rec) {
				t.Fatalf("step %d: record %+v does not survive its ConfigMap: %+v, %v", i, rec, back, err)
			}
		}
	}
	return rec
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

func TestFlappingKeepsTheFirstSince(t *testing.T) {
	disabled := ptr("disabled")
	// A CronJob removes the label every 4 minutes and puts it back 10 seconds later: one bypass, one clock.
	steps := []step{{at: 0, label: disabled, since: 0, bypassed: true, phase: PhaseDisabled, kept: true}}
	for i := 1; i <= 8; i++ {
		at := time.Duration(i) * 4 * time.Minute
		steps = append(steps,
			step{at: at, since: -1, kept: true},
			step{at: at + 10*time.Second, label: disabled, since: 0, bypassed: true, resumed: true, kept: true,
				phase: map[bool]Phase{true: PhaseDisabled, false: PhaseWarning}[at < 5*time.Minute]})
	}
	rec := run(t, DefaultThresholds, steps)
	if len(rec.Openings) != 1 || !rec.Openings[0].To.IsZero() {
		t.Errorf("openings %+v: one opening, still open (gaps shorter than SameBypassWithin count as open)", rec.Openings)
	}
	if got := rec.BypassedWithin(DefaultThresholds.BypassWindow, rec.Since.Add(32*time.Minute+10*time.Second)); got != 32*time.Minute+10*time.Second {
		t.Errorf("bypassed %s within the window, want the whole 32m10s", got)
	}
}

func TestSameBypassWithin(t *testing.T) {
	disabled, audit := ptr("disabled"), ptr("audit")
	th := DefaultThresholds
	th.MaxDisabled = 2 * time.Hour
	rec := run(t, th, []step{
		{at: 0, label: disabled, since: 0, bypassed: true, phase: PhaseDisabled, kept: true},
		{at: 30 * time.Minute, since: -1, kept: true},
		// Back after more than SameBypassWithin: a new bypass, with its own start and maximum.
		{at: 91 * time.Minute, label: disabled, since: 91 * time.Minute, bypassed: true, phase: PhaseDisabled, kept: true},
		// Switching to audit continues it: same start, same maximum.
		{at: 100 * time.Minute, label: audit, since: 91 * time.Minute, auditing: true, phase: PhaseDisabled, kept: true},
		{at: 91*time.Minute + 2*time.Hour, label: audit, since: 91 * time.Minute, kept: true},
		// Removing the label of an expired bypass and putting it back within SameBypassWithin ends nothing
		// sooner and starts nothing anew: it stays expired.
		{at: 4 * time.Hour, since: -1, kept: true},
		{at: 4*time.Hour + 30*time.Minute, label: audit, since: 91 * time.Minute, resumed: true, kept: true},
		{at: 4*time.Hour + 31*time.Minute, label: disabled, since: 91 * time.Minute, kept: true},
		// Moving its end does not beat the maximum either.
		{at: 4*time.Hour + 32*time.Minute, label: disabled, until: 48 * time.Hour, since: 91 * time.Minute, kept: true},
	})
	if n := len(rec.Openings); n != 2 {
		t.Errorf("openings %+v, want the two bypasses", rec.Openings)
	}
	if got := rec.BypassedWithin(7*24*time.Hour, rec.Since.Add(24*time.Hour)); got != 30*time.Minute+2*time.Hour {
		t.Errorf("bypassed %s, want 2h30m", got)
	}
}

func TestInvalidValues(t *testing.T) {
	disabled, audit, typo := ptr("disabled"), ptr("audit"), ptr("Disabled")
	run(t, DefaultThresholds, []step{
		// The escape hatch stays open under a value netprofile does not understand.
		{at: 0, label: disabled, since: 0, bypassed: true, phase: PhaseDisabled, kept: true},
		{at: 6 * time.Minute, label: typo, since: 0, bypassed: true, phase: PhaseWarning, kept: true},
		{at: 7 * time.Minute, since: -1, kept: true},
		// A bad value after the label left opens nothing, even within SameBypassWithin.
		{at: 8 * time.Minute, label: typo, since: -1, kept: true},
		// An audit ends under one (fail closed).
		{at: 9 * time.Minute, label: audit, since: 0, auditing: true, phase: PhaseDisabled, resumed: true, kept: true},
		{at: 10 * time.Minute, label: typo, since: -1, kept: true},
	})
	run(t, DefaultThresholds, []step{{at: 0, label: typo, since: -1}})
}

func TestRecordsAreDroppedWhenNothingIsLeftToKeep(t *testing.T) {
	disabled := ptr("disabled")
	th := Thresholds{WarningAfter: time.Minute, CriticalAfter: time.Hour, SameBypassWithin: time.Hour, BypassWindow: 3 * time.Hour}
	run(t, th, []step{
		{at: 0, label: disabled, since: 0, bypassed: true, phase: PhaseDisabled, kept: true},
		{at: time.Hour, since: -1, kept: true},
		// Past SameBypassWithin, but the opening still counts within the window.
		{at: 3 * time.Hour, since: -1, kept: true},
		{at: 4*time.Hour + time.Second, since: -1},
	})
}

func TestBypassedWithin(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	rec := &Record{Openings: []Opening{
		{From: t0, To: t0.Add(2 * time.Hour)},
		{From: t0.Add(10 * time.Hour), To: t0.Add(11 * time.Hour)},
		{From: t0.Add(20 * time.Hour)},
	}}
	for now, want := range map[time.Duration]time.Duration{
		time.Hour:      time.Hour,
		21 * time.Hour: 4 * time.Hour,
		// The window starts one hour into the first opening.
		25 * time.Hour: time.Hour + time.Hour + 5*time.Hour,
		40 * time.Hour: 20 * time.Hour,
	} {
		if got := rec.BypassedWithin(24*time.Hour, t0.Add(now)); got != want {
			t.Errorf("at +%s: %s, want %s", now, got, want)
		}
	}
	if (*Record)(nil).BypassedWithin(time.Hour, t0) != 0 {
		t.Error("no record, no time")
	}
}

func TestTrusted(t *testing.T) {
	c := contract.Default()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	since := now.Add(-2 * time.Hour)
	mine := &Record{UID: uid, Mode: Disabled, Since: since, Openings: []Opening{{From: since}}}
	later := &Record{UID: uid, Mode: Disabled, Since: now.Add(-time.Minute), Openings: []Opening{{From: since}}}
	future := &Record{UID: uid, Mode: Disabled, Since: now.Add(time.Hour), Openings: []Opening{{From: now.Add(time.Hour)}}}
	other := &Record{UID: "another", Mode: Disabled, Since: since}
	condition := func(t corev1.NamespaceConditionType, status corev1.ConditionStatus, at time.Time) corev1.NamespaceCondition {
		return corev1.NamespaceCondition{Type: t, Status: status, LastTransitionTime: metav1.NewTime(at)}
	}
	published := condition(conditions.EnforcementDisabled, corev1.ConditionTrue, since)
	tests := map[string]struct {
		ns             *corev1.Namespace
		live, memory   *Record
		want           *Record
		tampered       bool
		wantSinceEqual time.Time
	}{
		"what this process wrote":          {ns: namespace(ptr("disabled"), nil), live: mine, memory: mine, want: mine},
		"moved later behind its back":      {ns: namespace(ptr("disabled"), nil), live: later, memory: mine, want: mine, tampered: true},
		"deleted behind its back":          {ns: namespace(ptr("disabled"), nil), memory: mine, want: mine, tampered: true},
		"after a start: the live record":   {ns: namespace(ptr("disabled"), nil), live: mine, want: mine},
		"never later than now":             {ns: namespace(ptr("disabled"), nil), live: future, wantSinceEqual: now},
		"a record of an earlier namespace": {ns: namespace(ptr("disabled"), nil), live: other},
		"memory of an earlier namespace":   {ns: namespace(ptr("disabled"), nil), live: mine, memory: other, want: mine},
		// An earlier version's record, on the condition: carried over, never later than now.
		"carried over":              {ns: namespace(ptr("disabled"), nil, published), wantSinceEqual: since},
		"carried over, not later":   {ns: namespace(ptr("audit"), nil, condition(conditions.Audit, corev1.ConditionTrue, now.Add(time.Hour))), wantSinceEqual: now},
		"no label asks: nothing":    {ns: namespace(nil, nil, published)},
		"a bad value opens nothing": {ns: namespace(ptr("Disabled"), nil, published)},
		"a record wins over the condition": {ns: namespace(ptr("disabled"), nil, condition(conditions.EnforcementDisabled, corev1.ConditionTrue, now.Add(-48*time.Hour))),
			live: mine, want: mine},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, tampered := Trusted(c, tc.ns, tc.live, tc.memory, now)
			if tampered != tc.tampered {
				t.Errorf("tampered %v, want %v", tampered, tc.tampered)
			}
			switch {
			case !tc.wantSinceEqual.IsZero():
				if got == nil || !got.Since.Equal(tc.wantSinceEqual) {
					t.Errorf("record %+v, want since %s", got, tc.wantSinceEqual)
				}
				for _, o := range got.Openings {
					if o.From.After(now) || o.To.After(now) {
						t.Errorf("opening %+v later than now", o)
					}
				}
			case !Equal(got, tc.want):
				t.Errorf("record %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestParseRecordRefusesWhatIsNoRecord(t *testing.T) {
	good := (&Record{UID: uid, Mode: Audit, Since: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}).Data("shop")
	if _, err := ParseRecord(good); err != nil {
		t.Fatalf("a record of its own: %v", err)
	}
	for name, edit := range map[string]func(map[string]string){
		"no uid":       func(d map[string]string) { delete(d, "uid") },
		"bad mode":     func(d map[string]string) { d["mode"] = "off" },
		"bad since":    func(d map[string]string) { d["since"] = "yesterday" },
		"bad closed":   func(d map[string]string) { d["closed"] = "soon" },
		"bad opening":  func(d map[string]string) { d["openings"] = "2026-01-01T00:00:00Z" },
		"bad opening2": func(d map[string]string) { d["openings"] = "2026-01-01T00:00:00Z/later\n" },
	} {
		d := map[string]string{}
		for k, v := range good {
			d[k] = v
		}
		edit(d)
		if r, err := ParseRecord(d); err == nil {
			t.Errorf("%s: parsed %+v", name, r)
		}
	}
}
