package conditions

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Each kind of error a pass stops with says the same thing in every
// reconciler: which kstatus condition, which reason, and what
// controller-runtime does next.
func TestRecordSaysEachKindTheSameWay(t *testing.T) {
	plain := errors.New("cache not synced")
	cases := []struct {
		name        string
		err         error
		requeue     time.Duration
		returned    bool
		reconciling bool
		stalled     bool
		reason      string
	}{
		{name: "stalled: no retry, Stalled with its reason",
			err: Stall(v1alpha1.ReasonJobFailed, "migration failed"), stalled: true, reason: v1alpha1.ReasonJobFailed},
		{name: "stalled, wrapped",
			err: fmt.Errorf("rollout: %w", Stall(v1alpha1.ReasonJobFailed, "migration failed")), stalled: true, reason: v1alpha1.ReasonJobFailed},
		{name: "waiting: requeued, Reconciling with its reason",
			err: Wait(v1alpha1.ReasonWaitingForSource, "waiting for a", 30*time.Second), requeue: 30 * time.Second, reconciling: true, reason: v1alpha1.ReasonWaitingForSource},
		{name: "retrying: backoff, Reconciling with its reason",
			err: Retry(v1alpha1.ReasonError, plain), returned: true, reconciling: true, reason: v1alpha1.ReasonError},
		{name: "plain: backoff, conditions untouched", err: plain, returned: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var conds []metav1.Condition
			MarkReady(&conds, 1, v1alpha1.ReasonReconciled, "serving")
			res, err := Record(&conds, 2, c.err)
			if res.RequeueAfter != c.requeue {
				t.Errorf("RequeueAfter = %v, want %v", res.RequeueAfter, c.requeue)
			}
			if (err != nil) != c.returned {
				t.Errorf("returned error = %v, want one: %v", err, c.returned)
			}
			if err != nil && !errors.Is(err, plain) {
				t.Errorf("returned %v, not the cause", err)
			}
			if got := IsTrue(conds, v1alpha1.ConditionReconciling); got != c.reconciling {
				t.Errorf("Reconciling = %v, want %v", got, c.reconciling)
			}
			if got := IsTrue(conds, v1alpha1.ConditionStalled); got != c.stalled {
				t.Errorf("Stalled = %v, want %v", got, c.stalled)
			}
			ready := meta.FindStatusCondition(conds, v1alpha1.ConditionReady)
			if c.reason == "" {
				if ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != 1 {
					t.Errorf("a plain error changed Ready: %+v", ready)
				}
				return
			}
			if ready.Status != metav1.ConditionFalse || ready.Reason != c.reason || ready.ObservedGeneration != 2 {
				t.Errorf("Ready = %+v, want False with reason %s at generation 2", ready, c.reason)
			}
		})
	}
	if res, err := Record(nil, 1, nil); err != nil || res.RequeueAfter != 0 {
		t.Errorf("Record(nil) = %v, %v; want nothing", res, err)
	}
}

// A Stalled error that reached controller-runtime by mistake would not be
// retried: it is a reconcile.TerminalError.
func TestStalledIsTerminal(t *testing.T) {
	err := fmt.Errorf("step: %w", Stall(v1alpha1.ReasonMergeFailed, "refused"))
	if !errors.Is(err, reconcile.TerminalError(nil)) {
		t.Error("a Stalled error is not a reconcile.TerminalError")
	}
	if !IsStalled(err) {
		t.Error("IsStalled does not see a wrapped Stalled error")
	}
	for _, other := range []error{Wait(v1alpha1.ReasonProgressing, "job", 0), Retry(v1alpha1.ReasonError, errors.New("x"))} {
		if errors.Is(other, reconcile.TerminalError(nil)) || IsStalled(other) {
			t.Errorf("%T is terminal; only Stalled is", other)
		}
	}
}

// Retry gives a default reason to what is not classified yet, and leaves
// a classified error as it is.
func TestRetryKeepsAClassifiedError(t *testing.T) {
	stall := Stall(v1alpha1.ReasonJobFailed, "failed")
	wait := Wait(v1alpha1.ReasonProgressing, "job", 0)
	retry := Retry(v1alpha1.ReasonSourceStateUnreadable, errors.New("x"))
	for _, err := range []error{nil, stall, wait, retry} {
		if got := Retry(v1alpha1.ReasonError, err); got != err {
			t.Errorf("Retry(%v) = %v, want it unchanged", err, got)
		}
	}
	var r *Retrying
	if !errors.As(Retry(v1alpha1.ReasonError, errors.New("x")), &r) || r.Reason != v1alpha1.ReasonError {
		t.Errorf("a plain error is not classified with the default reason: %+v", r)
	}
}
