package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// A Fetcher's bounds. They are generous for real blocklists (the largest
// public lists are a few MiB) and small enough that a hostile source cannot
// exhaust the operator's memory or tie it up. The parser's caps are in
// internal/moderation/parse_limits.go.
const (
	// DefaultMaxBytes bounds a body's decoded size: the parser's limit, so
	// that whatever the fetch accepts the parser reads. It is counted on
	// the decompressor's output as it streams, so a gzip bomb costs no
	// more than this (see readBody).
	DefaultMaxBytes int64 = moderation.DefaultMaxBytes
	// DefaultTimeout bounds one whole fetch, body included.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxRedirects bounds the hops of one fetch.
	DefaultMaxRedirects = 5
	// MaxHeaderBytes bounds a response's status line and headers (net/http
	// allows 10 MiB by default). Real feeds send well under 4 KiB.
	MaxHeaderBytes = 64 << 10
	// MaxValidatorBytes bounds an ETag or Last-Modified worth keeping: they
	// are saved with the fetch state (a ConfigMap) and sent back on every
	// fetch. Real ETags are a quoted hash (under 100 bytes), Last-Modified
	// an HTTP date (29). A longer or malformed one is dropped, not cut: the
	// next fetch is simply unconditional.
	MaxValidatorBytes = 256
	// maxShownURL bounds a URL quoted in an error. Errors end up in a
	// status condition, clipped; a long URL must not push the reason out.
	maxShownURL = 200
)

// ProjectURL is named in the User-Agent so that a publisher who sees our
// requests in their logs knows who to talk to.
const ProjectURL = "https://github.com/fedcommons/fedcommons"

// UserAgent is the User-Agent header the Fetcher sends.
func UserAgent(version string) string {
	if version == "" {
		version = "dev"
	}
	return "fedcommons/" + version + " (+" + ProjectURL + ")"
}

// Resolver looks up the addresses of a host name. *net.Resolver satisfies
// it; tests substitute their own to make a name resolve wherever they like.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Fetcher fetches source URLs with hard bounds. The zero value is ready to
// use with the defaults and refuses every non-public address. Configure the
// fields before the first Fetch; a Fetcher is safe for concurrent use.
type Fetcher struct {
	// MaxBytes bounds the (decoded) body. 0 means DefaultMaxBytes.
	MaxBytes int64
	// Timeout bounds one whole fetch: connecting, redirects and reading the
	// body. 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxRedirects is how many redirects are followed. 0 means
	// DefaultMaxRedirects; a negative value follows none.
	MaxRedirects int
	// Version goes into the User-Agent.
	Version string

	// Allow lists address ranges that may be fetched even though they are
	// loopback, private, link-local or shared (CGNAT): for tests on
	// 127.0.0.1 and for an operator that must reach a feed inside the
	// cluster. Empty means none: the guard is on unless someone opts out
	// in writing, range by range.
	Allow []netip.Prefix
	// Deny lists further ranges that are always refused, even when Allow
	// covers them: typically the cluster's pod and service CIDRs when they
	// are not in a private range.
	Deny []netip.Prefix

	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver

	once   sync.Once
	client *http.Client
}

// Validators are what a conditional request needs from the last good fetch.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

// Response is the outcome of a fetch that reached the source and was
// answered with a usable status.
type Response struct {
	// URL is the URL finally fetched, after redirects.
	URL string
	// NotModified is true when the source answered 304 to a conditional
	// request: the last good copy is still current and Body is nil.
	NotModified bool
	// Body is the response body, at most MaxBytes long.
	Body []byte
	// ContentType is the Content-Type the source declared.
	ContentType string
	// Validators are the ETag and Last-Modified to send next time. On a
	// 304 they are the ones sent, updated by any the source returned.
	Validators
}

// RefusedError is a fetch the Fetcher would not make: a scheme other than
// http(s), an address it must not connect to, too many redirects.
type RefusedError struct {
	// Host is the host name as written in the URL, when known.
	Host string
	// Addr is the refused address, when the refusal is about one.
	Addr netip.Addr
	// Why is a sentence fragment: "a private address", "more than 5
	// redirects (the last one to ...)".
	Why string
}

func (e *RefusedError) Error() string {
	switch {
	case e.Addr.IsValid() && e.Host != "" && e.Host != e.Addr.String():
		return fmt.Sprintf("refused: %s resolves to %s, %s", e.Host, e.Addr, e.Why)
	case e.Addr.IsValid():
		return fmt.Sprintf("refused: %s is %s", e.Addr, e.Why)
	default:
		return "refused: " + e.Why
	}
}

