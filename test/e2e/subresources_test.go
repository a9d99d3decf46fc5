package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/enforcement"
	"github.com/netprofile/netprofile/pkg/ownership"
)

// A Namespace's labels and annotations, written through namespaces/<n>/status and namespaces/<n>/finalize:
// the API server stores the metadata sent there, so every write the Namespace policies judge is tried
// through all three paths, by a tenant whose role covers the subresources, by a user bound to cluster-admin
// with a RoleBinding in her own namespace (not system:masters), and with netprofile's own ServiceAccount.
var _ = Describe("Namespace metadata through the status and finalize subresources", Ordered, ContinueOnFailure, func() {
	const (
		tenant   = "tenant-sub"    // may get, update and patch namespaces and both subresources
		rbAdmin  = "rb-admin-rita" // cluster-admin by a RoleBinding in her own namespace
		platform = "platform-sub"  // a tenant who may also use every SharedResource
		oncall   = "oncall-sub"    // a tenant who may also bypass enforcement (the escape-hatch role)
	)
	var (
		m                 *manager
		tenantNS, adminNS string
	)

	// path is one way of writing a Namespace's metadata.
	type path string
	const (
		main     path = "namespaces"
		status   path = "namespaces/status"
		finalize path = "namespaces/finalize"
	)
	// write sends labels and annotations (a nil value removes the key) to namespace name through p, as user.
	write := func(user string, p path, name string, labels, annotations map[string]any) error {
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
		cs, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		switch p {
		case finalize:
			// PUT only: the finalize subresource takes no patch. The whole object, as the namespace controller
			// sends it, with the metadata changed. A PUT carries the resourceVersion it read, so a status write
			// of the manager's in between makes it a conflict that admission never judged: read and send again.
			return retry.RetryOnConflict(retry.DefaultRetry, func() error {
				ns, err := cs.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return err
				}
				if ns.Labels == nil {
					ns.Labels = map[string]string{}
				}
				if ns.Annotations == nil {
					ns.Annotations = map[string]string{}
				}
				for into, from := range map[*map[string]string]map[string]any{&ns.Labels: labels, &ns.Annotations: annotations} {
					for k, v := range from {
						if v == nil {
							delete(*into, k)
						} else {
							(*into)[k] = v.(string)
						}
					}
				}
				_, err = cs.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
				return err
			})
		default:
			// A merge patch's null removes a key, and a null map all of them: send only what is given.
			meta := map[string]any{}
			if labels != nil {
				meta["labels"] = labels
			}
			if annotations != nil {
				meta["annotations"] = annotations
			}
			body, err := json.Marshal(map[string]any{"metadata": meta})
			Expect(err).NotTo(HaveOccurred())
			var sub []string
			if p == status {
				sub = []string{"status"}
			}
			_, err = cs.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{}, sub...)
			return err
		}
	}
	metadataOf := func(name string) (map[string]string, map[string]string) {
		GinkgoHelper()
		ns := &corev1.Namespace{}
		Expect(k8s.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
		return ns.Labels, ns.Annotations
	}
	// subresourceRefusal is what the subresource policy answers: who, which path, what changed and what to do.
	subresourceRefusal := func(user string, p path, name, changed string) OmegaMatcher {
		return MatchError(And(
			ContainSubstring(fmt.Sprintf("%s may not change the metadata of namespace %s through namespaces/%s/%s", user, name, name, map[path]string{status: "status", finalize: "finalize"}[p])),
			ContainSubstring(changed),
			ContainSubstring("kubectl label namespace "+name)))
	}

	BeforeAll(func() {
		if err := k8s.Get(ctx, client.ObjectKey{Name: "database"}, &corev1.Namespace{}); apierrors.IsNotFound(err) {
			createPlatformNamespace("database")
		}
		bindClusterRole("tenant-namespaces-and-subresources", []rbacv1.PolicyRule{{
			APIGroups: []string{""}, Resources: []string{"namespaces", "namespaces/status", "namespaces/finalize"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch"},
		}}, tenant, platform, oncall)
		bindExisting(release+"-sharedresource-user", platform)
		bindExisting(release+"-escape-hatch", oncall)
		tenantNS = createNamespace(appName("sub-tenant"), map[string]string{profileKey: "standard"}).Name
		adminNS = createNamespace(appName("sub-admin"), map[string]string{profileKey: "standard"}).Name
		bindInNamespace(adminNS, "cluster-admin", rbAdmin)
		// The grant and escape-hatch policies too, so that the main resource refuses every write below.
		enableOptional("templates/admission-grants.yaml", probe(impersonate(tenant), map[string]string{accessKey + "postgres": "true"}),
			"admission.grants.enabled=true")
		enableOptional("templates/admission-escape-hatch.yaml", probe(impersonate(tenant), map[string]string{enforcementKey: "disabled"}),
			"admission.escapeHatch.enabled=true", "admission.escapeHatch.requireUntil=true")
		Eventually(probe(impersonate(tenant), map[string]string{accessKey + "postgres": "true"})).Should(MatchError(ContainSubstring("may not grant")))
		Eventually(probe(impersonate(tenant), map[string]string{enforcementKey: "disabled"})).Should(MatchError(ContainSubstring("disable-enforcement")))
		// The RoleBinding is in force for the namespace and its subresources.
		Eventually(func() error { return write(rbAdmin, main, adminNS, map[string]any{"team": "rita"}, nil) }).Should(Succeed())
		m = startManager("subresources")
		DeferCleanup(func() {
			if CurrentSpecReport().Failed() {
				AddReportEntry("manager log", m.log.String())
			}
			m.stop()
		})
	})

	It("refuses every judged label and annotation write through all three paths, saying what to do", func() {
		type attempt struct {
			what        string
			labels      map[string]any
			annotations map[string]any
			// onMain is what the Namespace policies say when the write goes to the Namespace itself.
			onMain  string
			changed string
		}
		attempts := []attempt{
			{"a grant without the verb use", map[string]any{accessKey + "postgres": "true"}, nil,
				`may not grant access to SharedResource postgres: granting needs the verb "use"`, "labels " + accessKey + "postgres"},
			{"the escape hatch without the verb or an end", map[string]any{enforcementKey: "disabled"}, nil,
				`needs the verb "disable-enforcement" on namespaces/`, "labels " + enforcementKey},
			{"audit mode without the verb or an end", map[string]any{enforcementKey: "audit"}, nil,
				"in audit mode, which forwards all its traffic like the escape hatch (label " + enforcementKey + `=audit): it needs the verb "disable-enforcement" on namespaces/`,
				"labels " + enforcementKey},
			{"a profile that does not exist", map[string]any{profileKey: "Gold"}, nil,
				`NetworkProfile names are lower case: did you mean "gold"?`, "labels " + profileKey},
			{"netprofile's since-annotation", nil, map[string]any{sinceKey: "2020-01-01T00:00:00Z"},
				"is written only by netprofile", "annotations " + sinceKey},
			{"the platform's mark", map[string]any{contract.Default().PlatformKey(): contract.PlatformMarked}, nil,
				`needs the verb "mark-platform" on namespaces`, "labels " + contract.Default().PlatformKey()},
		}
		for _, user := range []struct{ name, ns string }{{tenant, tenantNS}, {rbAdmin, adminNS}} {
			for _, a := range attempts {
				By(user.name + ": " + a.what)
				before, beforeAnn := metadataOf(user.ns)
				Expect(write(user.name, main, user.ns, a.labels, a.annotations)).To(MatchError(ContainSubstring(a.onMain)), "%s, on the Namespace", a.what)
				for _, p := range []path{status, finalize} {
					Expect(write(user.name, p, user.ns, a.labels, a.annotations)).To(subresourceRefusal(user.name, p, user.ns, a.changed), "%s, through %s", a.what, p)
				}
				after, afterAnn := metadataOf(user.ns)
				Expect(after).To(Equal(before), "no path changed the labels")
				Expect(afterAnn).To(Equal(beforeAnn), "no path changed the annotations")
			}
		}

		By("netprofile's ServiceAccount: the same writes, and kube-system's Pod Security")
		saAttempts := append(slices.Concat(attempts[:4], attempts[5:]), attempt{"kube-system's Pod Security", map[string]any{"pod-security.kubernetes.io/enforce": "privileged"}, nil,
			"", "labels pod-security.kubernetes.io/enforce"})
		for _, a := range saAttempts {
			name := tenantNS
			if a.what == "kube-system's Pod Security" {
				name = metav1.NamespaceSystem
			}
			before, _ := metadataOf(name)
			// Two policies refuse these on the Namespace; the API server reports whichever it evaluated first.
			onMain := ContainSubstring("netprofile may change a Namespace only to publish the annotation " + sinceKey)
			if a.onMain != "" {
				onMain = Or(onMain, ContainSubstring(a.onMain))
			}
			Expect(write(serviceAccount, main, name, a.labels, a.annotations)).To(MatchError(onMain), "%s, on the Namespace", a.what)
			Expect(write(serviceAccount, status, name, a.labels, a.annotations)).To(subresourceRefusal(serviceAccount, status, name, a.changed), "%s, through status", a.what)
			Expect(write(serviceAccount, finalize, name, a.labels, a.annotations)).To(Satisfy(apierrors.IsForbidden), "%s: RBAC gives it no finalize", a.what)
			after, _ := metadataOf(name)
			Expect(after).To(Equal(before))
		}
		// The since-annotation is the ServiceAccount's to publish, on the Namespace only.
		Expect(write(serviceAccount, status, tenantNS, nil, map[string]any{sinceKey: "2020-01-01T00:00:00Z"})).
			To(subresourceRefusal(serviceAccount, status, tenantNS, "annotations "+sinceKey))

		By("finalizers and owner references are the Namespace's too")
		cfg := rest.CopyConfig(env.Config)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: serviceAccount}
		cs, err := kubernetes.NewForConfig(cfg)
		Expect(err).NotTo(HaveOccurred())
		for _, meta := range []map[string]any{
			{"finalizers": []string{"example.com/hold"}},
			{"ownerReferences": []map[string]any{{"apiVersion": "v1", "kind": "ConfigMap", "name": "gone", "uid": "00000000-0000-0000-0000-000000000000"}}},
		} {
			body, err := json.Marshal(map[string]any{"metadata": meta})
			Expect(err).NotTo(HaveOccurred())
			_, err = cs.CoreV1().Namespaces().Patch(ctx, metav1.NamespaceSystem, types.MergePatchType, body, metav1.PatchOptions{}, "status")
			Expect(err).To(MatchError(ContainSubstring("may not change the metadata of namespace kube-system through namespaces/kube-system/status (finalizers or owner references)")), "%v", meta)
		}
	})

	It("keeps an audit's end where the platform put it: moving or removing it needs the verb, on every path", func() {
		auditNS := createNamespace(appName("sub-audit"), map[string]string{profileKey: "standard"}).Name
		end := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		later := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		audit := map[string]any{enforcementKey: "audit"}

		By("a user with the verb puts the namespaces in audit mode, with an end")
		Expect(write(oncall, main, auditNS, audit, nil)).To(MatchError(ContainSubstring("audit mode needs an end: set the annotation " + untilKey)))
		Expect(write(oncall, main, auditNS, audit, map[string]any{untilKey: end})).To(Succeed())
		Expect(write(oncall, main, adminNS, audit, map[string]any{untilKey: end})).To(Succeed())
		for _, ns := range []string{auditNS, adminNS} {
			Eventually(condition(ns, conditions.Audit)).Should(HaveField("Status", corev1.ConditionTrue), "netprofile has done its writes")
		}
		Expect(write(oncall, status, auditNS, nil, map[string]any{untilKey: later})).To(subresourceRefusal(oncall, status, auditNS, "annotations "+untilKey),
			"the verb is for the Namespace itself, where the end is judged")

		for _, try := range []struct{ user, ns string }{{tenant, auditNS}, {rbAdmin, adminNS}, {serviceAccount, auditNS}} {
			for what, change := range map[string]struct{ labels, annotations map[string]any }{
				"a later end":              {nil, map[string]any{untilKey: later}},
				"no end":                   {nil, map[string]any{untilKey: nil}},
				"the escape hatch instead": {map[string]any{enforcementKey: "disabled"}, nil},
			} {
				By(try.user + ": " + what)
				before, beforeAnn := metadataOf(try.ns)
				err := write(try.user, main, try.ns, change.labels, change.annotations)
				says := ContainSubstring(`it needs the verb "disable-enforcement" on namespaces/` + try.ns + "; ask the on-call platform team")
				if try.user == serviceAccount {
					says = Or(says, ContainSubstring("netprofile may change a Namespace only to publish the annotation "+sinceKey))
				}
				Expect(err).To(MatchError(says), "%s: %s, on the Namespace", try.user, what)
				Expect(write(try.user, status, try.ns, change.labels, change.annotations)).To(MatchError(ContainSubstring(
					fmt.Sprintf("%s may not change the metadata of namespace %s through namespaces/%s/status", try.user, try.ns, try.ns))), "%s: %s, through status", try.user, what)
				if try.user != serviceAccount {
					Expect(write(try.user, finalize, try.ns, change.labels, change.annotations)).To(MatchError(ContainSubstring(
						fmt.Sprintf("%s may not change the metadata of namespace %s through namespaces/%s/finalize", try.user, try.ns, try.ns))), "%s: %s, through finalize", try.user, what)
				}
				after, afterAnn := metadataOf(try.ns)
				Expect(after).To(Equal(before))
				Expect(afterAnn).To(Equal(beforeAnn))
			}
		}
		By("netprofile's record of the bypass is out of their reach")
		record := &corev1.ConfigMap{}
		Eventually(func() error {
			return k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: enforcement.RecordName(auditNS)}, record)
		}).Should(Succeed())
		for _, user := range []string{tenant, rbAdmin} {
			forged := record.DeepCopy()
			forged.Data["since"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			Expect(impersonate(user).Update(ctx, forged)).To(Satisfy(apierrors.IsForbidden), "%s changes the record", user)
			Expect(impersonate(user).Delete(ctx, record.DeepCopy())).To(Satisfy(apierrors.IsForbidden), "%s deletes the record", user)
		}

		By("the refusal names audit mode and the end")
		Expect(write(tenant, main, auditNS, nil, map[string]any{untilKey: later})).To(MatchError(ContainSubstring(
			tenant + " may not put namespace " + auditNS + " in audit mode, which forwards all its traffic like the escape hatch (label " +
				enforcementKey + "=audit, or move its end " + untilKey + `): it needs the verb "disable-enforcement"`)))

		By("the user with the verb moves the end; ending the audit is everyone's")
		Expect(write(oncall, main, auditNS, nil, map[string]any{untilKey: later})).To(Succeed())
		Expect(write(tenant, main, auditNS, map[string]any{enforcementKey: nil}, map[string]any{untilKey: nil})).To(Succeed())
		Expect(write(rbAdmin, main, adminNS, map[string]any{enforcementKey: nil}, map[string]any{untilKey: nil})).To(Succeed())
	})

	It("keeps what the paths are for: the Namespace itself, netprofile's status, namespace deletion, platform users", func() {
		By("a label the policies allow is refused through status, and set on the Namespace as the message says")
		psa := map[string]any{"pod-security.kubernetes.io/enforce": "baseline"}
		Expect(write(tenant, status, tenantNS, psa, nil)).To(subresourceRefusal(tenant, status, tenantNS, "labels pod-security.kubernetes.io/enforce"))
		Expect(write(tenant, main, tenantNS, psa, nil)).To(Succeed())
		Expect(write(rbAdmin, main, adminNS, psa, map[string]any{"team": "rita"})).To(Succeed())

		By("a platform user grants on the Namespace, not through status")
		Expect(write(platform, status, tenantNS, map[string]any{accessKey + "postgres": "true"}, nil)).
			To(subresourceRefusal(platform, status, tenantNS, "labels "+accessKey+"postgres"))
		Expect(write(platform, main, tenantNS, map[string]any{accessKey + "postgres": "true"}, nil)).To(Succeed())

		By("netprofile writes its conditions through status")
		Eventually(condition(tenantNS, conditions.Ready)).Should(And(HaveField("Status", corev1.ConditionTrue),
			HaveField("Message", ContainSubstring("with access to postgres"))))
		Expect(write(tenant, status, tenantNS, nil, nil)).To(Succeed(), "a status write that changes no metadata passes")

		By("the namespace controller deletes a namespace with netprofile's policies (status and finalize writes)")
		ns := createNamespace(appName("sub-delete"), map[string]string{profileKey: "standard", "team": "x"})
		waitPolicy(ns.Name, ownership.NamespacePolicyName)
		Expect(k8s.Delete(ctx, ns)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Name: ns.Name}, &corev1.Namespace{}))
		}).WithTimeout(2*time.Minute).Should(BeTrue(), func() string { return "kube-controller-manager:\n" + env.ControllerManagerLog() })
	})
})
