// Package lint checks hand-written CiliumNetworkPolicies and CiliumClusterwideNetworkPolicies against the
// seed runbook's rules and Cilium's traps, and NetworkPolicies (which Cilium enforces too) against what the
// API server and Cilium accept and against their namespace's labels, and points at the file and line of each
// finding with a rule id and a fix. It owns the rule ids and their meaning (see Rules); it never changes a policy.
package lint
