package controllers_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
)

var _ = Describe("Messages that grow with the input", func() {
	It("are the API server's limits: a condition message of MaxMessage bytes and an Event note of MaxEventNote", func() {
		sr := advResource("limit-probe", "limit-probe", 5000)
		probe := func(n int) error {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(sr), sr)).To(Succeed())
			before := sr.DeepCopy()
			sr.Status.Conditions = append(sr.Status.Conditions, metav1.Condition{Type: "LimitProbe", Status: metav1.ConditionTrue,
				Reason: "Probe", Message: strings.Repeat("x", n), LastTransitionTime: metav1.Now()})
			return k8s.Status().Patch(ctx, sr, client.MergeFrom(before))
		}
		Expect(probe(conditions.MaxMessage)).To(Succeed())
		Expect(probe(conditions.MaxMessage+1)).To(MatchError(ContainSubstring("conditions[")), "the CRD schema refuses a longer message")

		ns := newNamespace("note-limit", nil)
		note := func(n int) error {
			e := eventAbout(ns.Name)
			e.Note = strings.Repeat("x", n)
			return k8s.Create(ctx, e)
		}
		Expect(note(conditions.MaxEventNote)).To(Succeed())
		Expect(note(conditions.MaxEventNote + 1)).To(MatchError(ContainSubstring("note")))
	})

	It("are shortened to fit, so a namespace with hundreds of bad labels is told, and its stale Ready goes", func() {
		ns := newNamespace("many-problems", map[string]string{profileKey: "isolated"})
		waitReady(ns.Name)

		// Each label is a problem of its own, some 200 bytes: together several times the limit.
		const n = 400
		bad := map[string]string{}
		for i := range n {
			bad[fmt.Sprintf("network-policy.homelab/typo-%03d", i)] = strings.Repeat("v", 63)
		}
		Expect(n * 200).To(BeNumerically(">", 2*conditions.MaxMessage))
		setLabels(ns.Name, bad)

		Eventually(readyCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidLabel),
			HaveField("Message", And(
				HavePrefix("label network-policy.homelab/typo-000="),
				ContainSubstring(fmt.Sprintf("; and %d more problems; ", n-10)),
				// An unknown key beside a good profile label refuses nothing else: the profile stays in effect.
				HaveSuffix(`; the other labels are in effect: profile "isolated"`),
				WithTransform(func(m string) int { return len(m) }, BeNumerically("<=", conditions.MaxMessage)),
			))))
		Eventually(events(ns.Name)).Should(ContainElement(And(HavePrefix("Warning "+conditions.ReasonInvalidLabel+" label network-policy.homelab/typo-000="),
			WithTransform(func(e string) int { return len(e) }, BeNumerically("<=", len("Warning  ")+len(conditions.ReasonInvalidLabel)+conditions.MaxEventNote)))))
	})
})
