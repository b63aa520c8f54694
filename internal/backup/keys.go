package backup

import (
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// Keys of the operator-managed backup key Secret.
const (
	KeyIdentity  = "identity"
	KeyRecipient = "recipient"
)

// KeySecretName is the Secret holding the operator-managed age key that
// every backup's secrets.age is encrypted to.
func KeySecretName(inst *v1alpha1.Instance) string { return inst.Name + "-backup-key" }

// KeySecret is the operator-managed backup key: an age X25519 identity and
// its public key, generated once (agent.NewKey) when spec.backup is first
// set. Like the generated Secrets it is immutable and never regenerated:
// a new key could not read the backups taken before. It is not owned by
// the Instance, so deleting the Instance leaves it (and the backups stay
// readable); docs/backups.md tells the sysadmin to copy it off the cluster.
func KeySecret(inst *v1alpha1.Instance, params resources.Params, identity, recipient string) *corev1.Secret {
	immutable := true
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: KeySecretName(inst), Namespace: inst.Namespace,
			Labels: resources.Labels(inst, "backup-key", params),
		},
		Type:      corev1.SecretTypeOpaque,
		Immutable: &immutable,
		Data:      map[string][]byte{KeyIdentity: []byte(identity), KeyRecipient: []byte(recipient)},
	}
}

// RestoreAccountName is the ServiceAccount the restore Job runs as when it
// puts the backup's Secrets back.
func RestoreAccountName(inst *v1alpha1.Instance) string { return inst.Name + "-restore" }

// RestoreRBAC is the ServiceAccount, Role and RoleBinding of the restore
// Job's agent: it may read the Instance's generated Secrets by name (to
// tell a Secret already restored from one that differs) and create
// Secrets in the namespace (Kubernetes cannot limit create by name), and
// nothing else. They are owned by the Instance.
func RestoreRBAC(in Input) (*corev1.ServiceAccount, *rbacv1.Role, *rbacv1.RoleBinding) {
	inst := in.Instance
	name := RestoreAccountName(inst)
	sa := &corev1.ServiceAccount{
		TypeMeta:                     metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta:                   meta(in, name, "restore"),
		AutomountServiceAccountToken: ptr(false),
	}
	role := &rbacv1.Role{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "Role"},
		ObjectMeta: meta(in, name, "restore"),
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}, ResourceNames: resources.CarriedSecretNames(inst.Name)},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
		},
	}
	binding := &rbacv1.RoleBinding{
		TypeMeta:   metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: meta(in, name, "restore"),
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: name, Namespace: inst.Namespace}},
	}
	return sa, role, binding
}

// RestoreRoleRetired is the restore's Role once the restore has succeeded:
// without rules. The Job's pod, and so its token, stays after it has
// completed; emptied, the Role grants that token nothing. (Emptied, not
// deleted: the operator holds no delete on roles.)
func RestoreRoleRetired(in Input) *rbacv1.Role {
	_, role, _ := RestoreRBAC(in)
	role.Rules = []rbacv1.PolicyRule{}
	return role
}
