// Package check answers "would this flow be allowed, and which policy decides?" for a set of Cilium policies,
// with Cilium's own policy engine (github.com/cilium/cilium/pkg/policy, the version netprofile targets): the
// policies go through the agent's Parse and into a policy Repository, the two endpoints get identities with the
// labels the agent would give them, and the flow is looked up in the distilled policy map of each side, as the
// datapath would. CheckAll decides many flows at once with the same verdicts, distilling each identity's
// policy once (replay judges Hubble's flows with it).
//
// The engine is large (a cold build takes minutes); only the kubectl plugin and tests import this package,
// never the manager.
package check
