package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// TestPostgresS3RoundTrip: the exact backup script writes into a staging
// directory, the agent uploads it to a real S3-compatible server, a new
// staging directory is filled by the agent's download, and the exact
// restore script puts it into a new, empty database: same data.
func TestPostgresS3RoundTrip(t *testing.T) {
	s := startPostgres(t)
	store := startS3(t)
	s.psql(t, "postgres", "CREATE DATABASE social")
	s.psql(t, "social", pgSchema)
	before := pgSnapshot(t, s, "social")

	staging := stagingDir(t, s.as)
	env := append(slices.Clone(s.env), "BACKUP_ROOT="+staging, "SOFTWARE=mastodon", "SOFTWARE_VERSION=4.5.2", "DB_KIND=postgres", "PGDATABASE=social")
	// No BACKUP_NAME: the scheduled backup's name is the time; the agent
	// finds the one backup the script wrote.
	if out, err := runScript(t, s.as, "sh", BackupScript(), env...); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	entries, _ := os.ReadDir(staging)
	if len(entries) != 1 {
		t.Fatalf("staging holds %d entries, want the one backup", len(entries))
	}
	name := entries[0].Name()
	term := filepath.Join(t.TempDir(), "termination")
	if out, err := runAgent(t, "upload", store.agentEnv("social/mastodon", staging, "KEEP_LAST=3", "TERMINATION_LOG="+term)); err != nil {
		t.Fatalf("agent upload: %v\n%s", err, out)
	}
	m := checkManifest(t, filepath.Join(staging, name), "mastodon", "postgres", "database.pgdump")
	if got, _ := os.ReadFile(term); !strings.Contains(string(got), `"name": "`+name+`"`) || !strings.Contains(string(got), itoa(int(m.Size))) {
		t.Errorf("termination message %q, want the name %s and size %d", got, name, m.Size)
	}
	want := []string{"social/mastodon/" + name + "/SHA256SUMS", "social/mastodon/" + name + "/database.pgdump", "social/mastodon/" + name + "/manifest.json"}
	if got := store.keys(t); !slices.Equal(got, want) {
		t.Fatalf("bucket holds %v, want %v", got, want)
	}

	// Another cluster: a new, empty database, a new staging directory.
	s.psql(t, "postgres", "DROP DATABASE social")
	s.psql(t, "postgres", "CREATE DATABASE social")
	staging2 := stagingDir(t, s.as)
	if out, err := runAgent(t, "download", store.agentEnv("social/mastodon", staging2, "BACKUP_NAME="+name)); err != nil {
		t.Fatalf("agent download: %v\n%s", err, out)
	}
	renv := append(slices.Clone(env), "BACKUP_ROOT="+staging2, "BACKUP_NAME="+name)
	if out, err := runScript(t, s.as, "sh", RestoreScript(), renv...); err != nil {
		t.Fatalf("restore script: %v\n%s", err, out)
	}
	if after := pgSnapshot(t, s, "social"); after != before {
		t.Errorf("the database restored through the bucket differs:\nbefore:\n%.2000s\nafter:\n%.2000s", before, after)
	}
}

// TestSQLiteS3RoundTrip: a GoToSocial data volume (SQLite in WAL mode and
// media) through the exact scripts and the bucket.
func TestSQLiteS3RoundTrip(t *testing.T) {
	needSQLite(t)
	store := startS3(t)
	data := filepath.Join(t.TempDir(), "storage")
	db := filepath.Join(data, "sqlite.db")
	mustWrite(t, filepath.Join(data, "01ABCDEF", "attachment", "original", "01XYZ.jpeg"), "\xff\xd8\xff\xe0 not really a jpeg")
	mustWrite(t, filepath.Join(data, "01ABCDEF", "avatar", "small", "été ☀.webp"), strings.Repeat("webp", 300000))
	sqlite(t, db, `PRAGMA journal_mode=WAL; CREATE TABLE items (id INTEGER PRIMARY KEY, body BLOB NOT NULL, note TEXT);
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 3000)
INSERT INTO items SELECT i, randomblob(4096), 'ligne ' || i || ' ✓' FROM k;`)
	staging := t.TempDir()
	name := "20261202T030000Z"
	env := []string{"BACKUP_ROOT=" + staging, "BACKUP_NAME=" + name, "SOFTWARE=gotosocial", "SOFTWARE_VERSION=0.20.1",
		"DB_KIND=sqlite", "SQLITE_DB=" + db, "MEDIA_DIR=" + data}
	shell := shells(t)[0] // busybox's sh when present, as in the Job's image
	if out, err := runScript(t, nil, shell, BackupScript(), env...); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	if out, err := runAgent(t, "upload", store.agentEnv("", staging, "BACKUP_NAME="+name, "KEEP_LAST=1")); err != nil {
		t.Fatalf("agent upload: %v\n%s", err, out)
	}
	// A retried Job finds the backup complete in the bucket.
	if out, err := runAgent(t, "upload", store.agentEnv("", staging, "BACKUP_NAME="+name)); err != nil || !strings.Contains(out, "already complete") {
		t.Errorf("second upload: %v\n%s", err, out)
	}

	data2 := filepath.Join(t.TempDir(), "storage")
	staging2 := t.TempDir()
	if out, err := runAgent(t, "download", store.agentEnv("", staging2, "BACKUP_NAME="+name)); err != nil {
		t.Fatalf("agent download: %v\n%s", err, out)
	}
	renv := append(slices.Clone(env), "BACKUP_ROOT="+staging2, "SQLITE_DB="+filepath.Join(data2, "sqlite.db"), "MEDIA_DIR="+data2)
	if out, err := runScript(t, nil, shell, RestoreScript(), renv...); err != nil {
		t.Fatalf("restore script: %v\n%s", err, out)
	}
	q := "SELECT id, hex(sha3(body)), note FROM items ORDER BY id"
	if a, b := sqlite(t, db, q), sqlite(t, filepath.Join(data2, "sqlite.db"), q); a != b || count(t, filepath.Join(data2, "sqlite.db")) != 3000 {
		t.Errorf("the rows restored through the bucket differ from the source's")
	}
	compareTrees(t, data, data2, "sqlite.db")
}

