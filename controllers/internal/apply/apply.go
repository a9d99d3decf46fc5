// Package apply writes netprofile's generated Cilium policies, and takes them back whole when anyone else
// changed them. Every write and delete is decided by the ownership rule (pkg/ownership): an object netprofile
// does not own is never modified or deleted.
//
// How an edit is taken back: netprofile first sends a server-side apply under its component's field manager
// with ForceOwnership. That restores every field netprofile sends, but a field another manager added (a
// top-level spec beside netprofile's specs, enableDefaultDeny, an extra selector key, ingressDeny) stays,
// because server-side apply only removes fields the applier itself stops sending. When the object the API
// server returns still differs from the rendered one, netprofile replaces it: an update of the whole object
// (rules, labels, owner reference, finalizers) from that response, with its resourceVersion as precondition,
// so a concurrent writer makes the update fail and the reconcile retry instead of being overwritten blindly.
// A full update was chosen over rewriting managedFields (as Flux's SSA manager does): it removes every
// foreign field whatever operation added it, it needs no knowledge of managedFields' internal encoding, and
// it costs one request only when something foreign is there.
package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/cilium/cilium/pkg/policy/api"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/csaupgrade"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// Result says what Apply did.
type Result string

// Results of Apply.
const (
	// Unchanged: the policy already was what netprofile renders; nothing was written.
	Unchanged Result = "unchanged"
	// Created: there was no policy by that name.
	Created Result = "created"
	// Configured: netprofile's own rendering changed (a label or catalogue change) and was written.
	Configured Result = "configured"
	// Reverted: someone else changed the policy; it is back to what netprofile renders.
	Reverted Result = "reverted"
	// Adopted: netprofile's policy had lost its owner reference; netprofile took it back.
	Adopted Result = "adopted"
)

// ClashError means an object netprofile does not own already has the name of a generated policy. It is left
// alone and reported.
type ClashError struct {
	Kind, Namespace, Name string
}

func (e *ClashError) Error() string {
	return conditions.ClashMessage(e.Kind, e.Namespace, e.Name)
}

// Applier applies one component's generated policies.
type Applier struct {
	// Client reads from the manager's cache, which holds every Cilium policy in the cluster reduced by
	// TransformPolicy (so a hand-written policy with a reserved name is seen without a request), and writes
	// to the API server.
	Client client.Client
	// APIReader reads the whole object from the API server when an orphaned policy is adopted.
	APIReader client.Reader
	// Component is the writing controller's component; its field manager is ownership.FieldManager(Component).
	Component string
	// Recorder records an Event on the owner whenever netprofile reverts or adopts a policy.
	Recorder events.EventRecorder
}

// Apply makes the object named like desired (a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy) exactly
// what netprofile renders, with a controller reference to owner, and says what it did. An object with that name
// that netprofile does not own is a ClashError and is left alone.
//
// Where the cache shows no object, the policy is created, never applied: a server-side apply would patch an
// object someone else created at that name since the cache looked, and so take it over. A create that finds
// one decides about it as the API server holds it.
func (a Applier) Apply(ctx context.Context, desired, owner client.Object) (Result, error) {
	current, err := a.cached(ctx, desired)
	if err != nil {
		return "", err
	}
	ownerRef, err := a.ownerReference(owner)
	if err != nil {
		return "", err
	}
	var res Result
	var editors []string
	if current == nil {
		res, err = a.create(ctx, desired, ownerRef)
		if apierrors.IsAlreadyExists(err) {
			current, err = a.live(ctx, desired)
		}
		if err != nil {
			return "", err
		}
	}
	if current != nil {
		switch verdict := ownership.Decide(current, a.Component, owner.GetUID()); {
		case verdict == ownership.Foreign:
			return "", clash(desired)
		case verdict == ownership.Owned && upToDate(desired, current, owner):
			return Unchanged, nil
		case verdict == ownership.Orphaned:
			res, editors, err = a.adopt(ctx, desired, ownerRef)
		default:
			res, editors, err = a.apply(ctx, desired, current, ownerRef)
		}
		if err != nil {
			return "", err
		}
	}
	ctrl.LoggerFrom(ctx).Info("Wrote policy", "policy", key(desired), "kind", kindOf(desired), "result", string(res), "editors", editors)
	switch res {
	case Reverted:
		a.Recorder.Eventf(owner, nil, corev1.EventTypeWarning, conditions.ReasonPolicyReverted, "Revert",
			"reverted %s %s: it was changed by %s; netprofile owns it and restored what it renders", kindOf(desired), key(desired), who(editors))
	case Adopted:
		a.Recorder.Eventf(owner, nil, corev1.EventTypeWarning, conditions.ReasonPolicyAdopted, "Adopt",
			"took back %s %s: its owner reference had been removed or changed (last changed by %s)", kindOf(desired), key(desired), who(editors))
	}
	return res, nil
}

