package controllers_test

import (
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientevents "k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/netprofile/netprofile/controllers/internal/apply"
	cilium "github.com/netprofile/netprofile/pkg/ciliumpolicy"
	"github.com/netprofile/netprofile/pkg/ownership"
	"github.com/netprofile/netprofile/pkg/policy"
)

// laggingCache reads like the manager's cache (objects reduced by apply.TransformPolicy) from the live API
// server, except that it has not seen the objects in hidden yet; writes go to the API server.
type laggingCache struct {
	client.Client
	hidden map[client.ObjectKey]bool
	writes *[]string
}

func (c laggingCache) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	*c.writes = append(*c.writes, "create")
	return c.Client.Create(ctx, obj, opts...)
}

func (c laggingCache) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	*c.writes = append(*c.writes, "update")
	return c.Client.Update(ctx, obj, opts...)
}

func (c laggingCache) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	*c.writes = append(*c.writes, "patch")
	return c.Client.Patch(ctx, obj, patch, opts...)
}

func (c laggingCache) Apply(ctx context.Context, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
	*c.writes = append(*c.writes, "apply")
	return c.Client.Apply(ctx, obj, opts...)
}

func (c laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if c.hidden[key] {
		return apierrors.NewNotFound(schema.GroupResource{Group: cilium.SchemeGroupVersion.Group, Resource: "ciliumnetworkpolicies"}, key.Name)
	}
	if err := c.Client.Get(ctx, key, obj, opts...); err != nil {
		return err
	}
	_, err := apply.TransformPolicy(obj)
	return err
}

// The specs drive an Applier of their own; the manager is stopped, so nothing else writes or prunes the
// policies they apply.
var _ = Describe("Applying at a reserved name the cache shows free", Ordered, func() {
	BeforeAll(func() {
		stopManager()
		DeferCleanup(startManager)
	})

	var recorder *clientevents.FakeRecorder
	var writes []string
	applier := func(hidden ...client.ObjectKey) apply.Applier {
		writes = nil
		c := laggingCache{Client: k8s, hidden: map[client.ObjectKey]bool{}, writes: &writes}
		for _, k := range hidden {
			c.hidden[k] = true
		}
		recorder = clientevents.NewFakeRecorder(10)
		return apply.Applier{Client: c, APIReader: k8s, Component: ownership.ComponentEnforcement, Recorder: recorder}
	}

	It("refuses an object someone created there after the cache looked, and leaves it untouched", func() {
		ns := newNamespace("race", nil)
		foreign := handWritten(ns.Name, ownership.AllowAllPolicyName)
		desired := policy.AllowAll(ns.Name)

		_, err := applier(client.ObjectKeyFromObject(desired)).Apply(ctx, desired, ns)
		Expect(err).To(MatchError(&apply.ClashError{Kind: cilium.CNPKindDefinition, Namespace: ns.Name, Name: ownership.AllowAllPolicyName}))
		Expect(writes).To(Equal([]string{"create"}), "a create, which the API server refuses, and nothing else")

		live, err := getCNP(ns.Name, ownership.AllowAllPolicyName)()
		Expect(err).NotTo(HaveOccurred())
		Expect(live.ResourceVersion).To(Equal(foreign.ResourceVersion), "the foreign policy must not be written")
		Expect(ownership.WrittenBy(live, ownership.ComponentEnforcement)).To(BeFalse())
		Expect(live.OwnerReferences).To(BeEmpty())
	})

	It("finds its own policy the cache has not seen yet, and writes nothing", func() {
		ns := newNamespace("lag", nil)
		desired := policy.AllowAll(ns.Name)
		Expect(applier().Apply(ctx, desired, ns)).To(Equal(apply.Created))
		created, err := getCNP(ns.Name, ownership.AllowAllPolicyName)()
		Expect(err).NotTo(HaveOccurred())

		Expect(applier(client.ObjectKeyFromObject(desired)).Apply(ctx, policy.AllowAll(ns.Name), ns)).To(Equal(apply.Unchanged))
		Expect(writes).To(Equal([]string{"create"}), "a create, which the API server refuses, and nothing else")
		Expect(getCNP(ns.Name, ownership.AllowAllPolicyName)()).To(HaveField("ResourceVersion", created.ResourceVersion))
	})

	It("changes a policy it created as its own change: no revert reported, nothing left behind", func() {
		ns := newNamespace("created", nil)
		wider := policy.AllowAll(ns.Name)
		wider.Labels["example.com/extra"] = "x"
		Expect(applier().Apply(ctx, wider, ns)).To(Equal(apply.Created))

		Expect(applier().Apply(ctx, policy.AllowAll(ns.Name), ns)).To(Equal(apply.Configured))
		Expect(getCNP(ns.Name, ownership.AllowAllPolicyName)()).To(HaveField("Labels", Equal(policy.AllowAll(ns.Name).Labels)))
		Expect(recorder.Events).NotTo(Receive(), "netprofile's own change is not an edit to revert")
		// The create's fields now belong to netprofile's apply: the next change that drops one is one write.
		live, err := getCNP(ns.Name, ownership.AllowAllPolicyName)()
		Expect(err).NotTo(HaveOccurred())
		Expect(live.ManagedFields).To(ConsistOf(And(HaveField("Manager", ownership.FieldManager(ownership.ComponentEnforcement)),
			HaveField("Operation", metav1.ManagedFieldsOperationApply))))
		wider.Labels["example.com/extra"] = "y"
		Expect(applier().Apply(ctx, wider, ns)).To(Equal(apply.Configured))
		Expect(applier().Apply(ctx, policy.AllowAll(ns.Name), ns)).To(Equal(apply.Configured))
		Expect(writes).To(Equal([]string{"apply"}), "the apply alone removes the label")
		Expect(getCNP(ns.Name, ownership.AllowAllPolicyName)()).To(HaveField("Labels", Equal(policy.AllowAll(ns.Name).Labels)))
	})
})
