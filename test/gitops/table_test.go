package gitops

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/netprofile/netprofile/pkg/conditions"
)

// The suite judges real objects the operator produced; these tables add the states envtest cannot produce
// on demand (a failed write, an Unknown, combinations), with conditions shaped exactly as netprofile writes
// them.

type cond struct{ typ, status, reason string }

func namespaceWith(conds ...cond) *unstructured.Unstructured {
	list := []any{}
	for _, c := range conds {
		list = append(list, map[string]any{"type": c.typ, "status": c.status, "reason": c.reason,
			"message": "about " + c.reason, "lastTransitionTime": "2026-01-01T00:00:00Z"})
	}
	st := map[string]any{"phase": "Active"}
	if len(conds) > 0 {
		st["conditions"] = list
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": "app", "uid": "u"},
		"spec":     map[string]any{"finalizers": []any{"kubernetes"}},
		"status":   st,
	}}
}

const (
	ready = string(conditions.Ready)
	hatch = string(conditions.EnforcementDisabled)
	audit = string(conditions.Audit)
)

func TestNamespaceTable(t *testing.T) {
	tests := map[string]struct {
		conds []cond
		argo  string
		flux  status.Status
	}{
		"not managed":             {nil, "Healthy", status.CurrentStatus},
		"ready":                   {[]cond{{ready, "True", conditions.ReasonPoliciesApplied}}, "Healthy", status.CurrentStatus},
		"nothing needed":          {[]cond{{ready, "True", conditions.ReasonNoRulesNeeded}}, "Healthy", status.CurrentStatus},
		"a failed write, retried": {[]cond{{ready, "False", conditions.ReasonApplyFailed}}, "Progressing", status.InProgressStatus},
		"unknown":                 {[]cond{{ready, "Unknown", "Pending"}}, "Progressing", status.InProgressStatus},
		"refused":                 {[]cond{{ready, "False", conditions.ReasonInvalidLabel}}, "Degraded", status.FailedStatus},
		"a baseline failing":      {[]cond{{ready, "False", conditions.ReasonBaselineFailing}}, "Degraded", status.FailedStatus},
		"a provider failing":      {[]cond{{ready, "False", conditions.ReasonProviderNotReady}}, "Degraded", status.FailedStatus},
		"hatch open":              {[]cond{{ready, "True", conditions.ReasonPoliciesApplied}, {hatch, "True", conditions.ReasonEnforcementDisabled}}, "Suspended", status.CurrentStatus},
		"hatch open, warning":     {[]cond{{hatch, "True", conditions.ReasonEnforcementDisabledWarning}}, "Suspended", status.CurrentStatus},
		"hatch open, critical":    {[]cond{{hatch, "True", conditions.ReasonEnforcementDisabledCritical}}, "Suspended", status.CurrentStatus},
		"hatch asked, clash":      {[]cond{{hatch, "True", conditions.ReasonNameClash}}, "Degraded", status.FailedStatus},
		"hatch value not understood, bypass kept":        {[]cond{{hatch, "True", conditions.ReasonInvalidEnforcement}}, "Degraded", status.FailedStatus},
		"hatch value not understood":                     {[]cond{{hatch, "False", conditions.ReasonInvalidEnforcement}}, "Degraded", status.FailedStatus},
		"hatch expired, label stays":                     {[]cond{{hatch, "False", conditions.ReasonDisableExpired}}, "Degraded", status.FailedStatus},
		"a foreign allow-all":                            {[]cond{{hatch, "False", conditions.ReasonNameClash}}, "Degraded", status.FailedStatus},
		"audit":                                          {[]cond{{ready, "True", conditions.ReasonPoliciesApplied}, {audit, "True", conditions.ReasonAuditMode}}, "Suspended", status.CurrentStatus},
		"audit expired, label stays":                     {[]cond{{audit, "False", conditions.ReasonAuditExpired}}, "Degraded", status.FailedStatus},
		"the worst wins: refused and hatch open":         {[]cond{{ready, "False", conditions.ReasonProfileNotFound}, {hatch, "True", conditions.ReasonEnforcementDisabled}}, "Degraded", status.FailedStatus},
		"the worst wins: retrying and hatch open":        {[]cond{{ready, "False", conditions.ReasonApplyFailed}, {hatch, "True", conditions.ReasonEnforcementDisabled}}, "Progressing", status.InProgressStatus},
		"the worst wins: retrying and a bad hatch value": {[]cond{{ready, "False", conditions.ReasonApplyFailed}, {hatch, "True", conditions.ReasonInvalidEnforcement}}, "Degraded", status.FailedStatus},
		"other conditions are not netprofile's":          {[]cond{{"NamespaceDeletionDiscoveryFailure", "True", "DiscoveryFailed"}}, "Healthy", status.CurrentStatus},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := judge(namespaceWith(tc.conds...))
			if err != nil {
				t.Fatal(err)
			}
			if v.Argo != tc.argo || v.Flux != tc.flux {
				t.Errorf("Argo CD %s (%q), Flux %s; want %s, %s", v.Argo, v.ArgoMessage, v.Flux, tc.argo, tc.flux)
			}
			for _, c := range tc.conds {
				if v.Argo != "Healthy" && c.typ != "NamespaceDeletionDiscoveryFailure" && !strings.Contains(v.ArgoMessage, c.typ) && v.Argo == argoOf(c) {
					t.Errorf("Argo CD's message %q does not name %s", v.ArgoMessage, c.typ)
				}
			}
			// Why the health checks are needed: on its own kstatus knows nothing of NetworkPolicyReady.
			if v.Kstatus != status.CurrentStatus {
				t.Errorf("kstatus computes %s for a Namespace; the premise of shipping health checks changed", v.Kstatus)
			}
		})
	}
}

