// Package conditions defines the conditions netprofile writes on Namespaces (types, reasons) and the pure
// logic of changing them: a write happens only when type, status, reason or message change, and the
// transition time moves only when the status does. The API server does not validate custom Namespace
// conditions (an empty type or status "Maybe" is stored), so every condition is validated here first.
package conditions

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// Condition types on a Namespace.
const (
	// Ready says whether the namespace's profile and grants are in effect.
	Ready corev1.NamespaceConditionType = "NetworkPolicyReady"
	// EnforcementDisabled says whether the escape hatch is open, and since when.
	EnforcementDisabled corev1.NamespaceConditionType = "NetworkPolicyEnforcementDisabled"
	// Audit says whether the namespace is in audit mode: its policies in place, nothing dropped.
	Audit corev1.NamespaceConditionType = "NetworkPolicyAudit"
	// Ceiling says whether the namespace's labels are the most it can have: True when no other policy in it
	// can reach past them (the ceiling holds them, or there are none), False when some can.
	Ceiling corev1.NamespaceConditionType = "NetworkPolicyCeiling"
)

// Reasons of the Ceiling condition.
const (
	// ReasonCeilingEnforced: the ceiling policy holds every other policy in the namespace to the labels.
	ReasonCeilingEnforced = "CeilingEnforced"
	// ReasonCeilingPartial: the ceiling holds all but what deny rules cannot express (DNS names, say); False
	// when other policies in the namespace could use that.
	ReasonCeilingPartial = "CeilingPartial"
	// ReasonCeilingNotEnforced: the profile only reports its ceiling, and other policies may widen access.
	ReasonCeilingNotEnforced = "CeilingNotEnforced"
	// ReasonNoOtherPolicies: the profile only reports its ceiling, and nothing else selects the namespace's pods.
	ReasonNoOtherPolicies = "NoOtherPolicies"
	// ReasonCeilingLifted: the escape hatch or audit mode lifts the ceiling while it is open (Unknown).
	ReasonCeilingLifted = "CeilingLifted"
	// ReasonCeilingNotApplied: the ceiling could not be put in place (it does not render, a policy that is not
	// netprofile's holds its name, Cilium rejected it).
	ReasonCeilingNotApplied = "CeilingNotApplied"
)

// Reasons of the Audit condition.
const (
	// ReasonAuditMode: the enforcement label says audit; what the policies would drop is forwarded.
	ReasonAuditMode = "AuditMode"
	// ReasonAuditExpired: the audit reached its until-annotation; the namespace enforces although the label stays.
	ReasonAuditExpired = "AuditExpired"
)

// Reasons of the Ready condition.
const (
	ReasonPoliciesApplied = "PoliciesApplied"
	ReasonNoRulesNeeded   = "NoPolicyNeeded"
	ReasonNameClash       = "PolicyNameClash"
	ReasonApplyFailed     = "ApplyFailed"
	ReasonRejectedByAgent = "PolicyRejectedByCilium"
	ReasonBaselineFailing = "BaselineNotReady"
	// ReasonProviderNotReady: a granted SharedResource's provider half is not in effect, so the grant is not.
	ReasonProviderNotReady = "ProviderNotReady"
)

// Reasons of refused input, on the Ready condition of a Namespace and on the catalogue objects.
const (
	ReasonInvalidLabel      = "InvalidLabel"
	ReasonPlatformNamespace = "PlatformNamespace"
	ReasonProfileNotFound   = "ProfileNotFound"
	ReasonProfileInvalid    = "ProfileInvalid"
	ReasonResourceNotFound  = "SharedResourceNotFound"
	ReasonResourceInvalid   = "SharedResourceInvalid"
	ReasonPolicyInvalid     = "PolicyRejectedByValidation"
	ReasonBaselineInvalid   = "BaselineInvalid"
	// ReasonConsumerNotAllowed: the namespace asks for a SharedResource whose spec.consumers does not admit
	// it. Not bad input but the provider's decision, so unlike the others it withdraws a grant that stood.
	ReasonConsumerNotAllowed = "ConsumerNotAllowed"
)

// Reasons of the EnforcementDisabled condition.
const (
	ReasonEnforcementDisabled         = "EnforcementDisabled"
	ReasonEnforcementDisabledWarning  = "EnforcementDisabledWarning"
	ReasonEnforcementDisabledCritical = "EnforcementDisabledCritical"
	ReasonDisableExpired              = "EnforcementDisableExpired"
	ReasonInvalidEnforcement          = "InvalidEnforcementValue"
)

