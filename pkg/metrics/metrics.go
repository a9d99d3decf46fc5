// Package metrics exports netprofile's state on the manager's metrics endpoint. Per-object state is computed
// at scrape time from the manager's cache, so a re-enabled or deleted namespace simply stops being exported:
// there is never a stale series to clean up, and never a false alert from one.
package metrics

import (
	"context"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Metric names.
const (
	DisabledSinceName = "netprofile_enforcement_disabled_since_timestamp_seconds"
	AuditSinceName    = "netprofile_enforcement_audit_since_timestamp_seconds"
	BypassedName      = "netprofile_enforcement_bypassed_seconds"
	ModesName         = "netprofile_namespaces_by_enforcement"
	NamespacesName    = "netprofile_namespaces"
	PoliciesName      = "netprofile_managed_policies"
	ConditionsName    = "netprofile_namespace_conditions"
	FailuresName      = "netprofile_failures_total"
	ScrapeErrorsName  = "netprofile_collector_errors"
	NotReadySinceName = "netprofile_namespace_not_ready_since_timestamp_seconds"
	BaselineSinceName = "netprofile_baseline_not_ready_since_timestamp_seconds"
	BeyondCeilingName = "netprofile_namespace_policies_beyond_ceiling"
	BuildInfoName     = "netprofile_build_info"
)

// DeletionBlockedSinceName is the gauge of terminating namespaces held up by netprofile's admission.
const DeletionBlockedSinceName = "netprofile_namespace_deletion_blocked_since_timestamp_seconds"

var (
	disabledSinceDesc = prometheus.NewDesc(DisabledSinceName,
		"Unix time since which network policy enforcement has been disabled in the namespace (escape hatch). Present only while disabled.",
		[]string{"namespace"}, nil)
	auditSinceDesc = prometheus.NewDesc(AuditSinceName,
		"Unix time since which the namespace's enforcement has been bypassed, now in audit mode (policies in place, nothing dropped): the start of the bypass, escape hatch or audit. Present only while auditing.",
		[]string{"namespace"}, nil)
	bypassedDesc = prometheus.NewDesc(BypassedName,
		"Seconds within the last --enforcement-bypass-window that the namespace's enforcement was bypassed (the escape hatch's or audit mode's allow-all in force; gaps shorter than --enforcement-same-bypass-within count), from netprofile's record. Present only while above zero.",
		[]string{"namespace"}, nil)
	modesDesc = prometheus.NewDesc(ModesName,
		"Namespaces with netprofile labels, by enforcement mode: enforcing, disabled (escape hatch) or audit.", []string{"mode"}, nil)
	namespacesDesc = prometheus.NewDesc(NamespacesName,
		"Namespaces labelled with each NetworkProfile.", []string{"profile"}, nil)
	policiesDesc = prometheus.NewDesc(PoliciesName,
		"Cilium policies netprofile generated, by kind and controller.", []string{"kind", "component"}, nil)
	conditionsDesc = prometheus.NewDesc(ConditionsName,
		"Namespaces by netprofile condition, status and reason.", []string{"condition", "status", "reason"}, nil)
	scrapeErrorsDesc = prometheus.NewDesc(ScrapeErrorsName,
		"1 when the last scrape could not read netprofile's cache.", nil, nil)
	// Since-timestamps rather than a 0/1 gauge per namespace: a series exists only while something is wrong
	// (cardinality follows the failures, not the fleet), and the alerts compare it with time() instead of
	// running a for: clock that a Prometheus restart would reset.
	notReadySinceDesc = prometheus.NewDesc(NotReadySinceName,
		"Unix time since which the namespace's NetworkPolicyReady condition has not been True (its lastTransitionTime), with the condition's reason. Present only while not Ready.",
		[]string{"namespace", "reason"}, nil)
	beyondCeilingDesc = prometheus.NewDesc(BeyondCeilingName,
		"Policies in a profiled namespace that netprofile did not generate and its ceiling does not hold (the profile only reports its ceiling, or the ceiling is partial), by the NetworkPolicyCeiling condition's reason. Present only for such namespaces: count() is the namespaces, sum() the policies.",
		[]string{"namespace", "reason"}, nil)
	deletionBlockedSinceDesc = prometheus.NewDesc(DeletionBlockedSinceName,
		"Unix time since which the namespace has been terminating (its deletionTimestamp) while the namespace controller may not delete the Cilium policies netprofile's admission keeps (the NetworkPolicyDeletionBlocked condition). Present only while that holds.",
		[]string{"namespace"}, nil)
	baselineSinceDesc = prometheus.NewDesc(BaselineSinceName,
		"Unix time since which the Baseline's Ready condition has not been True (its lastTransitionTime), with the condition's reason. Present only while not Ready.",
		[]string{"baseline", "reason"}, nil)
)

// Values of the mode label of netprofile_namespaces_by_enforcement.
const (
	ModeEnforcing = "enforcing"
	ModeDisabled  = "disabled"
	ModeAudit     = "audit"
)

// Failures counts transitions into a failed condition (bad input, name clashes, failed applies), by
// controller and reason. An operation counter with low-cardinality labels, so an ordinary vector.
var Failures = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: FailuresName,
	Help: "Transitions into a failed netprofile condition (bad input, name clashes, failed applies), by controller and reason.",
}, []string{"controller", "reason"})

