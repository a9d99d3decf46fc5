package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/test/testenv"
)

// The seed's label contract, with the chart's default label domain.
const (
	profileKey     = "network-policy.homelab/profile"
	accessKey      = "access.network-policy.homelab/"
	enforcementKey = "network-policy.homelab/enforcement"
	sinceKey       = "network-policy.homelab/enforcement-disabled-since"
)

var _ = Describe("The seed's workflows, under the chart's RBAC", Ordered, ContinueOnFailure, func() {
	var m *manager

	BeforeAll(func() {
		for _, name := range []string{"database", "monitoring"} {
			if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{}); apierrors.IsNotFound(err) {
				createPlatformNamespace(name)
			}
		}
		m = startManager("workflows")
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				AddReportEntry("manager log", m.log.String())
			}
		})
	})

	It("deploys an app: a profile and an access label give the namespace policy and a Ready condition", func() {
		ns := createNamespace(appName("shop"), map[string]string{profileKey: "standard", accessKey + "postgres": "true"})

		p := waitPolicy(ns.Name, ownership.NamespacePolicyName)
		Expect(p.Labels).To(HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue))
		Expect(p.OwnerReferences).To(ConsistOf(And(HaveField("Kind", "Namespace"), HaveField("UID", ns.UID), HaveField("Controller", HaveValue(BeTrue())))))
		Expect(specs(p)).To(And(ContainSubstring(`"toEntities":["world"]`), ContainSubstring(`"port":"5432"`)))

		Eventually(condition(ns.Name, conditions.Ready)).Should(And(
			HaveField("Status", corev1.ConditionTrue), HaveField("Reason", conditions.ReasonPoliciesApplied),
			HaveField("Message", And(ContainSubstring(`profile "standard"`), ContainSubstring("postgres"), ContainSubstring(ownership.NamespacePolicyName)))))
		Eventually(namespaceEvents(ns.Name)).Should(ContainElement(ContainSubstring("Normal PoliciesApplied")))
	})

	It("records a namespace's Events inside it, where a tenant who can only view that namespace reads them", func() {
		// The escape hatch: the Warning its owners most need to see (admission refuses plain bad labels here).
		ns := createNamespace(appName("tenant"), map[string]string{profileKey: "standard", enforcementKey: "disabled"})
		Eventually(condition(ns.Name, conditions.EnforcementDisabled)).Should(HaveField("Reason", conditions.ReasonEnforcementDisabled))
		Eventually(namespaceEvents(ns.Name)).Should(ContainElement(ContainSubstring("Warning " + conditions.ReasonEnforcementDisabled)))

		// The tenant holds Kubernetes' own view role in its namespace and nothing cluster-wide.
		const tenant = "tenant-alice"
		Expect(k8s.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "tenant-view"},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: tenant}},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "view"},
		})).To(Succeed())
		asTenant := func(args ...string) func() (string, error) {
			return func() (string, error) {
				out, err := kubectlStdin(nil, append([]string{"--as", tenant}, args...)...)
				if err != nil {
					return "", fmt.Errorf("%w: %s", err, out)
				}
				return out, nil
			}
		}
		Eventually(asTenant("get", "events", "-n", ns.Name)).Should(ContainSubstring(conditions.ReasonEnforcementDisabled))
		Eventually(asTenant("events", "-n", ns.Name, "--for", "namespace/"+ns.Name)).Should(
			And(ContainSubstring(conditions.ReasonEnforcementDisabled), ContainSubstring("enforcement disabled by label")))
		// Where client-go would have put them, the tenant reads nothing.
		_, err := asTenant("get", "events", "-n", metav1.NamespaceDefault)()
		Expect(err).To(MatchError(ContainSubstring("Forbidden")))

		// kubectl describe namespace prints conditions but no Events: the condition carries the same words.
		Expect(kubectl("describe", "namespace", ns.Name)).To(And(
			ContainSubstring(string(conditions.EnforcementDisabled)), ContainSubstring(conditions.ReasonEnforcementDisabled)))
	})

	It("opens the provider side of a grant in the provider namespace", func() {
		ns := createNamespace(appName("grant"), map[string]string{profileKey: "isolated", accessKey + "postgres": "true"})
		waitPolicy(ns.Name, ownership.NamespacePolicyName)

		provider := waitPolicy("database", ownership.ProviderPolicyName("postgres"))
		Expect(specs(provider)).To(ContainSubstring(`"port":"5432"`))
		Expect(provider.Labels).To(HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue))
	})

	It("changes the profile in place", func() {
		ns := createNamespace(appName("change"), map[string]string{profileKey: "standard"})
		before := waitPolicy(ns.Name, ownership.NamespacePolicyName)

		setLabels(ns.Name, map[string]string{profileKey: "internal"})
		Eventually(getPolicy(ns.Name, ownership.NamespacePolicyName)).Should(HaveField("Labels", HaveKeyWithValue(profileKey, "internal")))
		after, err := getPolicy(ns.Name, ownership.NamespacePolicyName)()
		Expect(err).NotTo(HaveOccurred())
		Expect(after.UID).To(Equal(before.UID), "updated in place, no delete+create gap")
		Expect(specs(after)).NotTo(ContainSubstring(`"toEntities":["world"]`), "internal has no internet egress")
		Eventually(condition(ns.Name, conditions.Ready)).Should(HaveField("Message", ContainSubstring(`profile "internal"`)))
	})

	It("garbage-collects the policy and the condition when the labels are removed", func() {
		ns := createNamespace(appName("remove"), map[string]string{profileKey: "internal", accessKey + "postgres": "true"})
		waitPolicy(ns.Name, ownership.NamespacePolicyName)

		setLabels(ns.Name, nil, profileKey, accessKey+"postgres")
		Eventually(policyGone(ns.Name, ownership.NamespacePolicyName)).Should(BeTrue())
		Eventually(condition(ns.Name, conditions.Ready)).Should(BeNil())
		Eventually(namespaceEvents(ns.Name)).Should(ContainElement(ContainSubstring("Normal PoliciesPruned")))
	})

	It("opens the escape hatch loudly and closes it without a gap", func() {
		ns := createNamespace(appName("hatch"), map[string]string{profileKey: "standard"})
		kept := waitPolicy(ns.Name, ownership.NamespacePolicyName)

		By("disabling enforcement")
		setLabels(ns.Name, map[string]string{enforcementKey: "disabled"})
		allowAll := waitPolicy(ns.Name, ownership.AllowAllPolicyName)
		Expect(specs(allowAll)).To(And(ContainSubstring(`"fromEntities":["all"]`), ContainSubstring(`"toEntities":["all"]`)))
		Eventually(annotation(ns.Name, sinceKey)).Should(Satisfy(isRFC3339))
		Eventually(condition(ns.Name, conditions.EnforcementDisabled)).Should(HaveField("Status", corev1.ConditionTrue))
		Eventually(namespaceEvents(ns.Name)).Should(ContainElement(ContainSubstring("Warning EnforcementDisabled")))
		Expect(getPolicy(ns.Name, ownership.NamespacePolicyName)()).To(HaveField("UID", kept.UID), "the profile's policy stays")

		By("exporting the since-timestamp to an authorized scraper")
		since, err := time.Parse(time.RFC3339, annotation(ns.Name, sinceKey)())
		Expect(err).NotTo(HaveOccurred())
		token := prometheusToken()
		Eventually(func() (string, error) { return scrape(m, token) }).Should(ContainSubstring(
			fmt.Sprintf(`netprofile_enforcement_disabled_since_timestamp_seconds{namespace=%q} %s`, ns.Name, promFloat(since.Unix()))))

		Eventually(func() (string, error) { return scrape(m, token) }).Should(MatchRegexp(`netprofile_enforcement_bypassed_seconds\{namespace="%s"\} [1-9]`, ns.Name),
			"the time bypassed within the window")

		By("enabling enforcement again")
		setLabels(ns.Name, nil, enforcementKey)
		Eventually(policyGone(ns.Name, ownership.AllowAllPolicyName)).Should(BeTrue())
		Eventually(annotation(ns.Name, sinceKey)).Should(BeEmpty())
		Eventually(condition(ns.Name, conditions.EnforcementDisabled)).Should(BeNil())
		Expect(getPolicy(ns.Name, ownership.NamespacePolicyName)()).To(HaveField("UID", kept.UID), "re-enabling restores the exact previous state")
		// The since-timestamp goes (the time bypassed within the window may stay: the alert on flapping reads it).
		Eventually(func() (string, error) { return scrape(m, token) }).ShouldNot(ContainSubstring(
			fmt.Sprintf("netprofile_enforcement_disabled_since_timestamp_seconds{namespace=%q}", ns.Name)))
	})

	It("serves metrics only to authorized scrapers", func() {
		status, err := httpsStatus(m, "")
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(http.StatusUnauthorized), "no token")

		stranger := appName("stranger")
		createNamespace(stranger, nil)
		Expect(k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "scraper", Namespace: stranger}})).To(Succeed())
		status, err = httpsStatus(m, token(stranger, "scraper"))
		Expect(err).NotTo(HaveOccurred())
		Expect(status).To(Equal(http.StatusForbidden), "a ServiceAccount not bound to the chart's metrics-reader ClusterRole")
	})

	It("refuses a profile on a platform namespace, including netprofile's own", func() {
		createPlatformNamespace("cache")
		By("admission refuses it at the door")
		for _, name := range []string{"cache", releaseNamespace} {
			Expect(patchLabels(k8s, name, map[string]string{profileKey: "standard"})).
				To(MatchError(ContainSubstring(name + " is a platform namespace")))
		}

		By("and the operator, when it gets past admission (the label policy only warning, while adopting it)")
		setActions(release+"-namespace-labels", "Warn", "Audit")
		DeferCleanup(setActions, release+"-namespace-labels", "Deny")
		Eventually(probe(k8s, map[string]string{profileKey: "no-such-profile"})).Should(Succeed())
		for _, name := range []string{"cache", releaseNamespace} {
			setLabels(name, map[string]string{profileKey: "standard"})
			Eventually(condition(name, conditions.Ready)).Should(And(
				HaveField("Status", corev1.ConditionFalse), HaveField("Reason", "PlatformNamespace"),
				HaveField("Message", ContainSubstring("platform namespace"))), name)
			Consistently(policyGone(name, ownership.NamespacePolicyName)).WithTimeout(time.Second).Should(BeTrue(), name)
			Eventually(namespaceEvents(name)).Should(ContainElement(ContainSubstring("Warning PlatformNamespace")), name)
			setLabels(name, nil, profileKey)
		}
		// The chart's own policy in its namespace is untouched by all this.
		own := &cilium.CiliumNetworkPolicy{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: release}, own)).To(Succeed())
		Expect(own.Labels).NotTo(HaveKeyWithValue(ownership.ManagedByLabel, ownership.ManagedByValue), "Helm's, not netprofile's")
	})

	It("leaves nothing behind when a namespace is deleted", func() {
		ns := createNamespace(appName("delete"), map[string]string{profileKey: "standard", accessKey + "postgres": "true", enforcementKey: "disabled"})
		waitPolicy(ns.Name, ownership.NamespacePolicyName)
		waitPolicy(ns.Name, ownership.AllowAllPolicyName)

		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, &corev1.Namespace{}))
		}).WithTimeout(90*time.Second).Should(BeTrue(), func() string { return "kube-controller-manager:\n" + env.ControllerManagerLog() })
		list := &cilium.CiliumNetworkPolicyList{}
		Expect(k8s.List(ctx, list, client.InNamespace(ns.Name))).To(Succeed())
		Expect(list.Items).To(BeEmpty())
		// No generated object anywhere still refers to the namespace.
		Eventually(func() []string { return generatedFor(ns.Name) }).Should(BeEmpty())
	})

	It("applies the cluster baselines of the chart's catalogue", func() {
		for _, name := range []string{"dns", "prometheus-scrape", "health-probes", "hbone"} {
			Eventually(func() error {
				return k8s.Get(ctx, client.ObjectKey{Name: ownership.BaselinePolicyName(name)}, &cilium.CiliumClusterwideNetworkPolicy{})
			}).WithTimeout(15*time.Second).Should(Succeed(), "CiliumClusterwideNetworkPolicy for Baseline "+name)
		}
	})

	It("lists every kind under `kubectl get netprofile`, and NetworkProfiles alone under their short name", func() {
		// kubectl expands a category before it looks at short names: a short name equal to the category would never
		// select its own kind, only the whole category.
		dc, err := discovery.NewDiscoveryClientForConfig(env.Config)
		Expect(err).NotTo(HaveOccurred())
		resources, err := dc.ServerResourcesForGroupVersion("network-policy.homelab/v1alpha1")
		Expect(err).NotTo(HaveOccurred())
		for _, r := range resources.APIResources {
			if !strings.Contains(r.Name, "/") {
				Expect(r.Categories).To(ConsistOf("netprofile"), r.Name)
				Expect(r.ShortNames).NotTo(ContainElement(BeElementOf(r.Categories)), r.Name)
			}
		}
		Expect(kubectl("get", "netprofile", "-o", "name")).To(And(
			ContainSubstring("networkprofile.network-policy.homelab/standard"), ContainSubstring("sharedresource.network-policy.homelab/postgres"),
			ContainSubstring("baseline.network-policy.homelab/dns"), ContainSubstring("labelcontract.network-policy.homelab/")))
		Expect(kubectl("get", "np", "-o", "name")).To(And(
			ContainSubstring("networkprofile.network-policy.homelab/standard"), Not(ContainSubstring("sharedresource"))))
	})

	It("wrote nothing it was refused", func() {
		Expect(refused(m.name, managerWrites())).To(BeEmpty(), "the chart's RBAC must allow every write the manager makes")
		Expect(m.logContains("forbidden")()).To(BeFalse(), "no API call of the manager may be forbidden:\n%s", m.log.String())
	})
})