// create creates the rendered policy; an AlreadyExists error is returned as the API server gave it.
func (a Applier) create(ctx context.Context, desired client.Object, ownerRef metav1.OwnerReference) (Result, error) {
	m, err := policy.Clean(desired)
	if err != nil {
		return "", fmt.Errorf("%s: %w", key(desired), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetOwnerReferences([]metav1.OwnerReference{ownerRef})
	if err := a.Client.Create(ctx, u, client.FieldOwner(ownership.FieldManager(a.Component))); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return "", err
		}
		return "", fmt.Errorf("failed to create %s %s: %w", kindOf(desired), key(desired), err)
	}
	return Created, nil
}

// live reads the object named like desired from the API server, reduced as the cache would hold it.
func (a Applier) live(ctx context.Context, desired client.Object) (client.Object, error) {
	obj := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
	if err := a.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), obj); err != nil {
		return nil, fmt.Errorf("failed to read %s %s: %w", kindOf(desired), key(desired), err)
	}
	if _, err := TransformPolicy(obj); err != nil {
		return nil, err
	}
	return obj, nil
}

// apply sends a server-side apply, then takes the object back whole if foreign fields survived it.
func (a Applier) apply(ctx context.Context, desired, current client.Object, ownerRef metav1.OwnerReference) (Result, []string, error) {
	res, editors := Created, []string(nil)
	if current != nil {
		res, editors = Configured, editedSince(current, a.Component)
		if len(editors) > 0 {
			res = Reverted
		}
	}
	m, err := policy.Clean(desired)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", key(desired), err)
	}
	u := &unstructured.Unstructured{Object: m}
	// No blockOwnerDeletion: nothing waits on a foreground deletion of a Namespace or Baseline, and setting it
	// would need update on the owner's finalizers subresource where OwnerReferencesPermissionEnforcement runs.
	u.SetOwnerReferences([]metav1.OwnerReference{ownerRef})
	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(ownership.FieldManager(a.Component)), client.ForceOwnership); err != nil {
		return "", nil, fmt.Errorf("failed to apply %s %s: %w", kindOf(desired), key(desired), err)
	}
	same, err := matches(desired, u, ownerRef.UID)
	if err != nil || same {
		return res, editors, err
	}
	// What survived the apply belongs to another field manager: name it.
	for _, w := range ownership.OtherWriters(u) {
		if !slices.Contains(editors, w) {
			editors = append(editors, w)
		}
	}
	if err := a.replace(ctx, desired, u, ownerRef); err != nil {
		return "", nil, err
	}
	if len(editors) == 0 {
		// Only netprofile's own create still owned what this apply stopped sending (see replace): its own
		// change, not an edit.
		return res, nil, nil
	}
	return Reverted, editors, nil
}

// adopt takes back an orphaned policy: read whole from the API server, decided again there (the cache may
// lag), and replaced.
func (a Applier) adopt(ctx context.Context, desired client.Object, ownerRef metav1.OwnerReference) (Result, []string, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(desired.GetObjectKind().GroupVersionKind())
	if err := a.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		return "", nil, fmt.Errorf("failed to read %s %s: %w", kindOf(desired), key(desired), err)
	}
	if !ownership.Ours(live, a.Component, ownerRef.UID) {
		return "", nil, clash(desired)
	}
	if err := a.replace(ctx, desired, live, ownerRef); err != nil {
		return "", nil, err
	}
	return Adopted, ownership.OtherWriters(live), nil
}

