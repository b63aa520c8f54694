package backup

import (
	"bytes"
	"context"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fedcommons/fedcommons/internal/backup/agent"
)

// s3Server is a real S3-compatible server in this process: gofakes3 (the
// library behind rclone's serve s3) with its in-memory backend, behind a
// real HTTP listener on 127.0.0.1. Debian packages no S3 server to start
// instead. It checks no signatures, so the credentials are any; it
// decodes minio-go's aws-chunked uploads (STREAMING-AWS4-HMAC-SHA256-PAYLOAD,
// used over plain HTTP) itself.
type s3Server struct {
	url    string
	client *minio.Client
}

const testBucket = "backups"

func startS3(t *testing.T) *s3Server {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	t.Cleanup(srv.Close)
	c, err := minio.New(strings.TrimPrefix(srv.URL, "http://"), &minio.Options{Creds: credentials.NewStaticV4("test", "test-secret", "")})
	if err != nil {
		t.Fatal(err)
	}
	return &s3Server{url: srv.URL, client: c}
}

// agentEnv is the environment the backup Job gives the agent.
func (s *s3Server) agentEnv(prefix, staging string, more ...string) []string {
	return append([]string{"S3_ENDPOINT=" + s.url, "S3_BUCKET=" + testBucket, "S3_PREFIX=" + prefix, "S3_REGION=us-east-1",
		"AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test-secret", "BACKUP_ROOT=" + staging}, more...)
}

// runAgent runs `fedcommons backup-agent <command>` as cmd/fedcommons does,
// with env as the environment.
func runAgent(t *testing.T, command string, env []string) (string, error) {
	t.Helper()
	get := func(k string) string {
		v := ""
		for _, e := range env {
			if val, ok := strings.CutPrefix(e, k+"="); ok {
				v = val
			}
		}
		return v
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out bytes.Buffer
	err := agent.Run(ctx, []string{command}, get, PruneFunc, &out)
	if err != nil {
		out.WriteString(err.Error())
	}
	return out.String(), err
}

func (s *s3Server) put(t *testing.T, key, content string) {
	t.Helper()
	_, err := s.client.PutObject(context.Background(), testBucket, key, strings.NewReader(content), int64(len(content)), minio.PutObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *s3Server) get(t *testing.T, key string) string {
	t.Helper()
	o, err := s.client.GetObject(context.Background(), testBucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return string(b)
}

// keys lists every key in the bucket, sorted.
func (s *s3Server) keys(t *testing.T) []string {
	t.Helper()
	var out []string
	for o := range s.client.ListObjects(context.Background(), testBucket, minio.ListObjectsOptions{Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		out = append(out, o.Key)
	}
	slices.Sort(out)
	return out
}

// stagingDir is an emptyDir stand-in that the non-root user as can write.
func stagingDir(t *testing.T, as *runAs) string {
	t.Helper()
	return sharedDir(t, as)
}

// fakeBackup writes a small complete SQLite backup named name into root
// with the exact backup script, for the tests that are about the bucket.
func fakeBackup(t *testing.T, root, name string) {
	t.Helper()
	needSQLite(t)
	db := filepath.Join(t.TempDir(), "sqlite.db")
	sqlite(t, db, "CREATE TABLE t (x); INSERT INTO t VALUES ('"+name+"')")
	env := []string{"BACKUP_ROOT=" + root, "BACKUP_NAME=" + name, "SOFTWARE=gotosocial", "SOFTWARE_VERSION=0.20.1", "DB_KIND=sqlite", "SQLITE_DB=" + db}
	if out, err := runScript(t, nil, "sh", BackupScript(), env...); err != nil {
		t.Fatalf("backup script: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, name, "manifest.json")); err != nil {
		t.Fatal(err)
	}
}