func appName(prefix string) string { return prefix + "-" + rand.String(5) }

// getPolicy reads a policy: nil when there is none, an error only when the API server fails, so that
// Should(BeNil()) and ShouldNot(BeNil()) decide on the policy rather than on Gomega's implicit error check.
func getPolicy(ns, name string) func() (*cilium.CiliumNetworkPolicy, error) {
	return func() (*cilium.CiliumNetworkPolicy, error) {
		p := &cilium.CiliumNetworkPolicy{}
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p); err != nil {
			return nil, client.IgnoreNotFound(err)
		}
		return p, nil
	}
}

func waitPolicy(ns, name string) *cilium.CiliumNetworkPolicy {
	GinkgoHelper()
	var p *cilium.CiliumNetworkPolicy
	Eventually(func() (*cilium.CiliumNetworkPolicy, error) {
		var err error
		p, err = getPolicy(ns, name)()
		return p, err
	}).ShouldNot(BeNil(), "CiliumNetworkPolicy %s/%s", ns, name)
	return p
}

func policyGone(ns, name string) func() (bool, error) {
	return func() (bool, error) {
		p, err := getPolicy(ns, name)()
		return p == nil, err
	}
}

func specs(p *cilium.CiliumNetworkPolicy) string {
	GinkgoHelper()
	b, err := jsonMarshal(p.Specs, p.Spec)
	Expect(err).NotTo(HaveOccurred())
	return b
}