// Collector computes the state gauges from the cache at scrape time.
type Collector struct {
	Reader     client.Reader
	Contract   contract.Contract
	Thresholds enforcement.Thresholds
	Clock      clock.PassiveClock
	// RecordNamespace holds netprofile's records of bypasses (enforcement.Record), the bypasses' facts.
	RecordNamespace string
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{disabledSinceDesc, auditSinceDesc, bypassedDesc, modesDesc, namespacesDesc, policiesDesc, conditionsDesc,
		notReadySinceDesc, baselineSinceDesc, beyondCeilingDesc, deletionBlockedSinceDesc, scrapeErrorsDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := 0.0
	if err := c.collectNamespaces(ctx, ch); err != nil {
		failed = 1
	}
	if err := c.collectPolicies(ctx, ch); err != nil {
		failed = 1
	}
	if err := c.collectBaselines(ctx, ch); err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrorsDesc, prometheus.GaugeValue, failed)
}

func (c *Collector) collectNamespaces(ctx context.Context, ch chan<- prometheus.Metric) error {
	list := &corev1.NamespaceList{}
	if err := c.Reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	records := map[string]*enforcement.Record{}
	if c.RecordNamespace != "" {
		cms := &corev1.ConfigMapList{}
		if err := c.Reader.List(ctx, cms, client.InNamespace(c.RecordNamespace),
			client.MatchingLabels(ownership.Labels(enforcement.RecordComponent, nil)), client.UnsafeDisableDeepCopy); err != nil {
			return err
		}
		for i := range cms.Items {
			if ns, ok := enforcement.RecordNamespaceOf(cms.Items[i].Name); ok {
				records[ns] = enforcement.FromConfigMap(&cms.Items[i], ns)
			}
		}
	}
	now := c.Clock.Now()
	profiles := map[string]float64{}
	modes := map[string]float64{}
	conds := map[[3]string]float64{}
	for i := range list.Items {
		ns := &list.Items[i]
		if p, ok := ns.Labels[c.Contract.ProfileKey()]; ok {
			profiles[p]++
		}
		for _, cond := range ns.Status.Conditions {
			conds[[3]string{string(cond.Type), string(cond.Status), cond.Reason}]++
			if cond.Type == conditions.Ready && cond.Status != corev1.ConditionTrue {
				ch <- prometheus.MustNewConstMetric(notReadySinceDesc, prometheus.GaugeValue, sinceValue(cond.LastTransitionTime, now), ns.Name, cond.Reason)
			}
			if cond.Type == conditions.DeletionBlocked && cond.Status == corev1.ConditionTrue && ns.DeletionTimestamp != nil {
				ch <- prometheus.MustNewConstMetric(deletionBlockedSinceDesc, prometheus.GaugeValue, sinceValue(*ns.DeletionTimestamp, now), ns.Name)
			}
			if cond.Type == conditions.Ceiling && cond.Status == corev1.ConditionFalse &&
				(cond.Reason == conditions.ReasonCeilingNotEnforced || cond.Reason == conditions.ReasonCeilingPartial) {
				others, err := ownership.OtherPolicies(ctx, c.Reader, ns.Name)
				if err != nil {
					return err
				}
				ch <- prometheus.MustNewConstMetric(beyondCeilingDesc, prometheus.GaugeValue, float64(len(others)), ns.Name, cond.Reason)
			}
		}
		rec, _ := enforcement.Trusted(c.Contract, ns, records[ns.Name], nil, now)
		if d := rec.BypassedWithin(c.Thresholds.BypassWindow, now); d > 0 {
			ch <- prometheus.MustNewConstMetric(bypassedDesc, prometheus.GaugeValue, d.Seconds(), ns.Name)
		}
		st := enforcement.Decide(c.Contract, ns, rec, now, c.Thresholds)
		switch {
		case st.Bypassed():
			modes[ModeDisabled]++
			if !st.Since.IsZero() {
				ch <- prometheus.MustNewConstMetric(disabledSinceDesc, prometheus.GaugeValue, float64(st.Since.Unix()), ns.Name)
			}
		case st.Auditing():
			modes[ModeAudit]++
			ch <- prometheus.MustNewConstMetric(auditSinceDesc, prometheus.GaugeValue, float64(st.Since.Unix()), ns.Name)
		case c.Contract.Mentions(ns.Labels):
			modes[ModeEnforcing]++
		}
	}
	for _, m := range []string{ModeEnforcing, ModeDisabled, ModeAudit} {
		ch <- prometheus.MustNewConstMetric(modesDesc, prometheus.GaugeValue, modes[m], m)
	}
	for p, n := range profiles {
		ch <- prometheus.MustNewConstMetric(namespacesDesc, prometheus.GaugeValue, n, p)
	}
	keys := make([][3]string, 0, len(conds))
	for k := range conds {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+keys[i][1]+keys[i][2] < keys[j][0]+keys[j][1]+keys[j][2] })
	for _, k := range keys {
		if t := corev1.NamespaceConditionType(k[0]); t == conditions.Ready || t == conditions.EnforcementDisabled || t == conditions.Audit ||
			t == conditions.Ceiling || t == conditions.DeletionBlocked {
			ch <- prometheus.MustNewConstMetric(conditionsDesc, prometheus.GaugeValue, conds[k], k[0], k[1], k[2])
		}
	}
	return nil
}

