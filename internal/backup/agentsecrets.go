package backup

import (
	"path"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/internal/resources"
)

const (
	secretsMount = "/secrets"
	tokenMount   = "/var/run/secrets/kubernetes.io/serviceaccount"
	tokenSeconds = int64(3600)
)

// sealSecrets has the backup agent (the Job's main container, see
// withAgent) put the Instance's generated Secrets into the backup as
// secrets.age, encrypted to the operator-managed key (KeySecret, which must
// exist before the backup runs) and to spec.backup.encryption's
// recipients. Each Secret is mounted read-only into the agent alone, and
// optional: an Instance without an admin or a bundled database has no
// such Secret, and the agent skips its empty directory.
func sealSecrets(j *batchv1.Job, in Input) {
	inst := in.Instance
	pod := &j.Spec.Template.Spec
	agent := &pod.Containers[0]
	for i, name := range resources.CarriedSecretNames(inst.Name) {
		vol := "secret-" + strconv.Itoa(i)
		pod.Volumes = append(pod.Volumes, corev1.Volume{Name: vol, VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName: name, Optional: ptr(true), DefaultMode: ptr(int32(0o400))}}})
		agent.VolumeMounts = append(agent.VolumeMounts, corev1.VolumeMount{Name: vol, MountPath: path.Join(secretsMount, name), ReadOnly: true})
	}
	var recipients []string
	if e := inst.Spec.Backup.Encryption; e != nil {
		recipients = e.Recipients
	}
	agent.Env = append(agent.Env,
		corev1.EnvVar{Name: "SECRETS_DIR", Value: secretsMount},
		corev1.EnvVar{Name: "BACKUP_KEY_RECIPIENT", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: KeySecretName(inst)}, Key: KeyRecipient}}},
		corev1.EnvVar{Name: "AGE_RECIPIENTS", Value: strings.Join(recipients, ",")})
}

// unsealSecrets has the restore Job's download step decrypt secrets.age
// with the identity in spec.restore.identitySecretRef and create the
// backup's Secrets, before the restore script and the server run. It runs
// as the restore ServiceAccount (RestoreRBAC); the API token is projected
// into the agent's container only, not into the script's.
func unsealSecrets(j *batchv1.Job, in Input) {
	inst := in.Instance
	ref := inst.Spec.Restore.IdentitySecretRef
	pod := &j.Spec.Template.Spec
	pod.ServiceAccountName = RestoreAccountName(inst)
	pod.Volumes = append(pod.Volumes, corev1.Volume{Name: "api-token", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr(int32(0o444)),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: ptr(tokenSeconds)}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
		}}}})
	agent := &pod.InitContainers[len(pod.InitContainers)-1]
	agent.VolumeMounts = append(agent.VolumeMounts, corev1.VolumeMount{Name: "api-token", MountPath: tokenMount, ReadOnly: true})
	agent.Env = append(agent.Env,
		corev1.EnvVar{Name: "AGE_IDENTITY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: ref.Name}, Key: KeyIdentity}}},
		corev1.EnvVar{Name: "NAMESPACE", Value: inst.Namespace},
		corev1.EnvVar{Name: "SECRET_NAMES", Value: strings.Join(resources.CarriedSecretNames(inst.Name), ",")})
}
