package backup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/internal/backup/agent"
)

// mountSecrets lays out Secrets as the kubelet mounts them: one directory
// per Secret, its keys as links into a timestamped directory behind ..data.
func mountSecrets(t *testing.T, s agent.Secrets) string {
	t.Helper()
	root := t.TempDir()
	for name, data := range s {
		dir := filepath.Join(root, name)
		ts := filepath.Join(dir, "..2026_12_02_03_00_00.000")
		if err := os.MkdirAll(ts, 0o755); err != nil {
			t.Fatal(err)
		}
		for k, v := range data {
			if err := os.WriteFile(filepath.Join(ts, k), v, 0o400); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Join("..data", k), filepath.Join(dir, k)); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	// An optional Secret that does not exist: an empty directory.
	if err := os.MkdirAll(filepath.Join(root, "social-admin"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// The generated Secrets go into the backup encrypted (secrets.age, in
// SHA256SUMS and the manifest), through the bucket, and come back
// byte-identical with the operator-managed key's identity or a
// recipient's; the restore script still reads the rewritten manifest and
// checks secrets.age's checksum.
func TestS3SecretsRoundTrip(t *testing.T) {
	store := startS3(t)
	opID, opPub, _ := agent.NewKey()
	adminID, adminPub, _ := agent.NewKey()
	want := agent.Secrets{
		"social-secrets":  {"SECRET_KEY_BASE": []byte("base\x00\xffé" + strings.Repeat("k", 200)), "VAPID_PRIVATE_KEY": []byte("vapid\n")},
		"social-postgres": {"password": []byte("Zq8")},
	}
	staging := t.TempDir()
	name := "20261202T030000Z"
	fakeBackup(t, staging, name)
	env := store.agentEnv("social", staging, "BACKUP_NAME="+name, "SECRETS_DIR="+mountSecrets(t, want),
		"BACKUP_KEY_RECIPIENT="+opPub, "AGE_RECIPIENTS="+adminPub)
	if out, err := runAgent(t, "upload", env); err != nil || !strings.Contains(out, "2 Secrets encrypted into secrets.age for 2 recipients") {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if got := store.get(t, "social/"+name+"/manifest.json"); !strings.Contains(got, `"file": "secrets.age"`) {
		t.Errorf("the manifest in the bucket does not list secrets.age:\n%s", got)
	}
	if got := store.get(t, "social/"+name+"/SHA256SUMS"); !strings.Contains(got, "  secrets.age\n") {
		t.Errorf("SHA256SUMS does not cover secrets.age:\n%s", got)
	}

	staging2 := t.TempDir()
	if out, err := runAgent(t, "download", store.agentEnv("social", staging2, "BACKUP_NAME="+name)); err != nil {
		t.Fatalf("download: %v\n%s", err, out)
	}
	renv := []string{"BACKUP_ROOT=" + staging2, "BACKUP_NAME=" + name, "DB_KIND=sqlite", "SOFTWARE=gotosocial", "SQLITE_DB=" + filepath.Join(t.TempDir(), "sqlite.db")}
	if out, err := runScript(t, nil, "sh", RestoreScript(), renv...); err != nil || !strings.Contains(out, "taken from gotosocial 0.20.1") {
		t.Fatalf("restore script over the rewritten manifest: %v\n%s", err, out)
	}
	decryptsTo(t, filepath.Join(staging2, name), want, opID, adminID)
	// Damaged secrets.age: the download refuses it.
	b := []byte(store.get(t, "social/"+name+"/secrets.age"))
	b[len(b)-1] ^= 1
	store.put(t, "social/"+name+"/secrets.age", string(b))
	if out, err := runAgent(t, "download", store.agentEnv("social", t.TempDir(), "BACKUP_NAME="+name)); err == nil || !strings.Contains(out, "secrets.age does not match") {
		t.Errorf("download of a damaged secrets.age: %v\n%s", err, out)
	}
}
