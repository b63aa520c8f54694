package resources

import (
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// AdminTokenKey is the key of the admin token Secret holding the token.
const AdminTokenKey = "token"

// AdminTokenSecretName is the name of the Secret holding the admin API token
// the operator obtained itself (by OAuth, for software without a token it
// can generate).
func AdminTokenSecretName(inst *v1alpha1.Instance) string { return inst.Name + "-admin-token" }

// AdminTokenSecret is the Secret holding an admin API token the operator
// obtained from the server. Unlike the generated Secrets it is mutable: the
// server can revoke the token, and the operator then signs in again and
// replaces the value, which loses nothing (the server is the authority on
// tokens and hands out a new one to the admin at any time). It is kept
// like the data it goes with: under deletionPolicy Retain it has no owner
// reference, so a server recreated on the retained volume finds a token
// its database still knows.
func AdminTokenSecret(inst *v1alpha1.Instance, params Params, token string) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   typeMeta("v1", "Secret"),
		ObjectMeta: dataMeta(inst, AdminTokenSecretName(inst), "admin", params),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{AdminTokenKey: []byte(token)},
	}
}
