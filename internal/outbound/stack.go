package outbound

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of a Stack's bounds. Callers bound each call more tightly with
// its context (a feed fetch, an admin API request); these hold when a
// caller forgets.
const (
	DefaultDialTimeout           = 10 * time.Second
	DefaultTLSHandshakeTimeout   = 10 * time.Second
	DefaultResponseHeaderTimeout = 30 * time.Second
	// DefaultTimeout bounds one whole exchange, body included, redirects
	// included.
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxResponseHeaderBytes bounds a status line and headers
	// (net/http allows 10 MiB by default). Real servers send well under
	// 8 KiB, Link headers included.
	DefaultMaxResponseHeaderBytes = 64 << 10
	// DefaultMaxRedirects bounds the hops of one call.
	DefaultMaxRedirects = 5
)

// Resolver looks up the addresses of a host name. *net.Resolver satisfies
// it; tests substitute their own to make a name resolve wherever they like.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config is the operator-wide outbound policy. The zero value refuses every
// non-public address and uses no proxy.
type Config struct {
	// Allow lists ranges that tenant-named destinations may reach although
	// they are private, loopback, link-local or shared: a co-op's own
	// private network (--outbound-allow-cidrs). Empty: none.
	Allow []netip.Prefix
	// Deny lists ranges always refused to tenant-named destinations, even
	// when Allow covers them: typically the cluster's pod and service
	// ranges when they are not private (--outbound-deny-cidrs).
	Deny []netip.Prefix
	// Proxy, when set, carries every call except those to trusted origins
	// (--outbound-proxy). It is never taken from the environment.
	Proxy *url.URL
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// RootCAs verify servers' certificates; nil means the system's.
	RootCAs *x509.CertPool

	DialTimeout           time.Duration
	TLSHandshakeTimeout   time.Duration
	ResponseHeaderTimeout time.Duration
	// Timeout bounds one whole exchange (http.Client.Timeout).
	Timeout                time.Duration
	MaxResponseHeaderBytes int64
}

// Trusted is an origin the operator built itself and may reach wherever it
// is in the cluster: a hosted Instance's own Service.
type Trusted struct {
	// Host is host:port as the URL names it ("social-web.riverside.svc:8080").
	Host string
	// Resolve, when set, is the name looked up for Host instead of its own
	// host name. It is looked up as an absolute name (a final dot is added),
	// so no search domain can be put in front of it.
	Resolve string
}

// Stack makes guarded clients. It is safe for concurrent use.
type Stack struct {
	cfg   Config
	guard guard
	// proxyAddr is the proxy's host:port, the one address dialled without
	// the guard: the operator chose it.
	proxyAddr string
	shared    *http.Transport
}

// New returns a Stack for cfg.
func New(cfg Config) (*Stack, error) {
	if cfg.Proxy != nil && (cfg.Proxy.Scheme != "http" && cfg.Proxy.Scheme != "https" || cfg.Proxy.Host == "") {
		return nil, fmt.Errorf("outbound proxy %q: must be http(s)://host[:port]", cfg.Proxy.Redacted())
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.TLSHandshakeTimeout <= 0 {
		cfg.TLSHandshakeTimeout = DefaultTLSHandshakeTimeout
	}
	if cfg.ResponseHeaderTimeout <= 0 {
		cfg.ResponseHeaderTimeout = DefaultResponseHeaderTimeout
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxResponseHeaderBytes <= 0 {
		cfg.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	s := &Stack{cfg: cfg, guard: guard{allow: cfg.Allow, deny: cfg.Deny}}
	if cfg.Proxy != nil {
		s.proxyAddr = hostPort(cfg.Proxy)
	}
	s.shared = s.transport(nil)
	return s, nil
}

var (
	defaultOnce  sync.Once
	defaultStack *Stack
)

// Default is a Stack with the zero Config: every non-public address
// refused, no proxy. It is what a caller given no Stack gets, never an
// unguarded client.
func Default() *Stack {
	defaultOnce.Do(func() {
		var err error
		if defaultStack, err = New(Config{}); err != nil {
			panic(err)
		}
	})
	return defaultStack
}

// Transport returns the RoundTripper of a client that may reach trusted as
// well as public addresses. With no trusted origins it is shared by every
// such client; with some it is new, so that a connection to a trusted
// origin is never pooled where another caller could reuse it.
func (s *Stack) Transport(trusted ...Trusted) (http.RoundTripper, error) {
	if len(trusted) == 0 {
		return s.shared, nil
	}
	set := make(map[string]string, len(trusted))
	for _, t := range trusted {
		host, port, err := net.SplitHostPort(t.Host)
		if err != nil || host == "" || port == "" {
			return nil, fmt.Errorf("trusted origin %q: want host:port", t.Host)
		}
		set[strings.ToLower(t.Host)] = strings.TrimSuffix(t.Resolve, ".")
	}
	return s.transport(set), nil
}

// Client returns a guarded client with the given redirect policy that may
// also reach trusted.
func (s *Stack) Client(redirects Redirects, trusted ...Trusted) (*http.Client, error) {
	rt, err := s.Transport(trusted...)
	if err != nil {
		return nil, err
	}
	return &http.Client{Transport: rt, CheckRedirect: CheckRedirect(redirects, 0), Timeout: s.cfg.Timeout}, nil
}

// transport builds the http.Transport of a trusted set (host:port → name
// to resolve, "" for the host itself).
func (s *Stack) transport(trusted map[string]string) *http.Transport {
	return &http.Transport{
		Proxy: func(req *http.Request) (*url.URL, error) { return s.proxyFor(req, trusted) },
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			return s.dial(ctx, network, address, trusted)
		},
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.cfg.RootCAs},
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    s.cfg.TLSHandshakeTimeout,
		ResponseHeaderTimeout:  s.cfg.ResponseHeaderTimeout,
		MaxResponseHeaderBytes: s.cfg.MaxResponseHeaderBytes,
		MaxIdleConns:           16,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        30 * time.Second,
	}
}

// proxyFor is the Transport's Proxy func: the configured proxy for every
// call but those to trusted origins, which go direct. Before handing a
// call to the proxy, the destination is checked as far as it can be here
// (a literal address; a name as it resolves from here): the proxy itself
// resolves again, so behind a proxy the proxy's own egress rules are the
// final word.
func (s *Stack) proxyFor(req *http.Request, trusted map[string]string) (*url.URL, error) {
	if s.cfg.Proxy == nil {
		return nil, nil
	}
	if _, ok := trusted[strings.ToLower(hostPort(req.URL))]; ok {
		return nil, nil
	}
	host := req.URL.Hostname()
	addrs, err := s.lookup(req.Context(), "ip", host, "")
	if err != nil {
		// Unresolvable from here: the proxy may know better, and it is
		// the operator's egress point.
		return s.cfg.Proxy, nil
	}
	for _, a := range addrs {
		if why := s.guard.refusal(a, false); why != "" {
			return nil, &RefusedError{Host: host, Addr: a, Why: why}
		}
	}
	return s.cfg.Proxy, nil
}

// hostPort is u's host:port, with the scheme's default port when the URL
// names none, the way net/http dials it.
func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// HostPort is u's host:port with the scheme's default port, lower-cased:
// the key a Trusted origin is compared by.
func HostPort(u *url.URL) string { return strings.ToLower(hostPort(u)) }
