// Command fedcommons-dev is the demo (what `make demo` runs): a local
// control plane, the operator in-process, stand-ins for cert-manager and a
// storage provisioner, fake Mastodon/GoToSocial admin APIs and the samples,
// shown until everything is Ready.
//
// It is a command of its own, apart from cmd/fedcommons, so that the test
// rig it links (internal/devcluster, internal/localcluster, the fake admin
// APIs of internal/moderation/drivers/fakeserver, net/http/httptest) never
// ships in the operator's image: cmd/fedcommons's
// TestShippedBinaryHasNoTestRig fails if any of it comes back there.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/fedcommons/fedcommons/internal/devcluster"
)

const usage = `Usage: fedcommons-dev [flags]

Starts, on 127.0.0.1 and with its state in --dir: a local Kubernetes control
plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok),
the fedcommons operator, demo stand-ins for cert-manager and a storage
provisioner, fake Mastodon/GoToSocial admin APIs and the demo's communities,
servers and federation policies; then shows them until everything is Ready
and keeps running until Ctrl-C (SIGINT), SIGTERM, or until the process that
started it (make, go run) goes away. The control-plane binaries are built once by
hack/k8s-assets.sh into ~/.cache/fedcommons (or $FEDCOMMONS_K8S_BIN).

Flags:
`

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "fedcommons-dev: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("fedcommons-dev", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	var (
		dir     = fs.String("dir", ".demo", "directory for the cluster's state, kubeconfig and logs (replaced on each run)")
		port    = fs.Int("port", 0, "kube-apiserver port on 127.0.0.1 (0: a free one; the kubeconfig carries it)")
		exit    = fs.Bool("exit", false, "exit 0 once everything is Ready instead of running until Ctrl-C (for CI: make demo ARGS=--exit)")
		timeout = fs.Duration("timeout", 5*time.Minute, "how long to wait for everything to be Ready; with --exit, fail after it")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil // the usage was asked for and printed
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, stopWatch := stopWhenOrphaned(ctx, os.Stdout, time.Second)
	defer stopWatch()
	return devcluster.Run(ctx, devcluster.Options{
		Dir:           *dir,
		APIServerPort: *port,
		Exit:          *exit,
		Timeout:       *timeout,
		Out:           os.Stdout,
		Terminal:      isTerminal(os.Stdout),
	})
}

// isTerminal reports whether f is a character device (a terminal), where
// the table is redrawn in place rather than printed on each change.
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// stopWhenOrphaned cancels ctx when the process that started the demo goes
// away (make or go run killed, a terminal closed): the demo would otherwise
// keep a control plane running that nobody can stop with Ctrl-C. Polling
// the parent's pid is the portable way: PR_SET_PDEATHSIG follows the
// parent's *thread*, which for `go run` is any of its threads.
func stopWhenOrphaned(ctx context.Context, out io.Writer, every time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	parent := os.Getppid()
	go func() {
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if os.Getppid() != parent {
					fmt.Fprintf(out, "\nThe process that started the demo (pid %d) is gone: stopping.\n", parent)
					cancel()
					return
				}
			}
		}
	}()
	return ctx, cancel
}
