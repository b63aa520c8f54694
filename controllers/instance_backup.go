package controllers

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Scheduled backups (spec.backup): the CronJob internal/backup builds,
// and what its Jobs say, read into status.backup, the BackupHealthy
// condition, Events and metrics.

// reconcileBackups applies or removes the backup CronJob and records the
// state of the backups. It returns a note for Ready's message when
// backups are failing: a server that serves but is not backed up must not
// look all right. Backups start once the server is installed: before,
// there is nothing to back up, and a restore may be under way.
func (r *InstanceReconciler) reconcileBackups(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params resources.Params) (string, error) {
	if inst.Spec.Backup == nil {
		return "", r.removeBackupCronJob(ctx, inst)
	}
	if inst.Status.Version == "" {
		return "", nil
	}
	st := inst.Status.Backup
	if st == nil {
		st = &v1alpha1.BackupStatus{}
		inst.Status.Backup = st
	}
	now := time.Now()
	schedule := inst.Spec.Backup.Schedule
	// The schedule is checked before anything is applied: a schedule the
	// API's pattern lets through but no cron reads (minute 61) would
	// otherwise make a CronJob that never fires.
	next, err := backup.Next(schedule, now)
	var interval time.Duration
	if err == nil {
		interval, err = backup.Interval(schedule, now)
	}
	var cj *batchv1.CronJob
	if err == nil {
		cj, err = r.backupCronJob(inst, p, inst.Status.Version, params)
	}
	if err != nil {
		st.NextScheduleTime = nil
		msg := "backups cannot be scheduled: " + err.Error()
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionBackupHealthy, metav1.ConditionFalse, v1alpha1.ReasonBackupNotScheduled, msg)
		return msg, r.removeBackupCronJob(ctx, inst)
	}
	// Before the CronJob: its backups, on a volume or in a bucket, encrypt
	// the Instance's Secrets to the key's public half.
	if err := r.ensureBackupKey(ctx, inst, params); err != nil {
		return "", err
	}
	if _, err := r.Applier.Apply(ctx, cj); err != nil {
		return "", err
	}
	st.NextScheduleTime = &metav1.Time{Time: next.Truncate(time.Second)}

	if err := r.observeBackups(ctx, inst, st); err != nil {
		return "", err
	}
	// Before the first good backup the alert counts from when backups
	// were scheduled, so "never succeeded" fires too.
	since := r.backupsScheduledAt(ctx, cj)
	if st.LastSuccessfulTime != nil {
		since = st.LastSuccessfulTime.Time
	}
	metrics.RecordBackups(inst.Namespace, inst.Name, since, interval)

	ok, reason, msg := backup.Health(st)
	status := metav1.ConditionTrue
	if !ok {
		status = metav1.ConditionFalse
	}
	conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionBackupHealthy, status, reason, msg)
	if !ok {
		return "backups failing: " + msg, nil
	}
	return "", nil
}

func (r *InstanceReconciler) backupCronJob(inst *v1alpha1.Instance, p *software.Profile, version string, params resources.Params) (*batchv1.CronJob, error) {
	in, err := r.backupInput(inst, p, version, params)
	if err != nil {
		return nil, err
	}
	return backup.BackupCronJob(in)
}

// backupInput is what the backup builders need; AgentImage is the
// operator's own image, which runs the backup agent of an s3 destination.
func (r *InstanceReconciler) backupInput(inst *v1alpha1.Instance, p *software.Profile, version string, params resources.Params) (backup.Input, error) {
	img, err := backup.PostgresServerImage(inst, p)
	if err != nil {
		return backup.Input{}, err
	}
	return backup.Input{Instance: inst, Profile: p, Version: version, PostgresServerImage: img, Params: params, AgentImage: r.Options.AgentImage}, nil
}

