package backup

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
)

func itoa(i int) string { return strconv.Itoa(i) }

// shells are the shells the scripts must run under: "busybox" (its ash
// with its tar, sha256sum, awk, sed and sort first on PATH: what the
// alpine images of the Jobs have), sh (dash on Debian) and bash. Busybox
// is Debian's busybox package; without it, the other two still run.
func shells(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, s := range []string{"busybox", "sh", "bash"} {
		if _, err := exec.LookPath(s); err == nil {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		t.Skip("no sh or bash on PATH")
	}
	return out
}

// busyboxApplets are the tools the scripts call that the alpine images
// take from busybox.
var busyboxApplets = []string{"sh", "awk", "cat", "cp", "cut", "date", "grep", "head", "mkdir", "mv", "rm", "sed", "sha256sum", "sort", "sync", "tar", "tr", "wc"}

var (
	busyboxOnce sync.Once
	busyboxDir  string
	busyboxErr  error
)

// busyboxPath is a directory of links to busybox's applets, readable by
// the non-root user the PostgreSQL tests run as.
func busyboxPath() (string, error) {
	busyboxOnce.Do(func() {
		bb, err := exec.LookPath("busybox")
		if err != nil {
			busyboxErr = err
			return
		}
		dir, err := os.MkdirTemp("", "fedcommons-busybox-")
		if err != nil {
			busyboxErr = err
			return
		}
		_ = os.Chmod(dir, 0o755)
		for _, a := range busyboxApplets {
			if err := os.Symlink(bb, filepath.Join(dir, a)); err != nil {
				busyboxErr = err
				return
			}
		}
		busyboxDir = dir
	})
	return busyboxDir, busyboxErr
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
