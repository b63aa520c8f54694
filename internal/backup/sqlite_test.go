package backup

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func needSQLite(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 not found: install Debian's sqlite3 (apt-get install sqlite3) to run the SQLite round trip")
	}
}

func sqlite(t *testing.T, db, sql string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", "-bail", "-cmd", ".timeout 30000", db, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s: %v\n%s", sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// writer inserts rows into db, one transaction each, until stopped: each
// adds item k and sets totals.n to k, so a consistent snapshot has
// count(items) == max(id) == totals.n.
type writer struct {
	cmd  *exec.Cmd
	in   *bufio.Writer
	stop chan struct{}
	done chan error
}

func startWriter(t *testing.T, db string, from int) *writer {
	t.Helper()
	w := &writer{cmd: exec.Command("sqlite3", "-bail", db), stop: make(chan struct{}), done: make(chan error, 1)}
	pipe, err := w.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	w.cmd.Stdout, w.cmd.Stderr = os.Stderr, os.Stderr
	if err := w.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.in = bufio.NewWriter(pipe)
	go func() {
		fmt.Fprintln(w.in, ".timeout 30000")
		for k := from; ; k++ {
			select {
			case <-w.stop:
				w.in.Flush()
				pipe.Close()
				w.done <- w.cmd.Wait()
				return
			default:
			}
			fmt.Fprintf(w.in, "BEGIN IMMEDIATE; INSERT INTO items (id, body, note) VALUES (%d, randomblob(4096), 'écrit pendant la sauvegarde %d 🗄'); UPDATE totals SET n = %d; COMMIT;\n", k, k, k)
			w.in.Flush()
		}
	}()
	t.Cleanup(func() { _ = w.cmd.Process.Kill() })
	return w
}

func (w *writer) Stop(t *testing.T) {
	t.Helper()
	close(w.stop)
	if err := <-w.done; err != nil {
		t.Fatalf("writer: %v", err)
	}
}

func count(t *testing.T, db string) int {
	t.Helper()
	n, err := strconv.Atoi(sqlite(t, db, "SELECT count(*) FROM items"))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSQLiteRoundTrip lays out a GoToSocial data volume (sqlite.db in WAL
// mode next to the media), backs it up with the exact backup script while
// another process keeps writing, restores it into an empty volume, and
// compares.
func TestSQLiteRoundTrip(t *testing.T) {
	needSQLite(t)
	for _, shell := range shells(t) {
		t.Run(shell, func(t *testing.T) { sqliteRoundTrip(t, shell) })
	}
}

func sqliteRoundTrip(t *testing.T, shell string) {
	data := filepath.Join(t.TempDir(), "storage") // the data volume
	db := filepath.Join(data, "sqlite.db")
	mustWrite(t, filepath.Join(data, "01ABCDEF", "attachment", "original", "01XYZ.jpeg"), "\xff\xd8\xff\xe0 not really a jpeg")
	mustWrite(t, filepath.Join(data, "01ABCDEF", "avatar", "small", "été ☀.webp"), strings.Repeat("webp", 10000))
	mustWrite(t, filepath.Join(data, "empty"), "")
	sqlite(t, db, `PRAGMA journal_mode=WAL;
CREATE TABLE items (id INTEGER PRIMARY KEY, body BLOB NOT NULL, note TEXT);
CREATE TABLE totals (n INTEGER NOT NULL); INSERT INTO totals VALUES (0);
WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < 5000)
INSERT INTO items SELECT i, randomblob(4096), 'ligne ' || i || ' ✓' FROM k;
UPDATE totals SET n = 5000;`)

	w := startWriter(t, db, 5001)
	for count(t, db) < 5050 { // the writer is running
		time.Sleep(10 * time.Millisecond)
	}
	root := filepath.Join(t.TempDir(), "pvc", "social")
	name := "20261202T030000Z"
	env := []string{"BACKUP_ROOT=" + root, "BACKUP_NAME=" + name, "SOFTWARE=gotosocial", "SOFTWARE_VERSION=0.20.1",
		"DB_KIND=sqlite", "SQLITE_DB=" + db, "MEDIA_DIR=" + data, "KEEP_LAST=2"}
	startCount := count(t, db)
	out, err := runScript(t, nil, shell, BackupScript(), env...)
	if err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	endCount := count(t, db)
	w.Stop(t)
	if endCount <= startCount {
		t.Fatalf("the writer wrote nothing while the backup ran (%d rows before, %d after): the test shows nothing", startCount, endCount)
	}
	dir := filepath.Join(root, name)
	checkManifest(t, dir, "gotosocial", "sqlite", "database.sqlite", "media.tar")
	tarList, err := exec.Command("tar", "-tf", filepath.Join(dir, "media.tar")).CombinedOutput()
	if err != nil || strings.Contains(string(tarList), "sqlite.db") || !strings.Contains(string(tarList), "01XYZ.jpeg") {
		t.Errorf("media.tar must hold the media and not the live database (%v):\n%s", err, tarList)
	}

	// The backup is one consistent moment taken while the writer ran.
	snap := filepath.Join(dir, "database.sqlite")
	n := count(t, snap)
	if got := sqlite(t, snap, "SELECT max(id) || ' ' || (SELECT n FROM totals) FROM items"); got != fmt.Sprintf("%d %d", n, n) {
		t.Errorf("the backup is not consistent: %d items, max(id) and totals.n = %s", n, got)
	}
	if n < startCount || n > endCount {
		t.Errorf("the backup holds %d items, not between the %d before and the %d after it ran", n, startCount, endCount)
	}

	// Restore into a new, empty data volume.
	data2 := filepath.Join(t.TempDir(), "storage")
	db2 := filepath.Join(data2, "sqlite.db")
	renv := append(env[:len(env):len(env)], "SQLITE_DB="+db2, "MEDIA_DIR="+data2)
	out, err = runScript(t, nil, shell, RestoreScript(), renv...)
	if err != nil {
		t.Fatalf("restore script: %v\n%s", err, out)
	}
	if !strings.Contains(out, "was taken from gotosocial 0.20.1; this Instance runs 0.20.1") {
		t.Errorf("the restore does not say which version the backup came from:\n%s", out)
	}
	q := fmt.Sprintf("SELECT id, hex(sha3(body)), note FROM items WHERE id <= %d ORDER BY id", n)
	if a, b := sqlite(t, db, q), sqlite(t, db2, q); a != b {
		t.Errorf("the restored rows differ from the source's first %d rows", n)
	}
	if got := count(t, db2); got != n {
		t.Errorf("restored %d items, the backup has %d", got, n)
	}
	if got := sqlite(t, db2, "PRAGMA integrity_check"); got != "ok" {
		t.Errorf("restored database: integrity_check = %s", got)
	}
	compareTrees(t, data, data2, "sqlite.db")

	// A retried restore Job finds its work done; a restore over another
	// database is refused.
	if out, err := runScript(t, nil, shell, RestoreScript(), renv...); err != nil || !strings.Contains(out, "already restored") {
		t.Errorf("second restore: %v\n%s", err, out)
	}
	sqlite(t, db2, "INSERT INTO items (id, body) VALUES (999999, x'00')")
	if out, err := runScript(t, nil, shell, RestoreScript(), renv...); err == nil || !strings.Contains(out, "a database already exists") {
		t.Errorf("restore over another database: err %v, want a refusal\n%s", err, out)
	}
}

// compareTrees checks that b holds the same files as a, byte for byte,
// except those whose name starts with skip.
func compareTrees(t *testing.T, a, b, skip string) {
	t.Helper()
	files := func(root string) map[string]string {
		m := map[string]string{}
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), skip) {
				return err
			}
			c, err := os.ReadFile(p)
			rel, _ := filepath.Rel(root, p)
			m[rel] = string(c)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	fa, fb := files(a), files(b)
	if len(fa) != len(fb) {
		t.Errorf("media: %d files backed up, %d restored", len(fa), len(fb))
	}
	for k, v := range fa {
		if fb[k] != v {
			t.Errorf("media file %s was not restored as it was", k)
		}
	}
}

// A new GoToSocial has a database and no media yet: the archive is empty,
// and it restores. A retried backup Job with a fixed name (the one-off
// backup before an upgrade) succeeds whether its first attempt finished or
// was cut short.
func TestSQLiteNoMediaYet(t *testing.T) {
	needSQLite(t)
	for _, shell := range shells(t) {
		t.Run(shell, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "storage")
			db := filepath.Join(data, "sqlite.db")
			if err := os.MkdirAll(data, 0o755); err != nil {
				t.Fatal(err)
			}
			sqlite(t, db, "PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES ('première')")
			root := filepath.Join(t.TempDir(), "backups")
			env := []string{"BACKUP_ROOT=" + root, "BACKUP_NAME=20261202T030000Z", "SOFTWARE=gotosocial", "SOFTWARE_VERSION=0.20.1", "DB_KIND=sqlite", "SQLITE_DB=" + db, "MEDIA_DIR=" + data}
			if out, err := runScript(t, nil, shell, BackupScript(), env...); err != nil {
				t.Fatalf("backup: %v\n%s", err, out)
			}
			// A retried Job: a complete backup stands, a partial one is redone.
			if out, err := runScript(t, nil, shell, BackupScript(), env...); err != nil || !strings.Contains(out, "already complete") {
				t.Errorf("backup again under the same name: %v\n%s", err, out)
			}
			partial := filepath.Join(root, "20261202T040000Z")
			mustWrite(t, filepath.Join(partial, "database.sqlite"), "cut short")
			if out, err := runScript(t, nil, shell, BackupScript(), append(env, "BACKUP_NAME=20261202T040000Z")...); err != nil || !strings.Contains(out, "an earlier attempt cut short") {
				t.Errorf("backup over a partial attempt: %v\n%s", err, out)
			}
			checkManifest(t, partial, "gotosocial", "sqlite", "database.sqlite", "media.tar")
			data2 := filepath.Join(t.TempDir(), "storage")
			if out, err := runScript(t, nil, shell, RestoreScript(), append(env, "SQLITE_DB="+filepath.Join(data2, "sqlite.db"), "MEDIA_DIR="+data2)...); err != nil {
				t.Fatalf("restore: %v\n%s", err, out)
			}
			if got := sqlite(t, filepath.Join(data2, "sqlite.db"), "SELECT x FROM t"); got != "première" {
				t.Errorf("restored %q", got)
			}
		})
	}
}
