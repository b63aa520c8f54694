package outbound

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/http/httpproxy"
)

// recorder is a real HTTP server on loopback that remembers what reached it.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	reqs  []*http.Request
	auths []string
}

func newRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(r.wrap(h))
	t.Cleanup(r.Close)
	return r
}

func newTLSRecorder(t *testing.T, h http.HandlerFunc) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewTLSServer(r.wrap(h))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req)
		r.auths = append(r.auths, req.Header.Get("Authorization"))
		r.mu.Unlock()
		if h != nil {
			h(w, req)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func (r *recorder) hostPort() string {
	return strings.TrimPrefix(strings.TrimPrefix(r.URL, "http://"), "https://")
}

// names resolves host names from a table, and records what it was asked.
type names struct {
	mu    sync.Mutex
	table map[string][]netip.Addr
	asked []string
}

func (n *names) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.asked = append(n.asked, host)
	if a, ok := n.table[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func resolving(pairs ...string) *names {
	n := &names{table: map[string][]netip.Addr{}}
	for i := 0; i < len(pairs); i += 2 {
		n.table[pairs[i]] = append(n.table[pairs[i]], netip.MustParseAddr(pairs[i+1]))
	}
	return n
}

func mustStack(t *testing.T, cfg Config) *Stack {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustClient(t *testing.T, s *Stack, r Redirects, trusted ...Trusted) *http.Client {
	t.Helper()
	c, err := s.Client(r, trusted...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(c *http.Client, rawURL string, header ...string) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	return resp, err
}

func wantRefused(t *testing.T, err error, contains string) {
	t.Helper()
	var re *RefusedError
	if !errors.As(err, &re) {
		t.Fatalf("want a RefusedError saying %q, got %v", contains, err)
	}
	if !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not say %q", err, contains)
	}
}

func TestLoopbackRefusedUnlessTrusted(t *testing.T) {
	srv := newRecorder(t, nil)
	other := newRecorder(t, nil)

	_, err := get(mustClient(t, Default(), SameOrigin), srv.URL)
	wantRefused(t, err, "127.0.0.1 is a loopback address")

	trusted := mustClient(t, Default(), SameOrigin, Trusted{Host: srv.hostPort()})
	if resp, err := get(trusted, srv.URL+"/x"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("trusted origin not reached: %v", err)
	}
	// Trust is for that host:port alone, not for loopback.
	_, err = get(trusted, other.URL)
	wantRefused(t, err, "loopback")
	if srv.count() != 1 || other.count() != 0 {
		t.Fatalf("requests that arrived: %d and %d, want 1 and 0", srv.count(), other.count())
	}
}

func TestNameResolvingPrivateIsRefused(t *testing.T) {
	srv := newRecorder(t, nil)
	_, port, _ := net.SplitHostPort(srv.hostPort())
	res := resolving("rebind.example", "93.184.215.14", "rebind.example", "127.0.0.1", "inside.example", "10.96.0.1")
	s := mustStack(t, Config{Resolver: res})
	c := mustClient(t, s, SameOrigin)
	// One refused address refuses the name, whatever the order.
	_, err := get(c, "http://rebind.example:"+port+"/")
	wantRefused(t, err, "rebind.example resolves to 127.0.0.1, a loopback address")
	_, err = get(c, "http://inside.example:"+port+"/")
	wantRefused(t, err, "inside.example resolves to 10.96.0.1, a private address")
	if srv.count() != 0 {
		t.Fatalf("%d requests reached the server", srv.count())
	}
}

// A trusted name is looked up as an absolute name: the resolver's search
// path cannot put a record of someone else's in front of it.
func TestTrustedNameResolvedAbsolute(t *testing.T) {
	srv := newRecorder(t, nil)
	_, port, _ := net.SplitHostPort(srv.hostPort())
	res := resolving("social-web.riverside.svc.cluster.local.", "127.0.0.1")
	s := mustStack(t, Config{Resolver: res})
	c := mustClient(t, s, SameOrigin, Trusted{Host: "social-web.riverside.svc:" + port, Resolve: "social-web.riverside.svc.cluster.local"})
	if _, err := get(c, "http://social-web.riverside.svc:"+port+"/api"); err != nil {
		t.Fatal(err)
	}
	if len(res.asked) != 1 || res.asked[0] != "social-web.riverside.svc.cluster.local." {
		t.Fatalf("looked up %q", res.asked)
	}
	if srv.count() != 1 || srv.reqs[0].Host != "social-web.riverside.svc:"+port {
		t.Fatalf("the server did not get the call by its Service name")
	}
}

func TestRedirectOffOriginRefusedTokenNotSent(t *testing.T) {
	elsewhere := newRecorder(t, nil)
	origin := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/landed", http.StatusFound)
		case "/other-port":
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
		default:
			_, _ = io.WriteString(w, "ok")
		}
	})
	// Both are trusted, so that only the redirect policy can stop the call.
	trust := []Trusted{{Host: origin.hostPort()}, {Host: elsewhere.hostPort()}}
	admin := mustClient(t, Default(), SameOrigin, trust...)

	resp, err := get(admin, origin.URL+"/same", "Authorization", "Bearer secret-token")
	if err != nil || resp.Request.URL.Path != "/landed" {
		t.Fatalf("same-origin redirect not followed: %v", err)
	}
	if origin.auths[1] != "Bearer secret-token" {
		t.Fatalf("the token did not follow a same-origin redirect: %q", origin.auths)
	}
	_, err = get(admin, origin.URL+"/other-port", "Authorization", "Bearer secret-token")
	wantRefused(t, err, "to another server (http://"+elsewhere.hostPort()+")")
	if msg := Unwrap(err).Error(); strings.Contains(msg, "/steal") {
		t.Errorf("the error quotes the remote Location's path: %v", msg)
	}
	if elsewhere.count() != 0 {
		t.Fatalf("the redirect reached the other port %d times", elsewhere.count())
	}

	// A feed fetch may follow, without the credentials.
	feeds := mustClient(t, Default(), PublicOrigins, trust...)
	if _, err := get(feeds, origin.URL+"/other-port", "Authorization", "Bearer secret-token", "Cookie", "a=b"); err != nil {
		t.Fatal(err)
	}
	if elsewhere.count() != 1 || elsewhere.auths[0] != "" || elsewhere.reqs[0].Header.Get("Cookie") != "" {
		t.Fatalf("credentials followed the redirect off the origin: %q", elsewhere.auths)
	}

	// The OAuth flow reads redirects instead of following them.
	oauth := mustClient(t, Default(), NoRedirects, trust...)
	resp, err = get(oauth, origin.URL+"/other-port")
	if err != nil || resp.StatusCode != http.StatusTemporaryRedirect || elsewhere.count() != 1 {
		t.Fatalf("NoRedirects: %v %v", resp, err)
	}
}

