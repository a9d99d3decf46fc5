package ownership

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Protected reports whether the chart's generated-policies admission policy keeps obj, a Cilium policy, for
// netprofile: named with NamePrefix or labelled as netprofile's. Only netprofile's ServiceAccount, the users of
// admission.systemDeleters (deleting) and admission.breakGlassGroups may write such an object, so it is what holds
// up a namespace's deletion when the namespace controller runs as another user. The Go twin of that policy's
// matchCondition, which is broader than Generated: it also keeps hand-written look-alikes from tenants.
func Protected(obj metav1.Object) bool {
	return strings.HasPrefix(obj.GetName(), NamePrefix) || obj.GetLabels()[ManagedByLabel] == ManagedByValue
}
