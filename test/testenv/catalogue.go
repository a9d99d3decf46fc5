package testenv

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/catalogue"
	"github.com/netprofile/netprofile/pkg/contract"
)

// CreateCatalogue creates the default catalogue exactly as shipped (config/samples: profiles, shared resources,
// baselines) and returns it.
func CreateCatalogue(ctx context.Context, c client.Client) (*catalogue.Set, error) {
	set, err := catalogue.LoadPaths(filepath.Join(RepoRoot(), "config", "samples"))
	if err != nil {
		return nil, err
	}
	var objs []client.Object
	for _, p := range set.Profiles {
		objs = append(objs, p.DeepCopy())
	}
	for _, r := range set.Resources {
		objs = append(objs, r.DeepCopy())
	}
	for _, b := range set.Baselines {
		objs = append(objs, b.DeepCopy())
	}
	for _, obj := range objs {
		if err := c.Create(ctx, obj); err != nil {
			return nil, fmt.Errorf("failed to create %s %s: %w", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName(), err)
		}
	}
	return set, nil
}

// PlatformNamespace is a namespace as the README installs the catalogue's namespaces: marked as the
// platform's with the default contract's platform label, so the catalogue trusts it.
func PlatformNamespace(name string) *corev1.Namespace {
	c := contract.Default()
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{c.PlatformKey(): contract.PlatformMarked}}}
}
