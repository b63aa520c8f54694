package backup

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

func pvcBackup(schedule string) *v1alpha1.BackupSpec {
	return &v1alpha1.BackupSpec{Schedule: schedule, Retention: &v1alpha1.BackupRetention{KeepLast: 5, KeepDaily: 7, KeepWeekly: 4},
		Destination: v1alpha1.BackupDestination{PVC: &v1alpha1.BackupPVC{ClaimName: "backups"}}}
}

// gts is a GoToSocial on SQLite with its name at the admission limit (47).
func gts() Input {
	return Input{Profile: software.GoToSocial, Version: "0.20.1", Params: resources.Params{Community: "riverside"}, AgentImage: testAgentImage,
		Instance: &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("g", 47), Namespace: "riverside"}, Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: "social.riverside.example", Backup: pvcBackup("0 3 * * *"),
			Restore: &v1alpha1.RestoreSpec{From: v1alpha1.BackupLocation{Name: "20261202T030000Z", PVC: &v1alpha1.BackupPVC{ClaimName: "old", SubPath: "a/b"}}}}}}
}

// toot is a Mastodon on bundled PostgreSQL with media in S3, its name at the limit (31).
func toot() Input {
	return Input{Profile: software.Mastodon, Version: "4.5.2", PostgresServerImage: resources.PostgresImage, AgentImage: testAgentImage,
		Instance: &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Name: strings.Repeat("t", 31), Namespace: "riverside"}, Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareMastodon, Version: "4.5.2", Domain: "toot.riverside.example", Backup: pvcBackup("15 2 * * *"),
			Storage: &v1alpha1.StorageSpec{S3: &v1alpha1.S3Storage{Endpoint: "s3.example.org", Bucket: "media", CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "s3"}}}}}}
}

const testAgentImage = "ghcr.io/fedcommons/fedcommons:v1"

// scriptOf is the container of a backup or restore pod that runs a
// script (the agent's run the operator's binary).
func scriptOf(t *testing.T, pod corev1.PodSpec) corev1.Container {
	t.Helper()
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		if c.Command[0] == "/bin/sh" {
			return c
		}
	}
	t.Fatalf("no script container in %+v", pod)
	return corev1.Container{}
}

func envOf(c corev1.Container) map[string]string {
	m := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			m[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		} else {
			m[e.Name] = e.Value
		}
	}
	return m
}

