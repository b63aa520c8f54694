package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestLastLines(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"a\nb\nc\n", 2, "b\nc"},
		{"a\nb\nc", 5, "a\nb\nc"},
		{"only\n", 1, "only"},
		{"", 3, ""},
	}
	for _, tc := range tests {
		if got := lastLines([]byte(tc.in), tc.n); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestComponentEnv(t *testing.T) {
	got := componentEnv([]string{"HOME=/root", "KUBECONFIG=/elsewhere", "PATH=/bin"})
	if strings.Join(got, " ") != "HOME=/root PATH=/bin" {
		t.Errorf("componentEnv = %v", got)
	}
}

func TestFindUp(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "internal", "localcluster")
	if err := os.MkdirAll(deep, 0o755); err != nil {
		t.Fatal(err)
	}
	writeExec(t, filepath.Join(root, assetsScript), "#!/bin/sh\n")
	for _, from := range []string{root, deep} {
		got, err := findUp(from, assetsScript)
		if err != nil || got != filepath.Join(root, assetsScript) {
			t.Errorf("findUp(%s) = %q, %v", from, got, err)
		}
	}
	if _, err := findUp(t.TempDir(), assetsScript); err == nil {
		t.Error("findUp found a script that is not there")
	}
}

func TestCheckBinDir(t *testing.T) {
	tests := []struct {
		name    string
		bins    []string
		stages  bool
		wantErr string
	}{
		{"complete", requiredBinaries, true, ""},
		{"no kwok", requiredBinaries[:4], true, "lacks kwok"},
		{"no stages", requiredBinaries, false, "no kwok stage files"},
		{"empty", nil, false, "lacks etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := fakeBinDir(t, tc.bins, tc.stages)
			err := checkBinDir(dir)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("checkBinDir = %v, want %q", err, tc.wantErr)
			}
		})
	}
	t.Run("FEDCOMMONS_K8S_BIN", func(t *testing.T) {
		dir := fakeBinDir(t, requiredBinaries, true)
		t.Setenv(BinDirEnv, dir)
		if got, err := BinDir(context.Background(), nil); got != dir || err != nil {
			t.Errorf("BinDir = %q, %v", got, err)
		}
		t.Setenv(BinDirEnv, t.TempDir())
		if _, err := BinDir(context.Background(), nil); err == nil || !strings.Contains(err.Error(), BinDirEnv) {
			t.Errorf("BinDir with an empty %s: %v", BinDirEnv, err)
		}
	})
}

func TestStartRefusesATakenPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	port := ln.Addr().(*net.TCPAddr).Port
	dataDir := filepath.Join(t.TempDir(), "data")
	_, err = Start(context.Background(), Options{BinDir: fakeBinDir(t, requiredBinaries, true), DataDir: dataDir, APIServerPort: port})
	if !errors.Is(err, errPortInUse) || !strings.Contains(err.Error(), strconv.Itoa(port)) || !strings.Contains(err.Error(), "0 for a free one") {
		t.Fatalf("want a clear port-in-use error naming %d, got %v", port, err)
	}
	if _, err := os.Stat(dataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nothing should be created before the port check (stat %s: %v)", dataDir, err)
	}
}

