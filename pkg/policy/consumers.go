package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	ciliumio "github.com/cilium/cilium/pkg/k8s/apis/cilium.io"
	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	ciliumlabels "github.com/cilium/cilium/pkg/labels"
	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
)

// NameLabel is the label the API server sets on every Namespace to its name (kubernetes.io/metadata.name),
// whoever writes the Namespace and whatever they send: the one label nobody can forge.
const NameLabel = corev1.LabelMetadataName

// Bounds of spec.consumers, the same as the CRD's rules: an object stored before the CRD had them, or with
// validation off, is refused here rather than rendered into an oversized policy.
const (
	maxConsumerLabels      = 16
	maxConsumerExpressions = 16
	maxConsumerValues      = 64
)

// namespaceLabel is the key under which Cilium puts a namespace's label on the identity of every pod in it;
// a policy matches namespace labels only through it.
func namespaceLabel(key string) string { return ciliumio.PodNamespaceMetaLabelsPrefix + key }

// Admits reports whether a SharedResource lets a namespace with these labels be its consumer: true when it
// does not limit its consumers. The provider half renders the same selector for Cilium (Provider), so the
// consumer's egress and the provider's ingress always agree. An invalid spec.consumers is an error: it admits
// nobody new (the callers keep what stood, as for any invalid resource).
func Admits(sr *v1alpha1.SharedResource, namespaceLabels map[string]string) (bool, error) {
	c := sr.Spec.Consumers
	if c == nil {
		return true, nil
	}
	if err := validateConsumers(c); err != nil {
		return false, err
	}
	s, err := metav1.LabelSelectorAsSelector(&c.NamespaceSelector)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(namespaceLabels)), nil
}

// ConsumersText is spec.consumers as users write selectors on the command line ("team=payments,env in
// (prod)"), for messages; "" when it does not limit its consumers.
func ConsumersText(spec *v1alpha1.SharedResourceSpec) string {
	if spec.Consumers == nil {
		return ""
	}
	s, err := metav1.LabelSelectorAsSelector(&spec.Consumers.NamespaceSelector)
	if err != nil {
		return "an invalid selector"
	}
	if s.Empty() {
		return "any labels"
	}
	return s.String()
}

// validateConsumers checks that spec.consumers is a valid Kubernetes selector and that Cilium can evaluate
// it: Cilium matches a namespace label as io.cilium.k8s.namespace.labels.<key>, and a key that is valid on
// a Namespace can be too long for that. Errors come in spec order, so a message never changes on its own.
func validateConsumers(c *v1alpha1.Consumers) error {
	sel := c.NamespaceSelector
	if n := len(sel.MatchLabels); n > maxConsumerLabels {
		return fmt.Errorf("consumers: namespaceSelector.matchLabels has %d labels, at most %d", n, maxConsumerLabels)
	}
	if n := len(sel.MatchExpressions); n > maxConsumerExpressions {
		return fmt.Errorf("consumers: namespaceSelector.matchExpressions has %d expressions, at most %d", n, maxConsumerExpressions)
	}
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(sel.MatchLabels)) {
		where := fmt.Sprintf("consumers: namespaceSelector.matchLabels[%s]", k)
		errs = append(errs, checkKey(where, k))
		if msgs := validation.IsValidLabelValue(sel.MatchLabels[k]); len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s: value %q: %s", where, sel.MatchLabels[k], strings.Join(msgs, "; ")))
		}
	}
	for i, e := range sel.MatchExpressions {
		where := fmt.Sprintf("consumers: namespaceSelector.matchExpressions[%d]", i)
		errs = append(errs, checkKey(where, e.Key))
		switch e.Operator {
		case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
			if len(e.Values) == 0 {
				errs = append(errs, fmt.Errorf("%s: operator %s needs values", where, e.Operator))
			}
		case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
			if len(e.Values) > 0 {
				errs = append(errs, fmt.Errorf("%s: operator %s takes no values", where, e.Operator))
			}
		default:
			errs = append(errs, fmt.Errorf("%s: operator %q is not one Cilium can evaluate: use In, NotIn, Exists or DoesNotExist", where, e.Operator))
		}
		if len(e.Values) > maxConsumerValues {
			errs = append(errs, fmt.Errorf("%s: %d values, at most %d", where, len(e.Values), maxConsumerValues))
		}
		for _, v := range e.Values {
			if msgs := validation.IsValidLabelValue(v); len(msgs) > 0 {
				errs = append(errs, fmt.Errorf("%s: value %q: %s", where, v, strings.Join(msgs, "; ")))
			}
		}
	}
	return errors.Join(errs...)
}

func checkKey(where, key string) error {
	if msgs := validation.IsQualifiedName(key); len(msgs) > 0 {
		return fmt.Errorf("%s: %q is not a label key: %s", where, key, strings.Join(msgs, "; "))
	}
	if msgs := ciliumlabels.IsValidCiliumLabelKey(namespaceLabel(key)); len(msgs) > 0 {
		return fmt.Errorf("%s: Cilium cannot match the namespace label %q (it becomes %s, which is not a valid label key: %s); use a shorter key, or one with a prefix such as example.com/%s",
			where, key, namespaceLabel(key), strings.Join(msgs, "; "), key)
	}
	return nil
}

