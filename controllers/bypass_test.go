package controllers_test

import (
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// The specs below hold the escape hatch and audit mode to what they are in the datapath: one bypass of the
// namespace's policies, with one clock that neither flapping, nor switching modes, nor a forged condition
// moves.

// forgeCondition changes (or, with edit returning false, deletes) a condition through namespaces/status, as
// anyone who may write a Namespace's status can.
func forgeCondition(ns string, t corev1.NamespaceConditionType, edit func(*corev1.NamespaceCondition) bool) {
	GinkgoHelper()
	obj := &corev1.Namespace{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, obj)).To(Succeed())
	var out []corev1.NamespaceCondition
	found := false
	for _, c := range obj.Status.Conditions {
		if c.Type == t {
			found = true
			if !edit(&c) {
				continue
			}
		}
		out = append(out, c)
	}
	if !found {
		c := corev1.NamespaceCondition{Type: t}
		if edit(&c) {
			out = append(out, c)
		}
	}
	obj.Status.Conditions = out
	Expect(k8s.Status().Update(ctx, obj, client.FieldOwner("kubectl-edit"))).To(Succeed())
}

// platformEvents are the Events about Namespace ns recorded in the manager's own namespace.
func platformEvents(ns string) func() []string {
	return func() []string {
		list := &eventsv1.EventList{}
		Expect(k8s.List(ctx, list, client.InNamespace(recordNamespace))).To(Succeed())
		var out []string
		for _, e := range list.Items {
			if e.Regarding.Kind == "Namespace" && e.Regarding.Name == ns {
				out = append(out, e.Type+" "+e.Reason+" "+e.Note)
			}
		}
		return out
	}
}

// within is how fast a forged condition must be rewritten: from the watch, never from a resync.
const within = 5 * time.Second

// recordOf reads netprofile's record of a namespace's bypasses as the API server holds it (nil: none).
func recordOf(ns string) func() *enforcement.Record {
	return func() *enforcement.Record {
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: recordNamespace, Name: enforcement.RecordName(ns)}, cm); err != nil {
			return nil
		}
		return enforcement.FromConfigMap(cm, ns)
	}
}

// resourceVersions is the resourceVersion of a Namespace and of what netprofile writes for it: unchanged means
// nothing was written.
func resourceVersions(ns string, policies ...string) func() []string {
	return func() []string {
		var out []string
		obj := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, obj)).To(Succeed())
		out = append(out, "namespace "+obj.ResourceVersion)
		cm := &corev1.ConfigMap{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: recordNamespace, Name: enforcement.RecordName(ns)}, cm); err == nil {
			out = append(out, "record "+cm.ResourceVersion)
		}
		for _, name := range policies {
			if p, err := getCNP(ns, name)(); err == nil {
				out = append(out, name+" "+p.ResourceVersion)
			}
		}
		return out
	}
}

// settled waits until f returns the same twice in a row, a second apart, and returns that.
func settled(f func() []string) []string {
	GinkgoHelper()
	var last []string
	Eventually(func() bool {
		now := f()
		same := slices.Equal(now, last)
		last = now
		return same
	}).WithPolling(time.Second).Should(BeTrue())
	return last
}

