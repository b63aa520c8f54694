package localcluster

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// spawner starts processes from a single goroutine locked to its OS thread.
// Linux's parent-death signal fires when the *thread* that forked a child
// exits; Go threads normally live forever, but one that ran a goroutine
// which locked it and returned is destroyed, and the scheduler may have used
// it for an unrelated fork before. Keeping our own thread alive until every
// component has exited makes the signal mean exactly "our process died".
type spawner struct {
	reqs chan spawnRequest
}

type spawnRequest struct {
	cmd  *exec.Cmd
	errc chan error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnRequest)}
	go func() {
		runtime.LockOSThread()
		// Deliberately never unlocked: when close ends this goroutine the
		// thread exits, by then with no children left to signal.
		for r := range s.reqs {
			r.errc <- r.cmd.Start()
		}
	}()
	return s
}

func (s *spawner) start(cmd *exec.Cmd) error {
	errc := make(chan error, 1)
	s.reqs <- spawnRequest{cmd: cmd, errc: errc}
	return <-errc
}

// close ends the spawner; call it only once every process it started has
// exited.
func (s *spawner) close() { close(s.reqs) }

// process is one running component.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	started time.Time

	done chan struct{} // closed once Wait has returned
	err  error         // Wait's result; read only after done is closed

	// replaced is set before the cluster stops this process on purpose to
	// start another in its place (RestartAPIServer): its exit is not a
	// failure of the cluster.
	replaced atomic.Bool
}

// startProcess runs bin with args, its stdout and stderr going to logPath.
// appendLog keeps what the log already holds (a restarted component's
// earlier life), instead of starting it afresh.
func startProcess(sp *spawner, name, bin string, args []string, logPath string, appendLog bool) (*process, error) {
	mode := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendLog {
		mode = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	logFile, err := os.OpenFile(logPath, mode, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating log for %s: %w", name, err)
	}
	fmt.Fprintf(logFile, "# %s %s\n", bin, strings.Join(args, " "))

	cmd := exec.Command(bin, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = componentEnv(os.Environ())
	cmd.SysProcAttr = sysProcAttr()
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: logFile, started: time.Now(), done: make(chan struct{})}
	if err := sp.start(cmd); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// componentEnv is the environment of the components: ours, minus variables
// that would point them at another cluster than the flags say.
func componentEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "KUBECONFIG=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (p *process) pid() int { return p.cmd.Process.Pid }

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes a process that ended on its own, with the end of its
// log: what a user needs to see why, without hunting for the file.
func (p *process) exitError() error {
	status := "exited"
	if p.err != nil {
		status = p.err.Error()
	}
	tail := tailFile(p.logPath, 20)
	err := fmt.Errorf("%s stopped unexpectedly (%s); last lines of %s:\n%s",
		p.name, status, p.logPath, indent(tail))
	if strings.Contains(tail, "address already in use") {
		return addressInUseError{err}
	}
	return err
}

// errAddressInUse matches (errors.Is) the exit of a component that could
// not bind its port.
var errAddressInUse = errors.New("address already in use")

type addressInUseError struct{ error }

func (e addressInUseError) Is(target error) bool { return target == errAddressInUse }
func (e addressInUseError) Unwrap() error        { return e.error }

// terminate stops the process group: SIGTERM, then SIGKILL after grace. It
// returns once the process has been reaped, and reports whether it had to
// be killed. A process that has already exited gets only the final sweep of
// its group.
func (p *process) terminate(grace time.Duration) (killed bool) {
	pgid := p.pid() // the leader of its own group (Setpgid)
	if !p.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		timer := time.NewTimer(grace)
		select {
		case <-p.done:
		case <-timer.C:
			killed = true
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		timer.Stop()
	}
	// Anything the component itself started is in the same group; make sure
	// it does not outlive the leader. ESRCH (nobody left) is the usual answer.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return killed
}

// tailFile returns the last n lines of a file (reading at most its last
// 64 KiB), or a note saying why it could not.
func tailFile(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer func() { _ = f.Close() }()
	const maxRead = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > maxRead {
		_, _ = f.Seek(st.Size()-maxRead, io.SeekStart)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	return lastLines(data, n)
}

func lastLines(data []byte, n int) string {
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

func indent(s string) string {
	if s == "" {
		return "  (empty)"
	}
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

// errPortInUse is returned (wrapped) when a fixed API server port is taken.
var errPortInUse = errors.New("port in use")
