// Package apply writes netprofile's generated Cilium policies: server-side apply under one field manager per
// controller, only when something we own drifted, and never over an object netprofile does not own.
package apply

import (
	"context"
	"errors"
	"fmt"
	"reflect"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// ClashError means an object netprofile does not own already has the name of a generated policy. It is left
// alone and reported.
type ClashError struct {
	Kind, Namespace, Name string
}

func (e *ClashError) Error() string {
	where := e.Name
	if e.Namespace != "" {
		where = e.Namespace + "/" + e.Name
	}
	return fmt.Sprintf("a %s named %s already exists and is not managed by netprofile; netprofile leaves it untouched: rename or delete it (names starting with %q are reserved)",
		e.Kind, where, ownership.NamePrefix)
}

// Applier applies generated policies.
type Applier struct {
	// Client reads from the manager's cache, which holds every Cilium policy in the cluster reduced by
	// TransformPolicy (so a hand-written policy with a reserved name is seen without a request), and writes
	// to the API server.
	Client client.Client
	// FieldManager is the controller's server-side apply field manager.
	FieldManager string
}

// Apply makes the object named like desired (a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy) match
// it, with a controller reference to owner, and reports whether it wrote. An object with that name that
// netprofile does not own is a ClashError and is left alone.
func (a Applier) Apply(ctx context.Context, desired client.Object, component string, owner client.Object) (bool, error) {
	current := reflect.New(reflect.TypeOf(desired).Elem()).Interface().(client.Object)
	switch err := a.Client.Get(ctx, client.ObjectKeyFromObject(desired), current); {
	case apierrors.IsNotFound(err):
		// Nothing by that name anywhere: a create. (Something created in the instant since the cache last
		// heard from the API server would be taken over; names under the reserved prefix make that moot.)
	case err != nil:
		return false, fmt.Errorf("failed to read %s %s: %w", desired.GetObjectKind().GroupVersionKind().Kind, key(desired), err)
	case !ownership.IsOwned(current, component, owner) && !ownership.IsControlledBy(current, owner):
		return false, clash(desired)
	case upToDate(desired, current) && ownership.IsOwned(current, component, owner):
		return false, nil
	}

	if log := ctrl.LoggerFrom(ctx).V(1); log.Enabled() {
		log.Info("Applying policy", "policy", key(desired), "exists", current.GetUID() != "",
			"cachedRulesHash", current.GetAnnotations()[RulesHashAnnotation], "desiredRulesHash", policy.RulesHash(desired),
			"cachedLabels", current.GetLabels())
	}
	// Status is not ours, and creationTimestamp: null would be sent as an owned field.
	m, err := policy.Clean(desired)
	if err != nil {
		return false, fmt.Errorf("%s: %w", key(desired), err)
	}
	u := &unstructured.Unstructured{Object: m}
	gvk := desired.GetObjectKind().GroupVersionKind()
	ownerGVK, err := apiutil.GVKForObject(owner, a.Client.Scheme())
	if err != nil {
		return false, fmt.Errorf("failed to find the kind of %s: %w", owner.GetName(), err)
	}
	// No blockOwnerDeletion: nothing waits on a foreground deletion of a Namespace or Baseline, and setting it
	// would need update on the owner's finalizers subresource where OwnerReferencesPermissionEnforcement runs.
	u.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion: ownerGVK.GroupVersion().String(), Kind: ownerGVK.Kind,
		Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true),
	}})
	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(a.FieldManager), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("failed to apply %s %s: %w", gvk.Kind, key(desired), err)
	}
	return true, nil
}

// Delete deletes a policy if the component owns it (anything else is left alone), with a UID precondition so
// a same-named replacement is never hit.
func Delete(ctx context.Context, c client.Client, obj client.Object, component string) error {
	if !ownership.IsOwned(obj, component, nil) {
		return nil
	}
	uid := obj.GetUID()
	if err := c.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to delete %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, key(obj), err)
	}
	return nil
}

// upToDate compares what netprofile owns: its labels, and the rules by hash (the cache keeps only that).
func upToDate(desired, current client.Object) bool {
	for k, v := range desired.GetLabels() {
		if current.GetLabels()[k] != v {
			return false
		}
	}
	return current.GetAnnotations()[RulesHashAnnotation] == policy.RulesHash(desired)
}

// RulesHashAnnotation holds, on cached copies only, the hash of a policy's rules; it is never written to
// the API server.
const RulesHashAnnotation = "netprofile.internal/rules-sha256"

// emptyRulesHash is the hash of a policy without rules: what a reduced object hashes to.
var emptyRulesHash = policy.RulesHash(&cilium.CiliumNetworkPolicy{})

// TransformPolicy reduces a Cilium policy entering the manager's cache to what netprofile decides with: its
// metadata, its Valid condition and a hash of its rules. Memory then scales with the number of policies, not
// with their size, so the cache can hold every policy in the cluster and clashes need no extra request.
//
// Informers may hand an object to a transform more than once (a relist replaces the store), so a reduced
// object passes through unchanged.
func TransformPolicy(obj any) (any, error) {
	if p, ok := obj.(client.Object); ok {
		if _, reduced := p.GetAnnotations()[RulesHashAnnotation]; reduced && policy.RulesHash(p) == emptyRulesHash {
			return obj, nil
		}
	}
	switch p := obj.(type) {
	case *cilium.CiliumNetworkPolicy:
		p.Annotations = map[string]string{RulesHashAnnotation: policy.RulesHash(p)}
		p.ManagedFields = nil
		p.Spec, p.Specs = nil, nil
		p.Status = cilium.NetworkPolicyStatus{Conditions: p.Status.Conditions}
	case *cilium.CiliumClusterwideNetworkPolicy:
		p.Annotations = map[string]string{RulesHashAnnotation: policy.RulesHash(p)}
		p.ManagedFields = nil
		p.Spec, p.Specs = nil, nil
		p.Status = cilium.NetworkPolicyStatus{Conditions: p.Status.Conditions}
	}
	return obj, nil
}

func clash(obj client.Object) error {
	return &ClashError{Kind: obj.GetObjectKind().GroupVersionKind().Kind, Namespace: obj.GetNamespace(), Name: obj.GetName()}
}

// IsClash reports whether err is (or wraps) a ClashError.
func IsClash(err error) bool {
	var c *ClashError
	return errors.As(err, &c)
}

func key(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