func TestHTTPSToHTTPRefused(t *testing.T) {
	plain := newRecorder(t, nil)
	secure := newTLSRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/down", http.StatusFound)
	})
	pool := x509.NewCertPool()
	pool.AddCert(secure.Certificate())
	s := mustStack(t, Config{RootCAs: pool})
	trust := []Trusted{{Host: secure.hostPort()}, {Host: plain.hostPort()}}
	for _, policy := range []Redirects{SameOrigin, PublicOrigins} {
		_, err := get(mustClient(t, s, policy, trust...), secure.URL+"/")
		wantRefused(t, err, "a redirect from https to plain http (http://"+plain.hostPort()+")")
	}
	if secure.count() != 2 || plain.count() != 0 {
		t.Fatalf("requests: %d over https, %d over http; want 2 and 0", secure.count(), plain.count())
	}
}

func TestRedirectBounds(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		var n int
		if _, err := fmt.Sscanf(r.URL.Path, "/hop/%d", &n); err == nil && n > 0 {
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
			return
		}
		if r.URL.Path == "/file" {
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		}
	})
	c := mustClient(t, Default(), SameOrigin, Trusted{Host: srv.hostPort()})
	if _, err := get(c, srv.URL+"/hop/5"); err != nil {
		t.Fatalf("5 redirects: %v", err)
	}
	_, err := get(c, srv.URL+"/hop/6")
	wantRefused(t, err, "more than 5 redirects")
	_, err = get(c, srv.URL+"/file")
	wantRefused(t, err, `a redirect to scheme "file"`)
}