// TooLargeError is a source larger than MaxBytes.
type TooLargeError struct {
	URL   string
	Limit int64
	// Declared is the Content-Length the source announced, or -1 when it
	// announced none (or a smaller one) and simply sent too much.
	Declared int64
}

func (e *TooLargeError) Error() string {
	if e.Declared >= 0 {
		return fmt.Sprintf("refused: %s announces %s, above the %s limit on a feed (MaxBytes)", e.URL, byteSize(e.Declared), byteSize(e.Limit))
	}
	return fmt.Sprintf("refused: %s sent more than the %s limit on a feed, counted after decompression (MaxBytes)", e.URL, byteSize(e.Limit))
}

// StatusError is a source that answered with a status other than 200 or 304.
type StatusError struct {
	URL    string
	Code   int
	Status string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s answered %s", e.URL, e.Status)
}

// TimeoutError is a fetch that did not finish within the Fetcher's Timeout.
// It unwraps to context.DeadlineExceeded.
type TimeoutError struct {
	URL   string
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("gave up on %s after %s, the limit for one fetch", e.URL, e.After)
}

func (e *TimeoutError) Unwrap() error { return context.DeadlineExceeded }

func (f *Fetcher) maxBytes() int64 {
	if f.MaxBytes > 0 {
		return f.MaxBytes
	}
	return DefaultMaxBytes
}

func (f *Fetcher) timeout() time.Duration {
	if f.Timeout > 0 {
		return f.Timeout
	}
	return DefaultTimeout
}

func (f *Fetcher) maxRedirects() int {
	switch {
	case f.MaxRedirects < 0:
		return 0
	case f.MaxRedirects == 0:
		return DefaultMaxRedirects
	}
	return f.MaxRedirects
}

func (f *Fetcher) resolver() Resolver {
	if f.Resolver != nil {
		return f.Resolver
	}
	return net.DefaultResolver
}

func (f *Fetcher) httpClient() *http.Client {
	f.once.Do(func() {
		dialer := &net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
			// Second line of defence: whatever path leads to a dial, the
			// address the socket is about to connect to is checked again.
			Control: f.control,
		}
		t := &http.Transport{
			// No proxy, ever: through a proxy the guard would check the
			// proxy's address and the proxy would reach whatever the URL
			// names. HTTP_PROXY in the operator's environment must not
			// silently turn the guard off.
			Proxy: nil,
			DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
				return f.dialGuarded(ctx, dialer, network, address)
			},
			ForceAttemptHTTP2: true,
			// The per-fetch context bounds the whole exchange; a separate
			// header timeout would only race it with a vaguer message.
			TLSHandshakeTimeout:    10 * time.Second,
			MaxResponseHeaderBytes: MaxHeaderBytes,
			MaxIdleConns:           8,
			IdleConnTimeout:        30 * time.Second,
		}
		f.client = &http.Client{
			Transport: t,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) > f.maxRedirects() {
					return &RefusedError{Why: fmt.Sprintf("more than %d redirects (the last one to %s)", f.maxRedirects(), req.URL.Redacted())}
				}
				// The address of the new hop is checked when it is
				// dialled; the scheme must be checked here.
				return checkURL(req.URL)
			},
		}
	})
	return f.client
}

// checkURL refuses what is not an absolute http(s) URL with a host.
func checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &RefusedError{Why: fmt.Sprintf("scheme %q in %s: only http and https sources are fetched", u.Scheme, u.Redacted())}
	}
	if u.Hostname() == "" {
		return &RefusedError{Why: fmt.Sprintf("%s names no host", u.Redacted())}
	}
	return nil
}

// Fetch fetches rawURL. With prev's validators it makes a conditional
// request, and a 304 comes back as a Response with NotModified set. Every
// other outcome than 200 and 304 is an error: *RefusedError,
// *TooLargeError, *StatusError, *TimeoutError or a network error, each
// worded for a status condition. The body is read whole into
// Response.Body; FetchInto hands it to a reader instead.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, prev Validators) (*Response, error) {
	var body []byte
	resp, err := f.fetch(ctx, rawURL, prev, func(r io.Reader, size int64) error {
		var err error
		body, err = readBody(r, size)
		return err
	})
	if err != nil {
		return nil, err
	}
	resp.Body = body
	return resp, nil
}

