package gitops

import (
	"os"
	"os/exec"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	gtypes "github.com/onsi/gomega/types"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

var (
	namespaceGVK = corev1.SchemeGroupVersion.WithKind("Namespace")
	profileGVK   = v1alpha1.GroupVersion.WithKind("NetworkProfile")
	resourceGVK  = v1alpha1.GroupVersion.WithKind("SharedResource")
	baselineGVK  = v1alpha1.GroupVersion.WithKind("Baseline")
)

// live reads an object from the API server as JSON into unstructured, as Argo CD's cache and Flux's poller
// hold it.
func live(gvk schema.GroupVersionKind, name string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, u)).To(Succeed())
	return u
}

// conditionOf is a condition of the live object, for waiting until the operator has produced a state: nil
// when the object has none of that type. An object that is gone or unreadable is an error, so that
// To(BeNil()) cannot pass on an object that is not there.
func conditionOf(gvk schema.GroupVersionKind, name, typ string) func() (map[string]any, error) {
	return func() (map[string]any, error) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, u); err != nil {
			return nil, err
		}
		conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == typ {
				return m, nil
			}
		}
		return nil, nil
	}
}

func withStatus(st, reason string) gtypes.GomegaMatcher {
	return And(HaveKeyWithValue("status", st), HaveKeyWithValue("reason", reason))
}

// expectVerdict judges the object as it is now with all three tools. kstatus is left out for Namespaces
// (see the table test: on its own it calls every Namespace Current).
func expectVerdict(gvk schema.GroupVersionKind, name, argo string, flux status.Status, mentioning string) verdict {
	GinkgoHelper()
	u := live(gvk, name)
	v, err := judge(u)
	Expect(err).NotTo(HaveOccurred(), "judging %s %s", gvk.Kind, name)
	Expect(v.Argo).To(Equal(argo), "Argo CD on %s %s: %s", gvk.Kind, name, v.ArgoMessage)
	Expect(v.ArgoMessage).To(ContainSubstring(mentioning))
	Expect(v.Flux).To(Equal(flux), "Flux on %s %s", gvk.Kind, name)
	if gvk == namespaceGVK {
		Expect(v.Kstatus).To(Equal(status.CurrentStatus))
	} else {
		Expect(v.Kstatus).To(Equal(flux), "kstatus on %s %s", gvk.Kind, name)
	}
	return v
}

var (
	profileKey     = contract.Default().ProfileKey()
	enforcementKey = contract.Default().EnforcementKey()
)

