// Package apply writes netprofile's generated Cilium policies: server-side apply under one field manager per
// controller, only when something we own drifted, and never over an object netprofile does not own.
package apply

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	ciliumv2 "github.com/cilium/cilium/pkg/k8s/apis/cilium.io/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/netprofile/netprofile/pkg/ownership"
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
	// Client reads from the cache (restricted to netprofile's objects) and writes to the API server.
	Client client.Client
	// APIReader reads past the cache, to look for unowned objects with a reserved name before creating one.
	APIReader client.Reader
	// FieldManager is the controller's server-side apply field manager.
	FieldManager string
}

// Apply makes the object named like desired (a CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy) match
// it, with a controller reference to owner. current is what the cache holds under that name, nil if nothing.
// It reports whether it wrote.
func (a Applier) Apply(ctx context.Context, desired, current client.Object, component string, owner client.Object) (bool, error) {
	// A typed nil pointer in the interface means "nothing cached" too.
	if current != nil && !reflect.ValueOf(current).IsNil() {
		if !ownership.IsOwned(current, component, owner) && !ownership.IsControlledBy(current, owner) {
			return false, clash(desired)
		}
		if upToDate(desired, current) && ownership.IsOwned(current, component, owner) {
			return false, nil
		}
	} else if err := a.checkNotClashing(ctx, desired, component, owner); err != nil {
		return false, err
	}

	u, err := toUnstructured(desired)
	if err != nil {
		return false, err
	}
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

// checkNotClashing looks past the cache (which only holds our objects) for an object with the name.
func (a Applier) checkNotClashing(ctx context.Context, desired client.Object, component string, owner client.Object) error {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(desired.GetObjectKind().GroupVersionKind())
	err := a.APIReader.Get(ctx, client.ObjectKeyFromObject(desired), meta)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("failed to look for an existing %s %s: %w", desired.GetObjectKind().GroupVersionKind().Kind, key(desired), err)
	case ownership.IsOwned(meta, component, owner) || ownership.IsControlledBy(meta, owner):
		// Ours, with the cache behind or our labels removed by hand: applying repairs it.
		return nil
	default:
		return clash(desired)
	}
}

// Delete deletes a policy netprofile owns, with a UID precondition so a same-named replacement is never hit.
func Delete(ctx context.Context, c client.Client, obj client.Object) error {
	uid := obj.GetUID()
	if err := c.Delete(ctx, obj, client.Preconditions{UID: &uid}); client.IgnoreNotFound(err) != nil && !apierrors.IsConflict(err) {
		return fmt.Errorf("failed to delete %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, key(obj), err)
	}
	return nil
}

// upToDate compares what netprofile owns: the rules, and its labels.
func upToDate(desired, current client.Object) bool {
	for k, v := range desired.GetLabels() {
		if current.GetLabels()[k] != v {
			return false
		}
	}
	d, c := rules(desired), rules(current)
	return bytes.Equal(d, c)
}

// rules encodes spec and specs; comparing encodings sidesteps nil-vs-empty differences after a round trip
// through the API server.
func rules(p client.Object) []byte {
	var v any
	switch p := p.(type) {
	case *ciliumv2.CiliumNetworkPolicy:
		v = [2]any{p.Spec, p.Specs}
	case *ciliumv2.CiliumClusterwideNetworkPolicy:
		v = [2]any{p.Spec, p.Specs}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func toUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("failed to encode %s: %w", key(obj), err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("failed to decode %s: %w", key(obj), err)
	}
	// Status is not ours; creationTimestamp: null would be sent as an owned field.
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return u, nil
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
