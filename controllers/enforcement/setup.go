package enforcement

import (
	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/netprofile/netprofile/controllers/internal/predicates"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// SetupWithManager registers the reconciler: Namespace label and annotation edits (the label, the since
// stamp, the until annotation), edits of its own conditions (anyone who may write the Namespace's status can
// forge them), resyncs, every change of a policy at the allow-alls' names, whoever owns it, and every change of
// a record of a bypass, whoever made it.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, opts controller.Options) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(opts).
		For(&corev1.Namespace{}, builder.WithPredicates(predicate.Or[client.Object](
			predicate.LabelChangedPredicate{}, predicate.AnnotationChangedPredicate{}, predicates.Resync{},
			predicates.ConditionsChanged{Types: []corev1.NamespaceConditionType{conditions.EnforcementDisabled, conditions.Audit}}))).
		Watches(&cilium.CiliumNetworkPolicy{}, predicates.ReservedPolicy(ownership.ComponentEnforcement),
			builder.WithPredicates(predicates.PolicyChanged{Component: ownership.ComponentEnforcement})).
		Watches(&corev1.ConfigMap{}, predicates.BypassRecord(r.RecordNamespace)).
		Complete(r)
}