// generatedFor lists generated policies anywhere that belong to, or grant, the namespace.
func generatedFor(ns string) []string {
	list := &cilium.CiliumNetworkPolicyList{}
	if err := k8s.List(ctx, list, client.MatchingLabels{ownership.ManagedByLabel: ownership.ManagedByValue}); err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, p := range list.Items {
		if p.Namespace == ns || strings.Contains(specs(&p), ns) {
			out = append(out, p.Namespace+"/"+p.Name)
		}
	}
	return out
}

func setLabels(name string, set map[string]string, remove ...string) {
	GinkgoHelper()
	Eventually(func() error { return patchLabels(k8s, name, set, remove...) }).Should(Succeed())
}

// condition reads a Namespace condition: nil when the Namespace has none of that type; a Namespace that is
// gone or unreadable is an error, so Should(BeNil()) cannot pass on a namespace that is not there.
func condition(ns string, t corev1.NamespaceConditionType) func() (*corev1.NamespaceCondition, error) {
	return func() (*corev1.NamespaceCondition, error) {
		obj := &corev1.Namespace{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, obj); err != nil {
			return nil, err
		}
		return conditions.Find(obj.Status.Conditions, t), nil
	}
}

func annotation(ns, key string) func() string {
	return func() string {
		obj := &corev1.Namespace{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: ns}, obj); err != nil {
			return ""
		}
		return obj.Annotations[key]
	}
}

