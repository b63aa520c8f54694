package backup

import (
	"slices"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
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