// replace updates base (a whole object read from the API server) to exactly the rendered policy: rules,
// labels, annotations, owner reference, no finalizers. base's resourceVersion is the precondition.
func (a Applier) replace(ctx context.Context, desired client.Object, base *unstructured.Unstructured, ownerRef metav1.OwnerReference) error {
	m, err := policy.Clean(desired)
	if err != nil {
		return fmt.Errorf("%s: %w", key(desired), err)
	}
	u := base.DeepCopy()
	for _, f := range []string{"spec", "specs", "status"} {
		delete(u.Object, f)
		if v, ok := m[f]; ok {
			u.Object[f] = v
		}
	}
	u.SetLabels(desired.GetLabels())
	u.SetAnnotations(desired.GetAnnotations())
	u.SetOwnerReferences([]metav1.OwnerReference{ownerRef})
	u.SetFinalizers(nil)
	// A policy netprofile created (see Apply) records that create as an Update under netprofile's field
	// manager, which keeps owning whatever later applies stop sending, so the apply cannot remove it. Hand
	// those fields to netprofile's apply entry (as client-go's csaupgrade does for kubectl's client-side
	// apply), so the next apply that drops one removes it by itself.
	manager := ownership.FieldManager(a.Component)
	if err := csaupgrade.UpgradeManagedFields(u, sets.New(manager), manager); err != nil {
		return fmt.Errorf("failed to take back %s %s: %w", kindOf(desired), key(desired), err)
	}
	if err := a.Client.Update(ctx, u, client.FieldOwner(ownership.FieldManager(a.Component))); err != nil {
		return fmt.Errorf("failed to take back %s %s: %w", kindOf(desired), key(desired), err)
	}
	return nil
}

// Delete deletes obj (from the cache) if netprofile may (ownership.Ours), with a UID precondition so a
// same-named replacement is never hit; finalizers someone added are removed first, since a policy that is
// only marked for deletion is still enforced. A Foreign object is left alone and returned as a ClashError.
func (a Applier) Delete(ctx context.Context, obj client.Object, ownerUID types.UID) error {
	if !ownership.Ours(obj, a.Component, ownerUID) {
		return clash(obj)
	}
	if len(obj.GetFinalizers()) > 0 {
		patch := client.RawPatch(types.JSONPatchType, fmt.Appendf(nil, `[{"op":"test","path":"/metadata/uid","value":%q},{"op":"remove","path":"/metadata/finalizers"}]`, obj.GetUID()))
		if err := a.Client.Patch(ctx, obj.DeepCopyObject().(client.Object), patch, client.FieldOwner(ownership.FieldManager(a.Component))); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("failed to remove the finalizers of %s %s: %w", kindOf(obj), key(obj), err)
		}
	}
	uid := obj.GetUID()
	if err := a.Client.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to delete %s %s: %w", kindOf(obj), key(obj), err)
	}
	ctrl.LoggerFrom(ctx).Info("Deleted policy", "policy", key(obj), "kind", kindOf(obj))
	return nil
}

// cached returns the cached (reduced) object named like desired, whoever owns it, or nil.
func (a Applier) cached(ctx context.Context, desired client.Object) (client.Object, error) {
	current := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
	switch err := a.Client.Get(ctx, client.ObjectKeyFromObject(desired), current); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to read %s %s: %w", kindOf(desired), key(desired), err)
	}
	return current, nil
}

// Current returns the policy at a reserved name from the reader (the manager's cache), whoever owns it, or
// nil: what a reconciler decides about through the ownership rule.
func Current[T any, PT interface {
	*T
	client.Object
}](ctx context.Context, r client.Reader, at client.ObjectKey) (PT, error) {
	p := PT(new(T))
	switch err := r.Get(ctx, at, p); {
	case apierrors.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("failed to read %s %s: %w", kindOf(p), at, err)
	}
	return p, nil
}

func (a Applier) ownerReference(owner client.Object) (metav1.OwnerReference, error) {
	gvk, err := apiutil.GVKForObject(owner, a.Client.Scheme())
	if err != nil {
		return metav1.OwnerReference{}, fmt.Errorf("failed to find the kind of %s: %w", owner.GetName(), err)
	}
	return metav1.OwnerReference{APIVersion: gvk.GroupVersion().String(), Kind: gvk.Kind,
		Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}, nil
}

