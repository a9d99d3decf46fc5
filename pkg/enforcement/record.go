package enforcement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// RecordComponent is the component label of the ConfigMaps that hold netprofile's records of bypasses.
const RecordComponent = "bypass-record"

// RecordName is the name of the ConfigMap, in the manager's own namespace, that records namespace's bypasses.
func RecordName(namespace string) string { return ownership.NamePrefix + "bypass-" + namespace }

// RecordNamespaceOf returns the namespace a record's ConfigMap name is about, and whether it is a record's name.
func RecordNamespaceOf(name string) (string, bool) {
	ns, ok := strings.CutPrefix(name, ownership.NamePrefix+"bypass-")
	return ns, ok && ns != ""
}

// Record is netprofile's own record of a namespace's bypasses. The manager keeps it in a ConfigMap in its own
// namespace, which a namespace's users cannot write (RBAC) and which admission holds to netprofile's
// ServiceAccount: a Namespace's condition or annotation can be written by whoever may write the Namespace or
// its status, so neither is ever taken as the start of a bypass. The record outlives the label: a bypass
// asked for again within Thresholds.SameBypassWithin continues, and the openings of the last
// Thresholds.BypassWindow are counted.
type Record struct {
	// UID is the Namespace's: a namespace deleted and created again under the same name starts afresh.
	UID types.UID
	// Mode is what the label last asked for: Disabled or Audit.
	Mode Label
	// Since is when netprofile first saw the bypass.
	Since time.Time
	// Closed is when netprofile saw the label stop asking for it; zero while it asks (even past its end).
	Closed time.Time
	// Openings are the spans during which the bypass's allow-all was in force, oldest first, within the window;
	// the last one has a zero To while it still is. A gap shorter than SameBypassWithin counts as open.
	Openings []Opening
}

// Opening is a span during which a namespace's enforcement was bypassed.
type Opening struct{ From, To time.Time }

// of returns r when it is the record of the namespace with uid, else nil.
func (r *Record) of(uid types.UID) *Record {
	if r == nil || r.UID != uid {
		return nil
	}
	return r
}

// Equal reports whether a and b record the same (nil: no record).
func Equal(a, b *Record) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.UID == b.UID && a.Mode == b.Mode && a.Since.Equal(b.Since) && a.Closed.Equal(b.Closed) &&
		slices.EqualFunc(a.Openings, b.Openings, func(x, y Opening) bool { return x.From.Equal(y.From) && x.To.Equal(y.To) })
}

// BypassedWithin is how long the namespace's enforcement was bypassed in the window before now.
func (r *Record) BypassedWithin(window time.Duration, now time.Time) time.Duration {
	if r == nil {
		return 0
	}
	start := now.Add(-window)
	var total time.Duration
	for _, o := range r.Openings {
		from, to := o.From, o.To
		if to.IsZero() || to.After(now) {
			to = now
		}
		if from.Before(start) {
			from = start
		}
		if to.After(from) {
			total += to.Sub(from)
		}
	}
	return total
}

// Kept is until when r must be kept once its label no longer asks for a bypass: until a bypass asked for
// again would no longer continue it, and its last opening has left the window. Zero while the label asks.
func (r *Record) Kept(t Thresholds) time.Time {
	if r == nil || r.Closed.IsZero() {
		return time.Time{}
	}
	until := r.Closed.Add(t.SameBypassWithin)
	if n := len(r.Openings); n > 0 {
		last := r.Openings[n-1].To
		if last.IsZero() {
			return time.Time{}
		}
		if end := last.Add(t.BypassWindow); end.After(until) {
			until = end
		}
	}
	return until
}

