package chaos

import (
	"fmt"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// duringFlip checks that every namespace is converged, starts the policy watch, flips every namespace to its
// next profile, waits until injectAfter namespaces carry their new policy (the manager is then in the middle
// of the flip), calls inject, and then requires every namespace to converge to its rendering and the watch to
// have seen no namespace without its last good policy.
func duringFlip(inject func()) *policyWatch {
	GinkgoHelper()
	before := render(flips)
	By("checking that every namespace carries its policy before the flip")
	waitConverged(before, flips)
	after := render(flips + 1)
	w := watchPolicies(namespacePolicies(before), namespacePolicies(after))
	DeferCleanup(w.stop)

	By(fmt.Sprintf("flipping all %d namespaces to another profile at once", namespaceCount))
	start := time.Now()
	flip()
	Eventually(w.Converted).WithPolling(10*time.Millisecond).Should(BeNumerically(">=", injectAfter), w.summary)
	at := w.Converted()
	Expect(at).To(BeNumerically("<", namespaceCount), "the failure must land in the middle of the flip, not after it")

	By(fmt.Sprintf("injecting the failure with %d of %d namespaces flipped", at, namespaceCount))
	inject()

	By("waiting until every namespace's policy equals its offline rendering")
	waitConverged(after, flips)
	Eventually(w.Converted).Should(Equal(namespaceCount), w.summary)
	took := time.Since(start)
	w.stop()
	AddReportEntry("flip", fmt.Sprintf("failure injected with %d/%d namespaces flipped; converged %s after the flip began; watch: %s",
		at, namespaceCount, took.Round(100*time.Millisecond), w.summary()))
	Expect(w.Violations()).To(BeEmpty(), "namespaces left without their last good policy during the flip")
	return w
}

var _ = Describe("A 300-namespace profile flip", func() {
	It("converges when the manager is killed (SIGKILL) in the middle, and never leaves a namespace without its policy", func() {
		m := startManager("first")
		duringFlip(func() {
			m.Kill()
			startManager("second")
		})
	})

	It("converges through a kube-apiserver restart in the middle, with the manager running on", func() {
		m := startManager("survivor")
		var down time.Duration
		w := duringFlip(func() {
			start := time.Now()
			stopped := env.StopAPIServer()
			// Started again whatever the stop said, so a failure here does not take the next specs down too.
			Expect(env.StartAPIServer()).To(Succeed())
			down = time.Since(start)
			Expect(stopped).To(Succeed())
		})
		AddReportEntry("kube-apiserver restart", fmt.Sprintf("stopped and started again in %s; manager log lines with \"connection refused\": %d",
			down.Round(100*time.Millisecond), strings.Count(m.Log.String(), "connection refused")))
		Expect(m.Exited()).To(BeFalse(), "the manager exited during the restart:\n%s", tail(m.Log.String(), 30))
		w.mu.Lock()
		defer w.mu.Unlock()
		Expect(w.watches).To(BeNumerically(">=", 2), "the test's own watch was re-established after the restart")
	})

	It("converges when the leader of two replicas is killed in the middle: the standby takes over", func() {
		// Short timings, so the standby takes over within seconds of the leader's death.
		election := []string{"--leader-elect=true", "--leader-election-namespace=" + leaseNamespace, "--leader-election-id=" + leaseName,
			"--leader-elect-lease-duration=6s", "--leader-elect-renew-deadline=4s", "--leader-elect-retry-period=1s"}
		lock := `lock="` + leaseNamespace + "/" + leaseName + `"`
		leader := startManager("replica-a", election...)
		Eventually(func() bool { return leader.Logged("Successfully acquired lease", lock) }).Should(BeTrue(), leader.Log.String)
		first := holder()
		Expect(first).NotTo(BeEmpty())
		standby := startManager("replica-b", election...)
		Eventually(func() bool { return standby.Logged("Attempting to acquire leader lease", lock) }).Should(BeTrue(), standby.Log.String)

		duringFlip(func() {
			Expect(standby.Logged("Successfully acquired lease")).To(BeFalse(), "the standby leads before the leader died")
			Expect(holder()).To(Equal(first))
			leader.Kill()
			Eventually(func() bool { return standby.Logged("Successfully acquired lease", lock) }).Should(BeTrue(), standby.Log.String)
		})
		Expect(holder()).NotTo(Or(Equal(first), BeEmpty()))
	})
})

// holder is the identity holding the leader election Lease, "" when none.
func holder() string {
	lease := &coordinationv1.Lease{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: leaseNamespace, Name: leaseName}, lease); err != nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}