// upToDate compares a cached copy with the rendered policy: the rules and the annotations by hash (the cache
// keeps only those), the labels exactly, a single owner reference to the owner, and no finalizers.
func upToDate(desired, current client.Object, owner client.Object) bool {
	return CachedRulesHash(current) == policy.RulesHash(desired) &&
		CachedAnnotationsHash(current) == policy.AnnotationsHash(desired.GetAnnotations()) && sameMeta(desired, current, owner.GetUID())
}

// matches compares what the API server returned with the rendered policy, on the whole rules.
func matches(desired client.Object, got *unstructured.Unstructured, ownerUID types.UID) (bool, error) {
	typed := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(got.Object, typed); err != nil {
		return false, fmt.Errorf("failed to decode %s %s: %w", kindOf(desired), key(desired), err)
	}
	if policy.RulesHash(typed) != policy.RulesHash(desired) || !sameMeta(desired, got, ownerUID) {
		return false, nil
	}
	// Fields the typed envelope does not know (which the CRD schema would normally prune) count as foreign.
	for f := range got.Object {
		switch f {
		case "apiVersion", "kind", "metadata", "spec", "specs", "status":
		default:
			return false, nil
		}
	}
	return true, nil
}

// sameMeta compares the metadata netprofile renders; annotations only where current carries them (not a
// cached copy).
func sameMeta(desired, current metav1.Object, ownerUID types.UID) bool {
	refs := current.GetOwnerReferences()
	return maps.Equal(desired.GetLabels(), current.GetLabels()) && maps.Equal(desired.GetAnnotations(), current.GetAnnotations()) &&
		len(refs) == 1 && refs[0].UID == ownerUID && ptr.Deref(refs[0].Controller, false) &&
		len(current.GetFinalizers()) == 0
}

// editedSince are the field managers that wrote obj after netprofile's component last did: an edit, not a
// change of netprofile's own rendering.
func editedSince(obj metav1.Object, component string) []string {
	var ours *metav1.Time
	for _, f := range obj.GetManagedFields() {
		if f.Manager == ownership.FieldManager(component) && f.Subresource == "" && f.Time != nil && (ours == nil || ours.Before(f.Time)) {
			ours = f.Time
		}
	}
	var out []string
	for _, w := range ownership.OtherWriters(obj) {
		for _, f := range obj.GetManagedFields() {
			if f.Manager == w && f.Subresource == "" && (ours == nil || f.Time == nil || !f.Time.Before(ours)) && !slices.Contains(out, w) {
				out = append(out, w)
			}
		}
	}
	return out
}

// ValidCondition returns the Valid condition Cilium's operator writes on a policy it could or could not
// import, or nil (also for a nil policy). A Valid condition Cilium did not write is not Cilium's verdict and
// is ignored (see IgnoredValid): anyone who may write the policy's status could otherwise make netprofile
// report an enforced policy as not enforced.
func ValidCondition(obj client.Object) *cilium.NetworkPolicyCondition {
	if c := validCondition(obj); c != nil && cilium.ValidTrusted(validWriters(obj)) {
		return c
	}
	return nil
}

// IgnoredValid says, for a policy whose Valid condition was not written by Cilium, that it is ignored and
// who wrote it; "" otherwise.
func IgnoredValid(obj client.Object) string {
	c := validCondition(obj)
	if c == nil {
		return ""
	}
	if writers := validWriters(obj); !cilium.ValidTrusted(writers) {
		return conditions.IgnoredValidMessage(kindOf(obj), key(obj), string(c.Status), writers)
	}
	return ""
}

// validWriters are the writers of obj's Valid condition, kept by TransformPolicy on a cached copy.
func validWriters(obj client.Object) []string {
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		if p.CachedRulesHash != "" {
			return p.CachedValidWriters
		}
	case *cilium.CiliumClusterwideNetworkPolicy:
		if p.CachedRulesHash != "" {
			return p.CachedValidWriters
		}
	}
	return cilium.ValidWriters(obj.GetManagedFields())
}