// Observe returns the record to keep after netprofile acted on st at now, given the record it acted on (nil:
// none; see Trusted); nil when there is nothing left to keep. It starts or continues the bypass the label
// asks for, notes when the label stopped asking, and opens or closes the current opening as the allow-all
// comes and goes.
func (st State) Observe(prev *Record, uid types.UID, now time.Time, t Thresholds) *Record {
	now = now.Truncate(time.Second)
	rec := &Record{UID: uid}
	if p := prev.of(uid); p != nil {
		*rec = *p
		rec.Openings = slices.Clone(p.Openings)
	}
	switch {
	case st.Label == Disabled || st.Label == Audit || st.Open:
		rec.Since, rec.Closed = st.Since, time.Time{}
		rec.Mode = Disabled
		if st.Label == Audit {
			rec.Mode = Audit
		}
	case !rec.Since.IsZero() && rec.Closed.IsZero():
		rec.Closed = now
	}
	if rec.Since.IsZero() {
		return nil
	}

	n := len(rec.Openings)
	switch inForce := st.Bypassed() || st.Auditing(); {
	case inForce && n > 0 && rec.Openings[n-1].To.IsZero():
	case inForce && n > 0 && !now.After(rec.Openings[n-1].To.Add(t.SameBypassWithin)):
		rec.Openings[n-1].To = time.Time{}
	case inForce:
		rec.Openings = append(rec.Openings, Opening{From: now})
	case n > 0 && rec.Openings[n-1].To.IsZero():
		rec.Openings[n-1].To = now
	}
	rec.Openings = slices.DeleteFunc(rec.Openings, func(o Opening) bool {
		return !o.To.IsZero() && o.To.Before(now.Add(-t.BypassWindow))
	})
	if kept := rec.Kept(t); !kept.IsZero() && now.After(kept) {
		return nil
	}
	return rec
}

// Trusted returns the record netprofile acts on for ns at now, and whether live, the record as the API
// server holds it, was changed or removed by someone else. memory is the record this process last wrote (nil
// after a start, or for none): it wins, so a record moved or deleted behind netprofile's back is put back.
// Without memory live is taken, never with a time later than now. Without either, a bypass an earlier version
// of netprofile published on the Namespace's condition is carried over, never later than now: that can end a
// bypass sooner, never extend one, and it is never taken for a label that does not ask for a bypass.
func Trusted(c contract.Contract, ns *corev1.Namespace, live, memory *Record, now time.Time) (*Record, bool) {
	live, memory = live.of(ns.UID), memory.of(ns.UID)
	switch {
	case memory != nil:
		return memory, !Equal(live, memory)
	case live != nil:
		return clamped(live, now), false
	}
	if v := ns.Labels[c.EnforcementKey()]; v == contract.EnforcementDisabled || v == contract.EnforcementAudit {
		if carried := Published(ns); carried != nil {
			return clamped(carried, now), false
		}
	}
	return nil, false
}

// Published reconstructs a record from what netprofile publishes on ns: the transition time of its
// EnforcementDisabled condition while that describes a bypass (open, kept open under an invalid value, or
// expired), else of its Audit condition. For clients that cannot read netprofile's own record; nil when
// neither condition describes a bypass.
func Published(ns *corev1.Namespace) *Record {
	if cond := conditions.Find(ns.Status.Conditions, conditions.EnforcementDisabled); cond != nil && !cond.LastTransitionTime.IsZero() &&
		(cond.Status == corev1.ConditionTrue || cond.Status == corev1.ConditionFalse && cond.Reason == conditions.ReasonDisableExpired) {
		return &Record{UID: ns.UID, Mode: Disabled, Since: cond.LastTransitionTime.Time}
	}
	if cond := conditions.Find(ns.Status.Conditions, conditions.Audit); cond != nil && !cond.LastTransitionTime.IsZero() &&
		(cond.Status == corev1.ConditionTrue || cond.Reason == conditions.ReasonAuditExpired) {
		return &Record{UID: ns.UID, Mode: Audit, Since: cond.LastTransitionTime.Time}
	}
	return nil
}

// clamped is r with no time later than now.
func clamped(r *Record, now time.Time) *Record {
	now = now.Truncate(time.Second)
	out := *r
	early := func(t time.Time) time.Time {
		if t.After(now) {
			return now
		}
		return t
	}
	out.Since, out.Closed = early(r.Since), early(r.Closed)
	out.Openings = make([]Opening, 0, len(r.Openings))
	for _, o := range r.Openings {
		o.From, o.To = early(o.From), early(o.To)
		if !o.To.IsZero() && o.To.Before(o.From) {
			continue
		}
		out.Openings = append(out.Openings, o)
	}
	return &out
}

