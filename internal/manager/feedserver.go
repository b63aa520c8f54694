package manager

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"
)

// maxFeedConnections caps the connections one feed listener holds at once.
// The listener runs inside the leader, next to every reconciler: past the
// cap, new connections wait in the kernel's accept queue instead of each
// taking a goroutine, buffers and a share of the render budget. Clients
// that revalidate with their ETag are answered in microseconds, so 64 is
// plenty for the subscribers a co-op has.
const maxFeedConnections = 64

// feedServer serves published policies. It runs on the leader only: the
// store is filled by the FederationPolicy reconciler, which only runs
// there, and a follower would serve an empty index.
type feedServer struct {
	addr     string
	handler  http.Handler
	maxConns int // 0 means maxFeedConnections
	// ready, if set, receives the bound address once the listener is up
	// (tests listen on port 0).
	ready chan<- net.Addr
}

func (f *feedServer) Start(ctx context.Context) error {
	srv := &http.Server{
		Addr:              f.addr,
		Handler:           f.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("feed server on %s: %w", f.addr, err)
	}
	maxConns := f.maxConns
	if maxConns <= 0 {
		maxConns = maxFeedConnections
	}
	ln = netutil.LimitListener(ln, maxConns)
	if f.ready != nil {
		f.ready <- ln.Addr()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	}
}