var _ = Describe("Namespaces", func() {
	It("a namespace netprofile does not manage is healthy", func() {
		name := newNamespace("plain", map[string]string{"team": "a"})
		// The good namespace below shows the manager at work; this one never gets a condition.
		good := newNamespace("plain-witness", map[string]string{profileKey: "isolated"})
		Eventually(conditionOf(namespaceGVK, good, string(conditions.Ready))).Should(withStatus("True", conditions.ReasonPoliciesApplied))
		Expect(conditionOf(namespaceGVK, name, string(conditions.Ready))()).To(BeNil())
		expectVerdict(namespaceGVK, name, "Healthy", status.CurrentStatus, "does not manage")
	})

	It("a namespace whose profile is in effect is healthy", func() {
		name := newNamespace("good", map[string]string{profileKey: "isolated"})
		Eventually(conditionOf(namespaceGVK, name, string(conditions.Ready))).Should(withStatus("True", conditions.ReasonPoliciesApplied))
		expectVerdict(namespaceGVK, name, "Healthy", status.CurrentStatus, `profile "isolated"`)
	})

	It("a namespace with an unknown profile is degraded and failed", func() {
		name := newNamespace("unknown", map[string]string{profileKey: "does-not-exist"})
		Eventually(conditionOf(namespaceGVK, name, string(conditions.Ready))).Should(withStatus("False", conditions.ReasonProfileNotFound))
		expectVerdict(namespaceGVK, name, "Degraded", status.FailedStatus, conditions.ReasonProfileNotFound)
	})

	It("a namespace with access labels only is judged too: its grant's provider is not in effect", func() {
		missing := "gitops-missing-" + rand.String(5)
		sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: "gitops-" + rand.String(5)}, Spec: v1alpha1.SharedResourceSpec{
			Provider: v1alpha1.Provider{Namespace: missing}, Ports: []v1alpha1.PortProtocol{{Port: 9200, Protocol: v1alpha1.ProtocolTCP}}}}
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		Eventually(conditionOf(resourceGVK, sr.Name, "Ready")).Should(withStatus("False", conditions.ReasonProviderNamespaceMissing))
		name := newNamespace("access-only", map[string]string{contract.Default().AccessKey(sr.Name): contract.AccessGranted})
		Eventually(conditionOf(namespaceGVK, name, string(conditions.Ready))).Should(withStatus("False", conditions.ReasonProviderNotReady))
		expectVerdict(namespaceGVK, name, "Degraded", status.FailedStatus, conditions.ReasonProviderNotReady)
	})

	It("an open escape hatch is Suspended in Argo CD and Current in Flux", func() {
		name := newNamespace("hatch", map[string]string{profileKey: "isolated", enforcementKey: contract.EnforcementDisabled})
		Eventually(conditionOf(namespaceGVK, name, string(conditions.EnforcementDisabled))).Should(withStatus("True", conditions.ReasonEnforcementDisabled))
		Eventually(conditionOf(namespaceGVK, name, string(conditions.Ready))).Should(withStatus("True", conditions.ReasonPoliciesApplied))
		expectVerdict(namespaceGVK, name, "Suspended", status.CurrentStatus, "enforcement is disabled since")
	})

	It("audit mode is Suspended in Argo CD and Current in Flux", func() {
		name := newNamespace("audit", map[string]string{profileKey: "isolated", enforcementKey: contract.EnforcementAudit})
		Eventually(conditionOf(namespaceGVK, name, string(conditions.Audit))).Should(withStatus("True", conditions.ReasonAuditMode))
		Eventually(conditionOf(namespaceGVK, name, string(conditions.Ready))).Should(withStatus("True", conditions.ReasonPoliciesApplied))
		expectVerdict(namespaceGVK, name, "Suspended", status.CurrentStatus, "nothing dropped since")
	})

	It("an enforcement value netprofile does not understand is degraded and failed", func() {
		name := newNamespace("badhatch", map[string]string{profileKey: "isolated", enforcementKey: "off"})
		Eventually(conditionOf(namespaceGVK, name, string(conditions.EnforcementDisabled))).Should(withStatus("False", conditions.ReasonInvalidEnforcement))
		expectVerdict(namespaceGVK, name, "Degraded", status.FailedStatus, conditions.ReasonInvalidEnforcement)
	})
})

// badKey passes the CRD schema (matchLabels keys are free-form there) but not Cilium's validation, which
// netprofile runs before applying anything: the object is refused on its status.
const badKey = "bad key"

var _ = Describe("NetworkProfiles", func() {
	It("a valid profile is healthy and current", func() {
		Eventually(conditionOf(profileGVK, "isolated", "Ready")).Should(withStatus("True", conditions.ReasonValid))
		expectVerdict(profileGVK, "isolated", "Healthy", status.CurrentStatus, "renders to policies Cilium accepts")
	})

	It("an invalid profile is stalled: degraded and failed, until it is fixed", func() {
		p := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "gitops-invalid-" + rand.String(5)}, Spec: v1alpha1.NetworkProfileSpec{
			Egress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: "app", MatchLabels: map[string]string{badKey: "x"}},
				Ports: []v1alpha1.PortProtocol{{Port: 8080, Protocol: v1alpha1.ProtocolTCP}}}}}}
		Expect(k8s.Create(ctx, p)).To(Succeed())
		Eventually(conditionOf(profileGVK, p.Name, "Stalled")).Should(withStatus("True", conditions.ReasonInvalid))
		expectVerdict(profileGVK, p.Name, "Degraded", status.FailedStatus, "rejected by Cilium")

		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(p), p)).To(Succeed())
		p.Spec.Egress[0].Endpoints.MatchLabels = map[string]string{"app": "x"}
		Expect(k8s.Update(ctx, p)).To(Succeed())
		Eventually(conditionOf(profileGVK, p.Name, "Ready")).Should(withStatus("True", conditions.ReasonValid))
		Expect(conditionOf(profileGVK, p.Name, "Stalled")()).To(BeNil())
		expectVerdict(profileGVK, p.Name, "Healthy", status.CurrentStatus, "renders to policies Cilium accepts")
	})

	It("a spec change netprofile has not seen yet is in progress", func() {
		Eventually(conditionOf(profileGVK, "internal", "Ready")).Should(withStatus("True", conditions.ReasonValid))
		stopManager()
		DeferCleanup(func() {
			if stopMgr == nil {
				startManager()
			}
		})
		p := &v1alpha1.NetworkProfile{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: "internal"}, p)).To(Succeed())
		p.Spec.Description += " (edited)"
		Expect(k8s.Update(ctx, p)).To(Succeed())
		Expect(p.Generation).To(BeNumerically(">", p.Status.ObservedGeneration))
		expectVerdict(profileGVK, p.Name, "Progressing", status.InProgressStatus, "has not reconciled generation")

		startManager()
		Eventually(func() int64 {
			_ = k8s.Get(ctx, client.ObjectKeyFromObject(p), p)
			return p.Status.ObservedGeneration
		}).Should(Equal(p.Generation))
		expectVerdict(profileGVK, p.Name, "Healthy", status.CurrentStatus, "renders to policies Cilium accepts")
	})
})