func (c *Collector) collectBaselines(ctx context.Context, ch chan<- prometheus.Metric) error {
	list := &v1alpha1.BaselineList{}
	if err := c.Reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	now := c.Clock.Now()
	for i := range list.Items {
		// No Ready condition yet is a Baseline not reconciled yet, not a failing one; a manager that never
		// gets to it is what the reconcile-error and manager-absent alerts are for.
		if ready := apimeta.FindStatusCondition(list.Items[i].Status.Conditions, "Ready"); ready != nil && ready.Status != metav1.ConditionTrue {
			ch <- prometheus.MustNewConstMetric(baselineSinceDesc, prometheus.GaugeValue, sinceValue(ready.LastTransitionTime, now), list.Items[i].Name, ready.Reason)
		}
	}
	return nil
}

// sinceValue is a condition's transition time for a since-gauge: never later than now (a skewed clock must
// not postpone an alert), and 0 when the time is missing, so the alert fires rather than waits forever.
func sinceValue(t metav1.Time, now time.Time) float64 {
	switch {
	case t.IsZero():
		return 0
	case t.After(now):
		return float64(now.Unix())
	}
	return float64(t.Unix())
}

func (c *Collector) collectPolicies(ctx context.Context, ch chan<- prometheus.Metric) error {
	counts := map[[2]string]float64{}
	cnps := &cilium.CiliumNetworkPolicyList{}
	if err := c.Reader.List(ctx, cnps, client.MatchingLabelsSelector{Selector: ownership.Selector()}, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	for i := range cnps.Items {
		counts[[2]string{"CiliumNetworkPolicy", cnps.Items[i].Labels[ownership.ComponentLabel]}]++
	}
	ccnps := &cilium.CiliumClusterwideNetworkPolicyList{}
	if err := c.Reader.List(ctx, ccnps, client.MatchingLabelsSelector{Selector: ownership.Selector()}, client.UnsafeDisableDeepCopy); err != nil {
		return err
	}
	for i := range ccnps.Items {
		counts[[2]string{"CiliumClusterwideNetworkPolicy", ccnps.Items[i].Labels[ownership.ComponentLabel]}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(policiesDesc, prometheus.GaugeValue, n, k[0], k[1])
	}
	return nil
}