// TestStartFailsHalfway runs the real etcd and a kube-apiserver that dies
// (leaving a child behind): Start must report the death with the log's end
// and stop everything, including the orphaned child.
func TestStartFailsHalfway(t *testing.T) {
	apiserver := `#!/bin/sh
sleep 300 &
echo $! > "$FAKE_CHILD_PIDFILE"
for i in $(seq 1 30); do echo "fake kube-apiserver line $i"; done
echo "E0000 cannot start: something is wrong" >&2
exit 3
`
	dataDir, childPIDFile := fakeClusterDirs(t, apiserver)
	out := &syncBuffer{}
	c, err := Start(context.Background(), Options{BinDir: filepath.Join(dataDir, "..", "bin"), DataDir: dataDir, Out: out})
	if err == nil {
		_ = c.Stop()
		t.Fatal("Start succeeded with a broken kube-apiserver")
	}
	t.Logf("Start: %v", err)
	for _, want := range []string{"kube-apiserver stopped unexpectedly", "exit status 3", "something is wrong", "fake kube-apiserver line 30"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "fake kube-apiserver line 10\n") {
		t.Errorf("error should hold only the last lines:\n%v", err)
	}
	assertAllGone(t, dataDir, childPIDFile)
	if !strings.Contains(out.String(), "stopping etcd") {
		t.Errorf("progress: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "logs", "kube-apiserver.log")); err != nil {
		t.Errorf("a given DataDir keeps the logs: %v", err)
	}
}

// TestStartCancelled cancels the context while Start waits for a
// kube-apiserver that never becomes ready (Ctrl-C in `fedcommons-dev`).
func TestStartCancelled(t *testing.T) {
	apiserver := `#!/bin/sh
sleep 300 &
echo $! > "$FAKE_CHILD_PIDFILE"
wait
`
	dataDir, childPIDFile := fakeClusterDirs(t, apiserver)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOn{marker: "starting kube-apiserver", cancel: cancel}
	begin := time.Now()
	c, err := Start(ctx, Options{BinDir: filepath.Join(dataDir, "..", "bin"), DataDir: dataDir, Out: out})
	if err == nil {
		_ = c.Stop()
		t.Fatal("Start succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("want context.Canceled, got %v", err)
	}
	if d := time.Since(begin); d > 30*time.Second {
		t.Errorf("cancelled Start took %s", d)
	}
	assertAllGone(t, dataDir, childPIDFile)
}

type cancelOn struct {
	syncBuffer
	marker string
	cancel context.CancelFunc
	once   sync.Once
}

func (w *cancelOn) Write(p []byte) (int, error) {
	if strings.Contains(string(p), w.marker) {
		// Give the process a moment to start, then cancel.
		w.once.Do(func() { time.AfterFunc(500*time.Millisecond, w.cancel) })
	}
	return w.syncBuffer.Write(p)
}

// fakeClusterDirs builds <tmp>/bin with the real etcd (and kwok's stages)
// and the given script as kube-apiserver, and returns <tmp>/data and the
// file where the script writes its child's PID.
func fakeClusterDirs(t *testing.T, apiserverScript string) (dataDir, childPIDFile string) {
	t.Helper()
	real := testBinDir(t)
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	if err := os.MkdirAll(filepath.Join(bin, "kwok-stages"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range requiredBinaries {
		if b == "kube-apiserver" {
			writeExec(t, filepath.Join(bin, b), apiserverScript)
			continue
		}
		if err := os.Symlink(filepath.Join(real, b), filepath.Join(bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	stages, err := stageSources(real)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stages {
		if err := os.Symlink(s, filepath.Join(bin, "kwok-stages", filepath.Base(s))); err != nil {
			t.Fatal(err)
		}
	}
	childPIDFile = filepath.Join(root, "child.pid")
	t.Setenv("FAKE_CHILD_PIDFILE", childPIDFile)
	return filepath.Join(root, "data"), childPIDFile
}

func assertAllGone(t *testing.T, dataDir, childPIDFile string) {
	t.Helper()
	if left := processesMentioning(dataDir); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
	data, err := os.ReadFile(childPIDFile)
	if err != nil {
		t.Fatalf("the fake kube-apiserver did not run: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	// The orphan is reparented (to init or a subreaper) which reaps it; allow
	// a moment for that.
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) || isZombie(pid) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("the kube-apiserver's child %d is still alive (kill -0: %v)", pid, err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// isZombie reports whether pid has exited but not been reaped yet (its
// parent is not us, so we cannot reap it).
func isZombie(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func fakeBinDir(t *testing.T, bins []string, stages bool) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range bins {
		writeExec(t, filepath.Join(dir, b), "#!/bin/sh\nexit 1\n")
	}
	if stages {
		if err := os.MkdirAll(filepath.Join(dir, "kwok-stages"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "kwok-stages", "pod-fast.yaml"), []byte(stageB), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeExec(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	low, high := portRange()
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Errorf("port %d twice in %v", p, ports)
		}
		seen[p] = true
		if high > low && (p < low || p >= high) {
			t.Errorf("port %d outside [%d, %d) (below the ephemeral range)", p, low, high)
		}
		ln, err := net.Listen("tcp", hostPort(p))
		if err != nil {
			t.Errorf("port %d is not free: %v", p, err)
			continue
		}
		_ = ln.Close()
	}
}

// TestStartRetriesWhenAPortIsTaken: a component that cannot bind its port
// makes Start try again with new ports (here every time, so it gives up).
func TestStartRetriesWhenAPortIsTaken(t *testing.T) {
	apiserver := `#!/bin/sh
echo > "$FAKE_CHILD_PIDFILE"
echo 'E0000 run.go:72] "command failed" err="failed to create listener: listen tcp 127.0.0.1:6443: bind: address already in use"' >&2
exit 1
`
	dataDir, _ := fakeClusterDirs(t, apiserver)
	out := &syncBuffer{}
	c, err := Start(context.Background(), Options{BinDir: filepath.Join(dataDir, "..", "bin"), DataDir: dataDir, Out: out})
	if err == nil {
		_ = c.Stop()
		t.Fatal("Start succeeded")
	}
	if !errors.Is(err, errAddressInUse) {
		t.Errorf("want errAddressInUse, got %v", err)
	}
	if n := strings.Count(out.String(), "retrying with new ports"); n != 2 {
		t.Errorf("want 2 retries, got %d:\n%s", n, out)
	}
	if left := processesMentioning(dataDir); len(left) > 0 {
		t.Errorf("processes left behind: %v", left)
	}
}
