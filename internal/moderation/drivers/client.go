package drivers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fedcommons/fedcommons/internal/outbound"
)

// APIError is a non-2xx answer from a server.
type APIError struct {
	// Server is the base URL, Call the method and path template
	// ("PUT /api/v1/admin/domain_blocks/:id").
	Server, Call string
	Status       int
	// Message is the server's error message when it answered with a JSON
	// error document, cleaned (outbound.ErrorMessage); "" otherwise. The
	// body itself is never quoted: the server controls it, and errors end
	// up in status conditions and events.
	Message string
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s: %s: HTTP %d %s", e.Server, e.Call, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return strings.TrimSpace(msg)
}

// request is one API call. Exactly one of form and file may be set.
type request struct {
	method string
	// path is the request path, possibly with a query.
	path string
	// call names the call in errors and logs, with ids templated out.
	call string
	form url.Values
	file *filePart
}

// filePart is a multipart upload (bulk imports).
type filePart struct {
	field, filename, contentType string
	content                      []byte
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// client is the HTTP behaviour every driver shares.
type client struct {
	base       *url.URL
	server     string
	token      string
	hc         *http.Client
	userAgent  string
	maxBody    int64
	timeout    time.Duration
	clock      Clock
	lim        *limiter
	maxRetries int
	// writes counts write requests sent, for ApplyResult.WriteCalls.
	writes atomic.Int64
}

func newClient(cfg Config) (*client, error) {
	u, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("drivers: base URL %q must be http(s)://host[:port]", cfg.BaseURL)
	}
	if u.User != nil {
		return nil, fmt.Errorf("drivers: base URL for %s must not carry credentials", u.Host)
	}
	if cfg.Token == "" {
		return nil, fmt.Errorf("drivers: %s: no admin token configured", u.Redacted())
	}
	c := &client{
		base:       u,
		server:     u.Redacted(),
		token:      cfg.Token,
		hc:         guardedClient(cfg.HTTPClient, outbound.SameOrigin),
		userAgent:  cfg.UserAgent,
		maxBody:    cfg.MaxResponseBytes,
		timeout:    cfg.RequestTimeout,
		clock:      cfg.Clock,
		maxRetries: cfg.RateLimit.MaxRetries,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.maxBody <= 0 {
		c.maxBody = 16 << 20
	}
	if c.timeout <= 0 {
		c.timeout = 30 * time.Second
	}
	if c.clock == nil {
		c.clock = wallClock{}
	}
	if c.maxRetries <= 0 {
		c.maxRetries = 3
	}
	rl := cfg.RateLimit
	if rl.Requests == 0 {
		rl.Requests, rl.Period = 300, 5*time.Minute
	}
	if rl.MaxWait <= 0 {
		rl.MaxWait = 30 * time.Second
	}
	c.lim = newLimiter(rl, c.clock)
	return c, nil
}

// do sends a request through the rate limiter, retrying 429s within the
// configured patience. Non-2xx answers come back as *APIError together with
// the response; rate limiting beyond our patience as *RateLimitedError.
func (c *client) do(ctx context.Context, req request) (*response, error) {
	for attempt := 0; ; attempt++ {
		wait, why, err := c.lim.wait(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", c.server, req.call, err)
		}
		if wait > 0 {
			return nil, &RateLimitedError{Server: c.server, Call: req.call, RetryAfter: wait, Reason: why}
		}
		resp, err := c.once(ctx, req)
		if err != nil {
			return nil, err
		}
		c.lim.observe(resp.header)
		if resp.status == http.StatusTooManyRequests {
			d := retryAfter(resp.header, c.clock.Now(), time.Second<<attempt)
			if attempt >= c.maxRetries {
				return nil, &RateLimitedError{Server: c.server, Call: req.call, RetryAfter: d,
					Reason: fmt.Sprintf("still 429 after %d retries", attempt)}
			}
			// The pause applies to every request on this client, not just
			// the retry: the server's budget is per token.
			c.lim.pauseUntil(c.clock.Now().Add(d))
			continue
		}
		if resp.status < 200 || resp.status > 299 {
			return resp, &APIError{Server: c.server, Call: req.call, Status: resp.status, Message: outbound.ErrorMessage(resp.body, c.token)}
		}
		return resp, nil
	}
}

func (c *client) once(ctx context.Context, req request) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target, err := c.base.Parse(req.path)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: bad path: %w", c.server, req.call, err)
	}
	var body io.Reader
	contentType := ""
	switch {
	case req.file != nil:
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, req.file.field, req.file.filename)}
		h["Content-Type"] = []string{req.file.contentType}
		pw, err := mw.CreatePart(h)
		if err == nil {
			_, err = pw.Write(req.file.content)
		}
		for k, vs := range req.form {
			for _, v := range vs {
				if err == nil {
					err = mw.WriteField(k, v)
				}
			}
		}
		if err == nil {
			err = mw.Close()
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: building upload: %w", c.server, req.call, err)
		}
		body, contentType = &buf, mw.FormDataContentType()
	case req.form != nil:
		body, contentType = strings.NewReader(req.form.Encode()), "application/x-www-form-urlencoded"
	}
	hreq, err := http.NewRequestWithContext(ctx, req.method, target.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", c.server, req.call, err)
	}
	hreq.Header.Set("Authorization", "Bearer "+c.token)
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", c.userAgent)
	if contentType != "" {
		hreq.Header.Set("Content-Type", contentType)
	}
	if req.method != http.MethodGet {
		c.writes.Add(1)
	}
	hresp, err := c.hc.Do(hreq)
	if err != nil {
		// Not the url.Error: after a refused redirect its URL is the
		// server's Location header, verbatim.
		return nil, fmt.Errorf("%s: %s: %w", c.server, req.call, outbound.Unwrap(err))
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, c.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: reading response: %w", c.server, req.call, err)
	}
	if int64(len(data)) > c.maxBody {
		return nil, fmt.Errorf("%s: %s: response larger than %d bytes", c.server, req.call, c.maxBody)
	}
	return &response{status: hresp.StatusCode, header: hresp.Header, body: data}, nil
}