func TestBackupCronJobSQLite(t *testing.T) {
	cj, err := BackupCronJob(gts())
	if err != nil {
		t.Fatal(err)
	}
	if len(cj.Name) > 52 {
		t.Errorf("CronJob name %s is %d characters, Kubernetes allows 52", cj.Name, len(cj.Name))
	}
	if cj.Spec.Schedule != "0 3 * * *" || *cj.Spec.TimeZone != "Etc/UTC" || cj.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
		t.Errorf("schedule %q tz %v concurrency %s", cj.Spec.Schedule, *cj.Spec.TimeZone, cj.Spec.ConcurrencyPolicy)
	}
	pod := cj.Spec.JobTemplate.Spec.Template.Spec
	c := pod.InitContainers[0]
	if c.Name != "dump" || c.Image != SQLiteImage || c.Command[2] != BackupScript() {
		t.Errorf("image %s, script is the backup script: %v", c.Image, c.Command[2] == BackupScript())
	}
	want := map[string]string{"BACKUP_ROOT": "/backup/" + strings.Repeat("g", 47), "DB_KIND": "sqlite", "SQLITE_DB": "/gotosocial/storage/sqlite.db",
		"MEDIA_DIR": "/gotosocial/storage", "SOFTWARE": "gotosocial", "SOFTWARE_VERSION": "0.20.1", "KEEP_LAST": "5", "KEEP_DAILY": "7", "KEEP_WEEKLY": "4"}
	env := envOf(c)
	for k, v := range want {
		if env[k] != v {
			t.Errorf("%s = %q, want %q", k, env[k], v)
		}
	}
	if *pod.SecurityContext.RunAsUser != 1000 || pod.Affinity == nil {
		t.Errorf("runs as %d (want GoToSocial's 1000, to own what it writes); affinity %v", *pod.SecurityContext.RunAsUser, pod.Affinity)
	}
	if !mounted(c, "/gotosocial/storage", false) || !mounted(c, "/backup", false) {
		t.Errorf("mounts %+v: want the data volume writable (SQLite's -shm) and the backup volume", c.VolumeMounts)
	}

	// On the volume, the agent then adds the Secrets to the backup the
	// script names in its summary, and says the backup's end.
	seal := pod.Containers[0]
	senv := envOf(seal)
	if seal.Name != "backup" || seal.Image != testAgentImage || !slices.Equal(seal.Command, []string{AgentBinary, "backup-agent", "seal"}) ||
		senv["BACKUP_ROOT"] != want["BACKUP_ROOT"] || senv["BACKUP_SUMMARY"] != env["TERMINATION_LOG"] || !strings.HasPrefix(env["TERMINATION_LOG"], "/tmp/") ||
		senv["TERMINATION_LOG"] != "/dev/termination-log" || senv["SECRETS_DIR"] != "/secrets" ||
		senv["BACKUP_KEY_RECIPIENT"] != "secret:"+strings.Repeat("g", 47)+"-backup-key/recipient" {
		t.Errorf("seal container %s %v env %v; script's TERMINATION_LOG %s", seal.Name, seal.Command, senv, env["TERMINATION_LOG"])
	}
	if !mounted(seal, "/backup", false) || !mounted(seal, "/tmp", false) || !mounted(seal, "/secrets/"+strings.Repeat("g", 47)+"-secrets", true) || mounted(c, "/secrets/"+strings.Repeat("g", 47)+"-secrets", true) {
		t.Errorf("seal mounts %+v, script mounts %+v: the Secrets are mounted into the agent alone", seal.VolumeMounts, c.VolumeMounts)
	}
}

func TestBackupJobPostgresMediaInS3(t *testing.T) {
	j, err := BackupJob(toot(), "pre-upgrade", "20261202T030000Z")
	if err != nil {
		t.Fatal(err)
	}
	c := scriptOf(t, j.Spec.Template.Spec)
	env := envOf(c)
	if c.Image != "docker.io/library/postgres:17-alpine" || env["PGHOST"] != strings.Repeat("t", 31)+"-postgres" ||
		env["PGPASSWORD"] != "secret:"+strings.Repeat("t", 31)+"-postgres/password" || env["PGDATABASE"] != "mastodon" || env["BACKUP_NAME"] != "20261202T030000Z" {
		t.Errorf("image %s env %v", c.Image, env)
	}
	if _, ok := env["MEDIA_DIR"]; ok || slices.ContainsFunc(j.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == "data" }) {
		t.Errorf("media is in S3: no MEDIA_DIR and no data volume; got env %v volumes %v", env, j.Spec.Template.Spec.Volumes)
	}
	if _, err := BackupJob(toot(), "pre-upgrade", "latest"); err == nil {
		t.Error("a backup named latest was accepted")
	}
}

func TestRestoreJob(t *testing.T) {
	j, err := RestoreJob(gts())
	if err != nil {
		t.Fatal(err)
	}
	c := j.Spec.Template.Spec.Containers[0]
	env := envOf(c)
	if j.Name != strings.Repeat("g", 47)+"-restore" || c.Command[2] != RestoreScript() || env["BACKUP_NAME"] != "20261202T030000Z" || env["BACKUP_ROOT"] != "/backup/a/b" {
		t.Errorf("name %s env %v", j.Name, env)
	}
	if len(j.Name) > 63 || j.Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "old" || !mounted(c, "/gotosocial/storage", false) {
		t.Errorf("restore Job %s: volumes %+v mounts %+v", j.Name, j.Spec.Template.Spec.Volumes, c.VolumeMounts)
	}
}

