package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// target is a server family and version the contracts run against: the
// real server, or the fake configured as that version.
type target struct {
	name string
	// driver is the driver family; version what the server reports.
	driver, version string
	// allows, limits: what this version has.
	allows, limits bool
	// rateLimit requests per rateWindow per client, as the server counts.
	rateLimit  int
	rateWindow time.Duration
	// open gives one contract case its server: a fresh fake, or the shared
	// real server seen through a client of its own.
	open func(t *testing.T, id int) *endpoint
}

// endpoint is the server one case talks to, and how.
type endpoint struct {
	url string
	// token is an admin's; userToken an account's without the admin role.
	token, userToken string
	// wire is the case's own HTTP client identity, counting what it sends.
	wire *wire
	// suffix scopes the case's domains: the real server is shared by
	// every case, and a case's plan must only ever see its own entries.
	suffix string
	// fake is the fake server, nil for the real one.
	fake *fakeserver.Server
}

var addrs atomic.Int32

// nextAddr is a client address of its own on the real server.
func nextAddr() string {
	n := addrs.Add(1)
	return fmt.Sprintf("10.77.%d.%d", n/250, n%250+1)
}

// other is the same server and case seen from another client: another
// address on the real server (the fakes count every client together).
func (e *endpoint) other() *endpoint {
	o := *e
	o.wire = newWire("")
	if e.wire.xff != "" {
		o.wire.xff = nextAddr()
	}
	return &o
}

// dom is a domain of this case.
func (e *endpoint) dom(label string) string { return label + "." + e.suffix }

// client is an HTTP client that goes through the case's wire.
func (e *endpoint) client() *http.Client { return &http.Client{Transport: e.wire} }

// driver builds the target's driver for token, with the driver's own
// defaults otherwise (client-side rate budget included).
func (e *endpoint) driver(t *testing.T, tg target, token string, cfg drivers.Config) drivers.Driver {
	t.Helper()
	cfg.BaseURL, cfg.Token, cfg.HTTPClient = e.url, token, e.client()
	d, err := drivers.New(tg.driver, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// wire is a case's HTTP transport: on the real server it gives the case a
// client address of its own (X-Forwarded-For from a trusted loopback
// proxy), so each case has its own rate budget as separate operators
// would; it counts requests and answers for the assertions.
type wire struct {
	xff string
	mu  sync.Mutex
	// writes are non-GET requests sent; statuses the answers by code.
	writes   int
	requests int
	statuses map[int]int
	// gets counts GETs by path and query.
	gets  map[string]int
	bytes int64
}

func newWire(xff string) *wire {
	return &wire{xff: xff, statuses: map[int]int{}, gets: map[string]int{}}
}

func (w *wire) RoundTrip(r *http.Request) (*http.Response, error) {
	if w.xff != "" {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", w.xff)
	}
	w.mu.Lock()
	w.requests++
	if r.Method != http.MethodGet {
		w.writes++
	} else {
		w.gets[r.URL.RequestURI()]++
	}
	w.mu.Unlock()
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err == nil {
		w.mu.Lock()
		w.statuses[resp.StatusCode]++
		w.mu.Unlock()
		resp.Body = &countedBody{ReadCloser: resp.Body, w: w}
	}
	return resp, err
}

// countedBody adds what is read of an answer to its wire's bytes (answers
// are often chunked: their length is known only once read).
type countedBody struct {
	io.ReadCloser
	w *wire
}

func (b *countedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.w.mu.Lock()
	b.w.bytes += int64(n)
	b.w.mu.Unlock()
	return n, err
}

// snapshot returns the counters and zeroes them.
func (w *wire) snapshot() wireCounts {
	w.mu.Lock()
	defer w.mu.Unlock()
	c := wireCounts{writes: w.writes, requests: w.requests, statuses: w.statuses, gets: w.gets, bytes: w.bytes}
	w.writes, w.requests, w.statuses, w.gets, w.bytes = 0, 0, map[int]int{}, map[string]int{}, 0
	return c
}

type wireCounts struct {
	writes, requests int
	statuses         map[int]int
	gets             map[string]int
	bytes            int64
}

// raw is one API call the way a human's tool (or the admin panel) makes
// it, outside any driver.
type raw struct {
	status int
	header http.Header
	body   string
	// hungUp: the server closed the connection without an answer.
	hungUp bool
}

func (e *endpoint) call(t *testing.T, token, method, path string, form url.Values) raw {
	t.Helper()
	r, err := e.send(token, method, path, form)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// send is call for goroutines, which must not end the test.
func (e *endpoint) send(token, method, path string, form url.Values) (raw, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		return raw{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return e.do(token, req)
}

func (e *endpoint) do(token string, req *http.Request) (raw, error) {
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Accept", "application/json")
	ctx, cancel := context.WithTimeout(req.Context(), 30*time.Second)
	defer cancel()
	resp, err := e.client().Do(req.WithContext(ctx))
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
			return raw{hungUp: true}, nil
		}
		return raw{}, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return raw{}, err
	}
	return raw{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

func (r raw) String() string {
	if r.hungUp {
		return "no answer (connection closed)"
	}
	return fmt.Sprintf("HTTP %d %s", r.status, strings.TrimSpace(r.body))
}

// sync is one delivery pass of the case's desired entries: probe,
// express, list (only the case's own domains), diff, apply.
func (e *endpoint) sync(t *testing.T, d drivers.Driver, desired []moderation.Entry) (moderation.Plan, drivers.ApplyResult, error) {
	t.Helper()
	ctx := context.Background()
	caps, err := d.Probe(ctx)
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	sendable, _ := d.Express(caps, desired, drivers.Blocklist)
	plan := moderation.Diff(sendable, e.list(t, d))
	if plan.Empty() {
		return plan, drivers.ApplyResult{}, nil
	}
	res, err := d.Apply(ctx, plan, nil)
	return plan, res, err
}

// list is the driver's List, only the case's own domains.
func (e *endpoint) list(t *testing.T, d drivers.Driver) []moderation.ServerEntry {
	t.Helper()
	all, err := d.List(context.Background())
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	var out []moderation.ServerEntry
	for _, se := range all {
		if strings.HasSuffix(se.Domain, "."+e.suffix) {
			out = append(out, se)
		}
	}
	return out
}