// guardedClient is the client a driver or the OAuth flow sends with: the
// transport of hc (the caller's outbound stack, with the server's trusted
// origin when the operator hosts it) or, when there is none, the default
// guarded one, never net/http's default transport (which reads HTTP_PROXY
// and dials anything); and the redirect policy of the caller, whatever hc's
// was: a call carrying a token or a password follows no redirect off its
// server.
func guardedClient(hc *http.Client, redirects outbound.Redirects) *http.Client {
	out := &http.Client{CheckRedirect: outbound.CheckRedirect(redirects, 0)}
	if hc != nil {
		out.Transport, out.Timeout = hc.Transport, hc.Timeout
	}
	if out.Transport == nil {
		out.Transport, _ = outbound.Default().Transport()
	}
	return out
}

// maxPages stops a server whose Link headers never end.
const maxPages = 10000

// getAll fetches path and every page its Link rel="next" headers lead to,
// handing each body to page.
func (c *client) getAll(ctx context.Context, path, call string, page func(body []byte) error) error {
	seen := map[string]bool{}
	for n := 0; path != ""; n++ {
		if n >= maxPages {
			return fmt.Errorf("%s: %s: more than %d pages", c.server, call, maxPages)
		}
		seen[path] = true
		resp, err := c.do(ctx, request{method: http.MethodGet, path: path, call: "GET " + call})
		if err != nil {
			return err
		}
		if err := page(resp.body); err != nil {
			return fmt.Errorf("%s: GET %s: decoding: %w", c.server, call, err)
		}
		path = nextLink(resp.header)
		if seen[path] {
			return fmt.Errorf("%s: GET %s: pagination loops back to %s", c.server, call, path)
		}
	}
	return nil
}

// nextLink returns the path and query of the rel="next" Link, if any. Only
// the path is kept: servers build links from their public name, which from
// inside the cluster may not even resolve, and following a foreign host
// would send it our token.
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range splitLinks(v) {
			open, close := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
			if open < 0 || close < open {
				continue
			}
			isNext := false
			for _, p := range strings.Split(part[close+1:], ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") {
					for _, r := range strings.Fields(strings.Trim(val, `"`)) {
						isNext = isNext || r == "next"
					}
				}
			}
			if !isNext {
				continue
			}
			u, err := url.Parse(part[open+1 : close])
			if err != nil || u.Path == "" {
				continue
			}
			return u.RequestURI()
		}
	}
	return ""
}

// splitLinks splits a Link header on the commas between entries (URLs are
// inside <> and may themselves contain commas).
func splitLinks(v string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range v {
		switch r {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, v[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, v[start:])
}

// statusOf returns the HTTP status of an APIError, or 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
