package resources

import (
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

const dataVolume = "data"

// Deployments returns a Deployment per component of the profile at a
// version. version is the one to run: the running version while an
// upgrade's pre-deployment steps are under way, spec.version otherwise.
func Deployments(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) ([]*appsv1.Deployment, error) {
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	var out []*appsv1.Deployment
	for _, c := range p.Components(v) {
		d, err := Deployment(inst, p, c, version, params)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Deployment returns the Deployment of one component.
func Deployment(inst *v1alpha1.Instance, p *software.Profile, c software.Component, version string, params Params) (*appsv1.Deployment, error) {
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	image, err := p.Image(c, version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	main := appContainer(inst, p, v, c.Name, c.Name, image, c.MountsData)
	main.Command, main.Args = c.Command, c.Args
	main.Env = append(main.Env, c.Env...)
	main.Resources = componentResources(inst, c)
	if c.Port != nil {
		main.Ports = []corev1.ContainerPort{{Name: c.Port.Name, ContainerPort: c.Port.Port, Protocol: corev1.ProtocolTCP}}
	}
	main.StartupProbe = c.Probes.Startup.DeepCopy()
	main.ReadinessProbe = c.Probes.Readiness.DeepCopy()
	main.LivenessProbe = c.Probes.Liveness.DeepCopy()

	replicas := Replicas(inst, c)
	revisions := int32(3)
	return &appsv1.Deployment{
		TypeMeta:   typeMeta("apps/v1", "Deployment"),
		ObjectMeta: objectMeta(inst, ComponentName(inst, c.Name), c.Name, params),
		Spec: appsv1.DeploymentSpec{
			Replicas:             &replicas,
			Selector:             &metav1.LabelSelector{MatchLabels: SelectorLabels(inst, c.Name)},
			Strategy:             appsv1.DeploymentStrategy{Type: c.Strategy},
			RevisionHistoryLimit: &revisions,
			Template:             podTemplate(inst, p, c.Name, params, c.MountsData, corev1.RestartPolicyAlways, nil, main),
		},
	}, nil
}

// Replicas is how many pods a component runs: none when the Instance is
// suspended; exactly one for a component that cannot scale (a second
// GoToSocial or Mastodon scheduler would corrupt data or run every
// scheduled job twice), whatever spec.components says; otherwise
// spec.components[name].replicas, or one.
func Replicas(inst *v1alpha1.Instance, c software.Component) int32 {
	if inst.Spec.Suspend {
		return 0
	}
	if !c.Scalable {
		return 1
	}
	if cs, ok := inst.Spec.Components[c.Name]; ok && cs.Replicas != nil {
		return *cs.Replicas
	}
	return 1
}

// componentResources are spec.components[name].resources, or the profile's defaults.
func componentResources(inst *v1alpha1.Instance, c software.Component) corev1.ResourceRequirements {
	if cs, ok := inst.Spec.Components[c.Name]; ok && cs.Resources != nil {
		return *cs.Resources.DeepCopy()
	}
	return *c.Resources.DeepCopy()
}

// Services returns a ClusterIP Service per component that serves HTTP.
func Services(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) ([]*corev1.Service, error) {
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	var out []*corev1.Service
	for _, c := range p.Components(v) {
		if c.Port == nil {
			continue
		}
		out = append(out, Service(inst, c, params))
	}
	return out, nil
}

// Service returns the Service of a component that serves HTTP.
func Service(inst *v1alpha1.Instance, c software.Component, params Params) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   typeMeta("v1", "Service"),
		ObjectMeta: objectMeta(inst, ComponentName(inst, c.Name), c.Name, params),
		Spec: corev1.ServiceSpec{
			Type:     corev1.ServiceTypeClusterIP,
			Selector: SelectorLabels(inst, c.Name),
			Ports: []corev1.ServicePort{{
				Name:       c.Port.Name,
				Port:       c.Port.Port,
				TargetPort: intstr.FromString(c.Port.Name),
				Protocol:   corev1.ProtocolTCP,
			}},
		},
	}
}

// appContainer is a container of the software with its configuration, its
// security context and its volumes. envComponent is the component whose
// configuration it gets (a Job runs as web, for instance).
func appContainer(inst *v1alpha1.Instance, p *software.Profile, v software.Version, name, envComponent, image string, mountData bool) corev1.Container {
	_, sc := SecurityContexts(profileRunAs(p.UID, p.GID, p.ReadOnlyRootFilesystem))
	c := corev1.Container{
		Name:            name,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Env:             p.Env(envInput(inst, p, v, envComponent)),
		SecurityContext: sc,
	}
	for _, dir := range p.ScratchDirs {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: scratchVolume(dir), MountPath: dir})
	}
	if mountData && NeedsDataVolume(inst, p) {
		c.VolumeMounts = append(c.VolumeMounts, corev1.VolumeMount{Name: dataVolume, MountPath: p.DataMountPath})
	}
	return c
}

