package resources

import (
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// DefaultDataSize is the data volume's size when spec.storage.size is unset
// (the API's default, repeated for Instances created without defaulting).
var DefaultDataSize = resource.MustParse("10Gi")

// DataVolumeClaim returns the data volume, or nil when the Instance needs
// none (media in object storage and no sqlite database).
//
// The claim is not owned by the Instance under deletionPolicy Retain (the
// default): deleting the Instance must not delete a community's posts and
// media. It keeps the Instance's labels, and its name derives from the
// Instance's, so recreating the Instance adopts it.
func DataVolumeClaim(inst *v1alpha1.Instance, p *software.Profile, params Params) *corev1.PersistentVolumeClaim {
	if !NeedsDataVolume(inst, p) {
		return nil
	}
	size := DefaultDataSize
	var class *string
	if s := inst.Spec.Storage; s != nil {
		if s.Size != nil {
			size = s.Size.DeepCopy()
		}
		if s.StorageClassName != nil {
			class = ptr(*s.StorageClassName)
		}
	}
	return &corev1.PersistentVolumeClaim{
		TypeMeta:   typeMeta("v1", "PersistentVolumeClaim"),
		ObjectMeta: dataMeta(inst, DataVolumeName(inst), dataVolume, params),
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: class,
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: size}},
		},
	}
}

// GeneratedSecrets returns the Secrets whose values the operator generates:
// the profile's keys, the admin's password or token (when spec.admin is
// set), and the bundled database's and Redis' passwords. Randomness comes
// from r (crypto/rand.Reader in the operator).
//
// They are immutable: the reconciler creates each one once, when it does
// not exist, and never updates it; a generated secret that vanishes is a
// reason to stop (Stalled), not to mint new keys that would make encrypted
// data unreadable. Like the data volume they survive the Instance under
// deletionPolicy Retain.
func GeneratedSecrets(inst *v1alpha1.Instance, p *software.Profile, version string, params Params, r io.Reader) ([]*corev1.Secret, error) {
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	var out []*corev1.Secret
	if keys := p.SecretKeys(v); len(keys) > 0 {
		data, err := p.GenerateSecrets(v, r)
		if err != nil {
			return nil, err
		}
		out = append(out, generatedSecret(inst, SecretsName(inst), "secrets", params, data))
	}
	if inst.Spec.Admin != nil && p.Admin != nil && len(p.Admin.Secrets) > 0 {
		data := map[string][]byte{}
		for _, g := range p.Admin.Secrets {
			vals, err := g.Generate(r)
			if err != nil {
				return nil, err
			}
			for k, val := range vals {
				data[k] = []byte(val)
			}
		}
		out = append(out, generatedSecret(inst, AdminSecretName(inst), "admin", params, data))
	}
	for _, bundled := range []struct {
		on   bool
		name string
		comp string
	}{
		{BundledPostgres(inst, p), PostgresName(inst), "postgres"},
		{BundledRedis(inst, p), RedisName(inst), "redis"},
	} {
		if !bundled.on {
			continue
		}
		// Letters and digits only: the password ends up in connection
		// strings and command lines.
		pass, err := software.RandomAlphanumeric(r, 32)
		if err != nil {
			return nil, err
		}
		out = append(out, generatedSecret(inst, bundled.name, bundled.comp, params, map[string][]byte{passwordKey: []byte(pass)}))
	}
	return out, nil
}

func generatedSecret(inst *v1alpha1.Instance, name, component string, params Params, data map[string][]byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   typeMeta("v1", "Secret"),
		ObjectMeta: dataMeta(inst, name, component, params),
		Type:       corev1.SecretTypeOpaque,
		Immutable:  ptr(true),
		Data:       data,
	}
}

// RetainedSecretNames are the names of every Secret an Instance of this
// name may leave behind under deletionPolicy Retain: the generated keys and
// passwords (GeneratedSecrets) and the admin token the operator obtained
// (AdminTokenSecret). The operator may only read Secrets by name, so this
// list is how a Community's deletion finds them after the Instance is gone.
func RetainedSecretNames(instance string) []string {
	inst := &v1alpha1.Instance{}
	inst.Name = instance
	return []string{SecretsName(inst), AdminSecretName(inst), AdminTokenSecretName(inst), PostgresName(inst), RedisName(inst)}
}

// CarriedSecretNames are the Secrets a backup carries (encrypted) and a
// restore puts back: the server's own keys and the admin's credentials,
// which the restored data needs. The bundled PostgreSQL's and Redis's
// passwords are not among them: they belong to one deployment (pg_restore
// loads the dump without owners into the database the new one created),
// and the new database must run, with a password, before the restore can
// load anything into it.
func CarriedSecretNames(instance string) []string {
	inst := &v1alpha1.Instance{}
	inst.Name = instance
	return []string{SecretsName(inst), AdminSecretName(inst), AdminTokenSecretName(inst)}
}
