package resources

import (
	"bytes"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

func TestDataVolumeClaim(t *testing.T) {
	tests := []struct {
		name      string
		inst      *v1alpha1.Instance
		want      bool
		size      string
		class     string
		ownedByCR bool
	}{
		{name: "gotosocial sqlite, default size, retained", inst: gotosocialSQLite(), want: true, size: "10Gi"},
		{name: "mastodon media on the volume", inst: mastodonBundled(), want: true, size: "20Gi", class: "fast"},
		{name: "mastodon media in s3: none", inst: mastodonExternal(), want: false},
		{name: "gotosocial s3 with sqlite still needs the volume", inst: func() *v1alpha1.Instance {
			i := gotosocialSQLite()
			i.Spec.Storage = &v1alpha1.StorageSpec{S3: &v1alpha1.S3Storage{Endpoint: "s3.example.org", Bucket: "b", CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "s3"}}}
			return i
		}(), want: true, size: "10Gi"},
		{name: "deletionPolicy Delete: owned", inst: func() *v1alpha1.Instance {
			i := gotosocialSQLite()
			i.Spec.DeletionPolicy = v1alpha1.DeletionDelete
			return i
		}(), want: true, size: "10Gi", ownedByCR: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pvc := DataVolumeClaim(tt.inst, profile(t, tt.inst), params)
			if (pvc != nil) != tt.want {
				t.Fatalf("pvc = %v, want present=%v", pvc, tt.want)
			}
			if pvc == nil {
				return
			}
			if pvc.Name != tt.inst.Name+"-data" || pvc.Kind != "PersistentVolumeClaim" || pvc.APIVersion != "v1" {
				t.Errorf("meta = %s %s/%s", pvc.Name, pvc.APIVersion, pvc.Kind)
			}
			if got := pvc.Spec.Resources.Requests.Storage().String(); got != tt.size {
				t.Errorf("size = %s, want %s", got, tt.size)
			}
			if tt.class == "" && pvc.Spec.StorageClassName != nil || tt.class != "" && (pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != tt.class) {
				t.Errorf("class = %v, want %q", pvc.Spec.StorageClassName, tt.class)
			}
			if pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
				t.Errorf("access = %v", pvc.Spec.AccessModes)
			}
			if owned := len(pvc.OwnerReferences) > 0; owned != tt.ownedByCR {
				t.Errorf("owner references = %v, want owned=%v", pvc.OwnerReferences, tt.ownedByCR)
			}
			// Retained or not, it can be found by its labels.
			if pvc.Labels[v1alpha1.LabelInstance] != tt.inst.Name || pvc.Labels[v1alpha1.LabelCommunity] != "riverside" || pvc.Labels[v1alpha1.LabelManagedBy] != "fedcommons" {
				t.Errorf("labels = %v", pvc.Labels)
			}
		})
	}
}

func secretsByName(t *testing.T, inst *v1alpha1.Instance, seed byte) map[string]*corev1.Secret {
	t.Helper()
	secrets, err := GeneratedSecrets(inst, profile(t, inst), inst.Spec.Version, params, rand.NewChaCha8([32]byte{seed}))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*corev1.Secret{}
	for _, s := range secrets {
		m[s.Name] = s
	}
	return m
}

func keys(s *corev1.Secret) string {
	var k []string
	for key := range s.Data {
		k = append(k, key)
	}
	sort.Strings(k)
	return strings.Join(k, ",")
}

func TestGeneratedSecrets(t *testing.T) {
	tests := []struct {
		name string
		inst *v1alpha1.Instance
		want map[string]string
	}{
		{name: "gotosocial: admin password only", inst: gotosocialSQLite(), want: map[string]string{"social-admin": "password"}},
		{name: "mastodon bundled", inst: mastodonBundled(), want: map[string]string{
			"toot-secrets":  "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY,ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT,ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY,SECRET_KEY_BASE,VAPID_PRIVATE_KEY,VAPID_PUBLIC_KEY",
			"toot-admin":    "token",
			"toot-postgres": "password",
			"toot-redis":    "password",
		}},
		{name: "mastodon external, no admin", inst: mastodonExternal(), want: map[string]string{
			"ext-secrets": "ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY,ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT,ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY,SECRET_KEY_BASE,VAPID_PRIVATE_KEY,VAPID_PUBLIC_KEY",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := secretsByName(t, tt.inst, 7)
			if len(got) != len(tt.want) {
				t.Errorf("secrets = %d, want %d", len(got), len(tt.want))
			}
			again := secretsByName(t, tt.inst, 7)
			other := secretsByName(t, tt.inst, 8)
			for name, wantKeys := range tt.want {
				s := got[name]
				if s == nil {
					t.Errorf("%s missing", name)
					continue
				}
				if keys(s) != wantKeys {
					t.Errorf("%s keys = %s, want %s", name, keys(s), wantKeys)
				}
				if s.Immutable == nil || !*s.Immutable || s.Type != corev1.SecretTypeOpaque || s.Kind != "Secret" {
					t.Errorf("%s: immutable=%v type=%s kind=%s", name, s.Immutable, s.Type, s.Kind)
				}
				retained := tt.inst.Spec.DeletionPolicy != v1alpha1.DeletionDelete
				if retained == (len(s.OwnerReferences) > 0) {
					t.Errorf("%s owner references = %v under %q", name, s.OwnerReferences, tt.inst.Spec.DeletionPolicy)
				}
				for k, v := range s.Data {
					if len(v) == 0 {
						t.Errorf("%s/%s is empty", name, k)
					}
					if !bytes.Equal(v, again[name].Data[k]) {
						t.Errorf("%s/%s differs for the same random stream", name, k)
					}
					if bytes.Equal(v, other[name].Data[k]) {
						t.Errorf("%s/%s is the same for another random stream", name, k)
					}
				}
			}
		})
	}
}

func TestGeneratedSecretsOTPForOldMastodon(t *testing.T) {
	inst := mastodonBundled()
	inst.Spec.Version = "4.3.8"
	s := secretsByName(t, inst, 1)["toot-secrets"]
	if _, ok := s.Data["OTP_SECRET"]; !ok {
		t.Error("Mastodon 4.3 needs OTP_SECRET")
	}
}
