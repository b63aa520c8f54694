// Package apifault puts a fault-injecting reverse proxy in front of a real
// kube-apiserver (envtest or internal/localcluster), for the API server
// fault suite of issue 14. Clients talk plain HTTP to the proxy; the proxy
// forwards to the API server with the credentials of the rest.Config it was
// built from, passing impersonation headers through, so an operator run
// through it keeps its own identity (testenv.AsOperator).
//
// The faults are the ones a real cluster has, injected at the wire:
//   - StatusConflicts: every PUT or PATCH of a .../status subresource is
//     answered 409 Conflict, as when another writer keeps winning;
//   - CutWatches: every open watch stream is closed now, as a load
//     balancer or an API server restart does;
//   - ExpireWatches: every watch that names a resourceVersion gets the API
//     server's in-stream ERROR event with 410 Gone ("too old resource
//     version"), which makes informers list again.
//
// Only tests import it.
package apifault

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/client-go/rest"
)

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL (http://127.0.0.1:port).
	URL string

	// StatusConflicts answers 409 to status writes while true.
	StatusConflicts atomic.Bool
	// ExpireWatches answers watches with a resourceVersion with 410 Gone
	// while true.
	ExpireWatches atomic.Bool

	// Injected counts the faults injected, by kind.
	conflicts, expired, cut atomic.Int64

	srv      *http.Server
	ln       net.Listener
	mu       sync.Mutex
	watches  map[int64]context.CancelFunc
	nextID   int64
	upstream *url.URL
	rp       *httputil.ReverseProxy
}

// Counts is how many faults of each kind were injected.
type Counts struct {
	StatusConflicts, ExpiredWatches, CutWatches int64
}

// Start runs a proxy to the API server cfg names, authenticating upstream
// as cfg does.
func Start(cfg *rest.Config) (*Proxy, error) {
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("apifault: upstream transport: %w", err)
	}
	host := cfg.Host
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	up, err := url.Parse(host)
	if err != nil {
		return nil, fmt.Errorf("apifault: upstream %q: %w", cfg.Host, err)
	}
	return start(up, rt)
}

func start(up *url.URL, rt http.RoundTripper) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln, upstream: up, watches: map[int64]context.CancelFunc{}}
	p.rp = httputil.NewSingleHostReverseProxy(up)
	p.rp.Transport = rt
	// Watch events must reach the client as they come.
	p.rp.FlushInterval = -1
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() != nil {
			return // a cut watch or a client that left
		}
		http.Error(w, err.Error(), http.StatusBadGateway)
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(p.serve)}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Config is a rest.Config for clients of the proxy: the same
// impersonation, rate limits and user agent as base, no credentials (the
// proxy adds its own upstream).
func (p *Proxy) Config(base *rest.Config) *rest.Config {
	return &rest.Config{
		Host: p.URL, Impersonate: base.Impersonate, QPS: base.QPS, Burst: base.Burst,
		UserAgent: base.UserAgent, Timeout: base.Timeout,
	}
}

// Close stops the proxy and every stream through it.
func (p *Proxy) Close() error {
	p.CutWatches()
	return p.srv.Close()
}

// Counts returns the faults injected so far.
func (p *Proxy) Counts() Counts {
	return Counts{StatusConflicts: p.conflicts.Load(), ExpiredWatches: p.expired.Load(), CutWatches: p.cut.Load()}
}

// CutWatches closes every watch stream open now; it returns how many.
func (p *Proxy) CutWatches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.watches)
	for id, cancel := range p.watches {
		cancel()
		delete(p.watches, id)
	}
	p.cut.Add(int64(n))
	return n
}

// OpenWatches is how many watch streams are open through the proxy.
func (p *Proxy) OpenWatches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.watches)
}

func isWatch(r *http.Request) bool {
	w := r.URL.Query().Get("watch")
	return r.Method == http.MethodGet && (w == "true" || w == "1")
}

func isStatusWrite(r *http.Request) bool {
	return (r.Method == http.MethodPut || r.Method == http.MethodPatch) && strings.HasSuffix(r.URL.Path, "/status")
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case isStatusWrite(r) && p.StatusConflicts.Load():
		p.conflicts.Add(1)
		writeStatus(w, http.StatusConflict, "Conflict",
			"Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again (injected)")
		return
	case isWatch(r) && r.URL.Query().Get("resourceVersion") != "" && r.URL.Query().Get("resourceVersion") != "0" && p.ExpireWatches.Load():
		p.expired.Add(1)
		expire(w, r)
		return
	case isWatch(r):
		ctx, cancel := context.WithCancel(r.Context())
		p.mu.Lock()
		p.nextID++
		id := p.nextID
		p.watches[id] = cancel
		p.mu.Unlock()
		defer func() {
			p.mu.Lock()
			delete(p.watches, id)
			p.mu.Unlock()
			cancel()
		}()
		r = r.WithContext(ctx)
	}
	p.rp.ServeHTTP(w, r)
}

// expire answers a watch as the API server does when its resourceVersion
// is older than the watch cache holds: 200, then one ERROR event with a
// 410 Status, then the end of the stream. A client that asked for
// protobuf only gets the plain 410 answer, which client-go treats alike.
func expire(w http.ResponseWriter, r *http.Request) {
	msg := fmt.Sprintf("too old resource version: %s (injected)", r.URL.Query().Get("resourceVersion"))
	if accept := r.Header.Get("Accept"); accept != "" && !strings.Contains(accept, "json") && !strings.Contains(accept, "*/*") {
		writeStatus(w, http.StatusGone, "Expired", msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, `{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":"Expired","code":410}}`+"\n", msg)
}

func writeStatus(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":%q,"reason":%q,"code":%d}`, msg, reason, code)
}
