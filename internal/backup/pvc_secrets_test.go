package backup

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/internal/backup/agent"
)

// A scheduled backup on a volume, as its Job runs it: the script names
// the backup itself and leaves its summary in /tmp; the agent ("seal")
// adds the generated Secrets, encrypted, to that backup on the volume and
// says the new size; the restore script still checks every checksum; the
// Secrets decrypt byte-identical; and "unseal" refuses a damaged
// secrets.age before decrypting it.
func TestPVCSecretsRoundTrip(t *testing.T) {
	needSQLite(t)
	opID, opPub, _ := agent.NewKey()
	adminID, adminPub, _ := agent.NewKey()
	want := agent.Secrets{
		"social-secrets":  {"SECRET_KEY_BASE": []byte("base\x00\xffé" + strings.Repeat("k", 200))},
		"social-postgres": {"password": []byte("Zq8")},
	}
	root := filepath.Join(t.TempDir(), "backup", "social")
	tmp := t.TempDir()
	summary := filepath.Join(tmp, "backup-summary.json")
	db := filepath.Join(t.TempDir(), "sqlite.db")
	sqlite(t, db, "CREATE TABLE t (x); INSERT INTO t VALUES ('kept')")
	if out, err := runScript(t, nil, "sh", BackupScript(), "BACKUP_ROOT="+root, "SOFTWARE=gotosocial", "SOFTWARE_VERSION=0.20.1",
		"DB_KIND=sqlite", "SQLITE_DB="+db, "TERMINATION_LOG="+summary, "KEEP_LAST=3"); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	var dumped struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	raw, _ := os.ReadFile(summary)
	if err := json.Unmarshal(raw, &dumped); err != nil || !agent.IsBackupName(dumped.Name) {
		t.Fatalf("the script's summary %q: %v", raw, err)
	}
	seal := []string{"BACKUP_ROOT=" + root, "BACKUP_SUMMARY=" + summary, "SECRETS_DIR=" + mountSecrets(t, want),
		"BACKUP_KEY_RECIPIENT=" + opPub, "AGE_RECIPIENTS=" + adminPub, "TERMINATION_LOG=" + filepath.Join(tmp, "termination-log")}
	if out, err := runAgent(t, "seal", seal); err != nil || !strings.Contains(out, "2 Secrets encrypted into secrets.age for 2 recipients") {
		t.Fatalf("seal: %v\n%s", err, out)
	}
	dir := filepath.Join(root, dumped.Name)
	m := readManifest(t, dir)
	term, _ := os.ReadFile(filepath.Join(tmp, "termination-log"))
	var said struct {
		Name string `json:"name"`
		Size int64  `json:"size"`
	}
	if err := json.Unmarshal(term, &said); err != nil || said.Name != dumped.Name || said.Size != m.Size || m.Size <= dumped.Size {
		t.Errorf("termination message %q: want %s with the manifest's size %d, more than the dump's %d", term, dumped.Name, m.Size, dumped.Size)
	}

	// A retried Job that wrote SHA256SUMS but died before the manifest:
	// the next seal replaces the line, and the checksums still hold.
	before, _ := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if out, err := runAgent(t, "seal", seal); err != nil {
		t.Fatalf("seal again: %v\n%s", err, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "manifest.json")); string(after) != string(before) {
		t.Error("sealing a sealed backup rewrote its manifest")
	}
	var um agent.Manifest
	if err := json.Unmarshal(before, &um); err != nil || um.Parts[len(um.Parts)-1].File != agent.SecretsFile {
		t.Fatalf("manifest %s: %v", before, err)
	}
	um.Size -= um.Parts[len(um.Parts)-1].Size
	um.Parts = um.Parts[:len(um.Parts)-1]
	unsealed, _ := json.MarshalIndent(um, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), append(unsealed, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runAgent(t, "seal", seal); err != nil {
		t.Fatalf("seal after a cut-short seal: %v\n%s", err, out)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, "SHA256SUMS"))
	if n := strings.Count(string(sums), "  secrets.age\n"); n != 1 {
		t.Errorf("SHA256SUMS has %d lines for secrets.age:\n%s", n, sums)
	}
	for _, shell := range []string{"sh", "busybox"} {
		renv := []string{"BACKUP_ROOT=" + root, "BACKUP_NAME=" + dumped.Name, "DB_KIND=sqlite", "SOFTWARE=gotosocial", "SQLITE_DB=" + filepath.Join(t.TempDir(), "sqlite.db")}
		if out, err := runScript(t, nil, shell, RestoreScript(), renv...); err != nil || !strings.Contains(out, "restore of "+dumped.Name+" complete") {
			t.Fatalf("restore script (%s) over the sealed backup: %v\n%s", shell, err, out)
		}
	}
	enc := decryptsTo(t, dir, want, opID, adminID)

	unseal := func(id string) (string, error) {
		return runAgent(t, "unseal", []string{"BACKUP_ROOT=" + root, "BACKUP_NAME=" + dumped.Name, "AGE_IDENTITY=" + id,
			"NAMESPACE=riverside", "SECRET_NAMES=social-secrets,social-postgres,social-admin"})
	}
	// Outside a cluster the agent gets as far as the API: decrypted, the
	// names checked (CreateSecrets is tested against a real API server).
	if out, err := unseal(adminID); err == nil || !strings.Contains(out, "reaching the Kubernetes API to restore the Secrets") {
		t.Errorf("unseal: %v\n%s", err, out)
	}
	other, _, _ := agent.NewKey()
	if out, err := unseal(other); err == nil || !strings.Contains(out, "were not encrypted to the key in spec.restore.identitySecretRef") {
		t.Errorf("unseal with another key: %v\n%s", err, out)
	}
	enc[len(enc)-1] ^= 1
	if err := os.WriteFile(filepath.Join(dir, "secrets.age"), enc, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := unseal(adminID); err == nil || !strings.Contains(out, "secrets.age does not match its manifest") {
		t.Errorf("unseal of a damaged secrets.age: %v\n%s", err, out)
	}
	if out, err := runAgent(t, "unseal", []string{"BACKUP_ROOT=" + root, "BACKUP_NAME=../x", "AGE_IDENTITY=" + adminID}); err == nil || !strings.Contains(out, "is not a backup's name") {
		t.Errorf("unseal of a path: %v\n%s", err, out)
	}
}

// A seal whose script left no summary (the dump failed) seals nothing.
func TestSealWithoutSummary(t *testing.T) {
	root := t.TempDir()
	_, pub, _ := agent.NewKey()
	env := []string{"BACKUP_ROOT=" + root, "BACKUP_SUMMARY=" + filepath.Join(root, "none.json"), "SECRETS_DIR=" + root, "BACKUP_KEY_RECIPIENT=" + pub}
	if out, err := runAgent(t, "seal", env); err == nil || !strings.Contains(out, "the backup script left no summary") {
		t.Errorf("seal without a summary: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(root, "s.json"), []byte(`{"name": "../../etc", "size": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env[1] = "BACKUP_SUMMARY=" + filepath.Join(root, "s.json")
	if out, err := runAgent(t, "seal", env); err == nil || !strings.Contains(out, "names no backup") {
		t.Errorf("seal of a summary naming a path: %v\n%s", err, out)
	}
}

// decryptsTo checks that the backup in dir holds want in secrets.age,
// byte-identical, for each identity, and returns the encrypted file.
func decryptsTo(t *testing.T, dir string, want agent.Secrets, ids ...string) []byte {
	t.Helper()
	enc, err := os.ReadFile(filepath.Join(dir, agent.SecretsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		got, err := agent.DecryptSecrets(enc, id, "test")
		if err != nil {
			t.Fatal(err)
		}
		if !maps.EqualFunc(got, want, func(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }) {
			t.Errorf("decrypted %v, want %v", got, want)
		}
	}
	return enc
}