// FetchInto is Fetch handing a 200's body to read as a stream instead of
// holding it: the decoded body, failing with *TooLargeError past MaxBytes
// (counted as it comes out of the decompressor, before read can allocate
// anything for it). read runs within the fetch's deadline. Response.Body
// is nil.
//
// When the body itself fails (too large, cut off, too slow), that error is
// returned, as from Fetch, whatever read made of it. When read fails on a
// body that arrived whole, its error comes back as a *ReadError.
func (f *Fetcher) FetchInto(ctx context.Context, rawURL string, prev Validators, read func(body io.Reader) error) (*Response, error) {
	return f.fetch(ctx, rawURL, prev, func(r io.Reader, _ int64) error { return read(r) })
}

// ReadError is FetchInto's read failing on a body that arrived whole: the
// source answered, with something read refused (a parse error).
type ReadError struct {
	// URL is the URL finally fetched, after redirects.
	URL string
	Err error
}

func (e *ReadError) Error() string { return e.URL + ": " + e.Err.Error() }

func (e *ReadError) Unwrap() error { return e.Err }

// fetch is Fetch and FetchInto; read gets the body and its declared size
// (-1 when unknown or decoded by the transport).
func (f *Fetcher) fetch(ctx context.Context, rawURL string, prev Validators, read func(body io.Reader, size int64) error) (*Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cannot read the source URL: %w", err)
	}
	if err := checkURL(u); err != nil {
		return nil, err
	}
	shown := shortURL(u.Redacted())

	ctx, cancel := context.WithTimeout(ctx, f.timeout())
	defer cancel()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("cannot fetch %s: %w", shown, err)
	}
	req.Header.Set("User-Agent", UserAgent(f.Version))
	req.Header.Set("Accept", "text/csv, application/json;q=0.9, text/plain;q=0.8, */*;q=0.1")
	conditional := prev.ETag != "" || prev.LastModified != ""
	if prev.ETag != "" {
		req.Header.Set("If-None-Match", prev.ETag)
	}
	if prev.LastModified != "" {
		req.Header.Set("If-Modified-Since", prev.LastModified)
	}

	resp, err := f.httpClient().Do(req)
	if err != nil {
		return nil, f.explain(ctx, shown, err)
	}
	defer func() { _ = resp.Body.Close() }()

	final := shortURL(resp.Request.URL.Redacted())
	got := Validators{ETag: validator(resp.Header.Get("ETag")), LastModified: validator(resp.Header.Get("Last-Modified"))}

	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		if got.ETag == "" {
			got.ETag = prev.ETag
		}
		if got.LastModified == "" {
			got.LastModified = prev.LastModified
		}
		return &Response{URL: final, NotModified: true, ContentType: resp.Header.Get("Content-Type"), Validators: got}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, &StatusError{URL: final, Code: resp.StatusCode, Status: statusText(resp)}
	}

	limit := f.maxBytes()
	// Content-Length is only a claim, but an honest large one saves
	// reading 16 MiB just to throw it away.
	if resp.ContentLength > limit {
		return nil, &TooLargeError{URL: final, Limit: limit, Declared: resp.ContentLength}
	}
	size := resp.ContentLength
	if resp.Uncompressed {
		size = -1
	}
	body := &bodyReader{r: resp.Body, limit: limit,
		fail:     func(err error) error { return f.explain(ctx, final, err) },
		tooLarge: &TooLargeError{URL: final, Limit: limit, Declared: -1}}
	err = read(body, size)
	switch {
	case body.err != nil:
		return nil, body.err
	case err != nil:
		return nil, &ReadError{URL: final, Err: err}
	}
	return &Response{URL: final, ContentType: resp.Header.Get("Content-Type"), Validators: got}, nil
}

// explain turns the layers of url.Error and net.OpError into one sentence.
func (f *Fetcher) explain(ctx context.Context, shown string, err error) error {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return &TimeoutError{URL: shown, After: f.timeout()}
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("cannot fetch %s: %w", shown, err)
}

func statusText(resp *http.Response) string {
	if resp.Status != "" {
		return resp.Status
	}
	return strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode)
}

