package controllers_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/cilium/cilium/pkg/policy/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
)

const (
	enforcementKey  = "network-policy.homelab/enforcement"
	sinceAnnotation = "network-policy.homelab/enforcement-disabled-since"
	untilAnnotation = "network-policy.homelab/enforcement-disabled-until"
	allowAll        = ownership.AllowAllPolicyName
)

func enforcementCondition(ns string) func() (*corev1.NamespaceCondition, error) {
	return condition(ns, conditions.EnforcementDisabled)
}

func annotation(ns, key string) func() string {
	return func() string {
		obj := &corev1.Namespace{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, obj); err != nil {
			return "<error: " + err.Error() + ">"
		}
		return obj.Annotations[key]
	}
}

// touch changes an unrelated label: a way to make the controllers look again after the fake clock moved. (An
// annotation would not do: the manager's cache keeps only netprofile's own annotations, so its watches never
// see an unrelated one change.)
func touch(ns string) {
	setLabels(ns, map[string]string{"test.netprofile/touch": fmt.Sprint(time.Now().UnixNano())})
}

func setAnnotation(ns, key, value string) {
	obj := &corev1.Namespace{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: ns}, obj)).To(Succeed())
	patch := client.MergeFrom(obj.DeepCopy())
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	obj.Annotations[key] = value
	Expect(k8s.Patch(ctx, obj, patch)).To(Succeed())
}

// scrape reads the running manager's real /metrics endpoint with the Prometheus text parser.
func scrape() map[string]*dto.MetricFamily {
	resp, err := http.Get(metricsURL)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return families
}

// disabledSince is the since-timestamp series of a namespace, or nil when absent.
// gauge is the value of a metric family's series for a label, or nil when it is not exported.
func gauge(name, label, value string) func() *float64 {
	return func() *float64 {
		f := scrape()[name]
		if f == nil {
			return nil
		}
		for _, m := range f.GetMetric() {
			if labelValue(m, label) == value {
				v := m.GetGauge().GetValue()
				return &v
			}
		}
		return nil
	}
}

func disabledSince(ns string) func() *float64 {
	return gauge("netprofile_enforcement_disabled_since_timestamp_seconds", "namespace", ns)
}

func mustParse(rfc3339 string) time.Time {
	GinkgoHelper()
	t, err := time.Parse(time.RFC3339, rfc3339)
	Expect(err).NotTo(HaveOccurred())
	return t
}

func expectAllowAll(ns string) {
	GinkgoHelper()
	Eventually(getCNP(ns, allowAll)).Should(And(
		HaveField("Labels", HaveKeyWithValue(ownership.ComponentLabel, ownership.ComponentEnforcement)),
		HaveField("Spec.Ingress", ConsistOf(HaveField("FromEntities", ConsistOf(api.EntityAll)))),
		HaveField("Spec.Egress", ConsistOf(HaveField("ToEntities", ConsistOf(api.EntityAll)))),
	))
}

