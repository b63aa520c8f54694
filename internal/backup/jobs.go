package backup

import (
	"fmt"
	"path"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

const (
	backupMount = "/backup"
	// A backup or restore that has not finished in a day is stuck (a
	// database that does not answer, a full volume): fail it visibly.
	jobDeadline = int64(24 * 3600)
	// postgresUID/GID: the alpine postgres image's user, for Jobs that do
	// not touch the data volume.
	postgresUID, postgresGID = 70, 70
)

// CronJobName is the backup CronJob's name. "-bkup", not "-backup": a
// CronJob's name is limited to 52 characters and a GoToSocial Instance's
// to 47 (see the admission rule on Instance names).
func CronJobName(inst *v1alpha1.Instance) string { return inst.Name + "-bkup" }

// RestoreJobName is the restore Job's name.
func RestoreJobName(inst *v1alpha1.Instance) string { return inst.Name + "-restore" }

// Input is what the builders need besides the Instance's spec.
type Input struct {
	Instance *v1alpha1.Instance
	Profile  *software.Profile
	// Version of the software running (recorded in the manifest).
	Version string
	// PostgresServerImage is the image the PostgreSQL server runs
	// (resources.PostgresImage when bundled); it sets the client's major
	// version. Unused for SQLite.
	PostgresServerImage string
	Params              resources.Params
	// AgentImage is the operator's own image, whose binary runs
	// `fedcommons backup-agent` in the Jobs of an s3 destination (it
	// moves the backup between the Job's staging volume and the bucket).
	// Unused for a pvc destination.
	AgentImage string
}

// BackupCronJob is the CronJob taking spec.backup's scheduled backups.
func BackupCronJob(in Input) (*batchv1.CronJob, error) {
	spec := in.Instance.Spec.Backup
	if spec == nil {
		return nil, fmt.Errorf("instance %s has no spec.backup", in.Instance.Name)
	}
	job, err := backupJob(in, spec, "")
	if err != nil {
		return nil, err
	}
	return &batchv1.CronJob{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "CronJob"},
		ObjectMeta: meta(in, CronJobName(in.Instance), "backup"),
		Spec: batchv1.CronJobSpec{
			Schedule: spec.Schedule,
			TimeZone: ptr("Etc/UTC"),
			// Two backups writing at once would each prune the other's
			// partial directory.
			ConcurrencyPolicy:          batchv1.ForbidConcurrent,
			StartingDeadlineSeconds:    ptr(int64(3600)),
			Suspend:                    ptr(in.Instance.Spec.Suspend),
			SuccessfulJobsHistoryLimit: ptr(int32(3)),
			FailedJobsHistoryLimit:     ptr(int32(3)),
			JobTemplate:                batchv1.JobTemplateSpec{ObjectMeta: job.ObjectMeta, Spec: job.Spec},
		},
	}, nil
}

// BackupJob is a one-off backup named backupName (such as the backup taken
// before an upgrade), run by a Job called jobName.
func BackupJob(in Input, jobName, backupName string) (*batchv1.Job, error) {
	if in.Instance.Spec.Backup == nil {
		return nil, fmt.Errorf("instance %s has no spec.backup: nowhere to write a backup", in.Instance.Name)
	}
	if _, err := ParseName(backupName); err != nil {
		return nil, err
	}
	job, err := backupJob(in, in.Instance.Spec.Backup, backupName)
	if err != nil {
		return nil, err
	}
	if len(jobName) > 63 {
		return nil, fmt.Errorf("job name %s is longer than 63 characters", jobName)
	}
	job.Name = jobName
	return job, nil
}

