package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	slimv1 "github.com/cilium/cilium/pkg/k8s/slim/k8s/apis/meta/v1"
	"github.com/cilium/cilium/pkg/policy/api"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
	"github.com/netprofile/netprofile/test/testenv"
)

// The chart's ValidatingAdmissionPolicies on the real kube-apiserver (RBAC authorization on), every request
// sent as an impersonated user with only the RBAC a real one would have.
var _ = Describe("Guardrails at admission", Ordered, ContinueOnFailure, func() {
	const (
		tenant   = "tenant-tom"   // may create, label and annotate namespaces, nothing else
		mallory  = "mallory"      // cluster-admin by RBAC, but not in system:masters
		oncall   = "oncall-olga"  // a tenant who is also bound to the escape-hatch role
		platform = "platform-pat" // a tenant who is also bound to the sharedresource-user role
	)
	var (
		m                 *manager
		asTenant, asSA    client.Client
		asMallory         client.Client
		asOncall, asPlatf client.Client
		renderer          policy.Renderer
	)

	// admissionSays is what the label policy must answer for ns (old on update): the Go twin's messages.
	admissionSays := func(ns, old *corev1.Namespace) []string {
		GinkgoHelper()
		lc, err := labelContract()
		Expect(err).NotTo(HaveOccurred())
		return renderer.Admission(ns, old, lc.Profiles, lc.SharedResources)
	}

	BeforeAll(func() {
		for _, name := range []string{"database", "monitoring"} {
			if err := k8s.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{}); apierrors.IsNotFound(err) {
				createPlatformNamespace(name)
			}
		}
		deployment := deploymentPlatform()
		renderer = policy.Renderer{Contract: contract.Default(), PlatformNamespaces: policy.PlatformSet(deployment), ClusterName: policy.DefaultClusterName}
		bindClusterRole("tenant-namespaces", []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch", "create", "update", "patch"},
		}}, tenant, oncall, platform)
		bindExisting("cluster-admin", mallory)
		bindExisting(release+"-escape-hatch", oncall)
		bindExisting(release+"-sharedresource-user", platform)
		asTenant, asMallory = impersonate(tenant), impersonate(mallory)
		asOncall, asPlatf = impersonate(oncall), impersonate(platform)
		asSA = impersonate(serviceAccount)
		m = startManager("admission")
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				AddReportEntry("manager log", m.log.String())
			}
			m.stop()
		})
		// The parameter is there: the chart's seed, which equals the manager's publication (test/chart holds
		// the two equal), so the manager has nothing to rewrite.
		Eventually(labelContract).Should(HaveField("Enforcement.WarningAfter.Duration", 5*time.Minute))
		// kube-apiserver loads a new policy within a second or two.
		Eventually(probe(asTenant, map[string]string{profileKey: "no-such-profile"})).Should(MatchError(ContainSubstring("does not exist")))
	})

	It("rejects bad label values in the operator's words, and accepts good ones", func() {
		for _, labels := range []map[string]string{
			{profileKey: "gold"},
			{profileKey: "Standard"},
			{accessKey + "postgres": "yes"},
			{accessKey + "mysql": "true"},
			{enforcementKey: "off"},
		} {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("bad"), Labels: labels}}
			want := admissionSays(ns, nil)
			Expect(want).To(HaveLen(1), "one refusal for %v", labels)
			err := asTenant.Create(ctx, ns)
			Expect(err).To(HaveOccurred(), "labels %v", labels)
			Expect(err.Error()).To(HaveSuffix("denied request: "+want[0]), "labels %v", labels)
		}

		By("a profile on a platform namespace")
		err := patchLabels(asTenant, "monitoring", map[string]string{profileKey: "standard"})
		Expect(err).To(MatchError(ContainSubstring("monitoring is a platform namespace: it keeps its hand-crafted policies")))

		By("good labels")
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("good"),
			Labels: map[string]string{profileKey: "standard", accessKey + "postgres": "true", "team": "a"}}}
		Expect(asTenant.Create(ctx, ns)).To(Succeed())
		Eventually(condition(ns.Name, conditions.Ready)).Should(HaveField("Status", corev1.ConditionTrue))
	})

	It("judges only what a request changes: an old bad label does not block an unrelated edit", func() {
		By("a bad label that got in while the policy only warned (the adoption path)")
		bad := map[string]string{profileKey: "gold"}
		setActions(release+"-namespace-labels", "Warn", "Audit")
		Eventually(probe(asTenant, bad)).Should(Succeed())
		name := appName("legacy")
		Expect(asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: bad}})).To(Succeed())
		setActions(release+"-namespace-labels", "Deny")
		Eventually(probe(asTenant, bad)).ShouldNot(Succeed())
		Expect(patchLabels(asTenant, name, map[string]string{profileKey: "gold-2"})).
			To(MatchError(ContainSubstring(`NetworkProfile "gold-2" does not exist`)))

		By("the operator refuses it on the condition in the words admission uses")
		legacy := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, legacy)).To(Succeed())
		words := admissionSays(legacy, nil)
		Expect(words).To(HaveLen(1))
		Eventually(condition(name, conditions.Ready)).Should(And(
			HaveField("Reason", conditions.ReasonProfileNotFound), HaveField("Message", ContainSubstring(words[0]))))

		Expect(patchLabels(asTenant, name, map[string]string{"team": "b"})).To(Succeed())
		Expect(patchLabels(asTenant, name, map[string]string{profileKey: "standard"})).To(Succeed(), "fixing it is allowed")
	})

	It("follows the live catalogue within seconds", func() {
		gold := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "gold-" + strings.ToLower(appName("p"))[2:]}}
		Expect(k8s.Create(ctx, gold)).To(Succeed())
		name := appName("gold")
		Eventually(func() error {
			return asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{profileKey: gold.Name}}})
		}).WithTimeout(10 * time.Second).Should(Succeed())

		Expect(k8s.Delete(ctx, gold)).To(Succeed())
		Eventually(func() error {
			return asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("gold"), Labels: map[string]string{profileKey: gold.Name}}})
		}).WithTimeout(10 * time.Second).Should(MatchError(ContainSubstring(fmt.Sprintf("NetworkProfile %q does not exist", gold.Name))))
	})

	It("keeps generated policies netprofile's: nobody else creates, edits or deletes them", func() {
		ns := createNamespace(appName("owned"), map[string]string{profileKey: "standard"})
		p := waitPolicy(ns.Name, ownership.NamespacePolicyName)

		forged := &cilium.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "netprofile-extra"}, Spec: p.Specs[0].DeepCopy()}
		Expect(asMallory.Create(ctx, forged)).To(MatchError(ContainSubstring("policies named netprofile-* are generated")))
		labelled := &cilium.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns.Name, Name: "looks-generated",
			Labels: map[string]string{ownership.ManagedByLabel: ownership.ManagedByValue}}, Spec: p.Specs[0].DeepCopy()}
		Expect(asMallory.Create(ctx, labelled)).To(MatchError(ContainSubstring("generated")))

		edited := p.DeepCopy()
		edited.Labels["team"] = "mallory"
		Expect(asMallory.Update(ctx, edited)).To(MatchError(ContainSubstring("may not update CiliumNetworkPolicy")))
		Expect(asMallory.Delete(ctx, p)).To(MatchError(ContainSubstring("may not delete")))
		Expect(asMallory.DeleteAllOf(ctx, &cilium.CiliumNetworkPolicy{}, client.InNamespace(ns.Name))).NotTo(Succeed())
		Expect(getPolicy(ns.Name, ownership.NamespacePolicyName)()).To(HaveField("UID", p.UID))

		By("netprofile's ServiceAccount may")
		Expect(asSA.Create(ctx, forged)).To(Succeed())
		Expect(asSA.Delete(ctx, forged)).To(Succeed())

		By("deleting the Namespace still deletes its policies (the namespace controller)")
		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, &corev1.Namespace{}))
		}).WithTimeout(time.Minute).Should(BeTrue())
		Expect(policyGone(ns.Name, ownership.NamespacePolicyName)()).To(BeTrue())
	})

	It("holds netprofile's own Namespace permission to the since-annotation", func() {
		ns := createNamespace(appName("self"), nil)
		Expect(patchLabels(asSA, ns.Name, map[string]string{profileKey: "standard"})).
			To(MatchError(ContainSubstring("netprofile may change a Namespace only to publish the annotation")))
		Expect(patchAnnotations(asSA, ns.Name, map[string]string{"pod-security.kubernetes.io/enforce": "privileged"})).
			To(MatchError(ContainSubstring("changes more")))
		Expect(patchAnnotations(asSA, ns.Name, map[string]string{sinceKey: "2026-01-01T00:00:00Z"})).To(Succeed())

		By("and nobody else writes that annotation")
		Expect(patchAnnotations(asTenant, ns.Name, map[string]string{sinceKey: "2020-01-01T00:00:00Z"})).
			To(MatchError(ContainSubstring("is written only by netprofile")))
		Expect(patchAnnotations(asMallory, ns.Name, map[string]string{sinceKey: ""})).
			To(MatchError(ContainSubstring("may not set, change or remove it")))
		Expect(patchAnnotations(asTenant, ns.Name, map[string]string{"team": "a"})).To(Succeed(), "other annotations are the tenant's")
	})

	It("lets only the platform vouch for a namespace the catalogue trusts", func() {
		lc, err := labelContract()
		Expect(err).NotTo(HaveOccurred())
		Expect(lc.CatalogueNamespaces).To(ContainElement("garage"), "the default catalogue's S3 provider")
		markKey := contract.Default().PlatformKey()
		mark := map[string]string{markKey: contract.PlatformMarked}

		By("a tenant who may create namespaces cannot take a name the catalogue trusts")
		Expect(asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "garage"}})).
			To(MatchError(ContainSubstring("may not create namespace garage: the catalogue or the platform namespaces name it")))
		Expect(asTenant.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("fake-s3"), Labels: mark}})).
			To(MatchError(ContainSubstring(`needs the verb "mark-platform" on namespaces`)))

		By("nor mark its own namespace, even as cluster-admin by a RoleBinding in it, nor may netprofile's token")
		own := createNamespace(appName("squat"), nil)
		rbAdmin := "rb-admin-" + own.Name
		bindInNamespace(own.Name, "cluster-admin", rbAdmin)
		for _, c := range []client.Client{asTenant, impersonate(rbAdmin)} {
			Expect(patchLabels(c, own.Name, mark)).To(MatchError(ContainSubstring(
				"may not set or remove the label " + markKey + " on namespace " + own.Name)))
		}
		Expect(patchLabels(asSA, own.Name, mark)).To(HaveOccurred())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(own), own)).To(Succeed())
		Expect(own.Labels).NotTo(HaveKey(markKey))

		By("the platform team, bound to the chart's ClusterRole, creates and marks it")
		bindExisting(release+"-platform-namespaces", platform)
		Expect(asPlatf.Create(ctx, testenv.PlatformNamespace("garage"))).To(Succeed())
		Expect(patchLabels(asPlatf, own.Name, mark)).To(Succeed())
		By("and a tenant cannot take the mark off")
		Expect(patchLabels(asTenant, "garage", nil, markKey)).To(MatchError(ContainSubstring("may not set or remove the label")))
		Expect(asMallory.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("admin"), Labels: mark}})).
			To(Succeed(), "cluster-admin bound cluster-wide has every verb")
	})

	Context("with grant authorization on", Ordered, func() {
		BeforeAll(func() {
			enableOptional("templates/admission-grants.yaml", probe(asTenant, map[string]string{accessKey + "postgres": "true"}), "admission.grants.enabled=true")
			Eventually(probe(asTenant, map[string]string{accessKey + "postgres": "true"})).Should(MatchError(ContainSubstring("may not grant")))
		})

		It("lets only users allowed to use a SharedResource grant it; removing a grant is always allowed", func() {
			ns := createNamespace(appName("grants"), map[string]string{profileKey: "isolated"})
			Expect(patchLabels(asTenant, ns.Name, map[string]string{accessKey + "postgres": "true"})).
				To(MatchError(ContainSubstring(tenant + ` may not grant access to SharedResource postgres: granting needs the verb "use" on sharedresources/<name>`)))
			Expect(patchLabels(asPlatf, ns.Name, map[string]string{accessKey + "postgres": "true"})).To(Succeed())
			Expect(patchLabels(asTenant, ns.Name, map[string]string{"team": "x"})).To(Succeed(), "a grant that stands is not re-judged")
			Expect(patchLabels(asTenant, ns.Name, nil, accessKey+"postgres")).To(Succeed())
		})
	})

	Context("with protected namespace labels", Ordered, func() {
		const key = "platform.example.com/tenant"
		var asWriter client.Client
		BeforeAll(func() {
			enableOptional("templates/admission-protected-labels.yaml", probe(asTenant, map[string]string{key: "payments"}),
				"admission.protectedNamespaceLabels.keys={"+key+"}", "admission.protectedNamespaceLabels.writers={platform-team}")
			// The tenant's RBAC, and the platform's group.
			asWriter = impersonateGroups(tenant, "platform-team")
			Expect(probe(asTenant, map[string]string{key: "payments"})()).To(MatchError(ContainSubstring("is protected")))
		})

		It("lets only the platform's groups set, change or remove them; every other label stays the tenant's", func() {
			Expect(probe(asWriter, map[string]string{key: "payments"})()).To(Succeed())
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("protected"), Labels: map[string]string{key: "payments"}}}
			Expect(asWriter.Create(ctx, ns)).To(Succeed())

			says := And(ContainSubstring("label "+key+" on namespace "+ns.Name+" is protected"), ContainSubstring("(groups platform-team)"),
				ContainSubstring("SharedResources trust it"))
			Expect(patchLabels(asTenant, ns.Name, map[string]string{key: "web"})).To(MatchError(says), "changing it")
			Expect(patchLabels(asTenant, ns.Name, nil, key)).To(MatchError(says), "removing it")
			Expect(patchLabels(asMallory, ns.Name, map[string]string{key: "web"})).To(MatchError(says), "cluster-admin by a binding is no platform")
			Expect(probe(asTenant, map[string]string{key: "payments"})()).To(MatchError(ContainSubstring("is protected")), "creating a namespace with it")

			Expect(patchLabels(asTenant, ns.Name, map[string]string{"team": "payments"})).To(Succeed(), "another label")
			Expect(patchLabels(asWriter, ns.Name, map[string]string{key: "web"})).To(Succeed())
			Expect(patchLabels(asWriter, ns.Name, nil, key)).To(Succeed())
		})
	})

	Context("with tenant policies refused in profiled namespaces", Ordered, func() {
		const (
			editor = "editor-eve"  // Kubernetes' edit role in her team's namespaces, and Cilium policies there
			writer = "writer-walt" // the same, and write-network-policies on one namespace
		)
		var asEditor, asWriter client.Client
		BeforeAll(func() {
			enableOptional("templates/admission-tenant-policies.yaml", nil, "admission.tenantPolicies.enabled=true",
				"admission.tenantPolicies.validationActions={Deny}")
			asEditor, asWriter = impersonate(editor), impersonate(writer)
		})

		// team is a namespace where editor and writer have Kubernetes' edit role and may write Cilium policies,
		// as a platform that lets teams write their own policies would set it up.
		team := func(prefix string, labels map[string]string) *corev1.Namespace {
			GinkgoHelper()
			ns := createNamespace(appName(prefix), labels)
			bindInNamespace(ns.Name, "edit", editor, writer)
			Expect(k8s.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "cilium-policies", Namespace: ns.Name},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{"cilium.io"}, Resources: []string{"ciliumnetworkpolicies"},
					Verbs: []string{"get", "list", "create", "update", "patch", "delete"}}}})).To(Succeed())
			Expect(k8s.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "cilium-policies", Namespace: ns.Name},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "cilium-policies"},
				Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: editor},
					{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: writer}}})).To(Succeed())
			return ns
		}

		It("refuses a tenant's allow-all NetworkPolicy and CiliumNetworkPolicy beside a profile, naming the labels", func() {
			ns := team("tenant-policies", map[string]string{profileKey: "standard"})
			Eventually(func() error { return asEditor.Create(ctx, allowAllNetworkPolicy(ns.Name, "probe"), client.DryRunAll) }).
				Should(MatchError(ContainSubstring("write-network-policies")), "the policy and the RoleBinding are in force")

			err := asEditor.Create(ctx, allowAllNetworkPolicy(ns.Name, "allow-all"))
			Expect(err).To(MatchError(And(ContainSubstring(editor+" may not create NetworkPolicy "+ns.Name+"/allow-all"),
				ContainSubstring(`has profile "standard"`), ContainSubstring(profileKey), ContainSubstring(accessKey+`<resource>: "true"`),
				ContainSubstring(`needs the verb "write-network-policies" on namespaces/`+ns.Name))))
			Expect(asEditor.Create(ctx, allowAllCNP(ns.Name, "allow-all"))).
				To(MatchError(ContainSubstring(editor + " may not create CiliumNetworkPolicy " + ns.Name + "/allow-all")))
		})

		It("lets a user with write-network-policies on the namespace write them, and anyone delete them", func() {
			ns := team("tenant-writer", map[string]string{profileKey: "standard"})
			bindInNamespace(ns.Name, release+"-network-policy-writer", writer)
			Eventually(func() error { return asWriter.Create(ctx, allowAllNetworkPolicy(ns.Name, "allow-all")) }).Should(Succeed(),
				"a RoleBinding of the chart's network-policy-writer role in the namespace grants the verb")
			Expect(asWriter.Create(ctx, allowAllCNP(ns.Name, "allow-all"))).To(Succeed())

			np := &networkingv1.NetworkPolicy{}
			Expect(k8s.Get(ctx, client.ObjectKey{Namespace: ns.Name, Name: "allow-all"}, np)).To(Succeed())
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
			Expect(asEditor.Update(ctx, np)).To(MatchError(ContainSubstring(editor+" may not update NetworkPolicy")), "changing one is judged too")
			Expect(asEditor.Delete(ctx, np)).To(Succeed(), "deleting is always allowed")

			By("and the namespace's ceiling names what stays")
			Eventually(condition(ns.Name, conditions.Ceiling)).Should(And(HaveField("Status", corev1.ConditionTrue),
				HaveField("Message", ContainSubstring("CiliumNetworkPolicy allow-all"))))
		})

		It("leaves namespaces without a profile to their users", func() {
			ns := team("tenant-free", map[string]string{"team": "a"})
			Expect(asEditor.Create(ctx, allowAllNetworkPolicy(ns.Name, "allow-all"))).To(Succeed())
			Expect(asEditor.Create(ctx, allowAllCNP(ns.Name, "allow-all"))).To(Succeed())
		})
	})

	Context("with break-glass authorization on", Ordered, func() {
		BeforeAll(func() {
			enableOptional("templates/admission-escape-hatch.yaml", probe(asTenant, map[string]string{enforcementKey: "disabled"}),
				"admission.escapeHatch.enabled=true", "admission.escapeHatch.requireUntil=true")
			Eventually(probe(asTenant, map[string]string{enforcementKey: "disabled"})).Should(MatchError(ContainSubstring("disable-enforcement")))
		})

		It("lets only permitted users disable enforcement, and only with an end", func() {
			ns := createNamespace(appName("hatch"), map[string]string{profileKey: "standard"})
			until := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			Expect(patchNamespace(asTenant, ns.Name, map[string]string{enforcementKey: "disabled"}, map[string]string{untilKey: until})).
				To(MatchError(ContainSubstring(`needs the verb "disable-enforcement" on namespaces/` + ns.Name)))
			Expect(patchLabels(asOncall, ns.Name, map[string]string{enforcementKey: "disabled"})).
				To(MatchError(ContainSubstring("disabling enforcement needs an end: set the annotation " + untilKey)))
			Expect(patchNamespace(asOncall, ns.Name, map[string]string{enforcementKey: "disabled"}, map[string]string{untilKey: "tomorrow"})).
				To(MatchError(ContainSubstring(`it is "tomorrow"`)))
			Expect(patchNamespace(asOncall, ns.Name, map[string]string{enforcementKey: "disabled"}, map[string]string{untilKey: until})).To(Succeed())
			Eventually(annotation(ns.Name, sinceKey)).Should(Satisfy(isRFC3339), "netprofile's ServiceAccount publishes the since-annotation")

			By("moving the end is opening again; closing is always allowed")
			Expect(patchAnnotations(asTenant, ns.Name, map[string]string{untilKey: time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)})).
				To(MatchError(ContainSubstring("disable-enforcement")))
			Expect(patchLabels(asTenant, ns.Name, nil, enforcementKey)).To(Succeed())
			Eventually(annotation(ns.Name, sinceKey)).Should(BeEmpty())
		})

		AfterAll(func() {
			// Back to the chart's settings, and the LabelContract with them, for the specs that follow.
			m.stop()
			m = startManager("admission")
			Eventually(labelContract).Should(And(HaveField("Enforcement.MaxDisabled.Duration", time.Duration(0)), HaveField("Enforcement.UntilLatest", BeNil())))
		})

		It("bounds the end by the published maximum", func() {
			m.stop()
			m = startManagerIn(env, append(append([]string{}, deploymentArgs...), "--enforcement-max-disabled=2h"), "admission-max")
			Eventually(labelContract).Should(HaveField("Enforcement.UntilLatest", Not(BeNil())))
			ns := createNamespace(appName("bounded"), map[string]string{profileKey: "standard"})
			tooLate := time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
			// kube-apiserver's copy of the parameter follows within a moment: probe with a dry run.
			Eventually(func() error {
				return asOncall.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("probe"),
					Labels: map[string]string{enforcementKey: "disabled"}, Annotations: map[string]string{untilKey: tooLate}}}, client.DryRunAll)
			}).Should(MatchError(ContainSubstring("no later than")))
			Expect(patchNamespace(asOncall, ns.Name, map[string]string{enforcementKey: "disabled"}, map[string]string{untilKey: tooLate})).
				To(MatchError(And(ContainSubstring("no later than"), ContainSubstring("at most 2h0m0s from now"))))
			inTime := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			Expect(patchNamespace(asOncall, ns.Name, map[string]string{enforcementKey: "disabled"}, map[string]string{untilKey: inTime})).To(Succeed())
			Expect(patchLabels(asOncall, ns.Name, nil, enforcementKey)).To(Succeed())
		})
	})
})

