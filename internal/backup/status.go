package backup

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// What the backup and restore Jobs say, read into status.backup, the
// BackupHealthy condition and the messages a sysadmin acts on. Pure: the
// reconciler reads the Jobs and their pods' termination messages, these
// functions decide.

// maxMessage bounds what is kept of a pod's termination message (the
// kubelet already keeps at most 4096 bytes, or the last 80 log lines).
const maxMessage = 4096

// maxFailure bounds the failure text in status.backup.lastFailure.
const maxFailure = 1024

// Result is what a backup Job's pod writes as its termination message
// when the backup is complete: {"name": "20261202T030000Z", "size": 1234}.
type Result struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// ParseResult reads a backup's termination message.
func ParseResult(msg string) (Result, error) {
	if len(msg) > maxMessage {
		return Result{}, fmt.Errorf("termination message of %d bytes is not a backup summary", len(msg))
	}
	var r Result
	if err := json.Unmarshal([]byte(strings.TrimSpace(msg)), &r); err != nil {
		return Result{}, fmt.Errorf("termination message %q is not a backup summary: %w", clip(msg, 80), err)
	}
	if _, err := ParseName(r.Name); err != nil {
		return Result{}, err
	}
	if r.Size < 0 {
		return Result{}, fmt.Errorf("backup %s has a negative size", r.Name)
	}
	return r, nil
}

// State is how far a Job has got.
type State int

const (
	// Running: neither Complete nor Failed yet.
	Running State = iota
	// Succeeded: the Job is Complete.
	Succeeded
	// Failed: the Job has Failed (out of retries or past its deadline).
	Failed
)

// StateOf reads a Job's terminal condition as the Job controller writes
// it: when it ended and, for a failure, the condition's reason and message.
func StateOf(j *batchv1.Job) (State, time.Time, string) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			at := c.LastTransitionTime.Time
			if j.Status.CompletionTime != nil {
				at = j.Status.CompletionTime.Time
			}
			return Succeeded, at, ""
		case batchv1.JobFailed:
			why := c.Reason
			if c.Message != "" {
				why += ": " + c.Message
			}
			return Failed, c.LastTransitionTime.Time, why
		}
	}
	return Running, time.Time{}, ""
}

// Latest returns the backup Job that succeeded last and the one that
// failed last (nil when there is none), by the time they ended.
func Latest(jobs []batchv1.Job) (succeeded, failed *batchv1.Job) {
	var sAt, fAt time.Time
	for i := range jobs {
		state, at, _ := StateOf(&jobs[i])
		switch {
		case state == Succeeded && (succeeded == nil || at.After(sAt)):
			succeeded, sAt = &jobs[i], at
		case state == Failed && (failed == nil || at.After(fAt)):
			failed, fAt = &jobs[i], at
		}
	}
	return succeeded, failed
}

// NameEnv is the variable of a backup or restore Job's main container that
// names the backup. NameOf reads it back from the Job, so the operator's
// informer cache keeps it when it drops the rest of a Job's pod template
// (internal/manager).
const NameEnv = "BACKUP_NAME"

// NameOf is the backup name a Job was given (NameEnv: the backup before an
// upgrade), or "" for a scheduled one, named when it starts.
func NameOf(j *batchv1.Job) string {
	for _, c := range j.Spec.Template.Spec.Containers {
		if v := envValue(c, NameEnv); v != "" {
			return v
		}
	}
	return ""
}

// FailureText is status.backup.lastFailure: the Job, why it failed, and
// the end of its log (the pod's termination message, which falls back to
// the log's tail on error), bounded.
func FailureText(job, why, log string) string {
	s := fmt.Sprintf("Job %s failed (%s)", job, why)
	if log = lastLines(log, 3); log != "" {
		s += "; its log ends: " + log
	}
	return clip(s, maxFailure)
}

// Health is the BackupHealthy condition for status.backup: False when the
// last backup failed (after the last success), True otherwise.
func Health(st *v1alpha1.BackupStatus) (bool, string, string) {
	failedLast := st.LastFailureTime != nil && (st.LastSuccessfulTime == nil || st.LastFailureTime.After(st.LastSuccessfulTime.Time))
	switch {
	case failedLast:
		msg := "the last backup failed at " + stamp(st.LastFailureTime.Time) + ": " + st.LastFailure
		if st.LastSuccessfulTime != nil {
			msg += "; the last good one is " + orName(st) + " from " + stamp(st.LastSuccessfulTime.Time)
		} else {
			msg += "; no backup has succeeded yet"
		}
		return false, v1alpha1.ReasonBackupFailed, clip(msg, 2*maxFailure)
	case st.LastSuccessfulTime == nil:
		return true, v1alpha1.ReasonBackupPending, "no backup has run yet" + nextText(st)
	default:
		return true, v1alpha1.ReasonBackupSucceeded, Summary(st)
	}
}

// Summary says where the last backup went and when the next is due, such
// as "backed up to pvc://backups/social/20261202T030000Z (1.2 MiB) at
// 2026-12-02 03:00:12 UTC; next at 2026-12-03 03:00 UTC".
func Summary(st *v1alpha1.BackupStatus) string {
	if st.LastSuccessfulTime == nil {
		return "no backup yet" + nextText(st)
	}
	return fmt.Sprintf("backed up to %s (%s) at %s%s", orName(st), humanSize(st.LastSize), stamp(st.LastSuccessfulTime.Time), nextText(st))
}

func orName(st *v1alpha1.BackupStatus) string {
	switch {
	case st.Location != "":
		return st.Location
	case st.LastName != "":
		return st.LastName
	}
	return "(a backup whose name its pod did not report)"
}

func nextText(st *v1alpha1.BackupStatus) string {
	if st.NextScheduleTime == nil {
		return ""
	}
	return "; next at " + st.NextScheduleTime.UTC().Format("2006-01-02 15:04 MST")
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") }

func humanSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTP"[exp])
}

// lastLines keeps the last n non-empty lines of s, joined by " / ".
func lastLines(s string, n int) string {
	var keep []string
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0 && len(keep) < n; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			keep = append([]string{l}, keep...)
		}
	}
	return strings.Join(keep, " / ")
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
