package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

var _ = Describe("Audit mode", func() {
	audit := ownership.AuditPolicyName
	auditCondition := func(ns string) func() (*corev1.NamespaceCondition, error) { return condition(ns, conditions.Audit) }

	It("keeps the namespace's policies, forwards the rest, is not the escape hatch, and ends by itself", func() {
		ns := newNamespace("audit", map[string]string{profileKey: "internal"})
		before := waitReady(ns.Name)

		setLabels(ns.Name, map[string]string{enforcementKey: "audit"})
		Eventually(getCNP(ns.Name, audit)).Should(And(
			HaveField("Labels", HaveKeyWithValue(ownership.ComponentLabel, ownership.ComponentEnforcement)),
			HaveField("Spec.Ingress", HaveLen(1)), HaveField("Spec.Egress", HaveLen(1))))
		Eventually(auditCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonAuditMode),
			HaveField("Message", ContainSubstring(audit))))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Normal " + conditions.ReasonAuditMode)))
		Expect(getCNP(ns.Name, nsPolicy)()).To(HaveField("UID", before.UID), "the profile's policy stays as it was")

		By("no escape hatch: no allow-all of its own, no since-annotation, no alerting gauge, no condition")
		Consistently(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		Expect(annotation(ns.Name, sinceAnnotation)()).To(BeEmpty())
		Expect(enforcementCondition(ns.Name)()).To(BeNil())
		Expect(disabledSince(ns.Name)()).To(BeNil())
		Eventually(gauge("netprofile_enforcement_audit_since_timestamp_seconds", "namespace", ns.Name)).Should(Not(BeNil()))
		Eventually(gauge("netprofile_namespaces_by_enforcement", "mode", "audit")).Should(HaveValue(BeNumerically(">=", 1)))

		By("the until-annotation ends it; the profile's policies then enforce")
		setAnnotation(ns.Name, untilAnnotation, fakeClock.Now().Add(time.Minute).UTC().Format(time.RFC3339))
		Eventually(auditCondition(ns.Name)).Should(HaveField("Message", ContainSubstring("ends by itself")))
		fakeClock.Step(2 * time.Minute)
		touch(ns.Name)
		Eventually(cnpGone(ns.Name, audit)).Should(BeTrue())
		Eventually(auditCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonAuditExpired))
		Eventually(gauge("netprofile_enforcement_audit_since_timestamp_seconds", "namespace", ns.Name)).Should(BeNil())

		By("removing the label: back to plain enforcing, no condition left")
		setLabels(ns.Name, nil, enforcementKey)
		Eventually(auditCondition(ns.Name)).Should(BeNil())
		Expect(getCNP(ns.Name, nsPolicy)()).To(HaveField("UID", before.UID))
	})

	It("takes over from the escape hatch without a moment of enforcement", func() {
		ns := newNamespace("hatch-to-audit", map[string]string{profileKey: "internal", enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		Eventually(annotation(ns.Name, sinceAnnotation)).ShouldNot(BeEmpty())

		setLabels(ns.Name, map[string]string{enforcementKey: "audit"})
		Eventually(getCNP(ns.Name, audit)).ShouldNot(BeNil())
		Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		Eventually(annotation(ns.Name, sinceAnnotation)).Should(BeEmpty())
		Eventually(enforcementCondition(ns.Name)).Should(BeNil())
		Eventually(disabledSince(ns.Name)).Should(BeNil(), "the escape hatch alerts stop: audit is planned")
		Eventually(auditCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonAuditMode))
	})

	It("repairs its allow-all like every generated policy", func() {
		ns := newNamespace("audit-repair", map[string]string{profileKey: "internal", enforcementKey: "audit"})
		Eventually(getCNP(ns.Name, audit)).ShouldNot(BeNil())
		current := present(getCNP(ns.Name, audit)())
		Expect(k8s.Delete(ctx, current)).To(Succeed())
		Eventually(getCNP(ns.Name, audit)).Should(HaveField("UID", Not(Equal(current.UID))))
	})
})