var _ = Describe("A bypass's clock", func() {
	auditCondition := func(ns string) func() (*corev1.NamespaceCondition, error) { return condition(ns, conditions.Audit) }

	It("is kept by a bypass whose label is removed and put back, and restarts only after a longer gap", func() {
		ns := newNamespace("flap", map[string]string{profileKey: "isolated", enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		since := fakeClock.Now().Truncate(time.Second)
		Eventually(enforcementCondition(ns.Name)).Should(HaveField("LastTransitionTime.Time", BeTemporally("==", since)))

		// A CronJob that removes the label every 2 minutes and puts it back.
		for range 3 {
			setLabels(ns.Name, nil, enforcementKey)
			Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
			fakeClock.Step(2 * time.Minute)
			setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
			expectAllowAll(ns.Name)
			Eventually(enforcementCondition(ns.Name)).Should(And(Not(BeNil()), HaveField("LastTransitionTime.Time", BeTemporally("==", since))))
			Eventually(disabledSince(ns.Name)).Should(HaveValue(BeNumerically("==", since.Unix())))
		}
		By("the warning comes 5 minutes after the first opening, not after the last")
		Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabledWarning))

		By("back after more than an hour: a new bypass")
		setLabels(ns.Name, nil, enforcementKey)
		Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		fakeClock.Step(61 * time.Minute)
		setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
		later := fakeClock.Now().Truncate(time.Second)
		Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled),
			HaveField("LastTransitionTime.Time", BeTemporally("==", later))))
	})

	It("runs on when the escape hatch is switched to audit and back", func() {
		ns := newNamespace("switch", map[string]string{profileKey: "internal", enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		since := fakeClock.Now().Truncate(time.Second)
		fakeClock.Step(3 * time.Minute)
		setLabels(ns.Name, map[string]string{enforcementKey: "audit"})
		Eventually(auditCondition(ns.Name)).Should(And(Not(BeNil()), HaveField("LastTransitionTime.Time", BeTemporally("==", since))))
		Eventually(gauge("netprofile_enforcement_audit_since_timestamp_seconds", "namespace", ns.Name)).Should(HaveValue(BeNumerically("==", since.Unix())))
		fakeClock.Step(3 * time.Minute)
		setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
		Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabledWarning),
			HaveField("LastTransitionTime.Time", BeTemporally("==", since))))
	})

	It("is kept in a record only netprofile writes, counts the time bypassed, and goes with the namespace", func() {
		ns := newNamespace("record", map[string]string{profileKey: "isolated", enforcementKey: "disabled"})
		since := fakeClock.Now().Truncate(time.Second)
		Eventually(recordOf(ns.Name)).Should(And(Not(BeNil()), HaveField("UID", ns.UID), HaveField("Mode", enforcement.Disabled),
			HaveField("Since", BeTemporally("==", since)), HaveField("Openings", HaveLen(1))))
		cm := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: recordNamespace, Name: enforcement.RecordName(ns.Name)}, cm)).To(Succeed())
		Expect(cm.Labels).To(And(HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue),
			HaveKeyWithValue(ownership.ComponentLabel, enforcement.RecordComponent)))
		Expect(cm.Data).To(HaveKeyWithValue("since", since.UTC().Format(time.RFC3339)))

		fakeClock.Step(10 * time.Minute)
		Eventually(gauge("netprofile_enforcement_bypassed_seconds", "namespace", ns.Name)).Should(HaveValue(BeNumerically("==", 600)))
		setLabels(ns.Name, nil, enforcementKey)
		Eventually(recordOf(ns.Name)).Should(HaveField("Closed", Not(BeZero())))
		fakeClock.Step(10 * time.Minute)
		Eventually(gauge("netprofile_enforcement_bypassed_seconds", "namespace", ns.Name)).Should(HaveValue(BeNumerically("==", 600)),
			"the time it was open, not the time since")
		Expect(disabledSince(ns.Name)()).To(BeNil())

		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(recordOf(ns.Name)).WithTimeout(90 * time.Second).Should(BeNil())
	})

	It("records its Events also in the manager's own namespace, where the namespace's admin cannot delete them", func() {
		ns := newNamespace("told", map[string]string{profileKey: "isolated", enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		opened := ContainElement(ContainSubstring("Warning " + conditions.ReasonEnforcementDisabled + " network policy enforcement disabled by label"))
		Eventually(events(ns.Name)).Should(opened)
		Eventually(platformEvents(ns.Name)).Should(opened)

		By("the namespace's admin deletes the copy in its namespace")
		Expect(k8s.DeleteAllOf(ctx, &eventsv1.Event{}, client.InNamespace(ns.Name))).To(Succeed())
		Eventually(events(ns.Name)).Should(BeEmpty())
		Expect(platformEvents(ns.Name)()).To(opened)

		By("every later one too: the warning as it ages, the end of the bypass")
		fakeClock.Step(6 * time.Minute)
		touch(ns.Name)
		Eventually(platformEvents(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonEnforcementDisabledWarning)))
		setLabels(ns.Name, nil, enforcementKey)
		Eventually(platformEvents(ns.Name)).Should(ContainElement(ContainSubstring("Normal " + conditions.ReasonEnforcementRestored)))
	})

	It("keeps expiring a bypass while its namespace terminates, as its pods may still run", func() {
		ns := newNamespace("ending", map[string]string{profileKey: "isolated", enforcementKey: "disabled"})
		setAnnotation(ns.Name, untilAnnotation, fakeClock.Now().Add(time.Hour).UTC().Format(time.RFC3339))
		expectAllowAll(ns.Name)
		Eventually(enforcementCondition(ns.Name)).Should(HaveField("Message", ContainSubstring("ends by itself")))

		// Without the namespace controller's finalizer, deleting the namespace leaves its contents (its pods and
		// policies) in place, as they are while pods take their grace period: the namespace stays Terminating.
		const hold = "netprofile.test/hold"
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ns), ns)).To(Succeed())
		ns.Spec.Finalizers = []corev1.FinalizerName{hold}
		Expect(k8s.SubResource("finalize").Update(ctx, ns)).To(Succeed())
		DeferCleanup(func() {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ns), ns)).To(Succeed())
			ns.Spec.Finalizers = nil
			Expect(k8s.SubResource("finalize").Update(ctx, ns)).To(Succeed())
		})
		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Consistently(getCNP(ns.Name, allowAll)).ShouldNot(BeNil(), "terminating is not the end of the bypass")

		fakeClock.Step(61 * time.Minute)
		touch(ns.Name)
		Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonDisableExpired))
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(ns), ns)).To(Succeed())
		Expect(ns.DeletionTimestamp).NotTo(BeNil(), "it expired while the namespace was terminating")
	})

	It("writes nothing while nothing changes, though every resync reconciles", func() {
		ns := newNamespace("steady", map[string]string{profileKey: "standard", enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		Eventually(recordOf(ns.Name)).ShouldNot(BeNil())
		Eventually(annotation(ns.Name, sinceAnnotation)).ShouldNot(BeEmpty())
		waitReady(ns.Name)
		steady := settled(resourceVersions(ns.Name, allowAll, nsPolicy))
		before := reconcileCount("enforcement") + reconcileCount("namespace-policy")
		Consistently(resourceVersions(ns.Name, allowAll, nsPolicy)).WithTimeout(3 * syncPeriod).Should(Equal(steady))
		Expect(reconcileCount("enforcement")+reconcileCount("namespace-policy")).To(BeNumerically(">=", before+4),
			"the resyncs reconciled it meanwhile")
	})

	Describe("with a maximum of an hour", Ordered, func() {
		BeforeAll(func() {
			stopManager()
			thresholds := enforcement.DefaultThresholds
			thresholds.MaxDisabled = time.Hour
			startManagerWithThresholds(syncPeriod, "", thresholds)
			DeferCleanup(func() {
				stopManager()
				startManager()
			})
		})

		It("ends an audit at the maximum, and neither flapping, switching nor a later end starts it again", func() {
			ns := newNamespace("audit-max", map[string]string{profileKey: "internal", enforcementKey: "audit"})
			Eventually(getCNP(ns.Name, ownership.AuditPolicyName)).ShouldNot(BeNil())
			Eventually(auditCondition(ns.Name)).Should(HaveField("Message", ContainSubstring("ends by itself")))

			fakeClock.Step(61 * time.Minute)
			touch(ns.Name)
			Eventually(cnpGone(ns.Name, ownership.AuditPolicyName)).Should(BeTrue())
			Eventually(auditCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonAuditExpired))

			By("removing the label and putting it back")
			setLabels(ns.Name, nil, enforcementKey)
			Eventually(auditCondition(ns.Name)).Should(BeNil())
			fakeClock.Step(time.Minute)
			setLabels(ns.Name, map[string]string{enforcementKey: "audit"})
			Eventually(auditCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonAuditExpired))
			Consistently(cnpGone(ns.Name, ownership.AuditPolicyName)).Should(BeTrue())

			By("switching to the escape hatch")
			setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
			Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonDisableExpired))
			Consistently(cnpGone(ns.Name, allowAll)).Should(BeTrue())

			By("an end two days later")
			setAnnotation(ns.Name, untilAnnotation, fakeClock.Now().Add(48*time.Hour).UTC().Format(time.RFC3339))
			Consistently(cnpGone(ns.Name, allowAll)).Should(BeTrue())
			Expect(enforcementCondition(ns.Name)()).To(haveStatus(corev1.ConditionFalse, conditions.ReasonDisableExpired))
		})

		It("ends a bypass at the maximum from its first since, whatever since the condition, the annotation and the record are forged to", func() {
			ns := newNamespace("forged-since", map[string]string{profileKey: "isolated", enforcementKey: "disabled"})
			since := fakeClock.Now().Truncate(time.Second)
			expectAllowAll(ns.Name)
			Eventually(recordOf(ns.Name)).Should(HaveField("Since", BeTemporally("==", since)))

			later := since.Add(50 * time.Minute)
			fakeClock.Step(50 * time.Minute)
			forgeCondition(ns.Name, conditions.EnforcementDisabled, func(c *corev1.NamespaceCondition) bool {
				c.LastTransitionTime = metav1.NewTime(later)
				return true
			})
			cm := &corev1.ConfigMap{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: recordNamespace, Name: enforcement.RecordName(ns.Name)}, cm)).To(Succeed())
			cm.Data["since"] = later.UTC().Format(time.RFC3339)
			Expect(k8s.Update(ctx, cm, client.FieldOwner("kubectl-edit"))).To(Succeed())
			setAnnotation(ns.Name, sinceAnnotation, later.UTC().Format(time.RFC3339))
			Eventually(enforcementCondition(ns.Name)).Should(HaveField("Message", ContainSubstring(
				"ends by itself at "+since.Add(time.Hour).UTC().Format(time.RFC3339))))

			fakeClock.Step(11 * time.Minute)
			touch(ns.Name)
			Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
			Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonDisableExpired),
				HaveField("LastTransitionTime.Time", BeTemporally("==", since))))
		})
	})

	Describe("forged conditions", Ordered, func() {
		// Without resyncs: every rewrite below comes from the watch on netprofile's own conditions.
		BeforeAll(func() {
			stopManager()
			startManagerWithResync(time.Hour)
			DeferCleanup(func() {
				stopManager()
				startManager()
			})
		})

		It("writes back a record changed or deleted behind its back", func() {
			ns := newNamespace("forged-record", map[string]string{enforcementKey: "disabled"})
			since := fakeClock.Now().Truncate(time.Second)
			Eventually(recordOf(ns.Name)).Should(HaveField("Since", BeTemporally("==", since)))

			cm := &corev1.ConfigMap{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: recordNamespace, Name: enforcement.RecordName(ns.Name)}, cm)).To(Succeed())
			cm.Data["since"] = since.Add(2 * time.Hour).UTC().Format(time.RFC3339)
			Expect(k8s.Update(ctx, cm, client.FieldOwner("kubectl-edit"))).To(Succeed())
			Eventually(recordOf(ns.Name)).WithTimeout(within).Should(HaveField("Since", BeTemporally("==", since)))
			Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonRecordRestored)))

			Expect(k8s.Delete(ctx, cm)).To(Succeed())
			Eventually(recordOf(ns.Name)).WithTimeout(within).Should(And(Not(BeNil()), HaveField("Since", BeTemporally("==", since))))
			settled(resourceVersions(ns.Name, allowAll))
		})

		It("puts back an EnforcementDisabled condition moved into the future or deleted, and the bypass keeps its clock", func() {
			ns := newNamespace("forged-hatch", map[string]string{enforcementKey: "disabled"})
			since := fakeClock.Now().Truncate(time.Second)
			Eventually(enforcementCondition(ns.Name)).Should(And(Not(BeNil()), HaveField("LastTransitionTime.Time", BeTemporally("==", since))))

			forgeCondition(ns.Name, conditions.EnforcementDisabled, func(c *corev1.NamespaceCondition) bool {
				c.LastTransitionTime = metav1.NewTime(since.Add(10 * time.Hour))
				return true
			})
			Eventually(enforcementCondition(ns.Name)).WithTimeout(within).Should(HaveField("LastTransitionTime.Time", BeTemporally("==", since)))

			forgeCondition(ns.Name, conditions.EnforcementDisabled, func(*corev1.NamespaceCondition) bool { return false })
			Eventually(enforcementCondition(ns.Name)).WithTimeout(within).Should(And(
				haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled), HaveField("LastTransitionTime.Time", BeTemporally("==", since))))
			Expect(disabledSince(ns.Name)()).To(HaveValue(BeNumerically("==", since.Unix())))

			By("and then writes nothing more: its own writes do not loop")
			steady := settled(resourceVersions(ns.Name, allowAll))
			Consistently(resourceVersions(ns.Name, allowAll)).Should(Equal(steady))
		})

		It("puts back an Audit condition moved into the future or deleted", func() {
			ns := newNamespace("forged-audit", map[string]string{profileKey: "isolated", enforcementKey: "audit"})
			since := fakeClock.Now().Truncate(time.Second)
			Eventually(auditCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonAuditMode),
				HaveField("LastTransitionTime.Time", BeTemporally("==", since))))

			forgeCondition(ns.Name, conditions.Audit, func(c *corev1.NamespaceCondition) bool {
				c.LastTransitionTime = metav1.NewTime(since.Add(10 * time.Hour))
				return true
			})
			Eventually(auditCondition(ns.Name)).WithTimeout(within).Should(HaveField("LastTransitionTime.Time", BeTemporally("==", since)))

			forgeCondition(ns.Name, conditions.Audit, func(*corev1.NamespaceCondition) bool { return false })
			Eventually(auditCondition(ns.Name)).WithTimeout(within).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonAuditMode),
				HaveField("LastTransitionTime.Time", BeTemporally("==", since))))
		})

		It("removes an EnforcementDisabled condition forged on a namespace that asks for no bypass", func() {
			ns := newNamespace("forged-none", map[string]string{profileKey: "isolated"})
			waitReady(ns.Name)
			forgeCondition(ns.Name, conditions.EnforcementDisabled, func(c *corev1.NamespaceCondition) bool {
				c.Status, c.Reason, c.Message = corev1.ConditionTrue, conditions.ReasonEnforcementDisabled, "forged"
				c.LastTransitionTime = metav1.NewTime(fakeClock.Now().Add(-48 * time.Hour))
				return true
			})
			Eventually(enforcementCondition(ns.Name)).WithTimeout(within).Should(BeNil())
		})

		It("rewrites a forged NetworkPolicyReady=True, and a transition time moved later", func() {
			ns := newNamespace("forged-ready", map[string]string{profileKey: "gold"})
			Eventually(readyCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonProfileNotFound))
			got, err := readyCondition(ns.Name)()
			Expect(err).NotTo(HaveOccurred())
			first := got.LastTransitionTime
			fakeClock.Step(10 * time.Minute)

			forgeCondition(ns.Name, conditions.Ready, func(c *corev1.NamespaceCondition) bool {
				c.Status, c.Reason, c.Message = corev1.ConditionTrue, conditions.ReasonPoliciesApplied, "all good"
				return true
			})
			Eventually(readyCondition(ns.Name)).WithTimeout(within).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonProfileNotFound))
			Eventually(readyCondition(ns.Name)).WithTimeout(within).Should(HaveField("LastTransitionTime.Time", BeTemporally("==", first.Time)),
				"the alert on a namespace not Ready keeps its clock")

			forgeCondition(ns.Name, conditions.Ready, func(c *corev1.NamespaceCondition) bool {
				c.LastTransitionTime = metav1.NewTime(fakeClock.Now().Add(time.Hour))
				return true
			})
			Eventually(readyCondition(ns.Name)).WithTimeout(within).Should(HaveField("LastTransitionTime.Time", BeTemporally("==", first.Time)))
		})
	})
})
