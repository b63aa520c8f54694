// Package fakeserver runs in-process imitations of the Mastodon and
// GoToSocial admin moderation APIs on loopback, answering as the real
// servers do: bearer tokens, Link pagination, Mastodon's 422 for a domain
// that already has a block, GoToSocial's bulk import, idempotent creates,
// busy domains and Unicode names, versions without domain_limits, and 429
// rate limiting. test/conformance holds them to that: the GoToSocial fake
// runs the same contracts as a real GoToSocial, and the Mastodon fake must
// replay answers recorded from Mastodon's source and documentation.
//
// It is not test-only: the operator's envtest suite and `make demo` point
// real drivers at these servers, so everything here is safe for concurrent
// use and inspectable (Blocks, Calls, Writes ...) and hand-editable (AddBlock
// ...) from the outside, the way a human admin edits a real server.
package fakeserver

import (
	"encoding/json"
	"mime"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultToken is the admin token a server accepts when Options.Token is empty.
const DefaultToken = "fake-admin-token"

// Options configures a fake server. The zero value is a well-behaved newest
// server with no rate limiting.
type Options struct {
	// Token is the only bearer token accepted (default DefaultToken).
	Token string
	// Version is what /api/v1/instance reports (defaults "4.5.2" for
	// Mastodon, "0.20.1+git-8f7a3c2" for GoToSocial).
	Version string
	// PageSize caps how many entries one list page holds (Mastodon's cap is
	// 200, its default 100; GoToSocial's domain_limits cap is 100).
	PageSize int
	// RateLimit answers 429 once more than RateLimit requests arrive within
	// RateWindow (default 5 minutes); 0 disables it.
	RateLimit  int
	RateWindow time.Duration
	// SendRetryAfter adds Retry-After to 429s, as a proxy in front of a
	// server may; neither Mastodon (rack-attack's throttled_responder) nor
	// GoToSocial sends one, only X-RateLimit-Reset.
	SendRetryAfter bool
	// HideRateLimitHeaders leaves X-RateLimit-Limit/Remaining/Reset out of
	// answers other than 429s. Both real servers send them on every answer
	// of an existing API route while rate limiting is on.
	HideRateLimitHeaders bool
	// NoDomainLimits makes a GoToSocial server answer 404 on
	// /api/v1/admin/domain_limits, as versions before domain limits do.
	NoDomainLimits bool
	// ActionDuration is how long a fake GoToSocial keeps a domain busy
	// after a create or delete of a block or allow of it (the "side
	// effects" a real one runs in the background); another create or
	// delete for that domain meanwhile is made and then answered 409, as
	// GoToSocial 0.20 does. Zero: never busy.
	ActionDuration time.Duration
	// Latency delays every write, to exercise deadlines.
	Latency time.Duration
	// RoundTrip delays every request, reads included, before it is
	// answered: a server across a network rather than on loopback (the
	// propagation benchmark, test/scale). A write waits RoundTrip and then
	// Latency.
	RoundTrip time.Duration
	// Now is the clock of the rate-limit window, of created_at and of
	// ActionDuration (default time.Now), shared with a test's fake client
	// clock.
	Now func() time.Time
	// AdminEmail and AdminPassword are the account a fake GoToSocial's
	// sign-in accepts (SetAdminCredentials changes them later).
	AdminEmail    string
	AdminPassword string
}

// Record is one server entry, in a shape both families fit.
type Record struct {
	ID     string
	Domain string
	// Severity is Mastodon's "silence", "suspend" or "noop" (blocks only).
	Severity      string
	RejectMedia   bool
	RejectReports bool
	Obfuscate     bool
	// PrivateComment and PublicComment as stored.
	PrivateComment string
	PublicComment  string
	// GoToSocial domain limit policies.
	MediaPolicy    string
	FollowsPolicy  string
	StatusesPolicy string
	AccountsPolicy string
	ContentWarning string
	CreatedAt      time.Time

	seq int64
}

// Server is a running fake server.
type Server struct {
	// URL is the base URL (http://127.0.0.1:port).
	URL string

	hs   *httptest.Server
	opts Options
	mux  *http.ServeMux

	mu        sync.Mutex
	seq       int64
	blocks    map[string]*Record
	allows    map[string]*Record
	limits    map[string]*Record
	calls     map[string]int
	writes    int
	requests  int
	throttled int
	winStart  time.Time
	winCount  int
	newID     func(seq int64) string
	software  string
	family    family
	// extraTokens are accepted besides opts.Token (AcceptToken).
	extraTokens map[string]bool
	// userTokens belong to accounts without the admin role
	// (AcceptUserToken): the admin API refuses them with 403.
	userTokens map[string]bool
	// busy holds, per domain, when a fake GoToSocial's running action on
	// it ends and when it started (ActionDuration).
	busy map[string]action
	// oauth is a fake GoToSocial's sign-in and OAuth state (oauth.go).
	oauth *oauthState
}

func newServer(software string, opts Options, newID func(int64) string, fam family) *Server {
	if opts.Token == "" {
		opts.Token = DefaultToken
	}
	if opts.RateWindow <= 0 {
		opts.RateWindow = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:     opts,
		mux:      http.NewServeMux(),
		blocks:   map[string]*Record{},
		allows:   map[string]*Record{},
		limits:   map[string]*Record{},
		calls:    map[string]int{},
		newID:    newID,
		software: software,
		family:   fam,
		busy:     map[string]action{},
	}
	return s
}

func (s *Server) start() {
	s.hs = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.hs.URL
}

// Close shuts the server down.
func (s *Server) Close() { s.hs.Close() }

// Calls returns how many authenticated requests each call received, keyed
// like "POST /api/v1/admin/domain_blocks" or "PUT /api/v1/admin/domain_blocks/:id".
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.calls))
	for k, v := range s.calls {
		out[k] = v
	}
	return out
}