// The environment's proxy settings are not read: a call the environment
// would send through HTTP_PROXY goes direct (or through --outbound-proxy).
func TestEnvironmentProxyIgnored(t *testing.T) {
	target := newRecorder(t, nil)
	envProxy := newRecorder(t, nil)
	_, port, _ := net.SplitHostPort(target.hostPort())
	t.Setenv("HTTP_PROXY", envProxy.URL)
	t.Setenv("HTTPS_PROXY", envProxy.URL)
	t.Setenv("NO_PROXY", "")
	u := "http://feeds.internal.example:" + port + "/list.csv"
	// The check could fail: the environment does name a proxy for u.
	parsed, _ := url.Parse(u)
	if p, err := httpproxy.FromEnvironment().ProxyFunc()(parsed); err != nil || p == nil {
		t.Fatalf("the environment would not proxy %s (%v, %v): the test proves nothing", u, p, err)
	}
	s := mustStack(t, Config{Resolver: resolving("feeds.internal.example", "127.0.0.1")})
	c := mustClient(t, s, SameOrigin, Trusted{Host: "feeds.internal.example:" + port})
	if _, err := get(c, u); err != nil {
		t.Fatal(err)
	}
	if target.count() != 1 || envProxy.count() != 0 {
		t.Fatalf("target got %d, environment's proxy got %d; want 1 and 0", target.count(), envProxy.count())
	}
}

func TestConfiguredProxy(t *testing.T) {
	proxy := newRecorder(t, nil)
	trustedSrv := newRecorder(t, nil)
	pu, _ := url.Parse(proxy.URL)
	s := mustStack(t, Config{Proxy: pu, Resolver: resolving("public.example", "93.184.215.14", "inside.example", "10.0.0.7")})
	c := mustClient(t, s, SameOrigin, Trusted{Host: trustedSrv.hostPort()})

	if _, err := get(c, "http://public.example/list.csv"); err != nil {
		t.Fatal(err)
	}
	if proxy.count() != 1 || proxy.reqs[0].URL.String() != "http://public.example/list.csv" {
		t.Fatalf("the proxy did not carry the call to a public host")
	}
	// What resolves inside from here is refused before the proxy sees it.
	_, err := get(c, "http://inside.example/")
	wantRefused(t, err, "inside.example resolves to 10.0.0.7")
	_, err = get(c, "http://169.254.169.254/latest/meta-data/")
	wantRefused(t, err, "the cloud metadata address")
	// A trusted origin goes direct.
	if _, err := get(c, trustedSrv.URL); err != nil {
		t.Fatal(err)
	}
	if proxy.count() != 1 || trustedSrv.count() != 1 {
		t.Fatalf("proxy got %d, trusted server %d; want 1 and 1", proxy.count(), trustedSrv.count())
	}
	if _, err := New(Config{Proxy: &url.URL{Scheme: "socks5", Host: "x:1"}}); err == nil {
		t.Error("a socks5 proxy was accepted")
	}
}

func TestResponseHeadersBounded(t *testing.T) {
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Huge", strings.Repeat("x", 100<<10))
	})
	c := mustClient(t, Default(), SameOrigin, Trusted{Host: srv.hostPort()})
	if _, err := get(c, srv.URL); err == nil || !strings.Contains(err.Error(), "header") {
		t.Fatalf("a 100 KiB header was accepted: %v", err)
	}
}
