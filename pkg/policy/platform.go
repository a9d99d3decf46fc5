package policy

import (
	"slices"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/contract"
)

// DefaultPlatformNamespaces keep their hand-crafted policies; profiles and grants are refused there. The
// default of the manager's and the plugin's --platform-namespaces.
var DefaultPlatformNamespaces = []string{
	"kube-system", "kube-public", "kube-node-lease", "monitoring", "database", "cache", "garage",
	"istio-system", "istio-gateway", "cilium-secrets",
}

// PlatformSet turns a list of platform namespaces into the set Renderer.PlatformNamespaces takes.
func PlatformSet(names []string) map[string]bool {
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	return set
}

// BuiltinNamespaces exist in every cluster from its start and cannot be deleted: nobody can create one
// first, so a catalogue peer in one of them needs no platform mark.
var BuiltinNamespaces = []string{"default", "kube-node-lease", "kube-public", "kube-system"}

// NeedsMark reports whether the catalogue trusts namespace only with the platform label: every namespace
// but the built-in ones, whose names cannot be taken.
func NeedsMark(namespace string) bool { return !slices.Contains(BuiltinNamespaces, namespace) }

// Marked reports whether a namespace's labels mark it as the platform's, or it needs no mark.
func (r Renderer) Marked(namespace string, labels map[string]string) bool {
	return !NeedsMark(namespace) || labels[r.Contract.PlatformKey()] == contract.PlatformMarked
}

// CatalogueNamespaces are the namespaces the catalogue names, sorted: the providers of SharedResources and
// the namespaces of the endpoints peers of profiles and baselines. Each is trusted only when marked.
func CatalogueNamespaces(cat Catalogue) []string {
	var out []string
	peers := func(rules ...[]v1alpha1.Rule) {
		for _, rs := range rules {
			for _, rule := range rs {
				if rule.Endpoints != nil {
					out = append(out, rule.Endpoints.Namespace)
				}
			}
		}
	}
	for _, p := range cat.Profiles {
		peers(p.Spec.Ingress, p.Spec.Egress)
	}
	for _, b := range cat.Baselines {
		peers(b.Spec.Ingress, b.Spec.Egress)
	}
	for _, sr := range cat.Resources {
		if sr.Spec.Provider.Namespace != "" {
			out = append(out, sr.Spec.Provider.Namespace)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
