package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/policy"
)

var _ = Describe("The published LabelContract", func() {
	published := func() (*v1alpha1.LabelContract, error) {
		lc := &v1alpha1.LabelContract{}
		err := k8s.Get(ctx, client.ObjectKey{Name: contract.DefaultDomain}, lc)
		return lc, err
	}
	profiles := func() []string {
		lc, err := published()
		if err != nil {
			return nil
		}
		return lc.Profiles
	}

	It("says what the manager accepts: its settings and the live catalogue's names", func() {
		Eventually(published).Should(And(
			HaveField("Keys.Profile", "network-policy.homelab/profile"),
			HaveField("Keys.Since", "network-policy.homelab/enforcement-disabled-since"),
			HaveField("PlatformNamespaces", ConsistOf(policy.DefaultPlatformNamespaces)),
			HaveField("Profiles", ContainElements("isolated", "internal", "internal-egress", "standard")),
			HaveField("SharedResources", ContainElements("postgres", "dragonfly", "garage-s3", "kube-api")),
			HaveField("Enforcement.Values", ConsistOf(contract.EnforcementValues)),
			// No maximum bypass is configured in this suite, so there is no horizon to publish.
			HaveField("Enforcement.UntilLatest", BeNil()),
		))
	})

	It("follows the catalogue within seconds", func() {
		gold := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "contract-gold"}}
		Expect(k8s.Create(ctx, gold)).To(Succeed())
		Eventually(profiles).WithTimeout(10 * time.Second).Should(ContainElement("contract-gold"))
		Expect(k8s.Delete(ctx, gold)).To(Succeed())
		Eventually(profiles).WithTimeout(10 * time.Second).ShouldNot(ContainElement("contract-gold"))
	})

	It("takes back what someone else writes into it", func() {
		Eventually(published).Should(HaveField("Profiles", ContainElement("standard")))
		Eventually(func() error {
			lc, err := published()
			if err != nil {
				return err
			}
			lc.Profiles = append(lc.Profiles, "forged")
			lc.PlatformNamespaces = []string{}
			return k8s.Update(ctx, lc, client.FieldOwner("mallory"))
		}).Should(Succeed())
		Eventually(profiles).ShouldNot(ContainElement("forged"))
		Eventually(published).Should(HaveField("PlatformNamespaces", ConsistOf(policy.DefaultPlatformNamespaces)))
	})

	It("comes back when someone deletes it", func() {
		lc, err := published()
		Expect(err).NotTo(HaveOccurred())
		Expect(k8s.Delete(ctx, lc)).To(Succeed())
		Eventually(published).Should(And(HaveField("UID", Not(Equal(lc.UID))), HaveField("Profiles", ContainElement("standard"))))
	})
})
