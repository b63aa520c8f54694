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
	// maxBody, when set, replaces the client's bound on the answer: the
	// list pages, whose bound is what is left of a List's budget.
	maxBody int64
	// stream, when set, reads a 2xx answer as it arrives instead of the
	// answer being kept whole (list pages: only what is decoded stays in
	// memory); read is how many bytes it read.
	stream func(body io.Reader) error
	read   *int64
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
	base      *url.URL
	server    string
	token     string
	hc        *http.Client
	userAgent string
	maxBody   int64
	// maxListBytes and maxListEntries are the budget of one List.
	maxListBytes   int64
	maxListEntries int
	timeout        time.Duration
	clock          Clock
	lim            *limiter
	maxRetries     int
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
		base:           u,
		server:         u.Redacted(),
		token:          cfg.Token,
		hc:             guardedClient(cfg.HTTPClient, outbound.SameOrigin),
		userAgent:      cfg.UserAgent,
		maxBody:        cfg.MaxResponseBytes,
		maxListBytes:   cfg.MaxListBytes,
		maxListEntries: cfg.MaxListEntries,
		timeout:        cfg.RequestTimeout,
		clock:          cfg.Clock,
		maxRetries:     cfg.RateLimit.MaxRetries,
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.maxBody <= 0 {
		c.maxBody = 16 << 20
	}
	if c.maxListBytes <= 0 {
		c.maxListBytes = defaultMaxListBytes
	}
	if c.maxListEntries <= 0 {
		c.maxListEntries = defaultMaxListEntries
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
	limit := c.maxBody
	if req.maxBody > 0 {
		limit = req.maxBody
	}
	if req.stream != nil && hresp.StatusCode >= 200 && hresp.StatusCode <= 299 {
		return c.streamed(req, hresp, limit)
	}
	data, err := io.ReadAll(io.LimitReader(hresp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: reading response: %w", c.server, req.call, err)
	}
	if int64(len(data)) > limit {
		if req.maxBody > 0 {
			return nil, fmt.Errorf("%s: %s: %w (more than %d bytes left of it)", c.server, req.call, ErrListTooLarge, limit)
		}
		return nil, fmt.Errorf("%s: %s: response larger than %d bytes", c.server, req.call, limit)
	}
	return &response{status: hresp.StatusCode, header: hresp.Header, body: data}, nil
}

// streamed hands a 2xx answer to req.stream, at most limit bytes of it.
func (c *client) streamed(req request, hresp *http.Response, limit int64) (*response, error) {
	body := &countingReader{r: io.LimitReader(hresp.Body, limit+1)}
	err := req.stream(body)
	if req.read != nil {
		*req.read = body.n
	}
	switch {
	case body.n > limit:
		return nil, fmt.Errorf("%s: %s: %w (more than %d bytes left of it)", c.server, req.call, ErrListTooLarge, limit)
	case errors.Is(err, ErrListTooLarge):
		return nil, fmt.Errorf("%s: %s: %w", c.server, req.call, err)
	case err != nil:
		return nil, fmt.Errorf("%s: %s: decoding: %w", c.server, req.call, err)
	}
	return &response{status: hresp.StatusCode, header: hresp.Header}, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
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

// statusOf returns the HTTP status of an APIError, or 0.
func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}