// clashing is a hand-written policy at a name netprofile reserves: netprofile never takes it over.
func clashing(namespace, name string) client.Object {
	GinkgoHelper()
	rule := &api.Rule{
		EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
		Ingress: []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{FromEntities: api.EntitySlice{api.EntityCluster}},
			ToPorts: api.PortRules{{Ports: []api.PortProtocol{{Port: "5432", Protocol: api.ProtoTCP}}}}}},
	}
	var obj client.Object
	if namespace == "" {
		obj = &cilium.CiliumClusterwideNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "platform"}}, Spec: rule}
	} else {
		obj = &cilium.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"team": "platform"}}, Spec: rule}
	}
	Expect(k8s.Create(ctx, obj)).To(Succeed())
	return obj
}

var _ = Describe("SharedResources", func() {
	It("an entity provider is healthy and current", func() {
		Eventually(conditionOf(resourceGVK, "kube-api", "Ready")).Should(withStatus("True", conditions.ReasonEntityProvider))
		expectVerdict(resourceGVK, "kube-api", "Healthy", status.CurrentStatus, conditions.ReasonEntityProvider)
	})

	It("a provider namespace that does not exist is stalled", func() {
		sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: "gitops-" + rand.String(5)}, Spec: v1alpha1.SharedResourceSpec{
			Provider: v1alpha1.Provider{Namespace: "gitops-nowhere-" + rand.String(5)}, Ports: []v1alpha1.PortProtocol{{Port: 6379, Protocol: v1alpha1.ProtocolTCP}}}}
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		Eventually(conditionOf(resourceGVK, sr.Name, "Stalled")).Should(withStatus("True", conditions.ReasonProviderNamespaceMissing))
		expectVerdict(resourceGVK, sr.Name, "Degraded", status.FailedStatus, "does not exist")
	})

	It("a provider half that clashes with a hand-written policy is stalled until the clash goes", func() {
		provider := newNamespace("gitops-provider", testenv.PlatformNamespace("").Labels)
		name := "gitops-" + rand.String(5)
		theirs := clashing(provider, ownership.ProviderPolicyName(name))
		sr := &v1alpha1.SharedResource{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.SharedResourceSpec{
			Provider: v1alpha1.Provider{Namespace: provider}, Ports: []v1alpha1.PortProtocol{{Port: 5432, Protocol: v1alpha1.ProtocolTCP}}}}
		Expect(k8s.Create(ctx, sr)).To(Succeed())
		Eventually(conditionOf(resourceGVK, name, "Stalled")).Should(withStatus("True", conditions.ReasonNameClash))
		expectVerdict(resourceGVK, name, "Degraded", status.FailedStatus, "not managed by netprofile")

		Expect(k8s.Delete(ctx, theirs)).To(Succeed())
		Eventually(conditionOf(resourceGVK, name, "Ready")).Should(withStatus("True", conditions.ReasonProviderApplied))
		expectVerdict(resourceGVK, name, "Healthy", status.CurrentStatus, conditions.ReasonProviderApplied)
	})
})