// Writes returns how many authenticated write requests (POST, PUT, DELETE)
// reached the API, whatever their answer.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// Requests returns how many requests arrived, including refused ones.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Throttled returns how many requests were answered 429.
func (s *Server) Throttled() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.throttled
}

// ResetCounters zeroes Calls, Writes, Requests and Throttled (not the
// rate-limit window).
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.writes, s.requests, s.throttled = 0, 0, 0
}

// Blocks returns the domain blocks, oldest first.
func (s *Server) Blocks() []Record { return s.snapshot(s.blocks) }

// Allows returns the domain allows, oldest first.
func (s *Server) Allows() []Record { return s.snapshot(s.allows) }

// Limits returns GoToSocial's domain limits, oldest first.
func (s *Server) Limits() []Record { return s.snapshot(s.limits) }

func (s *Server) snapshot(m map[string]*Record) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Record, 0, len(m))
	for _, r := range sorted(m) {
		out = append(out, *r)
	}
	return out
}

// AddBlock stores a block as a human admin would (no checks), returning it
// with its id (the given one, if set: fixtures replay a server's state).
func (s *Server) AddBlock(r Record) Record { return s.add(s.blocks, r) }

// AddAllow stores an allow as a human admin would.
func (s *Server) AddAllow(r Record) Record { return s.add(s.allows, r) }

// AddLimit stores a GoToSocial domain limit as a human admin would.
func (s *Server) AddLimit(r Record) Record { return s.add(s.limits, r) }

func (s *Server) add(m map[string]*Record, r Record) Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.insertLocked(m, r)
}

func (s *Server) insertLocked(m map[string]*Record, r Record) *Record {
	s.seq++
	if n, err := strconv.ParseInt(r.ID, 10, 64); err == nil && n > s.seq {
		// A given numeric id (a replayed fixture): later ids follow it.
		s.seq = n
	}
	r.seq = s.seq
	if r.ID == "" {
		r.ID = s.newID(s.seq)
	}
	r.Domain = strings.ToLower(strings.TrimSpace(r.Domain))
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.opts.Now().UTC()
	}
	rec := r
	m[rec.ID] = &rec
	return &rec
}

func sorted(m map[string]*Record) []*Record {
	out := make([]*Record, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

func findDomain(m map[string]*Record, domain string) *Record {
	for _, r := range m {
		if r.Domain == domain {
			return r
		}
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// params reads a request's parameters from a form, multipart form or JSON
// body, as Rails and Gin both accept; present tells set from absent.
func params(r *http.Request) (map[string]string, error) {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var raw map[string]any
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20)).Decode(&raw); err != nil {
			return nil, err
		}
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				out[k] = v
			case bool:
				out[k] = strconv.FormatBool(v)
			case float64:
				out[k] = strconv.FormatFloat(v, 'f', -1, 64)
			}
		}
		return out, nil
	case "multipart/form-data":
		if err := r.ParseMultipartForm(32 << 20); err != nil {
			return nil, err
		}
	default:
		if err := r.ParseForm(); err != nil {
			return nil, err
		}
	}
	for k, vs := range r.PostForm {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out, nil
}

// truthy reads a boolean the way Rails and Gin do.
func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "on", "yes", "t":
		return true
	}
	return false
}

// validDomain is a loose hostname check, enough to exercise error paths.
func validDomain(d string) bool {
	if d == "" || len(d) > 253 || strings.ContainsAny(d, " /\\@:?#") || strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
		return false
	}
	return strings.Contains(d, ".") || d == "localhost"
}
