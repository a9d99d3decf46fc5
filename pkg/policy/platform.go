package policy

// DefaultPlatformNamespaces keep their hand-crafted policies; profiles and grants are refused there. It is the
// default of the manager's --platform-namespaces (controllers.DefaultPlatformNamespaces, which a test in the
// kubectl plugin keeps equal to this list), exported here so that tools that render offline need not import
// the controllers.
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