// The builders refuse what they cannot do, in words a sysadmin reads.
func TestBuildersRefuse(t *testing.T) {
	in := s3Input(toot())
	in.AgentImage = ""
	if _, err := BackupCronJob(in); err == nil || !strings.Contains(err.Error(), "needs the operator's image to run the backup agent") {
		t.Errorf("s3 destination without the agent's image: %v", err)
	}
	in = toot()
	in.AgentImage = ""
	if _, err := BackupCronJob(in); err == nil || !strings.Contains(err.Error(), "needs the operator's image to run the backup agent") {
		t.Errorf("pvc destination without the agent's image (its Secrets go into the backup): %v", err)
	}
	in = toot()
	in.PostgresServerImage = "postgres:latest"
	if _, err := BackupCronJob(in); err == nil || !strings.Contains(err.Error(), "major version") {
		t.Errorf("untagged server image: %v", err)
	}
}

// Every variable the Jobs set is one the scripts read, so a renamed
// variable cannot silently drop a setting.
func TestJobEnvIsReadByScripts(t *testing.T) {
	cj, _ := BackupCronJob(gts())
	bj, _ := BackupJob(toot(), "x", "20261202T030000Z")
	rj, _ := RestoreJob(gts())
	for _, c := range []corev1.Container{scriptOf(t, cj.Spec.JobTemplate.Spec.Template.Spec), scriptOf(t, bj.Spec.Template.Spec), scriptOf(t, rj.Spec.Template.Spec)} {
		for _, e := range c.Env {
			if strings.HasPrefix(e.Name, "PG") || e.Name == "HOME" {
				continue // read by pg_dump, pg_restore and psql themselves
			}
			if !regexp.MustCompile(`\$\{?` + e.Name + `\b`).MatchString(c.Command[2]) {
				t.Errorf("%s sets %s, which its script never reads", c.Name, e.Name)
			}
		}
	}
}

func TestPodSecurityRestricted(t *testing.T) {
	ev, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	level := psapi.LevelVersion{Level: psapi.LevelRestricted, Version: psapi.LatestVersion()}
	cj, _ := BackupCronJob(gts())
	bj, _ := BackupJob(toot(), "x", "20261202T030000Z")
	rj, _ := RestoreJob(gts())
	s3cj, err := BackupCronJob(s3Input(gts()))
	s3in := s3Input(gts())
	s3in.Instance.Spec.Restore.IdentitySecretRef = &v1alpha1.LocalSecretReference{Name: "k"}
	if err != nil {
		t.Fatal(err)
	}
	s3rj, err := RestoreJob(s3in)
	if err != nil {
		t.Fatal(err)
	}
	for _, tmpl := range []corev1.PodTemplateSpec{cj.Spec.JobTemplate.Spec.Template, bj.Spec.Template, rj.Spec.Template, s3cj.Spec.JobTemplate.Spec.Template, s3rj.Spec.Template} {
		r := policy.AggregateCheckResults(ev.EvaluatePod(level, &tmpl.ObjectMeta, &tmpl.Spec))
		if !r.Allowed {
			t.Errorf("%s violates restricted: %s: %s", tmpl.Spec.Containers[0].Name, r.ForbiddenReason(), r.ForbiddenDetail())
		}
	}
}

func TestLocation(t *testing.T) {
	in := gts().Instance
	if got := Location(in, in.Spec.Backup.Destination, "20261202T030000Z"); got != "pvc://backups/"+in.Name+"/20261202T030000Z" {
		t.Errorf("pvc location %s", got)
	}
	s3 := v1alpha1.BackupDestination{S3: &v1alpha1.BackupS3{Bucket: "b", Prefix: "social/"}}
	if got := Location(in, s3, "20261202T030000Z"); got != "s3://b/social/20261202T030000Z" {
		t.Errorf("s3 location %s", got)
	}
}

func mounted(c corev1.Container, path string, readOnly bool) bool {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path && m.ReadOnly == readOnly {
			return true
		}
	}
	return false
}
