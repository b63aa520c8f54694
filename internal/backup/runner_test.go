package backup

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// runAs is the user the tests run PostgreSQL and the scripts as: PostgreSQL
// refuses to run as root, and the Jobs run as a non-root user too. Nil
// when the test does not run as root.
type runAs struct{ uid, gid uint32 }

func nonRoot(t *testing.T) *runAs {
	t.Helper()
	if os.Geteuid() != 0 {
		return nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &runAs{uint32(uid), uint32(gid)}
	}
	t.Skip("running as root with neither a postgres nor a nobody user to run PostgreSQL as")
	return nil
}

// sharedDir is a temporary directory the non-root user owns (t.TempDir is
// private to root).
func sharedDir(t *testing.T, as *runAs) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fedcommons-backup-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if as != nil {
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, int(as.uid), int(as.gid)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func (a *runAs) cmd(name string, args ...string) *exec.Cmd {
	c := exec.Command(name, args...)
	// The checkout may not be readable by the non-root user.
	c.Dir = os.TempDir()
	if a != nil {
		c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: a.uid, Gid: a.gid}}
	}
	return c
}

// runScript runs script text (as the Job would, with sh -c) with env added
// to the test's environment, and returns its combined output.
func runScript(t *testing.T, as *runAs, shell, script string, env ...string) (string, error) {
	t.Helper()
	env = append(os.Environ(), env...)
	if shell == "busybox" {
		dir, err := busyboxPath()
		if err != nil {
			t.Fatal(err)
		}
		path := os.Getenv("PATH")
		for _, e := range env {
			if p, ok := strings.CutPrefix(e, "PATH="); ok {
				path = p
			}
		}
		env = append(env, "PATH="+dir+string(os.PathListSeparator)+path)
		shell = filepath.Join(dir, "sh")
	}
	c := as.cmd(shell, "-c", script)
	c.Env = env
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	return out.String(), err
}

// manifest is manifest.json as the backup script writes it.
type manifest struct {
	Format, Name, Software, Version, Database, Created string
	Size                                               int64
	Parts                                              []struct {
		File   string
		Size   int64
		SHA256 string
	}
}

func readManifest(t *testing.T, dir string) manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatalf("no manifest: %v", err)
	}
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("manifest.json is not JSON: %v\n%s", err, b)
	}
	return m
}

// checkManifest checks the manifest against the files it describes.
func checkManifest(t *testing.T, dir, software, database string, parts ...string) manifest {
	t.Helper()
	m := readManifest(t, dir)
	if m.Format != "fedcommons-backup/1" || m.Software != software || m.Database != database || m.Name != filepath.Base(dir) || m.Created == "" {
		t.Errorf("manifest = %+v, want format fedcommons-backup/1, software %s, database %s, name %s", m, software, database, filepath.Base(dir))
	}
	if len(m.Parts) != len(parts) {
		t.Fatalf("manifest parts = %+v, want %v", m.Parts, parts)
	}
	var total int64
	for i, p := range m.Parts {
		b, err := os.ReadFile(filepath.Join(dir, p.File))
		if err != nil || p.File != parts[i] {
			t.Fatalf("part %d: %+v, want %s (%v)", i, p, parts[i], err)
		}
		if int64(len(b)) != p.Size || sha256hex(b) != p.SHA256 {
			t.Errorf("part %s: manifest says %d bytes sha256 %s, file has %d bytes sha256 %s", p.File, p.Size, p.SHA256, len(b), sha256hex(b))
		}
		total += p.Size
	}
	if m.Size != total {
		t.Errorf("manifest size %d, parts add up to %d", m.Size, total)
	}
	return m
}
