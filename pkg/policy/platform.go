package policy

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
