package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// loopback is the explicit opt-in the tests need to reach httptest servers.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}

// fakeResolver resolves names from a table; unknown names fail.
type fakeResolver map[string][]netip.Addr

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

func TestFetchOK(t *testing.T) {
	var gotUA string
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		gotUA = r.Header.Get("User-Agent")
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("ETag", `"v1"`)
		w.Header().Set("Last-Modified", "Mon, 02 Jan 2006 15:04:05 GMT")
		_, _ = io.WriteString(w, "#domain,#severity\nspam.example,suspend\n")
	})
	f := &Fetcher{Allow: loopback, Version: "1.2.3"}
	resp, err := f.Fetch(context.Background(), s.URL+"/list.csv", Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.NotModified || !strings.Contains(string(resp.Body), "spam.example") {
		t.Fatalf("unexpected response %+v", resp)
	}
	if resp.ETag != `"v1"` || resp.LastModified != "Mon, 02 Jan 2006 15:04:05 GMT" || resp.ContentType != "text/csv" {
		t.Fatalf("validators/content type not returned: %+v", resp)
	}
	if want := "fedcommons/1.2.3 (+https://github.com/fedcommons/fedcommons)"; gotUA != want {
		t.Fatalf("User-Agent %q, want %q", gotUA, want)
	}
}

func TestFetchConditional(t *testing.T) {
	const etag = `"abc"`
	const lm = "Tue, 03 Jan 2006 15:04:05 GMT"
	var sawINM, sawIMS string
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		sawINM, sawIMS = r.Header.Get("If-None-Match"), r.Header.Get("If-Modified-Since")
		if sawINM == etag {
			// A 304 without validators: the previous ones stay.
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lm)
		_, _ = io.WriteString(w, "a.example\n")
	})
	f := &Fetcher{Allow: loopback}
	first, err := f.Fetch(context.Background(), s.URL, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if sawINM != "" || sawIMS != "" {
		t.Fatalf("first fetch was conditional: %q %q", sawINM, sawIMS)
	}
	second, err := f.Fetch(context.Background(), s.URL, first.Validators)
	if err != nil {
		t.Fatal(err)
	}
	if sawINM != etag || sawIMS != lm {
		t.Fatalf("validators not sent: If-None-Match %q If-Modified-Since %q", sawINM, sawIMS)
	}
	if !second.NotModified || second.Body != nil {
		t.Fatalf("want not modified, got %+v", second)
	}
	if second.Validators != first.Validators {
		t.Fatalf("validators lost on 304: %+v", second.Validators)
	}
	// A changed source answers 200 with new validators.
	third, err := f.Fetch(context.Background(), s.URL, Validators{ETag: `"old"`})
	if err != nil {
		t.Fatal(err)
	}
	if third.NotModified || third.ETag != etag {
		t.Fatalf("want a fresh copy, got %+v", third)
	}
}

func TestFetchUnsolicited304IsAnError(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	_, err := (&Fetcher{Allow: loopback}).Fetch(context.Background(), s.URL, Validators{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusNotModified {
		t.Fatalf("want a StatusError for a 304 nobody asked for, got %v", err)
	}
}

func TestFetchStatusError(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	_, err := (&Fetcher{Allow: loopback}).Fetch(context.Background(), s.URL+"/gone.csv", Validators{})
	var se *StatusError
	if !errors.As(err, &se) || se.Code != 404 {
		t.Fatalf("want StatusError 404, got %v", err)
	}
	if !strings.Contains(err.Error(), "answered 404 Not Found") {
		t.Fatalf("message: %v", err)
	}
}

func TestFetchSizeLimit(t *testing.T) {
	big := strings.Repeat("x", 2048)
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/declared":
			// Honest Content-Length above the limit: refused before reading.
			w.Header().Set("Content-Length", "2048")
			_, _ = io.WriteString(w, big)
		case "/chunked":
			// No Content-Length at all: the LimitReader must catch it.
			_, _ = io.WriteString(w, big[:512])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, big[512:])
		case "/exact":
			_, _ = io.WriteString(w, big[:1024])
		}
	})
	f := &Fetcher{Allow: loopback, MaxBytes: 1024}
	for _, tc := range []struct {
		path     string
		declared int64
	}{{"/declared", 2048}, {"/chunked", -1}} {
		_, err := f.Fetch(context.Background(), s.URL+tc.path, Validators{})
		var tl *TooLargeError
		if !errors.As(err, &tl) {
			t.Fatalf("%s: want TooLargeError, got %v", tc.path, err)
		}
		if tl.Declared != tc.declared || tl.Limit != 1024 {
			t.Fatalf("%s: %+v", tc.path, tl)
		}
		if !strings.Contains(err.Error(), "1 KiB limit") {
			t.Fatalf("%s: message %q", tc.path, err)
		}
	}
	resp, err := f.Fetch(context.Background(), s.URL+"/exact", Validators{})
	if err != nil || len(resp.Body) != 1024 {
		t.Fatalf("a body exactly at the limit must pass: %v", err)
	}
}

