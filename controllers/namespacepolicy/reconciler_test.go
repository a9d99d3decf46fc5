package namespacepolicy

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/controllers/internal/apply"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/conditions"
	"github.com/netprofile/netprofile/pkg/contract"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// A refusal is final until the input changes, but a failed write of the condition that reports it is not:
// it must be retried, or the old condition (say Ready=True) stays. (The envtest suites cannot make the API
// server fail one request; a fake client with an interceptor can.)
func TestRefusalWithAFailedStatusWriteIsRetried(t *testing.T) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, cilium.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "app", UID: "ns-uid",
		Labels: map[string]string{contract.Default().ProfileKey(): "no-such-profile"}}}
	failing := true
	c := fake.NewClientBuilder().WithScheme(s).WithObjects(ns).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceApply: func(ctx context.Context, c client.Client, sub string, obj runtime.ApplyConfiguration, opts ...client.SubResourceApplyOption) error {
			if failing {
				return apierrors.NewServerTimeout(corev1.Resource("namespaces"), "apply", 1)
			}
			return c.SubResource(sub).Apply(ctx, obj, opts...)
		},
	}).Build()
	r := &Reconciler{Client: c, Renderer: policy.Renderer{Contract: contract.Default()},
		Applier:  apply.Applier{Client: c, APIReader: c, Component: ownership.ComponentNamespacePolicy, Recorder: events.NewFakeRecorder(10)},
		Recorder: events.NewFakeRecorder(10), Clock: clocktesting.NewFakeClock(time.Unix(1000, 0))}
	req := ctrl.Request{NamespacedName: client.ObjectKey{Name: "app"}}

	_, err := r.Reconcile(context.Background(), req)
	if err == nil || errors.Is(err, reconcile.TerminalError(nil)) {
		t.Fatalf("a failed condition write must be a retryable error, got %v", err)
	}
	failing = false
	if _, err := r.Reconcile(context.Background(), req); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	got := &corev1.Namespace{}
	if err := c.Get(context.Background(), req.NamespacedName, got); err != nil {
		t.Fatal(err)
	}
	if cond := conditions.Find(got.Status.Conditions, conditions.Ready); cond == nil || cond.Reason != conditions.ReasonProfileNotFound {
		t.Fatalf("the retry must write the refusal, got %+v", got.Status.Conditions)
	}
}
