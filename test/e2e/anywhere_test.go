package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/test/testenv"
)

// The `helm test` hook's Pod cannot run here (no kubelet), so its checks run as it would run them: the pinned
// kubectl (the version the hook's image ships), with the Pod's exact arguments, as the hook's ServiceAccount,
// after the hook's other objects are applied. The Deployment's Available condition, which the deployment
// controller would write from the manager pods' readiness, is written by the spec: the manager runs outside
// the cluster.
var _ = Describe("The chart's helm test hook", Ordered, func() {
	var (
		pod        *corev1.Pod
		kubeconfig string
	)
	const testServiceAccount = "system:serviceaccount:" + releaseNamespace + ":" + release + "-test"

	// check runs one of the Pod's containers with the pinned kubectl, its --timeout replaced when timeout is set.
	check := func(c corev1.Container, timeout string) (string, error) {
		GinkgoHelper()
		bin, err := testenv.Kubectl()
		Expect(err).NotTo(HaveOccurred())
		Expect(c.Command).To(BeEmpty(), "the image's entrypoint is kubectl")
		args := []string{"--kubeconfig", kubeconfig}
		for _, a := range c.Args {
			if timeout != "" && strings.HasPrefix(a, "--timeout=") {
				a = "--timeout=" + timeout
			}
			args = append(args, a)
		}
		out, err := exec.Command(bin, args...).CombinedOutput()
		return string(out), err
	}

	BeforeAll(func() {
		objs := helmTemplate(release, releaseNamespace, "-f", filepath.Join("testdata", "values.yaml"),
			"--set", "tests.enabled=true", "--show-only", "templates/tests/convergence.yaml")
		var rest []*unstructured.Unstructured
		for _, o := range objs {
			Expect(o.GetAnnotations()).To(HaveKeyWithValue("helm.sh/hook", "test"), o.GetName())
			if o.GetKind() == "Pod" {
				pod = &corev1.Pod{}
				Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, pod)).To(Succeed())
				continue
			}
			rest = append(rest, o)
		}
		Expect(pod).NotTo(BeNil())
		Expect(pod.Spec.InitContainers).To(HaveLen(1))
		Expect(pod.Spec.Containers).To(HaveLen(1))
		// What Helm does for weight -1 before it creates the Pod.
		kubectlApply(rest)
		DeferCleanup(func() {
			for _, o := range rest {
				Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed())
			}
		})
		// Not "kubeconfig-<name>": startManager writes those for its processes.
		kubeconfig = filepath.Join(workDir, "hook-serviceaccount.kubeconfig")
		Expect(env.ImpersonatingKubeconfig(kubeconfig, testServiceAccount, nil)).To(Succeed())
	})

	It("fails while the manager is not Ready, and the namespace does not converge without a manager", func() {
		out, err := check(pod.Spec.InitContainers[0], "2s")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("timed out waiting for the condition"), "a timeout, not a refusal of the hook's RBAC")
		out, err = check(pod.Spec.Containers[0], "2s")
		Expect(err).To(HaveOccurred())
		Expect(out).To(ContainSubstring("timed out waiting for the condition"))
	})

	It("passes once the manager runs: the Deployment is Available and the namespace NetworkPolicyReady", func() {
		startManager("helm-test")
		setDeploymentAvailable(true)
		DeferCleanup(setDeploymentAvailable, false)

		out, err := check(pod.Spec.InitContainers[0], "")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("deployment.apps/" + release + " condition met"))
		out, err = check(pod.Spec.Containers[0], "")
		Expect(err).NotTo(HaveOccurred(), out)
		Expect(out).To(ContainSubstring("namespace/" + release + "-helm-test condition met"))
	})

	It("grants the hook nothing beyond those two objects", func() {
		for _, args := range [][]string{
			{"get", "namespace", "default"},
			{"get", "deployments", "--namespace", releaseNamespace},
			{"get", "secrets", "--namespace", releaseNamespace},
		} {
			bin, err := testenv.Kubectl()
			Expect(err).NotTo(HaveOccurred())
			out, err := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
			Expect(err).To(HaveOccurred(), "kubectl %v as the hook: %s", args, out)
			Expect(string(out)).To(ContainSubstring("Forbidden"))
		}
	})
})

// setDeploymentAvailable writes the Available condition the deployment controller would write (there is none
// here; the manager runs outside the cluster).
func setDeploymentAvailable(available bool) {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: release}, d)).To(Succeed())
	d.Status = appsv1.DeploymentStatus{}
	if available {
		d.Status = appsv1.DeploymentStatus{
			ObservedGeneration: d.Generation, Replicas: *d.Spec.Replicas, ReadyReplicas: *d.Spec.Replicas,
			AvailableReplicas: *d.Spec.Replicas, UpdatedReplicas: *d.Spec.Replicas,
			Conditions: []appsv1.DeploymentCondition{{
				Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
				LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now(),
			}},
		}
	}
	Expect(k8s.Status().Update(ctx, d)).To(Succeed())
}

// The ServiceMonitor's default authorization is the token of the chart's scraper ServiceAccount: with the
// chart's binding, that token may read /metrics. The token controller (not run here) would write it into the
// chart's Secret; a TokenRequest for the same ServiceAccount stands in for it.
var _ = Describe("The ServiceMonitor's scraper token", func() {
	It("is authorized to scrape the manager", func() {
		objs := helmTemplate(release, releaseNamespace, "-f", filepath.Join("testdata", "values.yaml"),
			"--set", "serviceMonitor.enabled=true", "--show-only", "templates/metrics-servicemonitor.yaml")
		var scraper []*unstructured.Unstructured
		var sm *unstructured.Unstructured
		for _, o := range objs {
			if o.GetKind() == "ServiceMonitor" {
				sm = o // the Prometheus Operator's kind; its CRD is not needed to check the token
				continue
			}
			scraper = append(scraper, o)
		}
		Expect(sm).NotTo(BeNil())
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		Expect(eps).To(HaveLen(1))
		credentials, _, _ := unstructured.NestedStringMap(eps[0].(map[string]any), "authorization", "credentials")
		Expect(credentials).To(Equal(map[string]string{"name": release + "-metrics-scraper", "key": "token"}))
		kubectlApply(scraper)
		DeferCleanup(func() {
			for _, o := range scraper {
				Expect(client.IgnoreNotFound(k8s.Delete(ctx, o))).To(Succeed())
			}
		})
		secret := &corev1.Secret{}
		Expect(k8s.Get(ctx, client.ObjectKey{Namespace: releaseNamespace, Name: credentials["name"]}, secret)).To(Succeed())
		Expect(secret.Type).To(Equal(corev1.SecretTypeServiceAccountToken))

		m := startManager("scraper")
		bearer := token(releaseNamespace, secret.Annotations[corev1.ServiceAccountNameKey])
		Eventually(func() (string, error) { return scrape(m, bearer) }).Should(ContainSubstring("controller_runtime_reconcile_total"))
	})
})
