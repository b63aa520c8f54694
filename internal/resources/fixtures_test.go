package resources

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

var params = Params{Community: "riverside", OperatorNamespace: "fedcommons-system"}

func meta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: "riverside", UID: types.UID("uid-" + name)}
}

// gotosocialSQLite is the lightest instance: sqlite on the data volume.
func gotosocialSQLite() *v1alpha1.Instance {
	return &v1alpha1.Instance{ObjectMeta: meta("social"), Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: "social.riverside.example",
		TLS:   &v1alpha1.TLSSpec{IssuerRef: &v1alpha1.IssuerReference{Name: "letsencrypt"}},
		Admin: &v1alpha1.AdminSpec{Username: "admin", Email: "admin@riverside.example"},
	}}
}

// mastodonBundled runs its own PostgreSQL and Redis, media on the volume.
func mastodonBundled() *v1alpha1.Instance {
	size := resource.MustParse("20Gi")
	return &v1alpha1.Instance{ObjectMeta: meta("toot"), Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareMastodon, Version: "4.5.2", Domain: "toot.riverside.example", AccountDomain: "riverside.example",
		TLS:      &v1alpha1.TLSSpec{IssuerRef: &v1alpha1.IssuerReference{Kind: "ClusterIssuer", Name: "letsencrypt", Group: "cert-manager.io"}},
		Ingress:  &v1alpha1.IngressSpec{ClassName: "nginx"},
		Database: &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabasePostgres, Postgres: &v1alpha1.PostgresSpec{Mode: v1alpha1.PostgresBundled}},
		Storage:  &v1alpha1.StorageSpec{Size: &size, StorageClassName: ptr("fast")},
		Admin:    &v1alpha1.AdminSpec{Username: "admin", Email: "admin@riverside.example"},
		Components: map[string]v1alpha1.ComponentSpec{
			"web":       {Replicas: ptr(int32(3))},
			"scheduler": {Replicas: ptr(int32(4))},
			"sidekiq": {Resources: &corev1.ResourceRequirements{
				Requests: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")},
			}},
		},
	}}
}

// mastodonExternal uses an external database and Redis, S3 and a Gateway.
func mastodonExternal() *v1alpha1.Instance {
	return &v1alpha1.Instance{ObjectMeta: meta("ext"), Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareMastodon, Version: "4.4.3", Domain: "ext.riverside.example",
		Registrations:  v1alpha1.RegistrationsClosed,
		DeletionPolicy: v1alpha1.DeletionDelete,
		TLS:            &v1alpha1.TLSSpec{SecretName: "byo-tls"},
		Gateway:        &v1alpha1.GatewaySpec{ParentRefs: []v1alpha1.GatewayParentReference{{Name: "public", Namespace: "gateways", SectionName: "https"}}},
		Database: &v1alpha1.DatabaseSpec{Engine: v1alpha1.DatabasePostgres, Postgres: &v1alpha1.PostgresSpec{
			Mode: v1alpha1.PostgresExternal,
			External: &v1alpha1.ExternalPostgres{Host: "pg.db.svc", Database: "ext", User: "ext",
				PasswordSecretRef: v1alpha1.SecretKeyReference{Name: "ext-db"}},
		}},
		Redis: &v1alpha1.RedisSpec{Mode: v1alpha1.RedisExternal, External: &v1alpha1.ExternalRedis{Host: "redis.cache.svc",
			PasswordSecretRef: &v1alpha1.SecretKeyReference{Name: "ext-redis", Key: "pw"}}},
		Storage: &v1alpha1.StorageSpec{S3: &v1alpha1.S3Storage{Endpoint: "s3.example.org", Bucket: "ext-media", CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "ext-s3"}}},
	}}
}

// hometown is Mastodon with the Hometown image.
func hometown() *v1alpha1.Instance {
	inst := mastodonBundled()
	inst.ObjectMeta = meta("home")
	inst.Spec.Version = "4.5.0"
	inst.Spec.Image = "ghcr.io/hometown-fork/hometown:v4.5.0-hometown-1.1.2"
	inst.Spec.Domain = "home.riverside.example"
	inst.Spec.AccountDomain = ""
	inst.Spec.Components = nil
	return inst
}

func profile(t *testing.T, inst *v1alpha1.Instance) *software.Profile {
	t.Helper()
	p, err := software.Lookup(inst.Spec.Software)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func envByName(c corev1.Container) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup {
			panic("duplicate env " + e.Name + " in " + c.Name)
		}
		m[e.Name] = e
	}
	return m
}

func refOf(e corev1.EnvVar) string {
	if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		return ""
	}
	return e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
}

func mustDeployments(t *testing.T, inst *v1alpha1.Instance, version string) map[string]*appsDeployment {
	t.Helper()
	ds, err := Deployments(inst, profile(t, inst), version, params)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*appsDeployment{}
	for _, d := range ds {
		m[d.Labels[v1alpha1.LabelComponent]] = d
	}
	return m
}

type (
	stsType = appsv1.StatefulSet
	cronJob = batchv1.CronJob
	job     = batchv1.Job
)

func gtsProfile() *software.Profile { return software.GoToSocial }