// Retention in the bucket deletes the backups outside it and partial ones
// older than the newest complete backup, and nothing else: not other keys
// under the prefix, not files that are not a backup's inside a backup's
// directory, not keys outside the prefix.
func TestS3RetentionTouchesOnlyBackups(t *testing.T) {
	store := startS3(t)
	staging := t.TempDir()
	names := []string{"20261128T030000Z", "20261129T030000Z", "20261130T030000Z", "20261201T030000Z"}
	for _, n := range names {
		fakeBackup(t, staging, n)
		// No retention while filling the bucket.
		if out, err := runAgent(t, "upload", store.agentEnv("social", staging, "BACKUP_NAME="+n)); err != nil {
			t.Fatalf("upload %s: %v\n%s", n, err, out)
		}
	}
	foreign := []string{
		"social/notes.txt",                          // a file of the sysadmin's
		"social/20261101T000000Z-old/manifest.json", // not a backup's name
		"social/keep/20261101T000000Z/manifest.json",
		"social/20261128T030000Z/README", // inside a pruned backup: not a backup's file
		"socialist/20261101T000000Z/x",   // shares the prefix's letters
		"other/20261101T000000Z/manifest.json",
	}
	for _, k := range foreign {
		store.put(t, k, "not a backup")
	}
	store.put(t, "social/20261127T030000Z/database.sqlite", "cut short") // partial, older: removed
	store.put(t, "social/20261230T030000Z/database.sqlite", "running")   // partial, newer: kept
	fakeBackup(t, staging, "20261202T030000Z")
	out, err := runAgent(t, "upload", store.agentEnv("social", staging, "BACKUP_NAME=20261202T030000Z", "KEEP_LAST=2"))
	if err != nil {
		t.Fatalf("upload with retention: %v\n%s", err, out)
	}
	var backups []string
	got := store.keys(t)
	for _, k := range got {
		if p := strings.Split(k, "/"); len(p) == 3 && p[0] == "social" && strings.HasSuffix(k, "/manifest.json") && agentName(p[1]) {
			backups = append(backups, p[1])
		}
	}
	if want := []string{"20261201T030000Z", "20261202T030000Z"}; !slices.Equal(backups, want) {
		t.Errorf("complete backups left %v, want the 2 newest %v\n%s", backups, want, out)
	}
	for _, k := range append(foreign, "social/20261230T030000Z/database.sqlite") {
		if !slices.Contains(got, k) {
			t.Errorf("%s was deleted: it is not a backup's file\n%s", k, out)
		}
	}
	for _, k := range got {
		if strings.HasPrefix(k, "social/20261127T030000Z/") || k == "social/20261128T030000Z/database.sqlite" {
			t.Errorf("%s is still there: pruning missed it", k)
		}
	}
}

func agentName(s string) bool { _, err := ParseName(s); return err == nil }

// Download refuses a backup cut short (no manifest.json), a part whose
// size or content differs from the manifest, and a backup that is not
// there, and the restore script then refuses the staging directory.
func TestS3DownloadRefusesPartialOrDamaged(t *testing.T) {
	store := startS3(t)
	staging := t.TempDir()
	name := "20261202T030000Z"
	fakeBackup(t, staging, name)
	if out, err := runAgent(t, "upload", store.agentEnv("p", staging, "BACKUP_NAME="+name)); err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	part := "p/" + name + "/database.sqlite"
	good := store.get(t, part)
	download := func(want string) {
		t.Helper()
		staging2 := t.TempDir()
		out, err := runAgent(t, "download", store.agentEnv("p", staging2, "BACKUP_NAME="+name))
		if err == nil || !strings.Contains(out, want) {
			t.Errorf("download: err %v, want a refusal saying %q\n%s", err, want, out)
		}
		renv := []string{"BACKUP_ROOT=" + staging2, "BACKUP_NAME=" + name, "DB_KIND=sqlite", "SQLITE_DB=" + filepath.Join(t.TempDir(), "sqlite.db")}
		if out, err := runScript(t, nil, "sh", RestoreScript(), renv...); err == nil {
			t.Errorf("the restore script accepted what a refused download left:\n%s", out)
		}
	}
	// Same size, one byte changed.
	bad := []byte(good)
	bad[len(bad)/2] ^= 0xff
	store.put(t, part, string(bad))
	download("does not match the sha256")
	store.put(t, part, good+"x")
	download("its manifest says")
	store.put(t, part, good)
	if err := store.client.RemoveObject(context.Background(), testBucket, "p/"+name+"/manifest.json", minio.RemoveObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	download("is incomplete (no manifest.json)")
	out, err := runAgent(t, "download", store.agentEnv("p", t.TempDir(), "BACKUP_NAME=20250101T000000Z"))
	if err == nil || !strings.Contains(out, "no backup 20250101T000000Z in s3://backups/p/") {
		t.Errorf("download of a missing backup: %v\n%s", err, out)
	}
}
