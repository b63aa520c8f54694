package backup

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pgBinDir is PostgreSQL's bin directory: $PG_BINDIR, or the newest of
// Debian's /usr/lib/postgresql/*/bin.
func pgBinDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("PG_BINDIR"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	major := func(d string) int { n, _ := strconv.Atoi(filepath.Base(filepath.Dir(d))); return n }
	slices.SortFunc(dirs, func(a, b string) int { return major(a) - major(b) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	t.Skip("PostgreSQL not found: install Debian's postgresql (apt-get install postgresql) or set PG_BINDIR to the directory holding initdb, pg_ctl and pg_dump")
	return ""
}

// pgServer is a PostgreSQL started by the test in a temporary directory,
// listening on a unix socket only.
type pgServer struct {
	bin, sock string
	as        *runAs
	env       []string
}

func startPostgres(t *testing.T) *pgServer {
	t.Helper()
	bin := pgBinDir(t)
	as := nonRoot(t)
	dir := sharedDir(t, as)
	s := &pgServer{bin: bin, sock: dir, as: as}
	s.env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "PGHOST=" + dir, "PGPORT=5432", "PGUSER=fedcommons", "PGPASSWORD=unused"}
	data := filepath.Join(dir, "data")
	s.run(t, filepath.Join(bin, "initdb"), "-D", data, "--auth=trust", "-U", "fedcommons", "--encoding=UTF8", "--no-locale")
	s.run(t, filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "60",
		"-o", fmt.Sprintf("-k %s -c listen_addresses='' -p 5432 -c fsync=off", dir), "start")
	t.Cleanup(func() {
		c := as.cmd(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		_ = c.Run()
	})
	return s
}

func (s *pgServer) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	c := s.as.cmd(name, args...)
	c.Env = append(os.Environ(), s.env...)
	out, err := c.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(s.sock, "log"))
		t.Fatalf("%s %v: %v\n%s\n%s", name, args, err, out, log)
	}
	return string(out)
}