// rawServer answers every connection with the given bytes, then closes:
// for responses net/http's server refuses to produce.
func rawServer(t *testing.T, response string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				buf := make([]byte, 4096)
				_, _ = c.Read(buf)
				_, _ = io.WriteString(c, response)
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

func TestFetchLyingContentLength(t *testing.T) {
	f := &Fetcher{Allow: loopback, MaxBytes: 1024}
	// A Content-Length that claims little while the body, read to the end
	// of the connection, is much larger... net/http trusts the header and
	// stops at 10 bytes: the claim cannot be used to make us read more.
	u := rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"+strings.Repeat("y", 4096))
	resp, err := f.Fetch(context.Background(), u, Validators{})
	if err != nil || len(resp.Body) != 10 {
		t.Fatalf("want the 10 declared bytes, got %v %d", err, len(resp.Body))
	}
	// ... and a body delimited only by the end of the connection is cut at
	// the limit.
	u = rawServer(t, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"+strings.Repeat("y", 4096))
	_, err = f.Fetch(context.Background(), u, Validators{})
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("want TooLargeError, got %v", err)
	}
	// A negative or absurd Content-Length is a protocol error, not a crash.
	u = rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\nConnection: close\r\n\r\nzz")
	if _, err = f.Fetch(context.Background(), u, Validators{}); err == nil {
		t.Fatal("want an error for an unparseable Content-Length")
	}
}

func TestFetchTimeout(t *testing.T) {
	for _, stage := range []string{"headers", "body"} {
		t.Run(stage, func(t *testing.T) {
			s := serve(t, func(w http.ResponseWriter, r *http.Request) {
				if stage == "body" {
					_, _ = io.WriteString(w, "a.example\n")
					w.(http.Flusher).Flush()
				}
				<-r.Context().Done()
			})
			f := &Fetcher{Allow: loopback, Timeout: 200 * time.Millisecond}
			start := time.Now()
			_, err := f.Fetch(context.Background(), s.URL, Validators{})
			var te *TimeoutError
			if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("want TimeoutError, got %v", err)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Fatalf("timeout not enforced: %s", el)
			}
			if !strings.Contains(err.Error(), "gave up on") {
				t.Fatalf("message: %v", err)
			}
		})
	}
}

