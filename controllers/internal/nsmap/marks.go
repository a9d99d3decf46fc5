package nsmap

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/netprofile/netprofile/pkg/policy"
)

// MarkChanged passes a Namespace that appears or goes, or gains or loses the platform mark (label key): what
// a catalogue object whose peers name it reports on.
func MarkChanged(key string) predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetLabels()[key] != e.ObjectNew.GetLabels()[key]
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// Unmarked lists, in order, the namespaces of names that exist without the platform mark: the peers a
// catalogue object names there select nothing, and the namespace may be someone else's. A namespace that
// does not exist is not listed: there is nothing to trust yet, and the platform-namespaces admission policy
// keeps its name for the platform.
func Unmarked(ctx context.Context, c client.Reader, r policy.Renderer, names []string) ([]string, error) {
	var out []string
	for _, name := range names {
		if !policy.NeedsMark(name) {
			continue
		}
		ns := &corev1.Namespace{}
		switch err := c.Get(ctx, client.ObjectKey{Name: name}, ns); {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, fmt.Errorf("failed to read namespace %s: %w", name, err)
		case !r.Marked(name, ns.Labels):
			out = append(out, name)
		}
	}
	return out, nil
}