// labelContract is the LabelContract of the chart's label domain, as kube-apiserver has it.
func labelContract() (*v1alpha1.LabelContract, error) {
	lc := &v1alpha1.LabelContract{}
	return lc, k8s.Get(ctx, client.ObjectKey{Name: contract.DefaultDomain}, lc)
}

const untilKey = "network-policy.homelab/enforcement-disabled-until"

// deploymentPlatform is the --platform-namespaces of the installed chart's Deployment.
func deploymentPlatform() []string {
	GinkgoHelper()
	for _, a := range deploymentArgs {
		if v, ok := strings.CutPrefix(a, "--platform-namespaces="); ok {
			return strings.Split(v, ",")
		}
	}
	Fail("the chart's Deployment has no --platform-namespaces")
	return nil
}

// impersonate is a client that acts as user: authenticated as the admin, authorized and admitted as user.
func impersonate(user string) client.Client {
	GinkgoHelper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// impersonateGroups is impersonate with groups besides system:authenticated.
func impersonateGroups(user string, groups ...string) client.Client {
	GinkgoHelper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append([]string{"system:authenticated"}, groups...)}
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

func bindClusterRole(name string, rules []rbacv1.PolicyRule, users ...string) {
	GinkgoHelper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	Expect(k8s.Create(ctx, role)).To(Succeed())
	bindExisting(name, users...)
}

func bindExisting(role string, users ...string) {
	GinkgoHelper()
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role + "-" + strings.Join(users, "-")},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
	for _, u := range users {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	Expect(k8s.Create(ctx, b)).To(Succeed())
}

// bindInNamespace binds a ClusterRole to users with a RoleBinding in one namespace.
func bindInNamespace(namespace, role string, users ...string) {
	GinkgoHelper()
	b := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role + "-" + strings.Join(users, "-"), Namespace: namespace},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
	for _, u := range users {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	Expect(k8s.Create(ctx, b)).To(Succeed())
}

// allowAllNetworkPolicy lets everything in and out of every pod of the namespace.
func allowAllNetworkPolicy(namespace, name string) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress},
			Ingress: []networkingv1.NetworkPolicyIngressRule{{}}, Egress: []networkingv1.NetworkPolicyEgressRule{{}}}}
}