// Reasons of the Ready condition of netprofile's own objects (NetworkProfile, SharedResource, Baseline).
const (
	ReasonValid                    = "Valid"
	ReasonInvalid                  = "Invalid"
	ReasonProviderApplied          = "ProviderPolicyApplied"
	ReasonEntityProvider           = "EntityProvider"
	ReasonProviderNamespaceMissing = "ProviderNamespaceMissing"
	// ReasonProviderNamespaceNotMarked: the provider namespace does not carry the platform label, so it may be
	// anyone's; no provider half is written into it, and consumers' egress does not reach it.
	ReasonProviderNamespaceNotMarked = "ProviderNamespaceNotMarked"
	// ReasonNamespacesNotMarked: peers of the object name namespaces that do not carry the platform label (or
	// do not exist); those peers select nothing until a platform admin marks them.
	ReasonNamespacesNotMarked = "NamespacesNotMarked"
	ReasonBaselineApplied     = "Applied"
	ReasonBaselineDisabled    = "Disabled"
)

// ConsumersTrusted is a SharedResource's condition saying whether spec.consumers selects namespaces only by
// labels their own users cannot write. False is a warning, not a refusal: the grants stand, but any namespace
// that copies the selected labels is admitted. Absent when the resource does not limit its consumers.
const ConsumersTrusted = "ConsumersTrusted"

// Reasons of ConsumersTrusted (and its Events).
const (
	// ReasonUnforgeableLabels: every key spec.consumers selects on is set by the API server or protected at
	// admission.
	ReasonUnforgeableLabels = "UnforgeableLabels"
	// ReasonTenantWritableLabels: spec.consumers selects on a label a namespace's own users may write.
	ReasonTenantWritableLabels = "TenantWritableLabels"
)

// Reasons of Events that are not condition transitions.
const (
	// ReasonPolicyReverted: someone changed a generated policy and netprofile restored it.
	ReasonPolicyReverted = "PolicyReverted"
	// ReasonPolicyAdopted: a generated policy had lost its owner reference and netprofile took it back.
	ReasonPolicyAdopted = "PolicyAdopted"
	// ReasonPoliciesPruned: generated policies no longer asked for were deleted.
	ReasonPoliciesPruned = "PoliciesPruned"
	// ReasonEnforcementRestored: the escape hatch closed.
	ReasonEnforcementRestored = "EnforcementRestored"
	// ReasonSinceRestored: the since-annotation was changed and netprofile restored its own record.
	ReasonSinceRestored = "SinceAnnotationRestored"
	// ReasonBypassResumed: the escape hatch or audit label came back soon after its removal; the bypass that
	// was open continues, with its start, alerts and end.
	ReasonBypassResumed = "BypassResumed"
	// ReasonRecordRestored: netprofile's record of a bypass was changed or deleted by someone else and written back.
	ReasonRecordRestored = "BypassRecordRestored"
)

// ClashMessage says that an object netprofile does not own holds a reserved name.
func ClashMessage(kind, namespace, name string) string {
	where := name
	if namespace != "" {
		where = namespace + "/" + name
	}
	return fmt.Sprintf("a %s named %s already exists and is not managed by netprofile; netprofile leaves it untouched: rename or delete it (names starting with %q are reserved)",
		kind, where, ownership.NamePrefix)
}

// RejectedMessage says that the Cilium agent marked a policy invalid (and so does not enforce it).
func RejectedMessage(kind, name, agentMessage string) string {
	return fmt.Sprintf("Cilium rejected %s %s and does not enforce it: %s", kind, name, agentMessage)
}

// MaxMessage is the longest message a condition may carry: metav1.Condition's limit, which the API server
// enforces on the conditions of netprofile's own objects through their CRD schema. Namespace conditions are
// not validated, and netprofile holds them to the same limit. A message that grows with the input (one
// problem per label, one name per grant) is shortened to it rather than refused: a refused write would leave
// the previous, stale condition in place.
const MaxMessage = 32768

// MaxEventNote is the longest note the API server accepts on an events.k8s.io Event; a longer one is refused
// and the Event is lost.
const MaxEventNote = 1024

// maxProblems bounds how many problems a message lists; the rest are counted.
const maxProblems = 10