var _ = Describe("Escape hatch", func() {
	It("adds an allow-all beside the profile's policy, stamps since-when, and restores exactly the previous state", func() {
		ns := newNamespace("hatch", map[string]string{profileKey: "standard"})
		before := waitReady(ns.Name)

		setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		Eventually(annotation(ns.Name, sinceAnnotation)).Should(Equal(fakeClock.Now().UTC().Format(time.RFC3339)))
		Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled),
			HaveField("Message", ContainSubstring("since "+fakeClock.Now().UTC().Format(time.RFC3339)))))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning EnforcementDisabled")))
		Expect(getCNP(ns.Name, nsPolicy)()).To(HaveField("ResourceVersion", before.ResourceVersion), "the profile's policy stays untouched")
		Expect(readyCondition(ns.Name)()).To(haveStatus(corev1.ConditionTrue, conditions.ReasonPoliciesApplied))

		setLabels(ns.Name, nil, enforcementKey)
		Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		Eventually(annotation(ns.Name, sinceAnnotation)).Should(BeEmpty())
		Eventually(enforcementCondition(ns.Name)).Should(BeNil())
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Normal EnforcementRestored")))
		Expect(getCNP(ns.Name, nsPolicy)()).To(HaveField("ResourceVersion", before.ResourceVersion), "exactly the previous state")
	})

	It("keeps the original since-time across a manager restart and other label edits", func() {
		ns := newNamespace("restart", map[string]string{profileKey: "internal", enforcementKey: "disabled"})
		Eventually(annotation(ns.Name, sinceAnnotation)).ShouldNot(BeEmpty())
		since := annotation(ns.Name, sinceAnnotation)()

		stopManager()
		fakeClock.Step(time.Minute)
		startManager()
		setLabels(ns.Name, map[string]string{"team": "payments"})
		Eventually(enforcementCondition(ns.Name)).Should(HaveField("Message", ContainSubstring("since "+since)))
		Consistently(annotation(ns.Name, sinceAnnotation)).Should(Equal(since))
		expectAllowAll(ns.Name)
	})

	It("moves to warning and critical as the injected clock passes the thresholds", func() {
		ns := newNamespace("thresholds", map[string]string{enforcementKey: "disabled"})
		Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabled))

		fakeClock.Step(4 * time.Minute)
		touch(ns.Name)
		Consistently(enforcementCondition(ns.Name)).WithTimeout(time.Second).Should(HaveField("Reason", conditions.ReasonEnforcementDisabled))

		fakeClock.Step(2 * time.Minute)
		touch(ns.Name)
		Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabledWarning))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonEnforcementDisabledWarning)))

		fakeClock.Step(24 * time.Hour)
		touch(ns.Name)
		Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionTrue, conditions.ReasonEnforcementDisabledCritical))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonEnforcementDisabledCritical)))
		expectAllowAll(ns.Name)
	})

	It("re-enables enforcement by itself at the until annotation, though the label stays", func() {
		ns := newNamespace("until", map[string]string{profileKey: "internal", enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		setAnnotation(ns.Name, untilAnnotation, fakeClock.Now().Add(time.Minute).UTC().Format(time.RFC3339))
		Eventually(enforcementCondition(ns.Name)).Should(HaveField("Message", ContainSubstring("ends by itself")))

		fakeClock.Step(2 * time.Minute)
		touch(ns.Name)
		Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		Eventually(enforcementCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonDisableExpired))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonDisableExpired)))
		Eventually(disabledSince(ns.Name)).Should(BeNil(), "an expired bypass is not disabled enforcement")
		Expect(getCNP(ns.Name, nsPolicy)()).NotTo(BeNil())
	})

	It("refuses any other value and keeps enforcement on", func() {
		ns := newNamespace("offvalue", map[string]string{profileKey: "internal", enforcementKey: "off"})
		Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionFalse, conditions.ReasonInvalidEnforcement),
			HaveField("Message", ContainSubstring(`netprofile understands "disabled" (the escape hatch) and "audit" (audit mode)`))))
		Eventually(events(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonInvalidEnforcement)))
		Consistently(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		Expect(annotation(ns.Name, sinceAnnotation)()).To(BeEmpty())

		// An open bypass whose value turns bad stays as it was, loudly: bad input never removes working access,
		// and its clock keeps running. Removing the label closes it.
		setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
		expectAllowAll(ns.Name)
		Eventually(annotation(ns.Name, sinceAnnotation)).ShouldNot(BeEmpty())
		since := annotation(ns.Name, sinceAnnotation)()
		setLabels(ns.Name, map[string]string{enforcementKey: "Disabled"})
		Eventually(enforcementCondition(ns.Name)).Should(And(haveStatus(corev1.ConditionTrue, conditions.ReasonInvalidEnforcement),
			HaveField("Message", And(ContainSubstring("the bypass stays open as it was"), ContainSubstring("since "+since))),
			HaveField("LastTransitionTime.Time", BeTemporally("==", mustParse(since)))))
		Consistently(getCNP(ns.Name, allowAll)).Should(HaveField("Labels", HaveKeyWithValue(ownership.ComponentLabel, ownership.ComponentEnforcement)))
		Expect(disabledSince(ns.Name)()).To(HaveValue(BeNumerically("==", mustParse(since).Unix())), "the alerts keep running")
		setLabels(ns.Name, nil, enforcementKey)
		Eventually(cnpGone(ns.Name, allowAll)).Should(BeTrue())
		Eventually(enforcementCondition(ns.Name)).Should(BeNil())
	})

	It("works on platform namespaces too", func() {
		ns := &corev1.Namespace{}
		ns.Name = "istio-system"
		ns.Labels = map[string]string{enforcementKey: "disabled"}
		Expect(k8s.Create(ctx, ns)).To(Succeed())
		expectAllowAll(ns.Name)
		Expect(readyCondition(ns.Name)()).To(BeNil(), "no profile, nothing refused")
	})

	It("exports the since-timestamp on the real /metrics endpoint only while disabled", func() {
		ns := newNamespace("metrics", map[string]string{profileKey: "isolated"})
		waitReady(ns.Name)
		Expect(disabledSince(ns.Name)()).To(BeNil())

		setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
		Eventually(annotation(ns.Name, sinceAnnotation)).ShouldNot(BeEmpty())
		since, err := time.Parse(time.RFC3339, annotation(ns.Name, sinceAnnotation)())
		Expect(err).NotTo(HaveOccurred())
		Eventually(disabledSince(ns.Name)).Should(HaveValue(BeNumerically("==", since.Unix())))

		families := scrape()
		Expect(families).To(HaveKey("netprofile_namespaces"))
		Expect(families).To(HaveKey("netprofile_managed_policies"))
		Expect(families).To(HaveKey("controller_runtime_reconcile_total"), "controller-runtime's own metrics stay")

		setLabels(ns.Name, nil, enforcementKey)
		Eventually(disabledSince(ns.Name)).Should(BeNil())

		// And no stale series survives the namespace.
		setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
		Eventually(disabledSince(ns.Name)).ShouldNot(BeNil())
		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(disabledSince(ns.Name)).WithTimeout(90 * time.Second).Should(BeNil())
	})
})
