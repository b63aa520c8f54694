package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// recorder notes the key of every PUT the client sends, in order, and can
// make the PUT of one key fail, as a Job killed mid-upload would leave it.
type recorder struct {
	mu   sync.Mutex
	puts []string
	fail string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method == http.MethodPut {
		r.mu.Lock()
		r.puts = append(r.puts, req.URL.Path)
		fail := r.fail != "" && strings.HasSuffix(req.URL.Path, r.fail)
		r.mu.Unlock()
		if fail {
			return nil, fmt.Errorf("connection reset (test)")
		}
	}
	return http.DefaultTransport.RoundTrip(req)
}

// stage writes a backup as the scripts do: parts, SHA256SUMS, manifest.
func stage(t *testing.T, root, name string, parts map[string]string) {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	m := Manifest{Format: formatV1, Name: name, Software: "gotosocial", Version: "0.20.1", Database: "sqlite", Created: "2026-12-02T03:00:00Z"}
	sums := ""
	for _, f := range []string{"database.sqlite", "media.tar"} {
		c, ok := parts[f]
		if !ok {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
		m.Parts = append(m.Parts, Part{File: f, Size: int64(len(c)), SHA256: sha256hex([]byte(c))})
		m.Size += int64(len(c))
		sums += sha256hex([]byte(c)) + "  " + f + "\n"
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, sumsFile), []byte(sums), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, manifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// manifest.json is the last object written; an upload cut short before it
// leaves a backup that download refuses as incomplete.
func TestUploadWritesManifestLast(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("bkt"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend, gofakes3.WithLogger(gofakes3.DiscardLog())).Server())
	defer srv.Close()
	rec := &recorder{}
	b, err := OpenBucket(BucketConfig{Endpoint: srv.URL, Bucket: "bkt", Prefix: "p", Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "s", Transport: rec})
	if err != nil {
		t.Fatal(err)
	}
	staging := t.TempDir()
	stage(t, staging, "20261202T030000Z", map[string]string{"database.sqlite": "db", "media.tar": strings.Repeat("m", 5000)})
	ctx := context.Background()
	if _, err := Upload(ctx, b, staging, "20261202T030000Z", io.Discard); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.puts); n != 4 || !strings.HasSuffix(rec.puts[n-1], "/p/20261202T030000Z/manifest.json") || !strings.HasSuffix(rec.puts[n-2], "/SHA256SUMS") {
		t.Errorf("PUTs in order %v: want the parts, SHA256SUMS, then manifest.json last", rec.puts)
	}

	stage(t, staging, "20261203T030000Z", map[string]string{"database.sqlite": "db2"})
	rec.fail = "20261203T030000Z/manifest.json"
	if _, err := Upload(ctx, b, staging, "20261203T030000Z", io.Discard); err == nil {
		t.Fatal("an upload whose manifest failed succeeded")
	}
	_, err = Download(ctx, b, t.TempDir(), "20261203T030000Z", io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is incomplete (no manifest.json)") {
		t.Errorf("download of the cut-short upload: %v", err)
	}
}
