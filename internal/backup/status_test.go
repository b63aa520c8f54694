package backup

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// The termination message is what backup.sh writes to TERMINATION_LOG.
func TestParseResult(t *testing.T) {
	r, err := ParseResult(`{"name": "20261202T030000Z", "size": 1234}` + "\n")
	if err != nil || r != (Result{Name: "20261202T030000Z", Size: 1234}) {
		t.Fatalf("ParseResult = %+v, %v", r, err)
	}
	for _, bad := range []string{"", "pg_dump: error: connection refused", `{"name": "../etc", "size": 1}`, `{"name": "20261202T030000Z", "size": -1}`, strings.Repeat("x", 5000)} {
		if _, err := ParseResult(bad); err == nil {
			t.Errorf("ParseResult(%.40q) accepted", bad)
		}
	}
}

func finished(name string, state State, at time.Time) batchv1.Job {
	j := batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name}}
	t := metav1.NewTime(at)
	switch state {
	case Succeeded:
		j.Status.CompletionTime = &t
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue, LastTransitionTime: t}}
	case Failed:
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, LastTransitionTime: t, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit"}}
	}
	return j
}

func TestLatestAndHealth(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	jobs := []batchv1.Job{
		finished("a", Succeeded, t0.Add(2*time.Hour)),
		finished("b", Failed, t0.Add(time.Hour)),
		finished("c", Succeeded, t0),
		finished("d", Running, time.Time{}),
		finished("e", Failed, t0.Add(3*time.Hour)),
	}
	s, f := Latest(jobs)
	if s == nil || s.Name != "a" || f == nil || f.Name != "e" {
		t.Fatalf("Latest = %v, %v; want a, e", s, f)
	}
	if state, _, why := StateOf(f); state != Failed || !strings.Contains(why, "BackoffLimitExceeded") {
		t.Errorf("StateOf(e) = %v, %q", state, why)
	}

	st := &v1alpha1.BackupStatus{}
	if ok, reason, _ := Health(st); !ok || reason != v1alpha1.ReasonBackupPending {
		t.Errorf("no backup yet: %v %s", ok, reason)
	}
	good := metav1.NewTime(t0)
	st.LastSuccessfulTime, st.Location, st.LastSize = &good, "pvc://backups/social/20261202T030000Z", 3*1024*1024/2
	if ok, reason, msg := Health(st); !ok || reason != v1alpha1.ReasonBackupSucceeded || !strings.Contains(msg, "pvc://backups/social/20261202T030000Z (1.5 MiB)") {
		t.Errorf("after a success: %v %s %q", ok, reason, msg)
	}
	bad := metav1.NewTime(t0.Add(time.Hour))
	st.LastFailureTime = &bad
	st.LastFailure = FailureText("ns/social-bkup-1", "BackoffLimitExceeded", "line 1\nline 2\n\ndie: no SQLite database at /gotosocial/storage/sqlite.db\n")
	ok, reason, msg := Health(st)
	if ok || reason != v1alpha1.ReasonBackupFailed || !strings.Contains(msg, "no SQLite database") || !strings.Contains(msg, "the last good one is pvc://backups/social/20261202T030000Z") {
		t.Errorf("after a failure: %v %s %q", ok, reason, msg)
	}
	// A later success clears it.
	later := metav1.NewTime(t0.Add(2 * time.Hour))
	st.LastSuccessfulTime = &later
	if ok, _, _ := Health(st); !ok {
		t.Error("a success after the failure must be healthy again")
	}
	if long := FailureText("j", "why", strings.Repeat("é", 2000)); len(long) > maxFailure {
		t.Errorf("FailureText is %d bytes", len(long))
	}
}

func TestRestoreFromIsPasteable(t *testing.T) {
	inst := &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "toot"}}
	d := v1alpha1.BackupDestination{PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}
	got := RestoreFrom(inst, d, "20261202T030000Z")
	want := `{"from":{"pvc":{"claimName":"backups","subPath":"toot"},"name":"20261202T030000Z"}}`
	if got != want {
		t.Errorf("RestoreFrom = %s, want %s", got, want)
	}
}
