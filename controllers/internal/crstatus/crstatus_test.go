package crstatus

import (
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clocktesting "k8s.io/utils/clock/testing"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"github.com/netprofile/netprofile/api/v1alpha1"
	"github.com/netprofile/netprofile/pkg/conditions"
)

// kstatusOf is what kstatus (Flux, kpt, `kubectl wait`-style tools) computes for p.
func kstatusOf(t *testing.T, p *v1alpha1.NetworkProfile) status.Status {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := status.Compute(&unstructured.Unstructured{Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	return res.Status
}

func TestSetReadyFollowsKstatus(t *testing.T) {
	type step struct {
		ok     bool
		reason string
		// types present afterwards besides Ready, and what kstatus computes
		types []string
		want  status.Status
	}
	tests := map[string][]step{
		"ready":                        {{true, conditions.ReasonValid, nil, status.CurrentStatus}},
		"invalid, then fixed":          {{false, conditions.ReasonInvalid, []string{Stalled}, status.FailedStatus}, {true, conditions.ReasonValid, nil, status.CurrentStatus}},
		"a clash":                      {{false, conditions.ReasonNameClash, []string{Stalled}, status.FailedStatus}},
		"a missing provider namespace": {{false, conditions.ReasonProviderNamespaceMissing, []string{Stalled}, status.FailedStatus}},
		"rejected by Cilium":           {{false, conditions.ReasonRejectedByAgent, []string{Stalled}, status.FailedStatus}},
		"a failed write, retried":      {{false, conditions.ReasonApplyFailed, []string{Reconciling}, status.InProgressStatus}, {true, conditions.ReasonValid, nil, status.CurrentStatus}},
		"stalled, then retrying":       {{false, conditions.ReasonInvalid, []string{Stalled}, status.FailedStatus}, {false, conditions.ReasonApplyFailed, []string{Reconciling}, status.InProgressStatus}},
		"retrying, then stalled":       {{false, conditions.ReasonApplyFailed, []string{Reconciling}, status.InProgressStatus}, {false, conditions.ReasonNameClash, []string{Stalled}, status.FailedStatus}},
	}
	w := Writer{Clock: clocktesting.NewFakePassiveClock(time.Unix(1000, 0))}
	for name, steps := range tests {
		t.Run(name, func(t *testing.T) {
			p := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 3}}
			for i, s := range steps {
				w.SetReady(&p.Status.Conditions, p.Generation, s.ok, s.reason, "message")
				p.Status.ObservedGeneration = p.Generation
				var types []string
				for _, c := range p.Status.Conditions {
					if c.ObservedGeneration != p.Generation || c.Reason != s.reason || c.Message != "message" {
						t.Errorf("step %d: %s is %+v, want generation %d, reason %s", i, c.Type, c, p.Generation, s.reason)
					}
					if c.Type != Ready {
						types = append(types, c.Type)
						if c.Status != metav1.ConditionTrue {
							t.Errorf("step %d: %s is %s; abnormal-true conditions are only present while True", i, c.Type, c.Status)
						}
					}
				}
				if len(types) != len(s.types) || len(types) > 0 && types[0] != s.types[0] {
					t.Errorf("step %d: conditions besides Ready are %v, want %v", i, types, s.types)
				}
				if got := kstatusOf(t, p); got != s.want {
					t.Errorf("step %d: kstatus computes %s, want %s", i, got, s.want)
				}
			}
		})
	}
}

func TestGenerationAheadIsInProgress(t *testing.T) {
	w := Writer{Clock: clocktesting.NewFakePassiveClock(time.Unix(1000, 0))}
	p := &v1alpha1.NetworkProfile{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 1}}
	w.SetReady(&p.Status.Conditions, 1, true, conditions.ReasonValid, "fine")
	p.Status.ObservedGeneration = 1
	if got := kstatusOf(t, p); got != status.CurrentStatus {
		t.Fatalf("kstatus computes %s for a reconciled profile, want Current", got)
	}
	p.Generation = 2 // a spec change netprofile has not seen yet
	if got := kstatusOf(t, p); got != status.InProgressStatus {
		t.Errorf("kstatus computes %s while the generation is ahead, want InProgress", got)
	}
}

func TestReadyTransitionTimeHolds(t *testing.T) {
	clock := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	w := Writer{Clock: clock}
	var conds []metav1.Condition
	if !w.SetReady(&conds, 1, false, conditions.ReasonInvalid, "a") {
		t.Fatal("the first Ready is a transition")
	}
	clock.SetTime(time.Unix(2000, 0))
	if w.SetReady(&conds, 2, false, conditions.ReasonInvalid, "b") {
		t.Error("a new message with the same status and reason is not a transition")
	}
	for _, typ := range []string{Ready, Stalled} {
		if c := apimeta.FindStatusCondition(conds, typ); c == nil || c.LastTransitionTime.Unix() != 1000 || c.ObservedGeneration != 2 || c.Message != "b" {
			t.Errorf("%s is %+v: want the transition time kept, the generation and message updated", typ, c)
		}
	}
}