func backupJob(in Input, spec *v1alpha1.BackupSpec, backupName string) (*batchv1.Job, error) {
	d, err := destOf(spec.Destination.S3, spec.Destination.PVC)
	if err != nil {
		return nil, err
	}
	r := RetentionOf(spec.Retention)
	keep := []corev1.EnvVar{
		{Name: "KEEP_LAST", Value: strconv.Itoa(r.KeepLast)},
		{Name: "KEEP_DAILY", Value: strconv.Itoa(r.KeepDaily)},
		{Name: "KEEP_WEEKLY", Value: strconv.Itoa(r.KeepWeekly)},
	}
	var extra []corev1.EnvVar
	if backupName != "" {
		extra = append(extra, corev1.EnvVar{Name: NameEnv, Value: backupName})
	}
	if d.s3 != nil {
		// The retention is the agent's, applied in the bucket; the
		// script's staging volume holds only this backup.
		j, err := job(in, "backup", BackupScript(), d, extra, false)
		if err != nil {
			return nil, err
		}
		if err := withAgent(j, in, d.s3, "upload", append(extra, keep...)); err != nil {
			return nil, err
		}
		sealSecrets(j, in)
		return j, nil
	}
	// On a volume the script applies the retention itself, and the agent
	// adds the Secrets to the backup it took.
	j, err := job(in, "backup", BackupScript(), d, append(extra, keep...), false)
	if err != nil {
		return nil, err
	}
	if err := withAgent(j, in, nil, "seal", extra); err != nil {
		return nil, err
	}
	sealSecrets(j, in)
	return j, nil
}

// RestoreJob restores spec.restore.from before the Instance's first
// rollout: the server must not be running (its database empty, its data
// volume without a database).
func RestoreJob(in Input) (*batchv1.Job, error) {
	rs := in.Instance.Spec.Restore
	if rs == nil {
		return nil, fmt.Errorf("instance %s has no spec.restore", in.Instance.Name)
	}
	if _, err := ParseName(rs.From.Name); err != nil {
		return nil, err
	}
	d, err := destOf(rs.From.S3, rs.From.PVC)
	if err != nil {
		return nil, err
	}
	name := []corev1.EnvVar{{Name: NameEnv, Value: rs.From.Name}}
	j, err := job(in, "restore", RestoreScript(), d, name, true)
	if err != nil {
		return nil, err
	}
	if d.s3 != nil {
		if err := withAgent(j, in, d.s3, "download", name); err != nil {
			return nil, err
		}
		if rs.IdentitySecretRef != nil {
			unsealSecrets(j, in)
		}
	} else if rs.IdentitySecretRef != nil {
		if err := withAgent(j, in, nil, "unseal", name); err != nil {
			return nil, err
		}
		unsealSecrets(j, in)
	}
	j.Name = RestoreJobName(in.Instance)
	return j, nil
}

// RetentionOf applies the defaults of spec.backup.retention.
func RetentionOf(r *v1alpha1.BackupRetention) Retention {
	if r == nil {
		return Retention{KeepLast: 7}
	}
	return Retention{KeepLast: max(int(r.KeepLast), 1), KeepDaily: int(r.KeepDaily), KeepWeekly: int(r.KeepWeekly)}
}

// Location is the backup's place as status.backup.location says it.
func Location(inst *v1alpha1.Instance, d v1alpha1.BackupDestination, name string) string {
	if d.S3 != nil {
		return "s3://" + path.Join(d.S3.Bucket, d.S3.Prefix, name)
	}
	if d.PVC != nil {
		return "pvc://" + path.Join(d.PVC.ClaimName, subPath(inst, d.PVC), name)
	}
	return ""
}

func subPath(inst *v1alpha1.Instance, p *v1alpha1.BackupPVC) string {
	if p.SubPath != "" {
		return p.SubPath
	}
	return inst.Name
}

// dest is where a Job finds its backups: a PersistentVolumeClaim mounted
// at /backup, or a bucket that the agent reaches, with an emptyDir at
// /backup as the script's staging directory.
type dest struct {
	pvc *v1alpha1.BackupPVC
	s3  *v1alpha1.BackupS3
}

func destOf(s3 *v1alpha1.BackupS3, pvc *v1alpha1.BackupPVC) (dest, error) {
	if (s3 == nil) == (pvc == nil) {
		return dest{}, fmt.Errorf("set exactly one backup destination: s3 or pvc")
	}
	return dest{pvc: pvc, s3: s3}, nil
}

func meta(in Input, name, component string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name:            name,
		Namespace:       in.Instance.Namespace,
		Labels:          resources.Labels(in.Instance, component, in.Params),
		OwnerReferences: []metav1.OwnerReference{resources.OwnerReference(in.Instance)},
	}
}

func ptr[T any](v T) *T { return &v }