// psql runs SQL in database db and returns the unaligned, tuples-only output.
func (s *pgServer) psql(t *testing.T, db, sql string) string {
	t.Helper()
	return s.run(t, filepath.Join(s.bin, "psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql)
}

// pgSchema has what a Mastodon database has that a dump can lose: unicode
// text, bytea with NUL bytes, a large object, jsonb, a sequence that must
// keep its position, a foreign key, a view and an index.
const pgSchema = `
CREATE TABLE accounts (id bigserial PRIMARY KEY, username text NOT NULL UNIQUE, note text, created_at timestamptz NOT NULL);
CREATE TABLE statuses (id bigserial PRIMARY KEY, account_id bigint NOT NULL REFERENCES accounts(id), text text, data bytea, meta jsonb, avatar oid);
CREATE INDEX statuses_account ON statuses(account_id);
CREATE VIEW status_counts AS SELECT account_id, count(*) AS n FROM statuses GROUP BY account_id;
INSERT INTO accounts (username, note, created_at) VALUES
  ('alice', 'Ĉu vi parolas Esperanton? 🌍', '2026-01-02 03:04:05+00'),
  ('bob', E'multi\nline\ttabbed "quoted" ''single''', '2026-02-03 04:05:06+00'),
  ('zoë', repeat('長い文章', 5000), '2026-03-04 05:06:07+00');
INSERT INTO statuses (account_id, text, data, meta, avatar)
  SELECT 1 + i % 3, 'status ' || i || ' ✨ ' || md5(i::text), decode('00ff' || md5(i::text) || '00', 'hex'),
         jsonb_build_object('n', i, 'tags', jsonb_build_array('fédération', 'co-op')), NULL
  FROM generate_series(1, 500) AS i;
UPDATE statuses SET avatar = lo_from_bytea(0, decode(repeat(md5(id::text), 2000), 'hex')) WHERE id % 100 = 0;
DELETE FROM statuses WHERE id = 250;
`

// pgSnapshot reads every row of the test schema in a fixed order, large
// objects by content, and the sequences' positions.
func pgSnapshot(t *testing.T, s *pgServer, db string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, username, note, created_at FROM accounts ORDER BY id`,
		`SELECT id, account_id, text, encode(data, 'hex'), meta::text, CASE WHEN avatar IS NULL THEN '' ELSE md5(lo_get(avatar)) END FROM statuses ORDER BY id`,
		`SELECT * FROM status_counts ORDER BY account_id`,
		`SELECT last_value FROM accounts_id_seq`,
		`SELECT last_value FROM statuses_id_seq`,
		`SELECT count(*) FROM pg_largeobject_metadata`,
		`SELECT indexname FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1`,
	} {
		b.WriteString(s.psql(t, db, q))
	}
	return b.String()
}

func TestPostgresRoundTrip(t *testing.T) {
	s := startPostgres(t)
	for _, shell := range shells(t) {
		t.Run(shell, func(t *testing.T) { postgresRoundTrip(t, s, shell) })
	}
}

func postgresRoundTrip(t *testing.T, s *pgServer, shell string) {
	s.psql(t, "postgres", "DROP DATABASE IF EXISTS social")
	s.psql(t, "postgres", "CREATE DATABASE social")
	s.psql(t, "social", pgSchema)
	before := pgSnapshot(t, s, "social")
	if !strings.Contains(before, "🌍") || !strings.Contains(before, "\n5\n") {
		t.Fatalf("the test data is not what it should be:\n%.400s", before)
	}

	root := filepath.Join(sharedDir(t, s.as), "pvc", "social") // the PVC's subPath
	name := Name(time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC))
	env := append(slices.Clone(s.env), "BACKUP_ROOT="+root, "BACKUP_NAME="+name, "SOFTWARE=mastodon", "SOFTWARE_VERSION=4.5.2",
		"DB_KIND=postgres", "PGDATABASE=social", "KEEP_LAST=3", "TERMINATION_LOG="+filepath.Join(s.sock, "termination"))
	if out, err := runScript(t, s.as, shell, BackupScript(), env...); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	m := checkManifest(t, filepath.Join(root, name), "mastodon", "postgres", "database.pgdump")
	if term, _ := os.ReadFile(filepath.Join(s.sock, "termination")); string(term) != fmt.Sprintf("{\"name\": \"%s\", \"size\": %d}\n", name, m.Size) {
		t.Errorf("termination message = %q", term)
	}

	// Restoring over data is refused and leaves the data alone.
	if out, err := runScript(t, s.as, shell, RestoreScript(), env...); err == nil || !strings.Contains(out, "is not empty") {
		t.Fatalf("restore into a database with data: err %v, want a refusal\n%s", err, out)
	}

	// The Instance is gone; a new one gets a new, empty database.
	s.psql(t, "postgres", "DROP DATABASE social")
	s.psql(t, "postgres", "CREATE DATABASE social")
	if out, err := runScript(t, s.as, shell, RestoreScript(), env...); err != nil {
		t.Fatalf("restore script: %v\n%s", err, out)
	}
	if after := pgSnapshot(t, s, "social"); after != before {
		t.Errorf("the restored database differs from the one backed up:\nbefore:\n%.2000s\nafter:\n%.2000s", before, after)
	}
}

// A backup cut short has no manifest: restore refuses it, and a damaged
// part fails its checksum, before anything is written.
func TestPostgresRestoreRefusesIncompleteOrDamaged(t *testing.T) {
	s := startPostgres(t)
	s.psql(t, "postgres", "CREATE DATABASE social")
	s.psql(t, "social", "CREATE TABLE t (x text); INSERT INTO t VALUES ('kept')")
	root := filepath.Join(sharedDir(t, s.as), "backups")
	env := append(slices.Clone(s.env), "BACKUP_ROOT="+root, "BACKUP_NAME=20261202T030000Z", "SOFTWARE=mastodon", "SOFTWARE_VERSION=4.5.2", "DB_KIND=postgres", "PGDATABASE=social")
	if out, err := runScript(t, s.as, "sh", BackupScript(), env...); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	s.psql(t, "postgres", "CREATE DATABASE fresh")
	restoreEnv := append(slices.Clone(env), "PGDATABASE=fresh")
	dump := filepath.Join(root, "20261202T030000Z", "database.pgdump")
	b, _ := os.ReadFile(dump)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(dump, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runScript(t, s.as, "sh", RestoreScript(), restoreEnv...); err == nil || !strings.Contains(out, "does not match its checksums") {
		t.Errorf("restore of a damaged backup: err %v, want a refusal\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(root, "20261202T030000Z", "manifest.json")); err != nil {
		t.Fatal(err)
	}
	if out, err := runScript(t, s.as, "sh", RestoreScript(), restoreEnv...); err == nil || !strings.Contains(out, "is incomplete (no manifest.json)") {
		t.Errorf("restore of a backup without manifest: err %v, want a refusal\n%s", err, out)
	}
	if n := strings.TrimSpace(s.psql(t, "fresh", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")); n != "0" {
		t.Errorf("a refused restore wrote %s tables", n)
	}
}
