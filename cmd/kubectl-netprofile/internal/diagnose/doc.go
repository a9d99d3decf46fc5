// Package diagnose turns Hubble's dropped flows into fixes. It reads `hubble observe -o json` output with
// Cilium's own flow types, keeps the policy drops (and the AUDIT verdicts of Cilium's audit mode: would-be
// drops), groups them by direction, peers and port, and classifies each group with the seed runbook's
// "Classify the Drop" table, generalised to the catalogue in use: a flow a Baseline should allow means the
// baseline is missing; one a SharedResource covers means the consumer lacks the access label (named exactly);
// one another profile allows means switching profile (named). It owns that classification (Classify, which
// replay reuses for what a proposed policy set would drop); it never talks to a cluster.
package diagnose