// Problems joins problems for a message, "; "-separated: the first ones, and how many more there are. The
// problems come in a stable order (by label key), so the message does not change on its own.
func Problems(problems []string) string {
	if len(problems) <= maxProblems {
		return strings.Join(problems, "; ")
	}
	return fmt.Sprintf("%s; and %d more problems", strings.Join(problems[:maxProblems], "; "), len(problems)-maxProblems)
}

// Shorten returns msg, a "; "-separated list of parts, in at most limit bytes: as many whole leading parts as
// fit, and how many were left out. A first part that does not fit alone is cut at a character boundary.
func Shorten(msg string, limit int) string {
	if len(msg) <= limit {
		return msg
	}
	parts := strings.Split(msg, "; ")
	kept, size := 0, 0 // size: the length of the first kept parts, joined
	for i, p := range parts {
		next := size + len(p)
		if i > 0 {
			next += len("; ")
		}
		if next+len(moreSuffix(len(parts)-i-1)) > limit {
			break
		}
		kept, size = i+1, next
	}
	if kept > 0 {
		return strings.Join(parts[:kept], "; ") + moreSuffix(len(parts)-kept)
	}
	suffix := " [cut]" + moreSuffix(len(parts)-1)
	cut := max(limit-len(suffix), 0)
	for cut > 0 && !utf8.RuneStart(parts[0][cut]) {
		cut--
	}
	return parts[0][:cut] + suffix
}

func moreSuffix(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("; and %d more", n)
}

// IgnoredValidMessage says that a policy's Valid condition was written by someone other than Cilium, and that
// netprofile takes no notice of it.
func IgnoredValidMessage(kind, name, status string, writers []string) string {
	who := "nobody on record"
	if len(writers) > 0 {
		who = strings.Join(writers, ", ")
	}
	return fmt.Sprintf("%s %s carries Valid=%s written by %s, not by Cilium's operator: status not written by Cilium, ignored", kind, name, status, who)
}

// Find returns the condition of type t, or nil.
func Find(conds []corev1.NamespaceCondition, t corev1.NamespaceConditionType) *corev1.NamespaceCondition {
	for i := range conds {
		if conds[i].Type == t {
			return &conds[i]
		}
	}
	return nil
}

// Desired returns the condition to write, keeping the existing transition time when the status did not
// change, and whether it differs from the existing one at all (false: do not write).
//
// A condition whose transition time is already set keeps it: its writer records a fact there (the escape
// hatch's start, see pkg/enforcement), and a different time is a change.
//
// The message is shortened to MaxMessage.
func Desired(existing []corev1.NamespaceCondition, c corev1.NamespaceCondition, now metav1.Time) (corev1.NamespaceCondition, bool) {
	c.Message = Shorten(c.Message, MaxMessage)
	old := Find(existing, c.Type)
	if !c.LastTransitionTime.IsZero() {
		return c, old == nil || old.Status != c.Status || old.Reason != c.Reason || old.Message != c.Message ||
			!old.LastTransitionTime.Equal(&c.LastTransitionTime)
	}
	if old != nil && old.Status == c.Status {
		c.LastTransitionTime = old.LastTransitionTime
		return c, old.Reason != c.Reason || old.Message != c.Message
	}
	c.LastTransitionTime = now
	return c, true
}

var reasonRE = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// Validate checks what metav1.Condition's schema would check, since nothing checks Namespace conditions.
func Validate(c corev1.NamespaceCondition) error {
	switch {
	case c.Type != Ready && c.Type != EnforcementDisabled && c.Type != Audit && c.Type != Ceiling && c.Type != DeletionBlocked:
		return fmt.Errorf("condition type %q is not one of netprofile's", c.Type)
	case c.Status != corev1.ConditionTrue && c.Status != corev1.ConditionFalse && c.Status != corev1.ConditionUnknown:
		return fmt.Errorf("condition %s: status %q is not True, False or Unknown", c.Type, c.Status)
	case len(c.Reason) > 1024 || !reasonRE.MatchString(c.Reason):
		return fmt.Errorf("condition %s: reason %q is not CamelCase", c.Type, c.Reason)
	case len(c.Message) > MaxMessage:
		return fmt.Errorf("condition %s: message is longer than %d bytes", c.Type, MaxMessage)
	case c.LastTransitionTime.IsZero():
		return fmt.Errorf("condition %s: no transition time", c.Type)
	}
	return nil
}