// podTemplate wraps the software's containers in a pod: security context,
// scratch and data volumes, and co-location with the other pods mounting
// the data volume.
func podTemplate(inst *v1alpha1.Instance, p *software.Profile, component string, params Params, mountData bool, restart corev1.RestartPolicy, initContainers []corev1.Container, containers ...corev1.Container) corev1.PodTemplateSpec {
	podSC, _ := SecurityContexts(profileRunAs(p.UID, p.GID, p.ReadOnlyRootFilesystem))
	labels := Labels(inst, component, params)
	spec := corev1.PodSpec{
		SecurityContext: podSC,
		RestartPolicy:   restart,
		InitContainers:  initContainers,
		Containers:      containers,
		// The software never talks to the Kubernetes API.
		AutomountServiceAccountToken: ptr(false),
		// Service links would inject FOO_PORT variables that can shadow the
		// software's own configuration (REDIS_PORT, for instance).
		EnableServiceLinks: ptr(false),
	}
	for _, dir := range p.ScratchDirs {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: scratchVolume(dir), VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	}
	if mountData && NeedsDataVolume(inst, p) {
		spec.Volumes = append(spec.Volumes, corev1.Volume{Name: dataVolume, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: DataVolumeName(inst)},
		}})
		labels[LabelData] = "true"
		// The data volume is ReadWriteOnce: every pod mounting it must run
		// on the node that has it attached. The first pod matches its own
		// term, which the scheduler accepts.
		spec.Affinity = &corev1.Affinity{PodAffinity: &corev1.PodAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
				LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{v1alpha1.LabelInstance: inst.Name, LabelData: "true"}},
				TopologyKey:   corev1.LabelHostname,
			}},
		}}
	}
	var annotations map[string]string
	if params.RolloutToken != "" {
		annotations = map[string]string{AnnotationRollout: params.RolloutToken}
	}
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
		Spec:       spec,
	}
}

func scratchVolume(dir string) string {
	name := strings.ReplaceAll(strings.Trim(dir, "/"), "/", "-")
	return "scratch-" + name
}

func ptr[T any](v T) *T { return &v }

// envInput resolves the names the profile's configuration refers to.
func envInput(inst *v1alpha1.Instance, p *software.Profile, v software.Version, component string) software.EnvInput {
	in := software.EnvInput{
		Instance:   inst,
		Version:    v,
		Component:  component,
		Database:   databaseConn(inst, p),
		SecretName: SecretsName(inst),
	}
	if p.NeedsRedis {
		in.Redis = redisConn(inst)
	}
	return in
}

// DatabaseEngine is the engine the Instance uses: spec.database.engine or
// the profile's default.
func DatabaseEngine(inst *v1alpha1.Instance, p *software.Profile) v1alpha1.DatabaseEngine {
	if inst.Spec.Database != nil && inst.Spec.Database.Engine != "" {
		return inst.Spec.Database.Engine
	}
	return p.Database.DefaultEngine
}

