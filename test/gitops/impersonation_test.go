package gitops

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/test/testenv"
)

// Flux's kustomize-controller applies what a Kustomization holds with its own ServiceAccount, which Flux's
// install binds to cluster-admin, unless spec.serviceAccountName names one to impersonate: then it sends the
// same server-side apply with its own credentials and Impersonate-User
// system:serviceaccount:<the Kustomization's namespace>:<serviceAccountName> (fluxcd/pkg runtime/client,
// Impersonator). netprofile's admission gates judge the requesting user, so without impersonation they judge
// the controller, and whoever may merge a Namespace manifest gets every grant and the escape hatch. These
// specs send a tenant's Namespace manifest both ways, on the real API server with the chart's grants and
// escape-hatch policies; the README's GitOps section points here.
var _ = Describe("A GitOps controller's identity at netprofile's admission gates", Ordered, func() {
	const fieldManager = "kustomize-controller" // the field manager Flux's server-side apply uses
	var (
		tenantNS       string // the tenant's Kustomization and its ServiceAccount live here
		deployer       string // the tenant's ServiceAccount, as a user name
		asController   client.Client
		asTenantViaCtl client.Client // the controller's credentials, impersonating the tenant's ServiceAccount
		ck             = contract.Default()
	)

	// apply is the controller's server-side apply of a Namespace manifest.
	apply := func(c client.Client, name string, labels, annotations map[string]string) error {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(name)
		u.SetLabels(labels)
		u.SetAnnotations(annotations)
		return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(fieldManager), client.ForceOwnership)
	}
	grant := map[string]string{ck.ProfileKey(): "standard", ck.AccessKey("postgres"): contract.AccessGranted}
	hatch := map[string]string{ck.ProfileKey(): "standard", ck.EnforcementKey(): contract.EnforcementDisabled}

	BeforeAll(func() {
		By("installing the chart's grants and escape-hatch policies and the roles they check")
		helm, err := testenv.Helm()
		Expect(err).NotTo(HaveOccurred())
		cmd := exec.Command(helm, "template", "netprofile", filepath.Join(testenv.RepoRoot(), "charts", "netprofile"),
			"--namespace", "netprofile-system",
			"--set", "admission.grants.enabled=true", "--set", "admission.escapeHatch.enabled=true",
			"--show-only", "templates/admission-grants.yaml", "--show-only", "templates/admission-escape-hatch.yaml",
			"--show-only", "templates/admission-clusterroles.yaml")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		Expect(err).NotTo(HaveOccurred(), stderr.String())
		objs, err := testenv.DecodeObjects(out)
		Expect(err).NotTo(HaveOccurred())
		for _, o := range objs {
			Expect(k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.FieldOwner("helm"))).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed()) })
		}

		By("Flux's kustomize-controller: a ServiceAccount bound to cluster-admin, as Flux installs it")
		if err := k8s.Get(ctx, client.ObjectKey{Name: "flux-system"}, &corev1.Namespace{}); err != nil {
			Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "flux-system"}})).To(Succeed())
		}
		controller := serviceAccount("flux-system", "kustomize-controller-"+rand.String(5))
		bind(controller, "cluster-admin")

		By("a tenant's ServiceAccount that may create and edit Namespaces, and nothing of netprofile's")
		tenantNS = newNamespace("tenant", nil)
		tenant := serviceAccount(tenantNS, "deployer")
		deployer = fmt.Sprintf("system:serviceaccount:%s:%s", tenantNS, tenant.Name)
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "namespace-editor-" + tenantNS},
			Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"namespaces"},
				Verbs: []string{"get", "list", "watch", "create", "update", "patch"}}}}
		Expect(k8s.Create(ctx, role)).To(Succeed())
		bind(tenant, role.Name)

		By("the controller's own credentials: a token of its ServiceAccount, as the pod has")
		cs, err := kubernetes.NewForConfig(env.Config)
		Expect(err).NotTo(HaveOccurred())
		tr, err := cs.CoreV1().ServiceAccounts(controller.Namespace).CreateToken(ctx, controller.Name,
			&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](3600)}}, metav1.CreateOptions{})
		Expect(err).NotTo(HaveOccurred())
		cfg := rest.AnonymousClientConfig(env.Config)
		cfg.BearerToken = tr.Status.Token
		asController = newClient(cfg)
		impersonating := rest.CopyConfig(cfg)
		impersonating.Impersonate = rest.ImpersonationConfig{UserName: deployer}
		asTenantViaCtl = newClient(impersonating)

		// kube-apiserver loads new policies within a second or two; the binding's LabelContract is the one the
		// manager of this suite publishes.
		// Each probe is a new namespace: one admitted before the policy loaded already holds the grant.
		Eventually(func() error { return apply(asTenantViaCtl, "probe-"+rand.String(8), grant, nil) }).
			Should(MatchError(ContainSubstring("may not grant access to SharedResource postgres")))
	})

	It("without serviceAccountName, the controller's cluster-admin gets the manifest any grant and the escape hatch", func() {
		granted := "merged-grant-" + rand.String(5)
		Expect(apply(asController, granted, grant, nil)).To(Succeed())
		Expect(labelsOf(granted)).To(HaveKeyWithValue(ck.AccessKey("postgres"), contract.AccessGranted))

		opened := "merged-hatch-" + rand.String(5)
		Expect(apply(asController, opened, hatch, nil)).To(Succeed())
		Eventually(condition(opened, conditions.EnforcementDisabled)).Should(HaveField("Status", corev1.ConditionTrue))
	})

	It("with serviceAccountName, the same manifests are judged as the tenant's ServiceAccount and refused", func() {
		err := apply(asTenantViaCtl, "impersonated-grant-"+rand.String(5), grant, nil)
		Expect(err).To(MatchError(ContainSubstring(deployer + " may not grant access to SharedResource postgres")))

		name := "impersonated-hatch-" + rand.String(5)
		err = apply(asTenantViaCtl, name, hatch, nil)
		Expect(err).To(MatchError(ContainSubstring(deployer + " may not disable network policy enforcement on namespace " + name)))

		By("what the tenant may do goes through: a profile, no grant")
		Expect(apply(asTenantViaCtl, "impersonated-profile-"+rand.String(5), map[string]string{ck.ProfileKey(): "standard"}, nil)).To(Succeed())
	})

	It("with serviceAccountName, the tenant's own RBAC decides: given use of postgres, the sync goes through", func() {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: tenantNS, Name: "deployer"}}
		bind(sa, "netprofile-sharedresource-user")
		name := "allowed-grant-" + rand.String(5)
		// RBAC is read from the informer's cache: the binding is in effect within moments.
		Eventually(func() error { return apply(asTenantViaCtl, name, grant, nil) }).Should(Succeed())
		Expect(labelsOf(name)).To(HaveKeyWithValue(ck.AccessKey("postgres"), contract.AccessGranted))
	})
})

func serviceAccount(namespace, name string) *corev1.ServiceAccount {
	GinkgoHelper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	Expect(k8s.Create(ctx, sa)).To(Succeed())
	return sa
}

// bind binds a ClusterRole to a ServiceAccount cluster-wide.
func bind(sa *corev1.ServiceAccount, role string) {
	GinkgoHelper()
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%s-%s", role, sa.Namespace, sa.Name)},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: sa.Namespace, Name: sa.Name}}}
	Expect(k8s.Create(ctx, b)).To(Succeed())
}

func newClient(cfg *rest.Config) client.Client {
	GinkgoHelper()
	scheme, err := controllers.NewScheme()
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// labelsOf reads a Namespace's labels from the API server.
func labelsOf(name string) map[string]string {
	GinkgoHelper()
	ns := &corev1.Namespace{}
	Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
	return ns.Labels
}

// condition reads a netprofile condition of a Namespace, for Eventually.
func condition(name string, t corev1.NamespaceConditionType) func() *corev1.NamespaceCondition {
	return func() *corev1.NamespaceCondition {
		ns := &corev1.Namespace{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
			return nil
		}
		return conditions.Find(ns.Status.Conditions, t)
	}
}
