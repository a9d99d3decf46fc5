package conditions

import (
	"fmt"
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DeletionBlocked says that a terminating namespace cannot finish deleting because the namespace controller
// may not delete the Cilium policies netprofile's admission keeps (True, with the user it runs as when the
// refusal names it). Only a terminating namespace ever carries it.
const DeletionBlocked corev1.NamespaceConditionType = "NetworkPolicyDeletionBlocked"

// ReasonPoliciesNotDeletable says the namespace controller's deletion of netprofile's policies was refused.
const ReasonPoliciesNotDeletable = "PoliciesNotDeletable"

// refusedUser finds the user in the generated-policies admission policy's refusal, as the namespace controller
// quotes it: "... denied request: <user> may not delete CiliumNetworkPolicy ...".
var refusedUser = regexp.MustCompile(`denied request: (\S+) may not delete`)

// DeletionBlockedCondition is the DeletionBlocked condition of ns, whose Cilium policies kept by netprofile's
// admission are remaining (names, sorted), or nil when ns is not held up by them: it is not terminating, none
// remain, or the namespace controller has not reported failing to delete Cilium policies (its
// NamespaceDeletionContentFailure condition), so it may still be at work.
func DeletionBlockedCondition(ns *corev1.Namespace, remaining []string) *corev1.NamespaceCondition {
	if ns.DeletionTimestamp.IsZero() || len(remaining) == 0 {
		return nil
	}
	failure := Find(ns.Status.Conditions, corev1.NamespaceDeletionContentFailure)
	if failure == nil || failure.Status != corev1.ConditionTrue || !strings.Contains(failure.Message, "ciliumnetworkpolicies") {
		return nil
	}
	user := "the user named in the namespace's " + string(corev1.NamespaceDeletionContentFailure) + " condition"
	if m := refusedUser.FindStringSubmatch(failure.Message); m != nil {
		user = m[1]
	}
	return &corev1.NamespaceCondition{Type: DeletionBlocked, Status: corev1.ConditionTrue, Reason: ReasonPoliciesNotDeletable,
		Message: fmt.Sprintf("namespace %s cannot finish deleting: the namespace controller may not delete CiliumNetworkPolicy %s, "+
			"which netprofile's admission keeps for netprofile; add %s to the chart's admission.systemDeleters "+
			"(the users the cluster's namespace controller and garbage collector run as)",
			ns.Name, bounded(remaining), user)}
}
