package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// enableHint is the one line the real-server test skips with.
const enableHint = "no GoToSocial binary: set GOTOSOCIAL_BIN to a gotosocial release binary (web/ next to it) or a release .tgz " +
	"(e.g. GOTOSOCIAL_BIN=../shared/tools/gotosocial make conformance); see README, Conformance"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// goToSocialBinary returns the binary hack/gotosocial.sh finds, "" when
// GOTOSOCIAL_BIN is not set, or an error when it is set but unusable (a
// wrong path must fail, not skip).
func goToSocialBinary() (string, error) {
	binOnce.Do(func() {
		if os.Getenv("GOTOSOCIAL_BIN") == "" {
			return
		}
		script, err := filepath.Abs("../../hack/gotosocial.sh")
		if err != nil {
			binErr = err
			return
		}
		var stderr bytes.Buffer
		cmd := exec.Command(script)
		// A relative GOTOSOCIAL_BIN is relative to the checkout, as in
		// .ci/run, not to this package's directory.
		cmd.Dir = "../.."
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			binErr = fmt.Errorf("hack/gotosocial.sh: %v: %s", err, strings.TrimSpace(stderr.String()))
			return
		}
		binPath = strings.TrimSpace(string(out))
	})
	return binPath, binErr
}

// gtsProcess is one GoToSocial server process and the configuration its
// admin commands share with it.
type gtsProcess struct {
	bin string
	// dir is where the process runs: the binary's directory, where web/
	// is, as the image's WORKDIR /gotosocial is.
	dir  string
	env  []string
	port int
	log  string

	cmd  *exec.Cmd
	done chan error
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (p *gtsProcess) baseURL() string { return "http://127.0.0.1:" + strconv.Itoa(p.port) }

// start runs `gotosocial <args>` (server start) and waits until readyPath
// answers 200; on a timeout the end of the server's log is in the error.
func (p *gtsProcess) start(t *testing.T, readyPath string, args ...string) {
	t.Helper()
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(p.bin, args...)
	p.cmd.Dir, p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = p.dir, p.env, logf, logf
	// Its own process group, so a stop never reaches anything else.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", p.bin, err)
	}
	p.done = make(chan error, 1)
	go func() { p.done <- p.cmd.Wait(); logf.Close() }()
	deadline := time.Now().Add(90 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, p.baseURL()+readyPath, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("GoToSocial exited before it was ready (%v):\n%s", err, p.tail())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop(t)
			t.Fatalf("GoToSocial not ready on %s after 90s:\n%s", readyPath, p.tail())
		}
	}
}

// stop sends SIGTERM (GoToSocial shuts down cleanly on it) and kills the
// process group after 20 s.
func (p *gtsProcess) stop(t *testing.T) {
	t.Helper()
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		t.Logf("GoToSocial did not stop within 20s of SIGTERM; killed")
	}
	p.cmd = nil
}

// run runs a command with the server's configuration (the admin CLI, the
// admin Job's script), failing the test with its output if it fails.
func (p *gtsProcess) run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = p.dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) || ctx.Err() != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, lastLines(string(out), 30))
		}
		t.Fatal(err)
	}
	return string(out)
}

// tail is the end of the server's log.
func (p *gtsProcess) tail() string {
	b, _ := os.ReadFile(p.log)
	return lastLines(string(b), 40)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// baseEnv is what every process gets from the test's environment: PATH
// (GoToSocial calls ffmpeg and ffprobe) and HOME, nothing else, so no GTS_*
// variable of the machine leaks in.
func baseEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "TZ=UTC"}
}

// logSize is where the server's log ends now.
func (p *gtsProcess) logSize(t *testing.T) int64 {
	t.Helper()
	fi, err := os.Stat(p.log)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// adminWritesSince returns the admin API writes the server logged after
// mark: its own account of what it was asked to change.
func (p *gtsProcess) adminWritesSince(t *testing.T, mark int64) []string {
	t.Helper()
	// The request log line is written as the answer goes out.
	time.Sleep(300 * time.Millisecond)
	b, err := os.ReadFile(p.log)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b[mark:]), "\n") {
		if !strings.Contains(line, " uri=/api/v1/admin/") {
			continue
		}
		for _, m := range []string{" method=POST ", " method=PUT ", " method=PATCH ", " method=DELETE "} {
			if strings.Contains(line, m) {
				out = append(out, line)
			}
		}
	}
	return out
}
