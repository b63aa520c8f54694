package backup

import (
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// AgentBinary is the operator binary's path in its image (see Dockerfile).
const AgentBinary = "/fedcommons"

// withAgent adds the backup agent to a backup or restore Job. The script
// container writes to (or reads from) the backup volume at /backup: an
// emptyDir staging the backup for a bucket (s3 set), or the PVC itself.
// Init containers run one after the other, each only once the one before
// it succeeded, so:
//
//   - a backup runs the script as init container "dump", then the agent
//     ("backup"): it uploads the backup and applies the retention in the
//     bucket ("upload"), or adds the Secrets to the backup on the volume
//     ("seal", which learns the backup's name from the script's summary
//     in /tmp): a failed dump uploads or seals nothing;
//   - a restore runs the agent as init container "download" (or "unseal",
//     putting back a volume backup's Secrets), then the script
//     ("restore"): nothing is restored after a download or unseal that
//     failed its checks.
//
// The main container keeps the component's name, so whoever reads the
// Job's termination message ({"name", "size"} for a backup) finds it in
// the same container whatever the destination. The agent runs as the
// script's user, with the same restricted security context, and gets the
// bucket's credentials from the Secret through the environment, never
// through its arguments.
func withAgent(j *batchv1.Job, in Input, s3 *v1alpha1.BackupS3, command string, extra []corev1.EnvVar) error {
	if in.AgentImage == "" {
		return fmt.Errorf("instance %s: its backups carry its Secrets, which needs the operator's image to run the backup agent, and none was given", in.Instance.Name)
	}
	pod := &j.Spec.Template.Spec
	script := pod.Containers[0]
	env := []corev1.EnvVar{{Name: "BACKUP_ROOT", Value: envValue(script, "BACKUP_ROOT")}, {Name: "HOME", Value: "/tmp"}}
	if s3 != nil {
		secret := func(key string) *corev1.EnvVarSource {
			return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
				LocalObjectReference: corev1.LocalObjectReference{Name: s3.CredentialsSecretRef.Name}, Key: key}}
		}
		env = append(env,
			corev1.EnvVar{Name: "S3_ENDPOINT", Value: s3.Endpoint},
			corev1.EnvVar{Name: "S3_BUCKET", Value: s3.Bucket},
			corev1.EnvVar{Name: "S3_PREFIX", Value: s3.Prefix},
			corev1.EnvVar{Name: "S3_REGION", Value: s3.Region},
			corev1.EnvVar{Name: "AWS_ACCESS_KEY_ID", ValueFrom: secret("accessKeyID")},
			corev1.EnvVar{Name: "AWS_SECRET_ACCESS_KEY", ValueFrom: secret("secretAccessKey")})
	}
	agent := corev1.Container{
		Image:                    in.AgentImage,
		ImagePullPolicy:          corev1.PullIfNotPresent,
		Command:                  []string{AgentBinary, "backup-agent", command},
		Env:                      append(env, extra...),
		VolumeMounts:             []corev1.VolumeMount{{Name: "backup", MountPath: backupMount, ReadOnly: command == "unseal"}, {Name: "tmp", MountPath: "/tmp"}},
		SecurityContext:          script.SecurityContext.DeepCopy(),
		TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
	}
	switch command {
	case "upload", "seal":
		agent.Name = script.Name
		agent.Env = append(agent.Env, corev1.EnvVar{Name: "TERMINATION_LOG", Value: "/dev/termination-log"})
		script.Name = "dump"
		if command == "seal" {
			// The script's summary names the backup it took (a scheduled
			// backup names itself after the time it starts).
			setEnv(&script, "TERMINATION_LOG", summaryFile)
			agent.Env = append(agent.Env, corev1.EnvVar{Name: "BACKUP_SUMMARY", Value: summaryFile})
		}
		pod.InitContainers = append(pod.InitContainers, script)
		pod.Containers = []corev1.Container{agent}
	case "download", "unseal":
		agent.Name = command
		pod.InitContainers = append(pod.InitContainers, agent)
	default:
		return fmt.Errorf("no backup agent command %q", command)
	}
	return nil
}

// summaryFile is where a volume backup's script leaves its summary for the
// agent, on the pod's shared /tmp.
const summaryFile = "/tmp/backup-summary.json"

func envValue(c corev1.Container, name string) string {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func setEnv(c *corev1.Container, name, value string) {
	for i := range c.Env {
		if c.Env[i].Name == name {
			c.Env[i].Value = value
			return
		}
	}
	c.Env = append(c.Env, corev1.EnvVar{Name: name, Value: value})
}
