package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Bundled database images. The alpine images define postgres as 70:70 and
// redis as 999:1000, which the pods run as, so they pass the restricted
// Pod Security profile without an entrypoint that starts as root.
const (
	PostgresImage = "docker.io/library/postgres:17-alpine"
	RedisImage    = "docker.io/library/redis:7.4-alpine"
)

var (
	postgresRunAs = RunAs{UID: 70, GID: 70, ReadOnlyRootFilesystem: true}
	redisRunAs    = RunAs{UID: 999, GID: 1000, ReadOnlyRootFilesystem: true}
	// DefaultPostgresSize is the bundled database's volume size when
	// spec.database.postgres.storageSize is unset.
	DefaultPostgresSize = resource.MustParse("10Gi")
	// RedisSize is the bundled Redis' volume: queues and timelines, which
	// Mastodon can rebuild, but losing queued jobs loses deliveries.
	RedisSize = resource.MustParse("1Gi")
)

const (
	postgresDataDir = "/var/lib/postgresql/data"
	redisDataDir    = "/data"
)

// PostgresStatefulSet returns the bundled PostgreSQL, or nil when the
// Instance uses sqlite or an external database. Its volume outlives the
// Instance under deletionPolicy Retain (StatefulSet PVC retention policy).
func PostgresStatefulSet(inst *v1alpha1.Instance, p *software.Profile, params Params) *appsv1.StatefulSet {
	if !BundledPostgres(inst, p) {
		return nil
	}
	size := DefaultPostgresSize
	if db := inst.Spec.Database; db != nil && db.Postgres != nil && db.Postgres.StorageSize != nil {
		size = db.Postgres.StorageSize.DeepCopy()
	}
	password := corev1.EnvVar{Name: "POSTGRES_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: keySelector(PostgresName(inst), passwordKey)}}
	ready := &corev1.Probe{
		// pg_isready over TCP, as the application connects.
		ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", `pg_isready -h 127.0.0.1 -U "$POSTGRES_USER" -d "$POSTGRES_DB"`}}},
		PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: 3,
	}
	live := ready.DeepCopy()
	live.FailureThreshold = 6
	c := corev1.Container{
		Name:  "postgres",
		Image: PostgresImage,
		Env: []corev1.EnvVar{
			{Name: "POSTGRES_USER", Value: p.Database.User},
			{Name: "POSTGRES_DB", Value: p.Database.Name},
			password,
			// A subdirectory: the volume's root may hold lost+found, which initdb refuses.
			{Name: "PGDATA", Value: postgresDataDir + "/pgdata"},
		},
		Ports:          []corev1.ContainerPort{{Name: "postgres", ContainerPort: postgresPort, Protocol: corev1.ProtocolTCP}},
		ReadinessProbe: ready,
		LivenessProbe:  live,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: dataVolume, MountPath: postgresDataDir},
			// The socket directory and temporary files: the root is read-only.
			{Name: "run", MountPath: "/var/run/postgresql"},
			{Name: "tmp", MountPath: "/tmp"},
		},
	}
	return statefulSet(inst, PostgresName(inst), "postgres", params, postgresRunAs, c, size, []string{"run", "tmp"})
}

