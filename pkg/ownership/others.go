package ownership

import (
	"context"
	"fmt"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
)

// OtherPolicies names, sorted, the policies in a namespace that netprofile did not generate: every
// CiliumNetworkPolicy but its own, and every NetworkPolicy. Cilium adds their allowances to netprofile's,
// so they are what a namespace's ceiling must hold. The reader must serve NetworkPolicies as metadata.
func OtherPolicies(ctx context.Context, r client.Reader, namespace string) ([]string, error) {
	cnps := &cilium.CiliumNetworkPolicyList{}
	if err := r.List(ctx, cnps, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("failed to list CiliumNetworkPolicies: %w", err)
	}
	var out []string
	for i := range cnps.Items {
		if !Generated(&cnps.Items[i]) {
			out = append(out, cilium.CNPKindDefinition+" "+cnps.Items[i].Name)
		}
	}
	knps := &metav1.PartialObjectMetadataList{}
	knps.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("NetworkPolicyList"))
	if err := r.List(ctx, knps, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("failed to list NetworkPolicies: %w", err)
	}
	for _, k := range knps.Items {
		out = append(out, "NetworkPolicy "+k.Name)
	}
	slices.Sort(out)
	return out, nil
}
