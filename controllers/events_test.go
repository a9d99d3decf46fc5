package controllers_test

import (
	"context"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	clientevents "k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers/internal/nsstatus"
)

// sentCreates is an events.EventSink that records where each create went and what the API server answered.
type sentCreates struct {
	clientevents.EventSink
	mu   sync.Mutex
	sent []string
}

func (s *sentCreates) Create(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	out, err := s.EventSink.Create(ctx, e)
	answer := "created"
	if err != nil {
		answer = string(apierrors.ReasonForError(err))
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			answer += " (terminating)"
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, e.Namespace+": "+answer)
	return out, err
}

var _ = Describe("Events about a namespace that is being deleted", func() {
	var (
		sink *sentCreates
		// terminating is a namespace held in Terminating by a finalizer of this spec's own.
		terminating *corev1.Namespace
	)
	const hold = "netprofile.test/hold"

	BeforeEach(func() {
		clientset, err := kubernetes.NewForConfig(env.Config)
		Expect(err).NotTo(HaveOccurred())
		sink = &sentCreates{EventSink: &clientevents.EventSinkImpl{Interface: clientset.EventsV1()}}

		terminating = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ending-" + rand.String(6), Finalizers: []string{hold}}}
		Expect(k8s.Create(ctx, terminating)).To(Succeed())
		DeferCleanup(func() {
			Expect(k8s.Get(ctx, client.ObjectKeyFromObject(terminating), terminating)).To(Succeed())
			terminating.Finalizers = nil
			Expect(k8s.Update(ctx, terminating)).To(Succeed())
		})
		Expect(k8s.Delete(ctx, terminating)).To(Succeed())
		// The API server refuses new content once the namespace controller has seen the deletion.
		Eventually(func() error {
			_, err := sink.EventSink.Create(ctx, eventAbout(terminating.Name))
			return err
		}).Should(Satisfy(func(err error) bool { return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) }))
	})

	It("are sent to default at once when the cache already shows the namespace terminating", func() {
		s := nsstatus.FallbackSink{EventSink: sink, Namespaces: k8s}
		out, err := s.Create(ctx, eventAbout(terminating.Name))
		Expect(err).NotTo(HaveOccurred())
		Expect(sink.sent).To(Equal([]string{"default: created"}), "no write the API server refuses")
		Expect(out.Regarding).To(And(HaveField("Kind", "Namespace"), HaveField("Name", terminating.Name), HaveField("Namespace", "")))
	})

	It("are moved to default when the namespace starts terminating after the look", func() {
		s := nsstatus.FallbackSink{EventSink: sink} // no cache: the race, where the look said "not terminating"
		_, err := s.Create(ctx, eventAbout(terminating.Name))
		Expect(err).NotTo(HaveOccurred())
		Expect(sink.sent).To(Equal([]string{terminating.Name + ": Forbidden (terminating)", "default: created"}))
	})

	It("stay in a namespace that is not terminating, and a refusal for any other reason is not hidden", func() {
		live := newNamespace("live", nil)
		s := nsstatus.FallbackSink{EventSink: sink, Namespaces: k8s}
		_, err := s.Create(ctx, eventAbout(live.Name))
		Expect(err).NotTo(HaveOccurred())

		missing := "never-" + rand.String(6) // the cache cannot say; the API server refuses with NotFound
		_, err = nsstatus.FallbackSink{EventSink: sink}.Create(ctx, eventAbout(missing))
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "got %v", err)
		Expect(sink.sent).To(Equal([]string{live.Name + ": created", missing + ": NotFound"}))
	})
})

// eventAbout is an Event about a Namespace recorded inside it, as nsstatus.InNamespace records it.
func eventAbout(ns string) *eventsv1.Event {
	now := metav1.NewMicroTime(fakeClock.Now())
	return &eventsv1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: ns + "." + rand.String(10), Namespace: ns},
		Regarding:           corev1.ObjectReference{Kind: "Namespace", APIVersion: "v1", Name: ns, Namespace: ns},
		EventTime:           now,
		ReportingController: "netprofile-test",
		ReportingInstance:   "netprofile-test",
		Action:              "Test",
		Reason:              "Test",
		Type:                corev1.EventTypeNormal,
		Note:                "a test event",
	}
}