// RedisStatefulSet returns the bundled Redis, or nil when the software
// needs none or the Instance uses an external one.
func RedisStatefulSet(inst *v1alpha1.Instance, p *software.Profile, params Params) *appsv1.StatefulSet {
	if !BundledRedis(inst, p) {
		return nil
	}
	secret := &corev1.EnvVarSource{SecretKeyRef: keySelector(RedisName(inst), passwordKey)}
	probe := func(failures int32) *corev1.Probe {
		return &corev1.Probe{
			// redis-cli reads the password from REDISCLI_AUTH.
			ProbeHandler:  corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"redis-cli", "ping"}}},
			PeriodSeconds: 10, TimeoutSeconds: 5, FailureThreshold: failures,
		}
	}
	c := corev1.Container{
		Name:  "redis",
		Image: RedisImage,
		// redis-server directly: the image's entrypoint would try to chown as root.
		Command: []string{"redis-server"},
		// The kubelet expands $(REDIS_PASSWORD): the value never appears in the pod spec.
		Args: []string{"--requirepass", "$(REDIS_PASSWORD)", "--dir", redisDataDir, "--save", "60", "1", "--appendonly", "no"},
		Env: []corev1.EnvVar{
			{Name: "REDIS_PASSWORD", ValueFrom: secret},
			{Name: "REDISCLI_AUTH", ValueFrom: secret.DeepCopy()},
		},
		Ports:          []corev1.ContainerPort{{Name: "redis", ContainerPort: redisPort, Protocol: corev1.ProtocolTCP}},
		ReadinessProbe: probe(3),
		LivenessProbe:  probe(6),
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: dataVolume, MountPath: redisDataDir},
			{Name: "tmp", MountPath: "/tmp"},
		},
	}
	return statefulSet(inst, RedisName(inst), "redis", params, redisRunAs, c, RedisSize, []string{"tmp"})
}

func statefulSet(inst *v1alpha1.Instance, name, component string, params Params, runAs RunAs, c corev1.Container, size resource.Quantity, emptyDirs []string) *appsv1.StatefulSet {
	podSC, sc := SecurityContexts(runAs)
	c.SecurityContext = sc
	c.ImagePullPolicy = corev1.PullIfNotPresent
	replicas := int32(1)
	if inst.Spec.Suspend {
		replicas = 0
	}
	var volumes []corev1.Volume
	for _, d := range emptyDirs {
		volumes = append(volumes, corev1.Volume{Name: d, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	retention := appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	if deleteData(inst) {
		retention = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
	}
	var class *string
	if s := inst.Spec.Storage; s != nil && s.StorageClassName != nil {
		class = ptr(*s.StorageClassName)
	}
	labels := Labels(inst, component, params)
	return &appsv1.StatefulSet{
		TypeMeta:   typeMeta("apps/v1", "StatefulSet"),
		ObjectMeta: objectMeta(inst, name, component, params),
		Spec: appsv1.StatefulSetSpec{
			Replicas:    &replicas,
			ServiceName: name,
			Selector:    &metav1.LabelSelector{MatchLabels: SelectorLabels(inst, component)},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					SecurityContext:              podSC,
					Containers:                   []corev1.Container{c},
					Volumes:                      volumes,
					AutomountServiceAccountToken: ptr(false),
					EnableServiceLinks:           ptr(false),
					// Let the database flush and exit cleanly.
					TerminationGracePeriodSeconds: ptr(int64(60)),
				},
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{
				TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
				ObjectMeta: metav1.ObjectMeta{Name: dataVolume, Labels: Labels(inst, component, params)},
				Spec: corev1.PersistentVolumeClaimSpec{
					AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					StorageClassName: class,
					Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
				},
			}},
			// Suspending scales to zero and keeps the volume; deleting the
			// Instance keeps it too unless deletionPolicy is Delete.
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: retention,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
	}
}

// PostgresService is the headless Service of the bundled PostgreSQL, or nil.
func PostgresService(inst *v1alpha1.Instance, p *software.Profile, params Params) *corev1.Service {
	if !BundledPostgres(inst, p) {
		return nil
	}
	return headlessService(inst, PostgresName(inst), "postgres", postgresPort, params)
}

// RedisService is the headless Service of the bundled Redis, or nil.
func RedisService(inst *v1alpha1.Instance, p *software.Profile, params Params) *corev1.Service {
	if !BundledRedis(inst, p) {
		return nil
	}
	return headlessService(inst, RedisName(inst), "redis", redisPort, params)
}

func headlessService(inst *v1alpha1.Instance, name, component string, port int32, params Params) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(inst, name, component, params),
		Spec: corev1.ServiceSpec{
			ClusterIP: corev1.ClusterIPNone,
			Selector:  SelectorLabels(inst, component),
			Ports:     []corev1.ServicePort{{Name: component, Port: port, TargetPort: intstr.FromString(component), Protocol: corev1.ProtocolTCP}},
		},
	}
}