var _ = Describe("Baselines", func() {
	It("an applied baseline is healthy and current", func() {
		Eventually(conditionOf(baselineGVK, "dns", "Ready")).Should(withStatus("True", conditions.ReasonBaselineApplied))
		expectVerdict(baselineGVK, "dns", "Healthy", status.CurrentStatus, "is applied")
	})

	It("a baseline whose policy clashes is stalled", func() {
		name := "gitops-clash-" + rand.String(5)
		clashing("", ownership.BaselinePolicyName(name))
		b := &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.BaselineSpec{
			NamespaceSelector: map[string]string{"gitops": "nobody"},
			Egress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: "kube-system", MatchLabels: map[string]string{"k8s-app": "kube-dns"}},
				Ports: []v1alpha1.PortProtocol{{Port: 53, Protocol: v1alpha1.ProtocolUDP}}}}}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		Eventually(conditionOf(baselineGVK, name, "Stalled")).Should(withStatus("True", conditions.ReasonNameClash))
		expectVerdict(baselineGVK, name, "Degraded", status.FailedStatus, conditions.ReasonNameClash)
	})

	It("an invalid baseline is stalled", func() {
		b := &v1alpha1.Baseline{ObjectMeta: metav1.ObjectMeta{Name: "gitops-invalid-" + rand.String(5)}, Spec: v1alpha1.BaselineSpec{
			NamespaceSelector: map[string]string{"gitops": "nobody"},
			Egress: []v1alpha1.Rule{{Endpoints: &v1alpha1.EndpointsPeer{Namespace: "kube-system", MatchLabels: map[string]string{badKey: "x"}},
				Ports: []v1alpha1.PortProtocol{{Port: 53, Protocol: v1alpha1.ProtocolUDP}}}}}}
		Expect(k8s.Create(ctx, b)).To(Succeed())
		Eventually(conditionOf(baselineGVK, b.Name, "Stalled")).Should(withStatus("True", conditions.ReasonInvalid))
		expectVerdict(baselineGVK, b.Name, "Degraded", status.FailedStatus, conditions.ReasonInvalid)
	})
})

var _ = Describe("The LabelContract", func() {
	It("has no status: kstatus calls it Current, and no health check is shipped for it", func() {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("LabelContract"))
		Eventually(func() error { return k8s.Get(ctx, client.ObjectKey{Name: contract.Default().Domain()}, u) }).Should(Succeed())
		res, err := status.Compute(u)
		Expect(err).NotTo(HaveOccurred())
		Expect(res.Status).To(Equal(status.CurrentStatus))
		overrides, err := argoOverrides()
		Expect(err).NotTo(HaveOccurred())
		Expect(overrides).NotTo(HaveKey(argoKey(u.GroupVersionKind())))
	})
})

var _ = Describe("Installing the Argo CD health checks as the snippet says", func() {
	It("merges the keys into an existing argocd-cm and keeps the others", func() {
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argocd"}})).To(Succeed())
		Expect(k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "argocd-cm", Namespace: "argocd"},
			Data: map[string]string{"url": "https://argocd.example.com", "resource.customizations.health.apps_Thing": "return {status = \"Healthy\"}"}})).To(Succeed())
		kubectl, err := testenv.Kubectl()
		Expect(err).NotTo(HaveOccurred())
		out, err := exec.Command(kubectl, "--kubeconfig", env.Kubeconfig, "-n", "argocd", "patch", "configmap", "argocd-cm",
			"--type", "merge", "--patch-file", docs("argocd-cm.yaml")).CombinedOutput()
		Expect(err).NotTo(HaveOccurred(), string(out))

		cm := &corev1.ConfigMap{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: "argocd", Name: "argocd-cm"}, cm)).To(Succeed())
		Expect(cm.Data).To(HaveKeyWithValue("url", "https://argocd.example.com"))
		Expect(cm.Data).To(HaveKey("resource.customizations.health.apps_Thing"))
		for _, s := range argoScripts {
			script, err := os.ReadFile(docs(s.file))
			Expect(err).NotTo(HaveOccurred())
			Expect(cm.Data).To(HaveKeyWithValue(s.key, string(script)))
		}
		Expect(cm.Data).To(HaveLen(2 + len(argoScripts)))
	})
})
