package conditions

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// kstatus reads Reconciling and Stalled as "abnormal when True": they must
// be gone once Ready, and never both True.
func TestTrioStaysConsistent(t *testing.T) {
	var conds []metav1.Condition
	MarkReconciling(&conds, 1, "Progressing", "waiting for web")
	assertTrio(t, conds, metav1.ConditionFalse, true, false)

	MarkStalled(&conds, 1, "JobFailed", "migration failed")
	assertTrio(t, conds, metav1.ConditionFalse, false, true)
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); c.Message != "migration failed" {
		t.Errorf("Ready must say what Stalled says, for printer columns: %q", c.Message)
	}

	MarkReady(&conds, 2, "Reconciled", "serving")
	assertTrio(t, conds, metav1.ConditionTrue, false, false)
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); c.ObservedGeneration != 2 {
		t.Errorf("observedGeneration = %d, want 2", c.ObservedGeneration)
	}
}

// Marking the same state again keeps the transition time, so a steady
// pass changes nothing and writes nothing.
func TestRepeatedMarkChangesNothing(t *testing.T) {
	var conds []metav1.Condition
	MarkReady(&conds, 1, "Reconciled", "serving")
	// Backdate the transition: a re-mark that reset it would be visible.
	before := metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	meta.FindStatusCondition(conds, v1alpha1.ConditionReady).LastTransitionTime = before
	MarkReady(&conds, 1, "Reconciled", "serving")
	if after := meta.FindStatusCondition(conds, v1alpha1.ConditionReady).LastTransitionTime; !after.Equal(&before) {
		t.Errorf("transition time moved from %v to %v without a transition", before, after)
	}
}

func assertTrio(t *testing.T, conds []metav1.Condition, ready metav1.ConditionStatus, reconciling, stalled bool) {
	t.Helper()
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionReady); c == nil || c.Status != ready {
		t.Errorf("Ready = %+v, want %s", c, ready)
	}
	if got := IsTrue(conds, v1alpha1.ConditionReconciling); got != reconciling {
		t.Errorf("Reconciling true = %v, want %v", got, reconciling)
	}
	if got := meta.FindStatusCondition(conds, v1alpha1.ConditionStalled) != nil; got != stalled {
		t.Errorf("Stalled present = %v, want %v", got, stalled)
	}
}