// consumerPeer selects, for Cilium, the pods of the namespaces the provider half lets in: those carrying the
// access label and, when the resource limits its consumers, matching spec.consumers. The resource is valid.
func (r Renderer) consumerPeer(sr *v1alpha1.SharedResource) api.EndpointSelector {
	accessKey := namespaceLabel(r.Contract.AccessKey(sr.Name))
	match := map[string]string{accessKey: contract.AccessGranted}
	var exprs []slimv1.LabelSelectorRequirement
	if c := sr.Spec.Consumers; c != nil {
		for _, k := range slices.Sorted(maps.Keys(c.NamespaceSelector.MatchLabels)) {
			key, v := namespaceLabel(k), c.NamespaceSelector.MatchLabels[k]
			if key == accessKey {
				// A map holds one value per key: a second requirement on the access label must stay a requirement
				// of its own, or it would be silently overwritten with "true" and let in whom it excludes.
				exprs = append(exprs, slimv1.LabelSelectorRequirement{Key: key, Operator: slimv1.LabelSelectorOpIn, Values: []string{v}})
				continue
			}
			match[key] = v
		}
		for _, e := range c.NamespaceSelector.MatchExpressions {
			exprs = append(exprs, slimv1.LabelSelectorRequirement{
				Key: namespaceLabel(e.Key), Operator: slimv1.LabelSelectorOperator(e.Operator), Values: slices.Clone(e.Values),
			})
		}
	}
	peer := r.pods(match)
	peer.MatchExpressions = exprs
	return peer
}

// admit refuses a grant whose resource does not admit the namespace. Not bad input: the provider's owner
// decided, so the grant is withdrawn even where it stood (see Namespace). A missing or invalid resource is
// not decided here: resource() refuses it as bad input, and what stood stays, as on the provider's side.
func (r Renderer) admit(ns string, nsLabels map[string]string, name string, cat Catalogue) *Refusal {
	sr := cat.Resources[name]
	if sr == nil {
		return nil
	}
	// Only a decided "no" refuses here; an invalid selector (err != nil) is resource()'s to refuse.
	if ok, err := Admits(sr, nsLabels); !ok && err == nil {
		return refuse(conditions.ReasonConsumerNotAllowed,
			"SharedResource %s limits its consumers to namespaces matching %s, and namespace %s does not match, so it has no access to %s: ask the platform team to admit it (spec.consumers of SharedResource %s), or remove the label %s",
			name, ConsumersText(&sr.Spec), ns, name, name, r.Contract.AccessKey(name))
	}
	return nil
}

// TenantWritableKeys returns, sorted, the label keys spec.consumers selects on that a namespace's own users may
// write: every key but NameLabel and the protected ones. Whoever may label a namespace (its admins, a
// self-service portal, a GitOps repository the team merges into) can set such a label, or remove it for
// NotIn and DoesNotExist, and so be admitted: {team: payments} is any tenant's to claim. nil when the
// resource does not limit its consumers, or selects only on labels nobody but the platform can set.
//
// This is the one definition of "labels a tenant cannot forge": the SharedResource's ConsumersTrusted
// condition and `kubectl netprofile lint` both use it.
func TenantWritableKeys(c *v1alpha1.Consumers, protected []string) []string {
	if c == nil {
		return nil
	}
	var out []string
	judge := func(k string) {
		if k != NameLabel && !slices.Contains(protected, k) {
			out = append(out, k)
		}
	}
	for k := range c.NamespaceSelector.MatchLabels {
		judge(k)
	}
	for _, e := range c.NamespaceSelector.MatchExpressions {
		judge(e.Key)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ProtectedKeys are the Namespace label keys admission lets only the platform write: the configured ones
// (--protected-namespace-labels) and the contract's platform mark, which the platform-namespaces policy
// protects and the catalogue already trusts a namespace by. Sorted, once each.
func ProtectedKeys(c contract.Contract, configured []string) []string {
	return sortedUnique(append(slices.Clone(configured), c.PlatformKey()))
}

func sortedUnique(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// ConsumersTrust is the ConsumersTrusted condition of a SharedResource: ok, reason and message; present false
// when the resource does not limit its consumers (the condition is then absent).
func (r Renderer) ConsumersTrust(sr *v1alpha1.SharedResource) (present, ok bool, reason, message string) {
	c := sr.Spec.Consumers
	if c == nil {
		return false, false, "", ""
	}
	protected := ProtectedKeys(r.Contract, r.ProtectedNamespaceLabels)
	if keys := TenantWritableKeys(c, protected); len(keys) > 0 {
		return true, false, conditions.ReasonTenantWritableLabels, ForgeableMessage(sr.Name, ConsumersText(&sr.Spec), keys, protected)
	}
	return true, true, conditions.ReasonUnforgeableLabels, fmt.Sprintf(
		"spec.consumers (%s) selects only on labels a namespace's own users cannot write (the API server sets %s%s)",
		ConsumersText(&sr.Spec), NameLabel, protectedText(protected))
}

// ForgeableMessage says why a selector on tenant-writable keys admits whoever copies them, and what to select
// on instead; the condition and lint say it in the same words.
func ForgeableMessage(resource, selector string, keys, protected []string) string {
	return fmt.Sprintf("spec.consumers of SharedResource %s (%s) selects on %s, which a namespace's own users may write: any namespace that sets %s is admitted and gets both halves of the grant. "+
		"Select by name (matchExpressions: [{key: %s, operator: In, values: [...]}], set by the API server) or by a label only the platform may write (protected at admission: chart value admission.protectedNamespaceLabels.keys%s)",
		resource, selector, quotedList(keys), oneOrThem(keys), NameLabel, protectedText(protected))
}

func quotedList(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = strconv.Quote(k)
	}
	if len(q) == 1 {
		return "label " + q[0]
	}
	return "labels " + strings.Join(q, ", ")
}

func oneOrThem(keys []string) string {
	if len(keys) == 1 {
		return "it"
	}
	return "them"
}

func protectedText(protected []string) string {
	if len(protected) == 0 {
		return ""
	}
	return "; admission protects " + strings.Join(protected, ", ")
}
