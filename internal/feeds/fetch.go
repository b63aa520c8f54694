package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/outbound"
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
	DefaultMaxRedirects = outbound.DefaultMaxRedirects
	// MaxHeaderBytes bounds a response's status line and headers (net/http
	// allows 10 MiB by default). Real feeds send well under 4 KiB.
	MaxHeaderBytes = 64 << 10
	// MaxValidatorBytes bounds an ETag or Last-Modified worth keeping: they
	// are saved with the fetch state (a ConfigMap) and sent back on every
	// fetch. Real ETags are a quoted hash (under 100 bytes), Last-Modified
	// an HTTP date (29). A longer or malformed one is dropped, not cut: the
	// next fetch is simply unconditional.
	MaxValidatorBytes = 256
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
type Resolver = outbound.Resolver

// Fetcher fetches source URLs with hard bounds, through the operator's one
// outbound stack (internal/outbound): its address guard, no proxy but
// Proxy, no https to http redirect. The zero value is ready to use with the
// defaults and refuses every non-public address. Configure the
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

	// Proxy, when set, carries every fetch (--outbound-proxy). The
	// environment's HTTP_PROXY is never used.
	Proxy *url.URL

	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver

	once      sync.Once
	client    *http.Client
	clientErr error
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
// http(s), an address it must not connect to, a redirect it must not
// follow.
type RefusedError = outbound.RefusedError

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

func (f *Fetcher) httpClient() (*http.Client, error) {
	f.once.Do(func() {
		stack, err := outbound.New(outbound.Config{
			Allow: f.Allow, Deny: f.Deny, Proxy: f.Proxy, Resolver: f.Resolver,
			MaxResponseHeaderBytes: MaxHeaderBytes,
			// The per-fetch context bounds the whole exchange; the
			// stack's own bounds only back it up, a little later, so
			// that a slow source gets the TimeoutError's clear words.
			ResponseHeaderTimeout: f.timeout() + time.Second,
			Timeout:               f.timeout() + 2*time.Second,
		})
		if err != nil {
			f.clientErr = err
			return
		}
		// A fetch carries no credentials: it may follow a published list
		// to another public host (a CDN), each hop guarded like the first.
		f.client, f.clientErr = stack.Client(outbound.PublicOrigins)
		if f.client != nil {
			f.client.CheckRedirect = outbound.CheckRedirect(outbound.PublicOrigins, f.MaxRedirects)
		}
	})
	return f.client, f.clientErr
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

	hc, err := f.httpClient()
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
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
	return fmt.Errorf("cannot fetch %s: %w", shown, outbound.Unwrap(err))
}

// statusText is the status in our words: the reason phrase of the status
// line is the source's text, and it ends up in a status condition.
func statusText(resp *http.Response) string {
	return strings.TrimSpace(strconv.Itoa(resp.StatusCode) + " " + http.StatusText(resp.StatusCode))
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