// allowAllCNP is allowAllNetworkPolicy as a CiliumNetworkPolicy.
func allowAllCNP(namespace, name string) *cilium.CiliumNetworkPolicy {
	all := api.EntitySlice{api.EntityAll}
	return &cilium.CiliumNetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
		Spec: &api.Rule{EndpointSelector: api.EndpointSelector{LabelSelector: &slimv1.LabelSelector{}},
			Ingress: []api.IngressRule{{IngressCommonRule: api.IngressCommonRule{FromEntities: all}}},
			Egress:  []api.EgressRule{{EgressCommonRule: api.EgressCommonRule{ToEntities: all}}}}}
}

// setActions switches an installed binding's validationActions (Deny, or Warn+Audit while adopting).
func setActions(binding string, actions ...string) {
	GinkgoHelper()
	b := &unstructured.Unstructured{}
	b.SetAPIVersion("admissionregistration.k8s.io/v1")
	b.SetKind("ValidatingAdmissionPolicyBinding")
	Expect(k8s.Get(ctx, client.ObjectKey{Name: binding}, b)).To(Succeed())
	Expect(unstructured.SetNestedStringSlice(b.Object, actions, "spec", "validationActions")).To(Succeed())
	Expect(k8s.Update(ctx, b)).To(Succeed())
}