// validCondition is the Valid condition on obj, whoever wrote it.
func validCondition(obj client.Object) *cilium.NetworkPolicyCondition {
	var conds []cilium.NetworkPolicyCondition
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		if p != nil {
			conds = p.Status.Conditions
		}
	case *cilium.CiliumClusterwideNetworkPolicy:
		if p != nil {
			conds = p.Status.Conditions
		}
	}
	for i := range conds {
		if conds[i].Type == cilium.PolicyConditionValid {
			return &conds[i]
		}
	}
	return nil
}

// Rejected returns, for a policy the Cilium agent marked invalid (and so does not enforce), the condition
// message saying so; "" otherwise.
func Rejected(obj client.Object) string {
	if c := ValidCondition(obj); c != nil && c.Status == corev1.ConditionFalse {
		return conditions.RejectedMessage(kindOf(obj), key(obj), c.Message)
	}
	return ""
}

// CachedRulesHash is the rules hash TransformPolicy keeps on a cached copy ("" for anything else).
func CachedRulesHash(obj client.Object) string {
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		return p.CachedRulesHash
	case *cilium.CiliumClusterwideNetworkPolicy:
		return p.CachedRulesHash
	}
	return ""
}

// CachedAnnotationsHash is the annotations hash TransformPolicy keeps on a cached copy ("" for none, and for
// anything else).
func CachedAnnotationsHash(obj client.Object) string {
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		return p.CachedAnnotationsHash
	case *cilium.CiliumClusterwideNetworkPolicy:
		return p.CachedAnnotationsHash
	}
	return ""
}

// TransformPolicy reduces a Cilium policy entering the manager's cache to what netprofile decides with: its
// metadata (with managedFields reduced to who wrote when, and a hash of the annotations instead of them), its
// Valid condition and a hash of its rules.
// Memory then scales with the number of policies, not with their size, so the cache can hold every policy
// in the cluster and clashes need no extra request.
//
// Informers may hand an object to a transform more than once (a resync re-queues the stored copy); the hash
// lives in a field that is never encoded, so only this transform can have set it, and a stored copy keeps it
// (and the annotations hash with it).
func TransformPolicy(obj any) (any, error) {
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		if p.CachedRulesHash == "" {
			p.CachedRulesHash = policy.RulesHash(p)
			p.CachedParts = policy.Parts(append(api.Rules{p.Spec}, p.Specs...))
			p.CachedAnnotationsHash = policy.AnnotationsHash(p.Annotations)
			p.CachedValidWriters = cilium.ValidWriters(p.ManagedFields)
		}
		reduceMeta(&p.ObjectMeta)
		p.Spec, p.Specs = nil, nil
		p.Status = cilium.NetworkPolicyStatus{Conditions: p.Status.Conditions}
	case *cilium.CiliumClusterwideNetworkPolicy:
		if p.CachedRulesHash == "" {
			p.CachedRulesHash = policy.RulesHash(p)
			p.CachedAnnotationsHash = policy.AnnotationsHash(p.Annotations)
			p.CachedValidWriters = cilium.ValidWriters(p.ManagedFields)
		}
		reduceMeta(&p.ObjectMeta)
		p.Spec, p.Specs = nil, nil
		p.Status = cilium.NetworkPolicyStatus{Conditions: p.Status.Conditions}
	}
	return obj, nil
}

// reduceMeta drops annotations and keeps of managedFields only who wrote which part when.
func reduceMeta(m *metav1.ObjectMeta) {
	m.Annotations = nil
	for i := range m.ManagedFields {
		f := &m.ManagedFields[i]
		f.FieldsV1, f.FieldsType, f.APIVersion = nil, "", ""
	}
}

func clash(obj client.Object) error {
	return &ClashError{Kind: kindOf(obj), Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// IsClash reports whether err is (or wraps) a ClashError.
func IsClash(err error) bool {
	var c *ClashError
	return errors.As(err, &c)
}

func kindOf(obj client.Object) string {
	switch obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		return cilium.CNPKindDefinition
	case *cilium.CiliumClusterwideNetworkPolicy:
		return cilium.CCNPKindDefinition
	}
	return obj.GetObjectKind().GroupVersionKind().Kind
}

func key(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}

func who(editors []string) string {
	if len(editors) == 0 {
		return "another client"
	}
	return strings.Join(editors, ", ")
}
