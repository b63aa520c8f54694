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
)

// job builds the backup or restore Job: one container running script, with
// the backup volume (the PVC, or an emptyDir staging the backup for the
// agent: see withAgent), and the data volume when the database (SQLite) or
// the media live on it.
func job(in Input, component, script string, d dest, extra []corev1.EnvVar, restore bool) (*batchv1.Job, error) {
	inst, p := in.Instance, in.Profile
	if inst.Spec.External != nil {
		return nil, fmt.Errorf("instance %s is hosted elsewhere: the operator cannot back it up", inst.Name)
	}
	conn := resources.DatabaseConnection(inst, p)
	root, backupVolume := backupMount, corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
	if d.pvc != nil {
		root = path.Join(backupMount, subPath(inst, d.pvc))
		backupVolume = corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: d.pvc.ClaimName}}
	}
	env := []corev1.EnvVar{
		{Name: "BACKUP_ROOT", Value: root},
		{Name: "SOFTWARE", Value: string(p.Software)},
		{Name: "SOFTWARE_VERSION", Value: in.Version},
		{Name: "DB_KIND", Value: string(conn.Engine)},
		{Name: "TERMINATION_LOG", Value: "/dev/termination-log"},
		{Name: "HOME", Value: "/tmp"},
	}
	mounts := []corev1.VolumeMount{{Name: "backup", MountPath: backupMount}, {Name: "tmp", MountPath: "/tmp"}}
	volumes := []corev1.Volume{
		{Name: "backup", VolumeSource: backupVolume},
		{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
	var image string
	switch conn.Engine {
	case v1alpha1.DatabasePostgres:
		img, err := PostgresClientImage(in.PostgresServerImage)
		if err != nil {
			return nil, err
		}
		image = img
		env = append(env,
			corev1.EnvVar{Name: "PGHOST", Value: conn.Host},
			corev1.EnvVar{Name: "PGPORT", Value: strconv.Itoa(int(conn.Port))},
			corev1.EnvVar{Name: "PGUSER", Value: conn.User},
			corev1.EnvVar{Name: "PGDATABASE", Value: conn.Name},
			corev1.EnvVar{Name: "PGCONNECT_TIMEOUT", Value: "30"},
			corev1.EnvVar{Name: "PGPASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: conn.Password}})
		if conn.SSLMode != "" {
			env = append(env, corev1.EnvVar{Name: "PGSSLMODE", Value: conn.SSLMode})
		}
	case v1alpha1.DatabaseSQLite:
		image = SQLiteImage
		env = append(env, corev1.EnvVar{Name: "SQLITE_DB", Value: path.Join(p.DataMountPath, p.Database.SQLiteFile)})
	default:
		return nil, fmt.Errorf("no backup for database engine %q", conn.Engine)
	}
	// As the database's user when only the database is read; as the
	// software's user when the data volume is mounted, so that restored
	// files belong to the server that will use them.
	runAs := resources.RunAs{UID: postgresUID, GID: postgresGID, ReadOnlyRootFilesystem: true}
	if resources.NeedsDataVolume(inst, p) {
		runAs = resources.RunAs{UID: p.UID, GID: p.GID, ReadOnlyRootFilesystem: true}
		// A backup only reads media, but SQLite needs to write its
		// shared-memory file next to a database in WAL mode.
		readOnly := !restore && conn.Engine != v1alpha1.DatabaseSQLite
		mounts = append(mounts, corev1.VolumeMount{Name: "data", MountPath: p.DataMountPath, ReadOnly: readOnly})
		volumes = append(volumes, corev1.Volume{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: resources.DataVolumeName(inst)}}})
		if inst.Spec.Storage == nil || inst.Spec.Storage.S3 == nil {
			env = append(env, corev1.EnvVar{Name: "MEDIA_DIR", Value: p.DataMountPath})
		}
	}
	env = append(env, extra...)
	podSC, sc := resources.SecurityContexts(runAs)
	c := corev1.Container{
		Name:                     component,
		Image:                    image,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  []string{"/bin/sh", "-c", script},
		Env:                      env,
		VolumeMounts:             mounts,
		SecurityContext:          sc,
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	m := meta(in, inst.Name+"-"+component, component)
	spec := corev1.PodSpec{
		RestartPolicy:                corev1.RestartPolicyNever,
		SecurityContext:              podSC,
		AutomountServiceAccountToken: ptr(false),
		Containers:                   []corev1.Container{c},
		Volumes:                      volumes,
	}
	if !restore && resources.NeedsDataVolume(inst, p) {
		// The data volume is usually ReadWriteOnce: next to the server's
		// pod it can be mounted twice. Preferred, not required: a
		// suspended Instance has no pod, and its backup must still run.
		spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
				Weight: 100,
				PodAffinityTerm: corev1.PodAffinityTerm{
					LabelSelector: &metav1.LabelSelector{MatchLabels: resources.SelectorLabels(inst, dataComponent(in))},
					TopologyKey:   "kubernetes.io/hostname",
				},
			}},
		}}
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: m,
		Spec: batchv1.JobSpec{
			BackoffLimit:          ptr(int32(2)),
			ActiveDeadlineSeconds: ptr(jobDeadline),
			Template:              corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: m.Labels}, Spec: spec},
		},
	}, nil
}

// dataComponent is the first component of the software that mounts the data volume.
func dataComponent(in Input) string {
	v, err := in.Profile.CheckVersion(in.Version, in.Instance.Spec.Image)
	if err == nil {
		for _, c := range in.Profile.Components(v) {
			if c.MountsData {
				return c.Name
			}
		}
	}
	return "web"
}