// Keys of a record's ConfigMap data.
const (
	recordNamespace = "namespace"
	recordUID       = "uid"
	recordMode      = "mode"
	recordSince     = "since"
	recordClosed    = "closed"
	recordOpenings  = "openings"
)

// Data is r as a record's ConfigMap data, for namespace: RFC 3339 times, openings one per line as
// "<from>/<to>" (ISO 8601 intervals; an open one ends with "/").
func (r *Record) Data(namespace string) map[string]string {
	mode := contract.EnforcementDisabled
	if r.Mode == Audit {
		mode = contract.EnforcementAudit
	}
	data := map[string]string{recordNamespace: namespace, recordUID: string(r.UID), recordMode: mode, recordSince: Format(r.Since)}
	if !r.Closed.IsZero() {
		data[recordClosed] = Format(r.Closed)
	}
	var lines []string
	for _, o := range r.Openings {
		to := ""
		if !o.To.IsZero() {
			to = Format(o.To)
		}
		lines = append(lines, Format(o.From)+"/"+to)
	}
	if len(lines) > 0 {
		data[recordOpenings] = strings.Join(lines, "\n") + "\n"
	}
	return data
}

// ParseRecord reads a record's ConfigMap data back.
func ParseRecord(data map[string]string) (*Record, error) {
	r := &Record{UID: types.UID(data[recordUID])}
	switch data[recordMode] {
	case contract.EnforcementDisabled:
		r.Mode = Disabled
	case contract.EnforcementAudit:
		r.Mode = Audit
	default:
		return nil, fmt.Errorf("mode %q is neither %q nor %q", data[recordMode], contract.EnforcementDisabled, contract.EnforcementAudit)
	}
	if r.UID == "" {
		return nil, fmt.Errorf("no %s", recordUID)
	}
	var err error
	if r.Since, err = time.Parse(time.RFC3339, data[recordSince]); err != nil {
		return nil, fmt.Errorf("%s: %w", recordSince, err)
	}
	if v, ok := data[recordClosed]; ok {
		if r.Closed, err = time.Parse(time.RFC3339, v); err != nil {
			return nil, fmt.Errorf("%s: %w", recordClosed, err)
		}
	}
	for line := range strings.Lines(data[recordOpenings]) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		from, to, ok := strings.Cut(line, "/")
		var o Opening
		if o.From, err = time.Parse(time.RFC3339, from); !ok || err != nil {
			return nil, fmt.Errorf("%s: %q is no <from>/<to>", recordOpenings, line)
		}
		if to != "" {
			if o.To, err = time.Parse(time.RFC3339, to); err != nil {
				return nil, fmt.Errorf("%s: %q is no <from>/<to>", recordOpenings, line)
			}
		}
		r.Openings = append(r.Openings, o)
	}
	return r, nil
}

// Load reads the record of ns from the ConfigMaps in recordNamespace that reader sees (the manager's cache
// holds only netprofile's records): nil when there is none, or when what is there is not a record of
// netprofile's (its labels or data say otherwise; Trusted then decides, and the enforcement controller
// writes it anew).
func Load(ctx context.Context, reader client.Reader, recordNamespace, ns string) (*Record, error) {
	cm := &corev1.ConfigMap{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: recordNamespace, Name: RecordName(ns)}, cm); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return FromConfigMap(cm, ns), nil
}

// FromConfigMap is the record cm holds for ns, or nil when cm is not one of netprofile's records of ns.
func FromConfigMap(cm *corev1.ConfigMap, ns string) *Record {
	if cm.Labels[ownership.ManagedByLabel] != ownership.ManagedByValue || cm.Labels[ownership.ComponentLabel] != RecordComponent ||
		cm.Data[recordNamespace] != ns || !cm.DeletionTimestamp.IsZero() {
		return nil
	}
	r, err := ParseRecord(cm.Data)
	if err != nil {
		return nil
	}
	return r
}
