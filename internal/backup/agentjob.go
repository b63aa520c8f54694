package backup

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// AgentBinary is the operator binary's path in its image (see Dockerfile).
const AgentBinary = "/fedcommons"

// withAgent adds the backup agent to a Job of an s3 destination. The script
// container writes to (or reads from) the emptyDir at /backup; init
// containers run one after the other, each only once the one before it
// succeeded, so:
//
//   - a backup runs the script as init container "dump", then the agent
//     ("backup") uploads it and applies the retention in the bucket: a
//     failed dump uploads nothing;
//   - a restore runs the agent as init container "download", then the
//     script ("restore"): nothing is restored from a download that failed
//     its checks.
//
// The main container keeps the component's name, so whoever reads the
// Job's termination message ({"name", "size"} for a backup) finds it in
// the same container as for a pvc destination. The agent runs as the
// script's user, with the same restricted security context, and gets the
// bucket's credentials from the Secret through the environment, never
// through its arguments.
func withAgent(j *batchv1.Job, in Input, s3 *v1alpha1.BackupS3, command string, extra []corev1.EnvVar) error {
	if in.AgentImage == "" {
		return fmt.Errorf("instance %s backs up to an S3 bucket, which needs the operator's image to run the backup agent, and none was given", in.Instance.Name)
	}
	pod := &j.Spec.Template.Spec
	script := pod.Containers[0]
	secret := func(key string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: s3.CredentialsSecretRef.Name}, Key: key}}
	}
	env := []corev1.EnvVar{
		{Name: "S3_ENDPOINT", Value: s3.Endpoint},
		{Name: "S3_BUCKET", Value: s3.Bucket},
		{Name: "S3_PREFIX", Value: s3.Prefix},
		{Name: "S3_REGION", Value: s3.Region},
		{Name: "AWS_ACCESS_KEY_ID", ValueFrom: secret("accessKeyID")},
		{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: secret("secretAccessKey")},
		{Name: "BACKUP_ROOT", Value: backupMount},
		{Name: "HOME", Value: "/tmp"},
	}
	agent := corev1.Container{
		Image:                    in.AgentImage,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  []string{AgentBinary, "backup-agent", command},
		Env:                      append(env, extra...),
		VolumeMounts:             []corev1.VolumeMount{{Name: "backup", MountPath: backupMount}, {Name: "tmp", MountPath: "/tmp"}},
		SecurityContext:          script.SecurityContext.DeepCopy(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	switch command {
	case "upload":
		agent.Name = script.Name
		agent.Env = append(agent.Env, corev1.EnvVar{Name: "TERMINATION_LOG", Value: "/dev/termination-log"})
		script.Name = "dump"
		pod.InitContainers = append(pod.InitContainers, script)
		pod.Containers = []corev1.Container{agent}
	case "download":
		agent.Name = "download"
		pod.InitContainers = append(pod.InitContainers, agent)
	default:
		return fmt.Errorf("no backup agent command %q", command)
	}
	return nil
}
