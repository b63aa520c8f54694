package backup

import (
	"slices"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/resources"
)

var testS3 = &v1alpha1.BackupS3{Endpoint: "https://s3.example.org", Bucket: "riverside-backups", Prefix: "social", Region: "eu",
	CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "backup-s3"}}

// s3Input is in with its backups, and its restore, in a bucket.
func s3Input(in Input) Input {
	in.AgentImage = "ghcr.io/fedcommons/fedcommons:v1"
	in.Instance.Spec.Backup.Destination = v1alpha1.BackupDestination{S3: testS3}
	if in.Instance.Spec.Restore == nil {
		in.Instance.Spec.Restore = &v1alpha1.RestoreSpec{From: v1alpha1.BackupLocation{Name: "20261202T030000Z"}}
	}
	in.Instance.Spec.Restore.From = v1alpha1.BackupLocation{Name: in.Instance.Spec.Restore.From.Name, S3: testS3}
	return in
}

// The backup of an s3 destination: the script dumps into an emptyDir as an
// init container, then the agent uploads and prunes, with the bucket's
// credentials from the Secret.
func TestBackupCronJobS3(t *testing.T) {
	cj, err := BackupCronJob(s3Input(gts()))
	if err != nil {
		t.Fatal(err)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || len(pod.Containers) != 1 {
		t.Fatalf("init containers %d, containers %d: want the dump, then the agent", len(pod.InitContainers), len(pod.Containers))
	}
	dump, up := pod.InitContainers[0], pod.Containers[0]
	if dump.Name != "dump" || dump.Command[2] != BackupScript() || up.Name != "backup" ||
		!slices.Equal(up.Command, []string{"/fedcommons", "backup-agent", "upload"}) || up.Image != "ghcr.io/fedcommons/fedcommons:v1" {
		t.Errorf("dump %s %v, agent %s %v %s", dump.Name, dump.Command[:2], up.Name, up.Command, up.Image)
	}
	denv, aenv := envOf(dump), envOf(up)
	if _, ok := denv["KEEP_LAST"]; ok || denv["BACKUP_ROOT"] != "/backup" {
		t.Errorf("the script must write to the staging volume and not prune it: %v", denv)
	}
	want := map[string]string{"S3_ENDPOINT": "https://s3.example.org", "S3_BUCKET": "riverside-backups", "S3_PREFIX": "social", "S3_REGION": "eu",
		"AWS_ACCESS_KEY_ID": "secret:backup-s3/accessKeyID", "AWS_SECRET_ACCESS_KEY": "secret:backup-s3/secretAccessKey",
		"BACKUP_ROOT": "/backup", "KEEP_LAST": "5", "KEEP_DAILY": "7", "KEEP_WEEKLY": "4", "TERMINATION_LOG": "/dev/termination-log"}
	for k, v := range want {
		if aenv[k] != v {
			t.Errorf("agent %s = %q, want %q", k, aenv[k], v)
		}
	}
	if strings.Contains(strings.Join(up.Command, " "), "secret") || *up.SecurityContext.RunAsUser != *dump.SecurityContext.RunAsUser {
		t.Errorf("agent command %v, runs as %d (the dump as %d)", up.Command, *up.SecurityContext.RunAsUser, *dump.SecurityContext.RunAsUser)
	}
	for _, v := range pod.Volumes {
		if v.Name == "backup" && v.EmptyDir == nil {
			t.Errorf("backup volume %+v: want an emptyDir for staging", v)
		}
	}
	if !mounted(up, "/backup", false) || !mounted(dump, "/backup", false) {
		t.Error("both containers must mount the staging volume")
	}
}

// A restore from a bucket downloads first (init container), then runs the
// restore script.
func TestRestoreJobS3(t *testing.T) {
	j, err := RestoreJob(s3Input(gts()))
	if err != nil {
		t.Fatal(err)
	}
	pod := j.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Name != "download" || pod.Containers[0].Name != "restore" {
		t.Fatalf("init %v containers %v", pod.InitContainers, pod.Containers)
	}
	dl := pod.InitContainers[0]
	env := envOf(dl)
	if dl.Command[2] != "download" || env["BACKUP_NAME"] != "20261202T030000Z" || env["AWS_SECRET_ACCESS_KEY"] != "secret:backup-s3/secretAccessKey" {
		t.Errorf("download %v env %v", dl.Command, env)
	}
	if envOf(pod.Containers[0])["BACKUP_ROOT"] != "/backup" {
		t.Errorf("the restore script reads %s, not the staging volume", envOf(pod.Containers[0])["BACKUP_ROOT"])
	}
}

// The backup agent reads the generated Secrets (read-only, optional, in
// its container alone) and encrypts them to the operator-managed key and
// the spec's recipients.
func TestBackupJobS3Secrets(t *testing.T) {
	in := s3Input(toot())
	in.Instance.Spec.Backup.Encryption = &v1alpha1.BackupEncryption{Recipients: []string{"age1a", "age1b"}}
	j, err := BackupJob(in, "x", "20261202T030000Z")
	if err != nil {
		t.Fatal(err)
	}
	pod := j.Spec.Template.Spec
	up, dump := pod.Containers[0], pod.InitContainers[0]
	env := envOf(up)
	name := in.Instance.Name
	if env["SECRETS_DIR"] != "/secrets" || env["BACKUP_KEY_RECIPIENT"] != "secret:"+name+"-backup-key/recipient" || env["AGE_RECIPIENTS"] != "age1a,age1b" {
		t.Errorf("agent env %v", env)
	}
	if !mounted(up, "/secrets/"+name+"-secrets", true) || !mounted(up, "/secrets/"+name+"-admin", true) {
		t.Errorf("agent mounts %v: want each carried Secret read-only", up.VolumeMounts)
	}
	// The database's password belongs to one deployment: a restore starts
	// a new database with its own before loading the dump into it.
	if mounted(up, "/secrets/"+name+"-postgres", true) {
		t.Errorf("agent mounts %v: the bundled database's password is not carried", up.VolumeMounts)
	}
	for _, m := range dump.VolumeMounts {
		if strings.HasPrefix(m.MountPath, "/secrets") {
			t.Errorf("the dump container mounts %s: only the agent needs the Secrets", m.MountPath)
		}
	}
	for _, v := range pod.Volumes {
		if v.Secret != nil && (v.Secret.Optional == nil || !*v.Secret.Optional) {
			t.Errorf("Secret volume %s is not optional: an Instance without it could never back up", v.Secret.SecretName)
		}
	}
}

// With spec.restore.identitySecretRef the download step runs as the
// restore ServiceAccount, with the API token in its container alone.
func TestRestoreJobS3Secrets(t *testing.T) {
	in := s3Input(gts())
	in.Instance.Spec.Restore.IdentitySecretRef = &v1alpha1.LocalSecretReference{Name: "old-key"}
	j, err := RestoreJob(in)
	if err != nil {
		t.Fatal(err)
	}
	pod := j.Spec.Template.Spec
	dl, restore := pod.InitContainers[0], pod.Containers[0]
	if pod.ServiceAccountName != in.Instance.Name+"-restore" || *pod.AutomountServiceAccountToken {
		t.Errorf("service account %q automount %v", pod.ServiceAccountName, *pod.AutomountServiceAccountToken)
	}
	if env := envOf(dl); env["AGE_IDENTITY"] != "secret:old-key/identity" || env["NAMESPACE"] != "riverside" || !strings.Contains(env["SECRET_NAMES"], in.Instance.Name+"-secrets,") {
		t.Errorf("download env %v", env)
	}
	if !mounted(dl, "/var/run/secrets/kubernetes.io/serviceaccount", true) || mounted(restore, "/var/run/secrets/kubernetes.io/serviceaccount", true) {
		t.Error("the API token must be in the download container only")
	}
	sa, role, rb := RestoreRBAC(in)
	if sa.Name != pod.ServiceAccountName || rb.RoleRef.Name != role.Name || rb.Subjects[0].Name != sa.Name {
		t.Errorf("RBAC names: %s %s %v", sa.Name, role.Name, rb)
	}
	for _, r := range role.Rules {
		if !slices.Equal(r.Resources, []string{"secrets"}) || len(r.Verbs) != 1 || (r.Verbs[0] != "create" && (r.Verbs[0] != "get" || len(r.ResourceNames) == 0)) {
			t.Errorf("rule %+v: want create on secrets, and get on the Instance's Secrets by name only", r)
		}
	}
}

// A restore from a volume with an identity first has the agent put the
// backup's Secrets back ("unseal", reading the volume read-only), as the
// restore ServiceAccount, with the token in the agent alone.
func TestRestoreJobPVCSecrets(t *testing.T) {
	in := gts()
	in.Instance.Spec.Restore.IdentitySecretRef = &v1alpha1.LocalSecretReference{Name: "old-key"}
	j, err := RestoreJob(in)
	if err != nil {
		t.Fatal(err)
	}
	pod := j.Spec.Template.Spec
	if len(pod.InitContainers) != 1 || len(pod.Containers) != 1 {
		t.Fatalf("init %d, containers %d: want the agent, then the script", len(pod.InitContainers), len(pod.Containers))
	}
	un, restore := pod.InitContainers[0], pod.Containers[0]
	env := envOf(un)
	if un.Name != "unseal" || !slices.Equal(un.Command, []string{AgentBinary, "backup-agent", "unseal"}) || env["BACKUP_ROOT"] != "/backup/a/b" ||
		env["BACKUP_NAME"] != "20261202T030000Z" || env["AGE_IDENTITY"] != "secret:old-key/identity" || env["NAMESPACE"] != "riverside" ||
		env["SECRET_NAMES"] != strings.Join(resources.CarriedSecretNames(in.Instance.Name), ",") || env["S3_BUCKET"] != "" {
		t.Errorf("unseal %s %v env %v", un.Name, un.Command, env)
	}
	if !mounted(un, "/backup", true) || mounted(un, "/backup", false) || !mounted(un, "/var/run/secrets/kubernetes.io/serviceaccount", true) ||
		mounted(restore, "/var/run/secrets/kubernetes.io/serviceaccount", true) || pod.ServiceAccountName != RestoreAccountName(in.Instance) {
		t.Errorf("unseal mounts %+v, restore mounts %+v, account %s", un.VolumeMounts, restore.VolumeMounts, pod.ServiceAccountName)
	}
}

func TestKeySecret(t *testing.T) {
	inst := gts().Instance
	s := KeySecret(inst, gts().Params, "AGE-SECRET-KEY-1X", "age1x")
	if s.Name != inst.Name+"-backup-key" || !*s.Immutable || len(s.OwnerReferences) != 0 || string(s.Data["identity"]) != "AGE-SECRET-KEY-1X" || string(s.Data["recipient"]) != "age1x" {
		t.Errorf("key Secret %+v: want immutable, not owned by the Instance (it outlives it), with identity and recipient", s)
	}
}