// EventType is the type of the Event recorded when a condition changes: Normal for a good state (Ready, a
// planned audit, a ceiling that holds or is lifted on purpose), Warning for everything else, and for every
// state of the escape hatch.
func EventType(c corev1.NamespaceCondition) string {
	switch {
	case c.Type == Ready && c.Status == corev1.ConditionTrue,
		c.Type == Audit && c.Reason == ReasonAuditMode,
		c.Type == Ceiling && c.Status != corev1.ConditionFalse:
		return corev1.EventTypeNormal
	}
	return corev1.EventTypeWarning
}

// SelectionText names a profile and grants in words: `profile "standard" with access to postgres`.
func SelectionText(sel contract.Selection) string {
	var b strings.Builder
	if sel.Profile != "" {
		fmt.Fprintf(&b, "profile %q", sel.Profile)
	} else {
		b.WriteString("no profile")
	}
	if len(sel.Grants) > 0 {
		fmt.Fprintf(&b, " with access to %s", strings.Join(sel.Grants, ", "))
	}
	return b.String()
}

// AppliedMessage is the Ready message of a namespace whose labels are all in effect.
func AppliedMessage(sel contract.Selection, policies []string) string {
	if len(policies) == 0 {
		return SelectionText(sel) + " is in effect: it allows nothing beyond the cluster baselines, so no policy is needed"
	}
	return SelectionText(sel) + " is in effect: applied CiliumNetworkPolicy " + strings.Join(policies, ", ")
}

// Refused is what a namespace with refused labels has in force, for RefusedMessage.
type Refused struct {
	// Refusal says what is wrong and how to fix it.
	Refusal string
	// KeptAll: nothing could be rendered safely, so what stood stays exactly as it was.
	KeptAll bool
	// Kept describes what stays as it was for each refused label (when not KeptAll); a grant withdrawn because
	// its resource does not admit the namespace keeps nothing and is not listed.
	Kept []string
	// Effective is what is in force when not KeptAll.
	Effective contract.Selection
	// Standing names the generated policies that stand, and StandingProfile the profile recorded on them.
	Standing        []string
	StandingProfile string
}

// RefusedMessage is the Ready message of a namespace with refused labels: what is wrong, what stays as it
// was, and what is in effect. What stays and what is in effect are always said: a refusal too long for
// MaxMessage is shortened, not they.
func RefusedMessage(r Refused) string {
	tail := refusedTail(r)
	return Shorten(r.Refusal, MaxMessage-len(tail)) + tail
}

// refusedTail is what RefusedMessage says after the refusal.
func refusedTail(r Refused) string {
	if len(r.Standing) == 0 && (r.KeptAll || r.Effective.IsEmpty()) {
		return "; nothing was applied, so none of this namespace's traffic is opened"
	}
	if r.KeptAll {
		msg := "; the last good policy stays in place (CiliumNetworkPolicy " + strings.Join(r.Standing, ", ")
		if r.StandingProfile != "" {
			msg += ", profile " + r.StandingProfile
		}
		return msg + ")"
	}
	if len(r.Kept) == 0 {
		// Only withdrawn grants (ConsumerNotAllowed): nothing of what stood is kept for them.
		return "; the other labels are in effect: " + SelectionText(r.Effective)
	}
	return fmt.Sprintf("; the last good policy stays in place for what was refused (%s); the other labels are in effect: %s",
		strings.Join(r.Kept, ", "), SelectionText(r.Effective))
}

// InvalidEnforcementMessage says that an enforcement label value is not one netprofile understands. The
// Namespace condition and the admission policy both start with it.
func InvalidEnforcementMessage(key, value string) string {
	return fmt.Sprintf("label %s=%q is not understood: netprofile understands %q (the escape hatch) and %q (audit mode)",
		key, value, contract.EnforcementDisabled, contract.EnforcementAudit)
}

// ProviderMessage says that a granted SharedResource's provider half is not in effect.
func ProviderMessage(resource, reason, message string) string {
	return fmt.Sprintf("access to %s is not in effect: its provider policy is not (SharedResource %s is %s: %s)", resource, resource, reason, message)
}

// CeilingFacts is what the namespace-policy controller knows about a namespace's ceiling.
type CeilingFacts struct {
	// Profile is the effective profile.
	Profile string
	// Enforced: the profile enforces its ceiling (spec.ceiling: Enforce).
	Enforced bool
	// Lifted says why the ceiling is lifted right now ("" when it is not).
	Lifted string
	// Problem says why the ceiling is not in place although it should be; Standing says whether the one
	// applied before still stands.
	Problem  string
	Standing bool
	// Gaps are what the ceiling cannot hold.
	Gaps []string
	// Others name the other policies in the namespace ("NetworkPolicy allow-all"), sorted.
	Others []string
}