// BundledPostgres reports whether the operator runs PostgreSQL for the Instance.
func BundledPostgres(inst *v1alpha1.Instance, p *software.Profile) bool {
	if DatabaseEngine(inst, p) != v1alpha1.DatabasePostgres {
		return false
	}
	db := inst.Spec.Database
	return db == nil || db.Postgres == nil || db.Postgres.Mode != v1alpha1.PostgresExternal
}

// BundledRedis reports whether the operator runs Redis for the Instance.
func BundledRedis(inst *v1alpha1.Instance, p *software.Profile) bool {
	if !p.NeedsRedis {
		return false
	}
	r := inst.Spec.Redis
	return r == nil || r.Mode != v1alpha1.RedisExternal
}

// NeedsDataVolume reports whether the Instance needs its data volume: for
// media not in object storage, or for a sqlite database.
func NeedsDataVolume(inst *v1alpha1.Instance, p *software.Profile) bool {
	if p.DataMountPath == "" {
		return false
	}
	s3 := inst.Spec.Storage != nil && inst.Spec.Storage.S3 != nil
	return !s3 || DatabaseEngine(inst, p) == v1alpha1.DatabaseSQLite
}

const (
	postgresPort     = 5432
	redisPort        = 6379
	passwordKey      = "password"
	defaultSSLMode   = "require"
	defaultRedisPass = "password"
)

// DatabaseConnection is how the Instance's processes reach its database
// (the backup and restore Jobs reach it the same way).
func DatabaseConnection(inst *v1alpha1.Instance, p *software.Profile) software.DatabaseConn {
	return databaseConn(inst, p)
}

func databaseConn(inst *v1alpha1.Instance, p *software.Profile) software.DatabaseConn {
	engine := DatabaseEngine(inst, p)
	if engine == v1alpha1.DatabaseSQLite {
		return software.DatabaseConn{Engine: engine}
	}
	if BundledPostgres(inst, p) {
		return software.DatabaseConn{
			Engine: engine,
			Host:   PostgresName(inst),
			Port:   postgresPort,
			Name:   p.Database.Name,
			User:   p.Database.User,
			// Inside the namespace, behind a NetworkPolicy: no TLS.
			SSLMode:  "disable",
			Password: keySelector(PostgresName(inst), passwordKey),
		}
	}
	ext := inst.Spec.Database.Postgres.External
	key := ext.PasswordSecretRef.Key
	if key == "" {
		key = passwordKey
	}
	port := ext.Port
	if port == 0 {
		port = postgresPort
	}
	sslmode := ext.SSLMode
	if sslmode == "" {
		sslmode = defaultSSLMode
	}
	return software.DatabaseConn{
		Engine:   engine,
		Host:     ext.Host,
		Port:     port,
		Name:     ext.Database,
		User:     ext.User,
		SSLMode:  sslmode,
		Password: keySelector(ext.PasswordSecretRef.Name, key),
	}
}

func redisConn(inst *v1alpha1.Instance) *software.RedisConn {
	if r := inst.Spec.Redis; r != nil && r.Mode == v1alpha1.RedisExternal && r.External != nil {
		conn := &software.RedisConn{Host: r.External.Host, Port: r.External.Port}
		if conn.Port == 0 {
			conn.Port = redisPort
		}
		if ref := r.External.PasswordSecretRef; ref != nil {
			key := ref.Key
			if key == "" {
				key = defaultRedisPass
			}
			conn.Password = keySelector(ref.Name, key)
		}
		return conn
	}
	return &software.RedisConn{Host: RedisName(inst), Port: redisPort, Password: keySelector(RedisName(inst), passwordKey)}
}

func keySelector(name, key string) *corev1.SecretKeySelector {
	return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key}
}

// checkHosted refuses an external Instance, which has no workloads.
func checkHosted(inst *v1alpha1.Instance) error {
	if inst.Spec.External != nil {
		return fmt.Errorf("instance %s/%s is external: nothing is deployed for it", inst.Namespace, inst.Name)
	}
	return nil
}