// argoOf is the level one netprofile condition stands for on its own, for the message check.
func argoOf(c cond) string {
	v, err := judge(namespaceWith(c))
	if err != nil {
		return ""
	}
	return v.Argo
}

func catalogueObject(generation, observed int64, conds ...cond) *unstructured.Unstructured {
	list := []any{}
	for _, c := range conds {
		list = append(list, map[string]any{"type": c.typ, "status": c.status, "reason": c.reason, "message": "about " + c.reason,
			"observedGeneration": observed, "lastTransitionTime": "2026-01-01T00:00:00Z"})
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "network-policy.homelab/v1alpha1", "kind": "SharedResource",
		"metadata": map[string]any{"name": "postgres", "generation": generation},
		"spec":     map[string]any{"provider": map[string]any{"namespace": "database"}},
		"status":   map[string]any{"observedGeneration": observed, "conditions": list},
	}}
	if conds == nil {
		unstructured.RemoveNestedField(u.Object, "status", "conditions")
	}
	return u
}

func TestCatalogueTable(t *testing.T) {
	tests := map[string]struct {
		obj     *unstructured.Unstructured
		argo    string
		flux    status.Status
		kstatus status.Status
	}{
		"ready": {catalogueObject(2, 2, cond{"Ready", "True", conditions.ReasonProviderApplied}),
			"Healthy", status.CurrentStatus, status.CurrentStatus},
		"a failed write, retried": {catalogueObject(2, 2, cond{"Ready", "False", conditions.ReasonApplyFailed}, cond{"Reconciling", "True", conditions.ReasonApplyFailed}),
			"Progressing", status.InProgressStatus, status.InProgressStatus},
		"stalled": {catalogueObject(2, 2, cond{"Ready", "False", conditions.ReasonInvalid}, cond{"Stalled", "True", conditions.ReasonInvalid}),
			"Degraded", status.FailedStatus, status.FailedStatus},
		"generation ahead": {catalogueObject(3, 2, cond{"Ready", "True", conditions.ReasonProviderApplied}),
			"Progressing", status.InProgressStatus, status.InProgressStatus},
		"generation ahead of a stalled status": {catalogueObject(3, 2, cond{"Ready", "False", conditions.ReasonInvalid}, cond{"Stalled", "True", conditions.ReasonInvalid}),
			"Progressing", status.InProgressStatus, status.InProgressStatus},
		"no condition yet": {catalogueObject(1, 0),
			"Progressing", status.InProgressStatus, status.InProgressStatus},
		// A Ready=False without Stalled or Reconciling (not what netprofile writes): waiting, by all three.
		"not ready, unclassified": {catalogueObject(2, 2, cond{"Ready", "False", conditions.ReasonInvalid}),
			"Progressing", status.InProgressStatus, status.InProgressStatus},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			v, err := judge(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if v.Argo != tc.argo || v.Flux != tc.flux || v.Kstatus != tc.kstatus {
				t.Errorf("Argo CD %s (%q), Flux %s, kstatus %s; want %s, %s, %s", v.Argo, v.ArgoMessage, v.Flux, v.Kstatus, tc.argo, tc.flux, tc.kstatus)
			}
		})
	}
}

// Before netprofile's first status write there is no status at all: Argo CD waits, kstatus cannot tell
// (it assumes Current, as its README says of any object whose conditions are not written yet), and Flux's
// expressions cannot be evaluated, which Flux reports while it keeps polling.
func TestCatalogueWithoutStatus(t *testing.T) {
	u := catalogueObject(1, 0)
	unstructured.RemoveNestedField(u.Object, "status")
	overrides, err := argoOverrides()
	if err != nil {
		t.Fatal(err)
	}
	if h, _, err := argoHealth(overrides["network-policy.homelab/SharedResource"], u); err != nil || h != "Progressing" {
		t.Errorf("Argo CD: %s, %v; want Progressing", h, err)
	}
	checks, err := fluxChecks()
	if err != nil {
		t.Fatal(err)
	}
	check, _ := fluxCheckFor(checks, u.GroupVersionKind().GroupKind())
	if s, err := fluxStatus(check, u); err == nil {
		t.Errorf("Flux: %s; want an evaluation error (no such attribute status)", s)
	}
	if res, err := status.Compute(u); err != nil || res.Status != status.CurrentStatus {
		t.Errorf("kstatus: %v, %v", res, err)
	}
}

// A script that reaches for a library Argo CD does not open fails here as it would there.
func TestArgoLibraries(t *testing.T) {
	for _, script := range []string{
		`return {status = string.format("%s", "Healthy")}`,
		`return {status = ("Healthy"):lower()}`,
		`local f = io.open("/etc/passwd") return {status = "Healthy"}`,
	} {
		if _, _, err := argoHealth(script, namespaceWith()); err == nil {
			t.Errorf("%s: ran without the standard libraries Argo CD withholds", script)
		}
	}
	if h, _, err := argoHealth(`local t = {} table.insert(t, "ok") return {status = "Healthy", message = table.concat(t, ",")}`, namespaceWith()); err != nil || h != "Healthy" {
		t.Errorf("table library: %s, %v", h, err)
	}
	if h, _, err := argoHealth(`return {status = "Fine"}`, namespaceWith()); err != nil || h != "Unknown" {
		t.Errorf("an unknown health status: %s, %v; Argo CD makes it Unknown", h, err)
	}
}