// maxNamed bounds how many policies or gaps a message names.
const maxNamed = 10

// CeilingCondition is the Ceiling condition of a namespace.
func CeilingCondition(f CeilingFacts, policyName string) corev1.NamespaceCondition {
	c := corev1.NamespaceCondition{Type: Ceiling}
	profile := fmt.Sprintf("NetworkProfile %q", f.Profile)
	others := "no other policy in this namespace selects its pods"
	if len(f.Others) > 0 {
		others = "other policies here: " + bounded(f.Others)
	}
	switch {
	case f.Lifted != "":
		c.Status, c.Reason = corev1.ConditionUnknown, ReasonCeilingLifted
		c.Message = fmt.Sprintf("the ceiling of %s is lifted while %s: its deny rules would drop what the allow-all lets through; it returns when enforcement does (%s)",
			profile, f.Lifted, others)
	case !f.Enforced && len(f.Others) == 0:
		c.Status, c.Reason = corev1.ConditionTrue, ReasonNoOtherPolicies
		c.Message = fmt.Sprintf("%s does not enforce its ceiling (spec.ceiling: Report), and %s: the labels are all it has", profile, others)
	case !f.Enforced:
		c.Status, c.Reason = corev1.ConditionFalse, ReasonCeilingNotEnforced
		c.Message = fmt.Sprintf("%s does not enforce its ceiling (spec.ceiling: Report), so these policies may allow more than the labels: %s; set spec.ceiling: Enforce on the profile, or remove them and use labels",
			profile, bounded(f.Others))
	case f.Problem != "":
		c.Status, c.Reason = corev1.ConditionFalse, ReasonCeilingNotApplied
		kept := "no ceiling is in place"
		if f.Standing {
			kept = "the last good ceiling (CiliumNetworkPolicy " + policyName + ") stays in place"
		}
		c.Message = fmt.Sprintf("the ceiling of %s is not applied: %s; %s (%s)", profile, f.Problem, kept, others)
	case len(f.Gaps) > 0 && len(f.Others) > 0:
		c.Status, c.Reason = corev1.ConditionFalse, ReasonCeilingPartial
		c.Message = fmt.Sprintf("CiliumNetworkPolicy %s holds this namespace to %s except for %s; these policies may use that: %s",
			policyName, profile, bounded(f.Gaps), bounded(f.Others))
	case len(f.Gaps) > 0:
		c.Status, c.Reason = corev1.ConditionTrue, ReasonCeilingPartial
		c.Message = fmt.Sprintf("CiliumNetworkPolicy %s holds this namespace to %s except for %s; %s", policyName, profile, bounded(f.Gaps), others)
	default:
		c.Status, c.Reason = corev1.ConditionTrue, ReasonCeilingEnforced
		c.Message = fmt.Sprintf("CiliumNetworkPolicy %s holds this namespace to %s, its grants and the baselines, whatever other policies allow", policyName, profile)
		if len(f.Others) > 0 {
			c.Message += "; " + others + " (they can narrow access, never widen it)"
		}
	}
	return c
}

// bounded joins names, at most maxNamed of them.
func bounded(names []string) string {
	if len(names) <= maxNamed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamed], ", "), len(names)-maxNamed)
}

// NotMarkedMessage says that a namespace the catalogue names does not carry the platform label, what
// netprofile does about it (consequence), and how the platform marks it.
func NotMarkedMessage(c contract.Contract, what, namespace, consequence string) string {
	return fmt.Sprintf("%s %s is not marked as the platform's (label %s=%s), so it may be anyone's: %s; if it is the platform's, a platform admin marks it: kubectl label namespace %s %s=%s",
		what, namespace, c.PlatformKey(), contract.PlatformMarked, consequence, namespace, c.PlatformKey(), contract.PlatformMarked)
}

// UnmarkedPeersMessage says which namespaces an object's peers name without the platform mark, appended to
// what the object otherwise reports.
func UnmarkedPeersMessage(c contract.Contract, ok string, unmarked []string) string {
	return fmt.Sprintf("%s; but its peers in %s select nothing: a namespace the catalogue names counts only with the platform label (a platform admin runs kubectl label namespace <name> %s=%s)",
		ok, strings.Join(unmarked, ", "), c.PlatformKey(), contract.PlatformMarked)
}
