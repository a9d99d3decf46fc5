package status_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/cmd/kubectl-netprofile/internal/status"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
)

var now = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

const (
	profile = "network-policy.homelab/profile"
	hatch   = "network-policy.homelab/enforcement"
	since   = "network-policy.homelab/enforcement-disabled-since"
)

func namespace(labels, annotations map[string]string, conds ...corev1.NamespaceCondition) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "my-app", Labels: labels, Annotations: annotations},
		Status: corev1.NamespaceStatus{Conditions: conds}}
}

func ready(s corev1.ConditionStatus, reason string) corev1.NamespaceCondition {
	return corev1.NamespaceCondition{Type: conditions.Ready, Status: s, Reason: reason, Message: "words", LastTransitionTime: metav1.NewTime(now)}
}

// owned is a policy netprofile generated, with a Valid condition (none for "") Cilium's operator wrote.
func owned(name, component string, valid corev1.ConditionStatus) ciliumv2.CiliumNetworkPolicy {
	return ownedValidBy(name, component, valid, cilium.CiliumOperatorManager)
}

// ownedValidBy is owned with the Valid condition written by another field manager.
func ownedValidBy(name, component string, valid corev1.ConditionStatus, writer string) ciliumv2.CiliumNetworkPolicy {
	p := ciliumv2.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "my-app",
		Labels: ownership.Labels(component, nil)}}
	if valid != "" {
		p.Status.Conditions = []ciliumv2.NetworkPolicyCondition{{Type: ciliumv2.PolicyConditionValid, Status: valid, Message: "unable to parse"}}
		p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: writer, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:conditions":{"k:{\"type\":\"Valid\"}":{"f:status":{}}}}}`)}}
	}
	return p
}

func TestSummarize(t *testing.T) {
	cases := map[string]struct {
		ns          *corev1.Namespace
		policies    []ciliumv2.CiliumNetworkPolicy
		others      []string
		ok          bool
		enforcement string
		problem     string
		policiesCol string
		// policyMessage is in the first policy's message.
		policyMessage string
	}{
		"ready with its policy": {
			ns:       namespace(map[string]string{profile: "standard", "access.network-policy.homelab/postgres": "true"}, nil, ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied)),
			policies: []ciliumv2.CiliumNetworkPolicy{owned(ownership.NamespacePolicyName, ownership.ComponentNamespacePolicy, corev1.ConditionTrue)},
			ok:       true, enforcement: "enabled", policiesCol: "netprofile-namespace",
		},
		"not ready names the condition's reason": {
			ns: namespace(map[string]string{profile: "nope"}, nil, ready(corev1.ConditionFalse, "ProfileNotFound")),
			ok: false, enforcement: "enabled", problem: "NetworkPolicyReady=False (ProfileNotFound)", policiesCol: "-",
		},
		"a labelled namespace netprofile never reported on": {
			ns: namespace(map[string]string{profile: "standard"}, nil),
			ok: false, enforcement: "enabled", problem: "is the operator running?",
		},
		"a policy Cilium rejected is not enforced": {
			ns:       namespace(map[string]string{profile: "standard"}, nil, ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied)),
			policies: []ciliumv2.CiliumNetworkPolicy{owned(ownership.NamespacePolicyName, ownership.ComponentNamespacePolicy, corev1.ConditionFalse)},
			ok:       false, enforcement: "enabled", problem: "Cilium marked policy netprofile-namespace invalid", policiesCol: "netprofile-namespace (INVALID)",
		},
		"a Valid=False Cilium did not write is ignored, and said so": {
			ns:       namespace(map[string]string{profile: "standard"}, nil, ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied)),
			policies: []ciliumv2.CiliumNetworkPolicy{ownedValidBy(ownership.NamespacePolicyName, ownership.ComponentNamespacePolicy, corev1.ConditionFalse, "kubectl-patch")},
			ok:       true, enforcement: "enabled", policiesCol: "netprofile-namespace (status not Cilium's, ignored)",
			policyMessage: "Valid=False written by kubectl-patch, not by Cilium's operator: status not written by Cilium, ignored",
		},
		"escape hatch open, since the stamp": {
			ns: namespace(map[string]string{profile: "isolated", hatch: "disabled"}, map[string]string{since: "2026-07-01T09:00:00Z"},
				ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied),
				corev1.NamespaceCondition{Type: conditions.EnforcementDisabled, Status: corev1.ConditionTrue,
					Reason: conditions.ReasonEnforcementDisabled, LastTransitionTime: metav1.NewTime(now.Add(-3 * time.Hour))}),
			policies: []ciliumv2.CiliumNetworkPolicy{
				owned(ownership.NamespacePolicyName, ownership.ComponentNamespacePolicy, ""),
				owned(ownership.AllowAllPolicyName, ownership.ComponentEnforcement, ""),
			},
			ok: true, enforcement: "disabled since 2026-07-01T09:00:00Z (3h0m0s)",
			policiesCol: "netprofile-enforcement-disabled,netprofile-namespace",
		},
		"escape hatch open past the warning threshold shows the alert phase": {
			ns: namespace(map[string]string{profile: "isolated", hatch: "disabled"}, map[string]string{since: "2026-07-01T09:00:00Z"},
				ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied),
				corev1.NamespaceCondition{Type: conditions.EnforcementDisabled, Status: corev1.ConditionTrue,
					Reason: conditions.ReasonEnforcementDisabledWarning, LastTransitionTime: metav1.NewTime(now.Add(-3 * time.Hour))}),
			ok: true, enforcement: "disabled since 2026-07-01T09:00:00Z (3h0m0s, EnforcementDisabledWarning)",
		},
		"a since-annotation is not a fact: the record is": {
			ns: namespace(map[string]string{profile: "isolated", hatch: "disabled"}, map[string]string{since: "2099-01-01T00:00:00Z"},
				ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied),
				corev1.NamespaceCondition{Type: conditions.EnforcementDisabled, Status: corev1.ConditionTrue,
					Reason: conditions.ReasonEnforcementDisabled, LastTransitionTime: metav1.NewTime(now.Add(-3 * time.Hour))}),
			ok: true, enforcement: "disabled since 2026-07-01T09:00:00Z (3h0m0s)",
		},
		"an enforcement value that is not understood": {
			ns: namespace(map[string]string{hatch: "off"}, nil),
			ok: false, enforcement: "invalid", problem: `netprofile understands "disabled" (the escape hatch) and "audit"`,
		},
		"a value not understood keeps an open bypass open, and names every value": {
			ns: namespace(map[string]string{profile: "isolated", hatch: "off"}, nil,
				ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied),
				corev1.NamespaceCondition{Type: conditions.EnforcementDisabled, Status: corev1.ConditionTrue,
					Reason: conditions.ReasonInvalidEnforcement, LastTransitionTime: metav1.NewTime(now.Add(-3 * time.Hour))}),
			ok: false, enforcement: "disabled since 2026-07-01T09:00:00Z (3h0m0s, InvalidEnforcementValue)",
			problem: `netprofile understands "disabled" (the escape hatch) and "audit" (audit mode); the bypass stays open as it was`,
		},
		"audit mode, since netprofile's record": {
			ns: namespace(map[string]string{hatch: "audit", profile: "standard"}, nil, ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied),
				corev1.NamespaceCondition{Type: conditions.Audit, Status: corev1.ConditionTrue, Reason: conditions.ReasonAuditMode, LastTransitionTime: metav1.NewTime(now.Add(-2 * time.Hour))}),
			ok: true, enforcement: "audit since 2026-07-01T10:00:00Z (2h0m0s)",
		},
		"a label typo is a problem": {
			ns: namespace(map[string]string{"network-policy.homelab/profil": "standard"}, nil),
			ok: false, enforcement: "enabled", problem: "netprofile defines only",
		},
		"other policies held by the ceiling are fine": {
			ns: namespace(map[string]string{profile: "standard"}, nil, ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied),
				corev1.NamespaceCondition{Type: conditions.Ceiling, Status: corev1.ConditionTrue, Reason: conditions.ReasonCeilingEnforced, LastTransitionTime: metav1.NewTime(now)}),
			others: []string{"NetworkPolicy allow-all"},
			ok:     true, enforcement: "enabled",
		},
		"other policies the ceiling does not hold are a problem": {
			ns: namespace(map[string]string{profile: "standard"}, nil, ready(corev1.ConditionTrue, conditions.ReasonPoliciesApplied),
				corev1.NamespaceCondition{Type: conditions.Ceiling, Status: corev1.ConditionFalse, Reason: conditions.ReasonCeilingNotEnforced,
					Message: "NetworkProfile \"standard\" does not enforce its ceiling", LastTransitionTime: metav1.NewTime(now)}),
			others: []string{"NetworkPolicy allow-all"},
			ok:     false, enforcement: "enabled", problem: "NetworkPolicyCeiling (CeilingNotEnforced)",
		},
		"a provider namespace without labels or conditions is fine": {
			ns:       namespace(nil, nil),
			policies: []ciliumv2.CiliumNetworkPolicy{owned(ownership.ProviderPolicyName("postgres"), ownership.ComponentProvider, "")},
			ok:       true, enforcement: "enabled", policiesCol: "netprofile-provider-postgres",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			row := status.Summarize(contract.Default(), tc.ns, tc.policies, tc.others, now, enforcement.DefaultThresholds)
			if row.OK != tc.ok {
				t.Errorf("OK = %v, want %v (problems %v)", row.OK, tc.ok, row.Problems)
			}
			if got := row.EnforcementText(now); got != tc.enforcement {
				t.Errorf("enforcement = %q, want %q", got, tc.enforcement)
			}
			if tc.problem != "" && !slices.ContainsFunc(row.Problems, func(p string) bool { return strings.Contains(p, tc.problem) }) {
				t.Errorf("problems %v do not mention %q", row.Problems, tc.problem)
			}
			if tc.policiesCol != "" && row.PoliciesText() != tc.policiesCol {
				t.Errorf("policies = %q, want %q", row.PoliciesText(), tc.policiesCol)
			}
			if tc.policyMessage != "" && (len(row.Policies) == 0 || !strings.Contains(row.Policies[0].Message, tc.policyMessage)) {
				t.Errorf("policies %+v: want a message saying %q", row.Policies, tc.policyMessage)
			}
		})
	}
}

// TestSummarizeComponent: a policy's component is its reserved name's, not its label's, which anyone who may
// edit the policy may change.
func TestSummarizeComponent(t *testing.T) {
	p := owned(ownership.AllowAllPolicyName, ownership.ComponentEnforcement, "")
	p.Labels[ownership.ComponentLabel] = ownership.ComponentBaseline
	row := status.Summarize(contract.Default(), namespace(nil, nil), []ciliumv2.CiliumNetworkPolicy{p}, nil, now, enforcement.DefaultThresholds)
	if len(row.Policies) != 1 || row.Policies[0].Component != ownership.ComponentEnforcement {
		t.Errorf("policies = %+v, want %s's component %q", row.Policies, p.Name, ownership.ComponentEnforcement)
	}
}

func TestRelevant(t *testing.T) {
	c := contract.Default()
	cases := map[string]struct {
		ns    *corev1.Namespace
		owned int
		want  bool
	}{
		"a namespace with a profile":            {ns: namespace(map[string]string{profile: "standard"}, nil), want: true},
		"a namespace with only conditions left": {ns: namespace(nil, nil, ready(corev1.ConditionTrue, conditions.ReasonNoRulesNeeded)), want: true},
		"a provider namespace":                  {ns: namespace(nil, nil), owned: 1, want: true},
		"an unrelated namespace":                {ns: namespace(map[string]string{"team": "a"}, nil), want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := status.Relevant(c, tc.ns, tc.owned); got != tc.want {
				t.Errorf("Relevant = %v, want %v", got, tc.want)
			}
		})
	}
}
