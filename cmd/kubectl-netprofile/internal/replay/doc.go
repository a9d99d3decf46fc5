// Package replay judges flows Hubble observed against a policy set with Cilium's own policy engine
// (pkg/check), to answer "what would this change do to the traffic we actually have?": can enforcement be
// switched on for a namespace in audit mode, can it move to a stricter profile, does this catalogue change
// break anything.
//
// Identical flows (same identities, addresses outside the cluster, port and observed verdict) are aggregated
// first and each distinct (source, destination, port) is looked up once, in one policy repository whose
// per-identity policies are distilled once (check.Engine.CheckAll). Each flow is decided on both sides, egress
// at the source and ingress at the destination, and compared with what Hubble saw: allowed (FORWARDED, AUDIT)
// and now dropped would break; dropped by policy and now allowed would be fixed; the rest is unchanged. What
// the set drops gets the cause and fix cmd/kubectl-netprofile/internal/diagnose gives such a drop.
package replay
