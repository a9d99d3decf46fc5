// Package policy renders netprofile's Cilium policies from a Namespace's labels and the catalogue
// (NetworkProfiles, SharedResources, Baselines), and validates them with Cilium's own code before anything is
// applied. Everything here is a pure function: same input, byte-identical output, no client, no clock.
//
// What each rendered object is:
//   - netprofile-namespace (CiliumNetworkPolicy in the app namespace): same-namespace traffic, the profile's
//     rules and the consumer half of every access grant. Namespaced on purpose: an empty `{}` peer means
//     "this namespace" only in a namespaced policy; in a clusterwide one it means every pod in the cluster.
//   - netprofile-provider-<resource> (CiliumNetworkPolicy in the provider namespace): ingress from every
//     namespace carrying the access label.
//   - netprofile-baseline-<name> (CiliumClusterwideNetworkPolicy): a Baseline.
//   - netprofile-enforcement-disabled (CiliumNetworkPolicy): the escape hatch's allow-all.
package policy
