package controllers

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// The two backup steps of the install and upgrade walk: the restore of
// spec.restore before the first rollout, and the backup before an upgrade.

// restoreBeforeFirstRollout restores spec.restore.from into a new
// Instance: its volumes and database are created, the restore Job runs
// once the database answers, and no server starts until it has completed.
// status.restore records it, so it never runs again.
func (r *InstanceReconciler) restoreBeforeFirstRollout(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params resources.Params, version string) error {
	rs := inst.Spec.Restore
	if rs == nil || inst.Status.Restore != nil {
		return nil
	}
	loc := backup.Location(inst, v1alpha1.BackupDestination{S3: rs.From.S3, PVC: rs.From.PVC}, rs.From.Name)
	inst.Status.Upgrade = &v1alpha1.UpgradeStatus{ToVersion: version, Phase: "Restore"}
	in, err := r.backupInput(inst, p, version, params)
	var job *batchv1.Job
	if err == nil {
		job, err = backup.RestoreJob(in)
	}
	if err != nil {
		return conditions.Stall(v1alpha1.ReasonRestoreFailed, fmt.Sprintf("cannot restore %s: %v; the server is not started", loc, err))
	}
	done := func(at time.Time) error {
		inst.Status.Restore = &v1alpha1.RestoreStatus{Location: loc, Name: rs.From.Name, CompletionTime: &metav1.Time{Time: at}}
		if rs.IdentitySecretRef != nil {
			// The Secrets the restore put back are adopted in this very
			// pass, so this pass's status write records them: a later pass
			// is not guaranteed (the next event may come from a cache
			// that still shows no restore), and a carried Secret left out
			// of status.generatedSecrets would be generated anew, with
			// other keys, should it ever vanish. No earlier check stands
			// for this one.
			r.secrets.forget(client.ObjectKeyFromObject(inst))
			if err := r.ensureGeneratedSecrets(ctx, inst, p, params, false); err != nil {
				return err
			}
			// The restore's token outlives its pod: take back what it was
			// granted, now that nothing is left to put back.
			if _, err := r.Applier.Apply(ctx, backup.RestoreRoleRetired(in)); err != nil {
				return err
			}
		}
		if !r.recordedFresh(ctx, inst, func(st *v1alpha1.InstanceStatus) bool { return st.Restore != nil }) {
			r.Recorder.Eventf(inst, job, corev1.EventTypeNormal, "Restored", "Restore", "Restored %s; starting the server", loc)
		}
		return nil
	}
	live := &batchv1.Job{}
	switch err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live); {
	case err == nil:
		if state, at, _ := backup.StateOf(live); state == backup.Succeeded {
			return done(at)
		}
	case !apierrors.IsNotFound(err):
		return fmt.Errorf("read Job %s: %w", job.Name, err)
	}

	// The database and the data volume, not the servers: pg_restore needs
	// the database running, and the server must not see it half restored.
	if err := r.applyDesired(ctx, inst, p, version, params, false); err != nil {
		return err
	}
	what := "Restore of " + loc
	if ready, msg, err := r.databaseState(ctx, inst, p); err != nil || !ready {
		if err != nil {
			return err
		}
		return conditions.Wait(v1alpha1.ReasonProgressing, what+": waiting for the database ("+msg+")", 0)
	}
	if rs.IdentitySecretRef != nil {
		if err := r.applyRestoreRBAC(ctx, in); err != nil {
			return err
		}
	}
	ok, err := r.runJob(ctx, inst, job, what)
	var stalled *conditions.Stalled
	if errors.As(err, &stalled) {
		return conditions.Stall(v1alpha1.ReasonRestoreFailed, fmt.Sprintf(
			"%s failed (%s), and the server was not started. Read why with `kubectl logs -n %s job/%s`; fix the cause, then delete the Job to restore again",
			what, r.jobFailure(ctx, job, stalled), inst.Namespace, job.Name))
	}
	if !ok {
		return err
	}
	state, at, _ := backup.StateOf(live)
	if state != backup.Succeeded {
		at = time.Now()
	}
	return done(at.Truncate(time.Second))
}

