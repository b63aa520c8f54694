package fakeserver

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// What every route of a fake server shares: rate limiting, routing before
// authentication, the token's role, and how each family words it.

// family is what the two server families answer differently in the parts
// every route shares.
type family struct {
	// noToken is the status and error text of an admin API call with no
	// token or one the server does not know: GoToSocial 401; Mastodon 403,
	// as its admin controllers only authorize a token Doorkeeper found
	// (authorize_if_got_token!) and Pundit refuses the anonymous caller.
	noTokenStatus int
	noToken       string
	// forbidden is the error text of 403 for a token of an account
	// without the admin role.
	forbidden string
	// throttled is the error text of 429, resetFormat the layout of
	// X-RateLimit-Reset.
	throttled, resetFormat string
	// alignedWindows: rate-limit windows are fixed periods of the clock
	// (rack-attack counts per now / period), not periods from the first
	// request (GoToSocial's limiter).
	alignedWindows bool
	// throttlesUnknownRoutes: a request to a route the server does not
	// have counts against the budget (rack-attack runs before Rails'
	// router; GoToSocial's limiter is a middleware of its routes).
	throttlesUnknownRoutes bool
}

// serve applies what every route shares: counting, rate limiting (before
// auth, as Mastodon's rack-attack does) and the bearer token.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if s.opts.RoundTrip > 0 {
		time.Sleep(s.opts.RoundTrip)
	}
	_, pattern := s.mux.Handler(r)
	call := callName(r, pattern)

	s.mu.Lock()
	s.requests++
	if pattern == "" && !s.family.throttlesUnknownRoutes {
		s.mu.Unlock()
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not Found"})
		return
	}
	if s.opts.RateLimit > 0 {
		now := s.opts.Now()
		if s.winStart.IsZero() || !now.Before(s.winStart.Add(s.opts.RateWindow)) {
			s.winStart, s.winCount = now, 0
			if s.family.alignedWindows {
				s.winStart = now.Truncate(s.opts.RateWindow)
			}
		}
		reset := s.winStart.Add(s.opts.RateWindow)
		if s.winCount >= s.opts.RateLimit {
			s.throttled++
			s.mu.Unlock()
			s.rateHeaders(w, 0, reset)
			if s.opts.SendRetryAfter {
				secs := max(1, int(math.Ceil(reset.Sub(now).Seconds())))
				w.Header().Set("Retry-After", strconv.Itoa(secs))
			}
			// Both servers answer a bare application/json here
			// (rack-attack's throttled_responder; GoToSocial's limiter).
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": s.family.throttled})
			return
		}
		s.winCount++
		// Headers come from the route's handler (Mastodon's
		// RateLimitHeaders, GoToSocial's middleware on its routes): an
		// unknown route has none.
		if !s.opts.HideRateLimitHeaders && pattern != "" {
			s.rateHeaders(w, s.opts.RateLimit-s.winCount, reset)
		}
	}
	s.mu.Unlock()

	// Routing comes before authentication on both servers: an unknown
	// route is 404 whatever the token.
	if pattern == "" {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not Found"})
		return
	}
	if !strings.HasSuffix(pattern, "/instance") && !(s.oauth != nil && isOAuthRoute(pattern)) {
		switch s.role(r.Header.Get("Authorization")) {
		case roleNone:
			writeJSON(w, s.family.noTokenStatus, map[string]string{"error": s.family.noToken})
			return
		case roleUser:
			if strings.Contains(pattern, "/api/v1/admin/") {
				writeJSON(w, http.StatusForbidden, map[string]string{"error": s.family.forbidden})
				return
			}
		}
	}
	if r.Method != http.MethodGet && s.opts.Latency > 0 {
		time.Sleep(s.opts.Latency)
	}
	s.mu.Lock()
	s.calls[call]++
	if r.Method != http.MethodGet {
		s.writes++
	}
	s.mu.Unlock()
	// ServeHTTP, not the handler found above: only the mux sets PathValue.
	s.mux.ServeHTTP(w, r)
}

// AcceptToken makes the server accept token too, as a real server accepts
// a token an admin created after it started. `make demo` needs it: the
// operator generates a hosted Mastodon's admin token only once the Instance
// exists, long after the fake server serving its admin API started.
func (s *Server) AcceptToken(token string) {
	if token == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.extraTokens == nil {
		s.extraTokens = map[string]bool{}
	}
	s.extraTokens[token] = true
}

// AcceptUserToken makes the server know token as the token of an account
// without the admin role: accepted, but refused (403) by the admin API.
func (s *Server) AcceptUserToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.userTokens == nil {
		s.userTokens = map[string]bool{}
	}
	s.userTokens[token] = true
}

const (
	roleNone = iota
	roleUser
	roleAdmin
)

func (s *Server) role(header string) int {
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return roleNone
	}
	if token == s.opts.Token {
		return roleAdmin
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.extraTokens[token]:
		return roleAdmin
	case s.userTokens[token]:
		return roleUser
	}
	return roleNone
}

func (s *Server) rateHeaders(w http.ResponseWriter, remaining int, reset time.Time) {
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(s.opts.RateLimit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(0, remaining)))
	w.Header().Set("X-RateLimit-Reset", reset.UTC().Format(s.family.resetFormat))
}

// callName is "METHOD /path" with ids as ":id", plus "?import=true" for
// bulk imports, so tests can count calls by kind.
func callName(r *http.Request, pattern string) string {
	p := r.URL.Path
	if pattern != "" {
		_, pp, _ := strings.Cut(pattern, " ")
		p = strings.ReplaceAll(pp, "{id}", ":id")
	}
	if r.URL.Query().Get("import") == "true" {
		p += "?import=true"
	}
	return r.Method + " " + p
}