func TestFetchRefusedAddresses(t *testing.T) {
	res := fakeResolver{
		"internal.test":  addrs("10.0.0.1"),
		"metadata.test":  addrs("169.254.169.254"),
		"mixed.test":     addrs("93.184.215.14", "192.168.1.1"),
		"cgnat.test":     addrs("100.64.0.9"),
		"v6local.test":   addrs("fd12:3456::1"),
		"mapped.test":    addrs("::ffff:127.0.0.1"),
		"nat64.test":     addrs("64:ff9b::a00:5"),
		"sixtofour.test": addrs("2002:a9fe:a9fe::1"),
		"rebind.test":    addrs("127.0.0.1"),
	}
	cases := []struct {
		url, want string
	}{
		{"http://127.0.0.1:1/", "refused: 127.0.0.1 is a loopback address"},
		{"http://10.0.0.1/", "refused: 10.0.0.1 is a private address"},
		{"http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is the cloud metadata address"},
		{"http://[::1]:8080/", "refused: ::1 is a loopback address"},
		{"http://[fe80::1]/", "a link-local address"},
		{"http://0.0.0.0/", "the unspecified address"},
		{"http://224.0.0.1/", "a multicast address"},
		{"http://internal.test/list.csv", "refused: internal.test resolves to 10.0.0.1, a private address"},
		{"http://metadata.test/", "refused: metadata.test resolves to 169.254.169.254, the cloud metadata address"},
		{"http://mixed.test/", "refused: mixed.test resolves to 192.168.1.1, a private address"},
		{"http://cgnat.test/", "a shared (carrier-grade NAT) address"},
		{"http://v6local.test/", "a private (unique local) address"},
		{"http://mapped.test/", "resolves to ::ffff:127.0.0.1, a loopback address"},
		{"http://nat64.test/", "an IPv6 form of 10.0.0.5, a private address"},
		{"http://sixtofour.test/", "an IPv6 form of 169.254.169.254, the cloud metadata address"},
		{"http://rebind.test/", "refused: rebind.test resolves to 127.0.0.1, a loopback address"},
		{"file:///etc/passwd", `refused: scheme "file"`},
		{"gopher://example.org/", `refused: scheme "gopher"`},
		{"http:///nohost", "names no host"},
	}
	// No Allow: the guard is fully on.
	f := &Fetcher{Resolver: res, Timeout: 5 * time.Second}
	for _, tc := range cases {
		_, err := f.Fetch(context.Background(), tc.url, Validators{})
		var re *RefusedError
		if !errors.As(err, &re) {
			t.Errorf("%s: want RefusedError, got %v", tc.url, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: message %q does not contain %q", tc.url, err, tc.want)
		}
	}
}

func TestFetchOptInIsExplicitAndNarrow(t *testing.T) {
	s := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok.example\n") })
	// The loopback server is refused without the opt-in ...
	if _, err := (&Fetcher{}).Fetch(context.Background(), s.URL, Validators{}); !isRefused(err) {
		t.Fatalf("loopback fetched without opt-in: %v", err)
	}
	// ... fetched with it, by address and by a name resolving to it ...
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	f := &Fetcher{Allow: loopback, Resolver: fakeResolver{"feeds.test": addrs("127.0.0.1"), "other.test": addrs("10.1.2.3")}}
	if _, err := f.Fetch(context.Background(), s.URL, Validators{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Fetch(context.Background(), "http://feeds.test:"+port+"/", Validators{}); err != nil {
		t.Fatal(err)
	}
	// ... and the opt-in covers only what it names.
	if _, err := f.Fetch(context.Background(), "http://other.test:"+port+"/", Validators{}); !isRefused(err) {
		t.Fatalf("10.1.2.3 not refused with a 127.0.0.1 opt-in: %v", err)
	}
	// Deny beats Allow.
	f2 := &Fetcher{Allow: loopback, Deny: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	if _, err := f2.Fetch(context.Background(), s.URL, Validators{}); !isRefused(err) || !strings.Contains(err.Error(), "denies") {
		t.Fatalf("Deny did not win: %v", err)
	}
}

func isRefused(err error) bool {
	var re *RefusedError
	return errors.As(err, &re)
}

func TestFetchRedirects(t *testing.T) {
	var s *httptest.Server
	s = serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/to-private":
			http.Redirect(w, r, "http://internal.test:"+s.URL[strings.LastIndex(s.URL, ":")+1:]+"/x", http.StatusFound)
		case r.URL.Path == "/to-metadata":
			http.Redirect(w, r, "http://169.254.169.254/latest/meta-data/", http.StatusMovedPermanently)
		case r.URL.Path == "/to-file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case strings.HasPrefix(r.URL.Path, "/hop/"):
			var n int
			_, _ = fmt.Sscanf(r.URL.Path, "/hop/%d", &n)
			if n == 0 {
				_, _ = io.WriteString(w, "landed.example\n")
				return
			}
			http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
		}
	})
	f := &Fetcher{Allow: loopback, Resolver: fakeResolver{"internal.test": addrs("10.0.0.1")}}
	for path, want := range map[string]string{
		"/to-private":  "refused: internal.test resolves to 10.0.0.1, a private address",
		"/to-metadata": "refused: 169.254.169.254 is the cloud metadata address",
		"/to-file":     `refused: a redirect to scheme "file"`,
		"/hop/6":       "refused: more than 5 redirects",
	} {
		_, err := f.Fetch(context.Background(), s.URL+path, Validators{})
		if !isRefused(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: want %q, got %v", path, want, err)
		}
	}
	resp, err := f.Fetch(context.Background(), s.URL+"/hop/5", Validators{})
	if err != nil {
		t.Fatalf("5 redirects must be followed: %v", err)
	}
	if !strings.HasSuffix(resp.URL, "/hop/0") {
		t.Fatalf("final URL %q", resp.URL)
	}
	if _, err := (&Fetcher{Allow: loopback, MaxRedirects: -1}).Fetch(context.Background(), s.URL+"/hop/1", Validators{}); !isRefused(err) {
		t.Fatalf("MaxRedirects -1 followed a redirect: %v", err)
	}
}

// A published list may move to another host (a CDN): a fetch follows it
// there, guarded like the first hop, and never through the environment's
// proxy. (https to http is refused for every caller: internal/outbound.)
func TestFetchRedirectsAcrossOrigins(t *testing.T) {
	cdn := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "moved.example\n") })
	origin := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, cdn.URL+"/list.txt", http.StatusFound)
	})
	envProxy := serve(t, func(w http.ResponseWriter, r *http.Request) { t.Errorf("the environment's proxy got %s", r.URL) })
	t.Setenv("HTTP_PROXY", envProxy.URL)
	_, port, _ := net.SplitHostPort(origin.Listener.Addr().String())
	f := &Fetcher{Allow: loopback, Resolver: fakeResolver{"lists.test": addrs("127.0.0.1")}}
	resp, err := f.Fetch(context.Background(), "http://lists.test:"+port+"/", Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != "moved.example\n" || !strings.HasPrefix(resp.URL, cdn.URL) {
		t.Fatalf("got %q from %s", resp.Body, resp.URL)
	}

}

// The address table itself (every refused range, IPv6 forms, Allow and
// Deny) is internal/outbound's: guard_test.go.

func TestUserAgentDefault(t *testing.T) {
	if got := UserAgent(""); got != "fedcommons/dev (+https://github.com/fedcommons/fedcommons)" {
		t.Fatal(got)
	}
}