// observeBackups reads the Instance's backup Jobs (scheduled ones and the
// backups before upgrades) into st. A Job's pod is read only when it
// ended after what st records, so steady state reads no pods.
func (r *InstanceReconciler) observeBackups(ctx context.Context, inst *v1alpha1.Instance, st *v1alpha1.BackupStatus) error {
	list := &batchv1.JobList{}
	if err := r.Client.List(ctx, list, client.InNamespace(inst.Namespace),
		client.MatchingLabels{v1alpha1.LabelInstance: inst.Name, v1alpha1.LabelComponent: "backup"}); err != nil {
		return err
	}
	succeeded, failed := backup.Latest(list.Items)
	if succeeded != nil {
		_, at, _ := backup.StateOf(succeeded)
		if st.LastSuccessfulTime == nil || at.After(st.LastSuccessfulTime.Time) {
			name, size := backup.NameOf(succeeded), int64(0)
			msg, err := r.podMessage(ctx, succeeded)
			if err != nil {
				return err
			}
			if res, err := backup.ParseResult(msg); err == nil {
				name, size = res.Name, res.Size
			}
			st.LastSuccessfulTime = &metav1.Time{Time: at}
			st.LastName, st.LastSize, st.Location = name, size, ""
			if name != "" {
				st.Location = backup.Location(inst, inst.Spec.Backup.Destination, name)
			}
			if !r.recordedFresh(ctx, inst, func(fresh *v1alpha1.InstanceStatus) bool {
				return fresh.Backup != nil && fresh.Backup.LastSuccessfulTime != nil && !at.After(fresh.Backup.LastSuccessfulTime.Time)
			}) {
				r.Recorder.Eventf(inst, succeeded, corev1.EventTypeNormal, "BackupCompleted", "Backup", "Backup %s", backup.Summary(st))
			}
		}
	}
	if failed != nil {
		_, at, why := backup.StateOf(failed)
		if st.LastFailureTime == nil || at.After(st.LastFailureTime.Time) {
			log, err := r.podMessage(ctx, failed)
			if err != nil {
				return err
			}
			st.LastFailureTime = &metav1.Time{Time: at}
			st.LastFailure = backup.FailureText(failed.Namespace+"/"+failed.Name, why, log)
			if !r.recordedFresh(ctx, inst, func(fresh *v1alpha1.InstanceStatus) bool {
				return fresh.Backup != nil && fresh.Backup.LastFailureTime != nil && !at.After(fresh.Backup.LastFailureTime.Time)
			}) {
				r.Recorder.Eventf(inst, failed, corev1.EventTypeWarning, "BackupFailed", "Backup", "%s. See `kubectl logs -n %s job/%s`",
					st.LastFailure, failed.Namespace, failed.Name)
			}
		}
	}
	return nil
}

// podMessage is the termination message of a Job's last pod: the backup's
// summary on success, the end of its log on failure (the container's
// FallbackToLogsOnError). The summary is on the main container "backup":
// the script for a pvc destination, the backup agent for s3 (whose script
// ran before it as init container "dump"). An init container's message is
// read too, so a dump that failed before the agent ran still says why.
// Pods are not in the operator's cache; a Job's pods are listed from the
// API server by the label the Job controller puts on them, once per Job
// that ended.
func (r *InstanceReconciler) podMessage(ctx context.Context, job *batchv1.Job) (string, error) {
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(job.Namespace),
		client.MatchingLabels{batchv1.JobNameLabel: job.Name}, client.Limit(16)); err != nil {
		return "", fmt.Errorf("read the pods of Job %s: %w", job.Name, err)
	}
	var msg string
	var latest time.Time
	var main bool
	for _, pod := range pods.Items {
		statuses := append(append([]corev1.ContainerStatus(nil), pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...)
		for _, cs := range statuses {
			t := cs.State.Terminated
			if t == nil || t.Message == "" {
				continue
			}
			isMain := cs.Name == "backup"
			// The latest pod wins; within it, the main container's message
			// over an init container's.
			if t.FinishedAt.Time.After(latest) || (t.FinishedAt.Time.Equal(latest) && (isMain || !main)) {
				msg, latest, main = t.Message, t.FinishedAt.Time, isMain
			}
		}
	}
	return msg, nil
}

// backupsScheduledAt is when the CronJob was created (now when it was
// just created and the cache has not seen it yet).
func (r *InstanceReconciler) backupsScheduledAt(ctx context.Context, cj *batchv1.CronJob) time.Time {
	live := &batchv1.CronJob{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(cj), live); err != nil || live.CreationTimestamp.IsZero() {
		return time.Now()
	}
	return live.CreationTimestamp.Time
}

// removeBackupCronJob deletes the backup CronJob when spec.backup is gone
// (only ours: one the Instance controls). The backups already taken stay
// where they are, and status.backup keeps saying where the last one is.
func (r *InstanceReconciler) removeBackupCronJob(ctx context.Context, inst *v1alpha1.Instance) error {
	meta.RemoveStatusCondition(&inst.Status.Conditions, v1alpha1.ConditionBackupHealthy)
	if inst.Status.Backup != nil {
		inst.Status.Backup.NextScheduleTime = nil
	}
	metrics.ForgetBackups(inst.Namespace, inst.Name)
	cj := &batchv1.CronJob{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: backup.CronJobName(inst)}, cj)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !metav1.IsControlledBy(cj, inst) {
		return nil
	}
	r.Applier.Forget(cj)
	uid := cj.UID
	return client.IgnoreNotFound(r.Client.Delete(ctx, cj, client.Preconditions{UID: &uid}))
}

// backupJobsOf maps a backup Job the CronJob created (owned by the
// CronJob, not the Instance) to its Instance, by the labels the Job
// template carries.
func backupJobsOf(_ context.Context, o client.Object) []reconcile.Request {
	l := o.GetLabels()
	if l[v1alpha1.LabelComponent] != "backup" || l[v1alpha1.LabelInstance] == "" {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: l[v1alpha1.LabelInstance]}}}
}
