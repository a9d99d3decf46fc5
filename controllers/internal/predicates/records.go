package predicates

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/pkg/enforcement"
)

// BypassRecord maps every event of a record of a bypass (pkg/enforcement.Record) in recordNamespace to the
// namespace it records.
func BypassRecord(recordNamespace string) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, obj client.Object) []reconcile.Request {
		ns, ok := enforcement.RecordNamespaceOf(obj.GetName())
		if !ok || obj.GetNamespace() != recordNamespace {
			return nil
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: ns}}}
	})
}
