package e2e

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	coordinationv1 "k8s.io/api/coordination/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/ownership"
)

// The chart runs two replicas with leader election. Two manager processes with the Deployment's arguments show
// that only the leader writes (the audit log names the process behind every write) and that the standby takes
// over, and reconciles, when the leader stops.
var _ = Describe("Leader election between two replicas", Ordered, func() {
	lock := `lock="` + releaseNamespace + "/" + leaseName + `"`
	var a, b *manager
	var firstHolder string

	holder := func() string {
		lease := &coordinationv1.Lease{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: leaseName}, lease); err != nil || lease.Spec.HolderIdentity == nil {
			return ""
		}
		return *lease.Spec.HolderIdentity
	}

	BeforeAll(func() {
		a = startManager("replica-a")
		Eventually(a.logged("Successfully acquired lease", lock)).Should(BeTrue(), a.log.String)
		firstHolder = holder()
		Expect(firstHolder).NotTo(BeEmpty())
		b = startManager("replica-b")
		Eventually(b.logged("Attempting to acquire leader lease", lock)).Should(BeTrue())
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				AddReportEntry("replica-a log", a.log.String())
				AddReportEntry("replica-b log", b.log.String())
			}
		})
	})

	It("lets only the leader write", func() {
		ns := createNamespace(appName("leader"), map[string]string{profileKey: "standard"})
		waitPolicy(ns.Name, ownership.NamespacePolicyName)
		Eventually(condition(ns.Name, "NetworkPolicyReady")).ShouldNot(BeNil())

		Expect(holder()).To(Equal(firstHolder), "replica-a still leads")
		Expect(b.logged("Successfully acquired lease")()).To(BeFalse())
		Expect(writesBy("replica-a", managerWrites())).To(ContainElement(ContainSubstring("ciliumnetworkpolicies " + ns.Name + "/" + ownership.NamespacePolicyName)))
		// The standby reads (its cache is warm for a quick takeover) but never writes, not even to the Lease.
		Consistently(func() []string { return writesBy("replica-b", managerWrites()) }).Should(BeEmpty())
	})

	It("hands over to the standby when the leader stops, and the standby reconciles", func() {
		a.stop()
		Eventually(b.logged("Successfully acquired lease", lock)).Should(BeTrue(), b.log.String)
		Eventually(holder).ShouldNot(Or(Equal(firstHolder), BeEmpty()))

		ns := createNamespace(appName("takeover"), map[string]string{profileKey: "internal"})
		waitPolicy(ns.Name, ownership.NamespacePolicyName)
		Eventually(condition(ns.Name, "NetworkPolicyReady")).ShouldNot(BeNil())
		bWrites := writesBy("replica-b", managerWrites())
		Expect(bWrites).To(ContainElement(ContainSubstring("ciliumnetworkpolicies " + ns.Name + "/" + ownership.NamespacePolicyName)))
		Expect(bWrites).To(ContainElement(ContainSubstring("leases " + releaseNamespace + "/" + leaseName)))
		for _, w := range writesBy("replica-a", managerWrites()) {
			Expect(w).NotTo(ContainSubstring(ns.Name), "the stopped leader wrote after stopping: "+strings.Join(writesBy("replica-a", managerWrites()), "\n"))
		}
	})
})
