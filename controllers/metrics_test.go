package controllers_test

import (
	"runtime"
	"time"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/metrics"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// sinceByReason is the value of each series of a since-gauge for one object (label key=value), by reason.
func sinceByReason(name, key, value string) func() map[string]float64 {
	return func() map[string]float64 {
		out := map[string]float64{}
		for _, m := range scrape()[name].GetMetric() {
			if labelValue(m, key) == value {
				out[labelValue(m, "reason")] = m.GetGauge().GetValue()
			}
		}
		return out
	}
}

var _ = Describe("Readiness and build metrics on the real /metrics endpoint", func() {
	It("exports when a namespace stopped being Ready, with the reason, only while it is not", func() {
		ns := newNamespace("notready", map[string]string{profileKey: "no-such-profile"})
		Eventually(readyCondition(ns.Name)).Should(haveStatus(corev1.ConditionFalse, conditions.ReasonProfileNotFound))
		since := float64(present(readyCondition(ns.Name)()).LastTransitionTime.Unix())
		Eventually(sinceByReason(metrics.NotReadySinceName, "namespace", ns.Name)).Should(Equal(map[string]float64{conditions.ReasonProfileNotFound: since}))

		setLabels(ns.Name, map[string]string{profileKey: "isolated"})
		waitReady(ns.Name)
		Eventually(sinceByReason(metrics.NotReadySinceName, "namespace", ns.Name)).Should(BeEmpty(), "a Ready namespace has no series")

		// And no stale series survives the namespace.
		setLabels(ns.Name, map[string]string{profileKey: "no-such-profile"})
		Eventually(sinceByReason(metrics.NotReadySinceName, "namespace", ns.Name)).ShouldNot(BeEmpty())
		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(sinceByReason(metrics.NotReadySinceName, "namespace", ns.Name)).WithTimeout(90 * time.Second).Should(BeEmpty())
	})

	It("exports when a Baseline stopped being Ready, with the reason, only while it is not", func() {
		theirs := &cilium.CiliumClusterwideNetworkPolicy{
			ObjectMeta: metav1.ObjectMeta{Name: ownership.BaselinePolicyName("metrics-clash")},
			Spec: &api.Rule{EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: map[string]string{"app": "x"}}},
				Egress: []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEntities: api.EntitySlice{api.EntityWorld}}}}},
		}
		Expect(k8s.Create(ctx, theirs)).To(Succeed())
		b := &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{Name: "metrics-clash"}, Spec: v1alpha1.BaselineSpec{
			NamespaceSelector: map[string]string{"team": "metrics-clash"},
			Egress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: "kube-system", MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				Ports: []v1alpha1.PortProtocol{{Port: 53, Protocol: v1alpha1.ProtocolUDP}}}},
		}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		Eventually(baselineReady(b.Name)).Should(And(Not(BeNil()), HaveField("Status", metav1.ConditionFalse), HaveField("Reason", conditions.ReasonNameClash)))
		since := float64(present(baselineReady(b.Name)()).LastTransitionTime.Unix())
		Eventually(sinceByReason(metrics.BaselineSinceName, "baseline", b.Name)).Should(Equal(map[string]float64{conditions.ReasonNameClash: since}))
		Expect(sinceByReason(metrics.BaselineSinceName, "baseline", "dns")()).To(BeEmpty(), "a Ready Baseline has no series")

		Expect(k8s.Delete(ctx, theirs)).To(Succeed())
		Eventually(baselineReady(b.Name)).Should(HaveField("Status", metav1.ConditionTrue))
		Eventually(sinceByReason(metrics.BaselineSinceName, "baseline", b.Name)).Should(BeEmpty())
		Expect(k8s.Delete(ctx, b)).To(Succeed())
		Eventually(ccnpGone(ownership.BaselinePolicyName(b.Name))).Should(BeTrue())
	})

	It("exports netprofile_build_info once, labelled with the build", func() {
		f := scrape()[metrics.BuildInfoName]
		Expect(f).NotTo(BeNil())
		Expect(f.GetMetric()).To(HaveLen(1), "one series, even after the suite restarted the manager")
		m := f.GetMetric()[0]
		Expect(m.GetGauge().GetValue()).To(Equal(1.0))
		Expect(labelValue(m, "goversion")).To(Equal(runtime.Version()))
		Expect(labelValue(m, "version")).NotTo(BeEmpty())
		Expect(labelValue(m, "revision")).NotTo(BeEmpty())
	})
})