// dialGuarded resolves the host itself and connects only to addresses the
// guard allows, by IP, so that the address checked is the address used: a
// name cannot resolve to something harmless here and to 10.0.0.5 a moment
// later in the dialer (DNS rebinding).
func (f *Fetcher) dialGuarded(ctx context.Context, d *net.Dialer, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("bad port %q", portStr)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		ipnet := "ip"
		switch network {
		case "tcp4":
			ipnet = "ip4"
		case "tcp6":
			ipnet = "ip6"
		}
		addrs, err = f.resolver().LookupNetIP(ctx, ipnet, host)
		if err != nil {
			return nil, fmt.Errorf("cannot resolve %s: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("cannot resolve %s: no addresses", host)
		}
	}
	// One refused address refuses the host: a public name has no business
	// resolving to a private address, and connecting to "the other one"
	// would make the outcome depend on ordering an attacker controls.
	for _, a := range addrs {
		if why := f.refusal(a); why != "" {
			return nil, &RefusedError{Host: host, Addr: a, Why: why}
		}
	}
	var lastErr error
	for _, a := range addrs {
		conn, err := d.DialContext(ctx, network, netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil {
			return conn, nil
		}
		var refused *RefusedError
		if errors.As(err, &refused) {
			refused.Host = host
			return nil, refused
		}
		lastErr = err
	}
	return nil, lastErr
}

// control is the net.Dialer's last look at the socket address.
func (f *Fetcher) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &RefusedError{Why: fmt.Sprintf("cannot check the address %q", address)}
	}
	if why := f.refusal(ap.Addr()); why != "" {
		return &RefusedError{Addr: ap.Addr(), Why: why}
	}
	return nil
}

type addrRange struct {
	prefix netip.Prefix
	what   string
}

func ranges(rs ...string) []addrRange {
	out := make([]addrRange, 0, len(rs)/2)
	for i := 0; i < len(rs); i += 2 {
		out = append(out, addrRange{netip.MustParsePrefix(rs[i]), rs[i+1]})
	}
	return out
}

// never are refused even when Allow covers them: connecting to them means
// nothing sensible (0.0.0.0 reaches the local host on Linux).
var never = ranges(
	"0.0.0.0/32", "the unspecified address",
	"::/128", "the unspecified address",
	"224.0.0.0/4", "a multicast address",
	"ff00::/8", "a multicast address",
	"255.255.255.255/32", "the broadcast address",
)

// special are refused unless Allow covers them. Order matters: the first
// match names the reason, so the specific ranges come before the general.
var special = ranges(
	"0.0.0.0/8", `a "this network" address`,
	"10.0.0.0/8", "a private address",
	"100.64.0.0/10", "a shared (carrier-grade NAT) address",
	"127.0.0.0/8", "a loopback address",
	"169.254.169.254/32", "the cloud metadata address",
	"169.254.0.0/16", "a link-local address",
	"172.16.0.0/12", "a private address",
	"192.0.0.0/24", "an IETF protocol address",
	"192.0.2.0/24", "a documentation address",
	"192.168.0.0/16", "a private address",
	"198.18.0.0/15", "a benchmarking address",
	"198.51.100.0/24", "a documentation address",
	"203.0.113.0/24", "a documentation address",
	"240.0.0.0/4", "a reserved address",
	"::1/128", "a loopback address",
	"::/96", "a deprecated IPv4-compatible address",
	"64:ff9b:1::/48", "a local-use NAT64 address",
	"100::/64", "a discard-only address",
	"2001:db8::/32", "a documentation address",
	"fd00:ec2::254/128", "the cloud metadata address",
	"fc00::/7", "a private (unique local) address",
	"fe80::/10", "a link-local address",
	"fec0::/10", "a site-local address",
)

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixto4 = netip.MustParsePrefix("2002::/16")
)

// refusal says why a must not be connected to, or "" when it may.
func (f *Fetcher) refusal(a netip.Addr) string {
	a = a.Unmap().WithZone("")
	for _, p := range f.Deny {
		if p.Contains(a) {
			return "in a range the operator denies (" + p.String() + ")"
		}
	}
	for _, r := range never {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	// IPv6 forms that carry an IPv4 address reach that address through a
	// translator: judge them by what they carry.
	if nat64.Contains(a) || sixto4.Contains(a) {
		b := a.As16()
		var v4 [4]byte
		if nat64.Contains(a) {
			copy(v4[:], b[12:16])
		} else {
			copy(v4[:], b[2:6])
		}
		inner := netip.AddrFrom4(v4)
		if why := f.refusal(inner); why != "" {
			return fmt.Sprintf("an IPv6 form of %s, %s", inner, why)
		}
		return ""
	}
	for _, p := range f.Allow {
		if p.Contains(a) {
			return ""
		}
	}
	for _, r := range special {
		if r.prefix.Contains(a) {
			return r.what
		}
	}
	return ""
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