// backupBeforeUpgrade takes a backup before the first step of an upgrade,
// with spec.backup: a one-off Job named after the target version, which
// must complete before any migration runs. It returns the backup's
// location ("" without spec.backup, when the upgrade goes on without one,
// said in a Warning Event).
func (r *InstanceReconciler) backupBeforeUpgrade(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params resources.Params, running, desired string) (string, error) {
	if inst.Spec.Backup == nil {
		if !r.upgradeRecorded(ctx, inst, desired) {
			r.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, "UpgradeWithoutBackup", "Upgrade",
				"Upgrading %s %s → %s without a backup: spec.backup is not set, so there is none to go back to if a migration fails", inst.Spec.Software, running, desired)
		}
		return "", nil
	}
	what := fmt.Sprintf("Backup before the upgrade %s → %s", running, desired)
	jobName := resources.StepJobName(inst, software.Step{Name: "backup"}, mustVersion(desired))
	// The backup's name is the time its Job was first created; a later
	// pass reads it back from the Job.
	name := backup.Name(time.Now())
	live := &batchv1.Job{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: jobName}, live)
	switch {
	case err == nil:
		if n := backup.NameOf(live); n != "" {
			name = n
		}
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("read Job %s: %w", jobName, err)
	}
	loc := backup.Location(inst, inst.Spec.Backup.Destination, name)
	inst.Status.Upgrade = &v1alpha1.UpgradeStatus{FromVersion: running, ToVersion: desired, Phase: "Backup", Backup: loc}
	if err == nil {
		if state, _, _ := backup.StateOf(live); state == backup.Succeeded {
			// Done: nothing applied, so the later steps decide what runs.
			return loc, nil
		}
	}
	in, err := r.backupInput(inst, p, running, params)
	var job *batchv1.Job
	if err == nil {
		job, err = backup.BackupJob(in, jobName, name)
	}
	if err != nil {
		return "", conditions.Stall(v1alpha1.ReasonBackupFailed, fmt.Sprintf(
			"%s cannot be taken: %v. Nothing was migrated and %s keeps running; set spec.version back to %s, or remove spec.backup to upgrade without a backup",
			what, err, running, running))
	}
	if err := r.applyDesired(ctx, inst, p, running, params, true); err != nil {
		return "", err
	}
	ok, err := r.runJob(ctx, inst, job, what)
	var stalled *conditions.Stalled
	if errors.As(err, &stalled) {
		return "", conditions.Stall(v1alpha1.ReasonBackupFailed, fmt.Sprintf(
			"%s failed (%s): nothing was migrated and %s keeps running. Read why with `kubectl logs -n %s job/%s`; fix the cause, then delete the Job to take the backup again, or set spec.version back to %s",
			what, r.jobFailure(ctx, job, stalled), running, inst.Namespace, jobName, running))
	}
	if !ok {
		return "", err
	}
	return loc, nil
}

// jobFailure is why a Job failed, as its Failed condition says (runJob's
// whole message when the Job cannot be read again).
func (r *InstanceReconciler) jobFailure(ctx context.Context, job *batchv1.Job, stalled *conditions.Stalled) string {
	live := &batchv1.Job{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live); err == nil {
		if state, _, why := backup.StateOf(live); state == backup.Failed && why != "" {
			return why
		}
	}
	return stalled.Message
}

// upgradeRecorded tells whether the API server already holds an upgrade
// to desired in the Instance's status: announced by an earlier pass, whose
// status write the cache may not show yet (issue 15: one Event, not x2).
// Read only while the cached status does not say so, so once per upgrade.
func (r *InstanceReconciler) upgradeRecorded(ctx context.Context, inst *v1alpha1.Instance, desired string) bool {
	recorded := func(st *v1alpha1.InstanceStatus) bool { return st.Upgrade != nil && st.Upgrade.ToVersion == desired }
	return recorded(&inst.Status) || r.recordedFresh(ctx, inst, recorded)
}

// recordedFresh tells whether the API server's copy of the Instance's
// status already says what recorded looks for: a pass on a cached
// Instance older than the status write of the pass before would announce
// the same thing twice. Called only before an Event, so rarely.
func (r *InstanceReconciler) recordedFresh(ctx context.Context, inst *v1alpha1.Instance, recorded func(*v1alpha1.InstanceStatus) bool) bool {
	fresh := &v1alpha1.Instance{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(inst), fresh); err != nil {
		return false
	}
	return recorded(&fresh.Status)
}

// withGoBack adds to a failed migration's Stalled message the backup taken
// before the upgrade and how to restore it, or that there is none.
func (r *InstanceReconciler) withGoBack(inst *v1alpha1.Instance, err error, backupLoc, running string) error {
	var stalled *conditions.Stalled
	if running == "" || !errors.As(err, &stalled) {
		return err
	}
	hint := "No backup was taken before this upgrade (spec.backup is not set)."
	if backupLoc != "" && inst.Spec.Backup != nil {
		hint = backup.GoBackHint(inst, inst.Spec.Backup.Destination, path.Base(backupLoc), running)
	}
	return conditions.Stall(stalled.Reason, stalled.Message+". "+hint)
}