// enableOptional applies one opt-in policy of the chart, rendered with the values that turn it on, and
// removes it after the container. kube-apiserver loads and drops policies a second or two after the write, so
// refused, a request the policy refuses (nil for none that other specs would send), is polled until the
// policy is in force, and after the removal until it is not: the next container must not meet it.
func enableOptional(template string, refused func() error, set ...string) {
	GinkgoHelper()
	args := []string{"-f", filepath.Join("testdata", "values.yaml"), "--show-only", template}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	objs := helmTemplate(release, releaseNamespace, args...)
	Expect(objs).To(HaveLen(2), "a policy and its binding")
	kubectlApply(objs)
	DeferCleanup(func() {
		for _, o := range objs {
			Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed())
		}
		if refused != nil {
			Eventually(refused).Should(Succeed(), "%s still refuses after its removal", template)
		}
	})
	if refused != nil {
		Eventually(refused).Should(HaveOccurred(), "%s is not in force", template)
	}
}

// probe is a dry-run create of a namespace with labels by c: what admission answers, nothing stored. Specs
// poll it until a policy change has reached kube-apiserver.
func probe(c client.Client, labels map[string]string) func() error {
	return func() error {
		return c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: appName("probe"), Labels: labels}}, client.DryRunAll)
	}
}

func patchNamespace(c client.Client, name string, labels, annotations map[string]string, removeLabels ...string) error {
	ns := &corev1.Namespace{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return err
	}
	patch := client.MergeFrom(ns.DeepCopy())
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	for k, v := range labels {
		ns.Labels[k] = v
	}
	for _, k := range removeLabels {
		delete(ns.Labels, k)
	}
	for k, v := range annotations {
		ns.Annotations[k] = v
	}
	return c.Patch(ctx, ns, patch)
}

func patchLabels(c client.Client, name string, labels map[string]string, remove ...string) error {
	return patchNamespace(c, name, labels, nil, remove...)
}

func patchAnnotations(c client.Client, name string, annotations map[string]string) error {
	return patchNamespace(c, name, nil, annotations)
}