func isRFC3339(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

// namespaceEvents lists "<type> <reason> <note>" of the events.k8s.io Events about a Namespace.
func namespaceEvents(ns string) func() []string {
	return func() []string { return testenv.NamespaceEvents(ctx, k8s, ns) }
}

// token is a short-lived ServiceAccount token, as the kubelet mounts into a pod.
func token(ns, sa string) string {
	GinkgoHelper()
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
	Expect(err).NotTo(HaveOccurred())
	return tr.Status.Token
}

// prometheusToken is the token of the ServiceAccount the e2e values bind to the chart's metrics-reader role.
func prometheusToken() string {
	GinkgoHelper()
	err := k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "prometheus", Namespace: "monitoring"}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	return token("monitoring", "prometheus")
}

var insecure = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
	// The manager's metrics certificate is self-signed, as the ServiceMonitor's tlsConfig expects.
	TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // G402: self-signed by design, see above
}}

func httpsStatus(m *manager, bearer string) (int, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+m.metrics+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := insecure.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// scrape reads /metrics over HTTPS as Prometheus would, with a bearer token.
func scrape(m *manager, bearer string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, "https://"+m.metrics+"/metrics", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+bearer)
	resp, err := insecure.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s: %s", resp.Status, body)
	}
	return string(body), err
}
