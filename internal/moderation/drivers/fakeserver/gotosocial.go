package fakeserver

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// NewGoToSocial starts a fake GoToSocial, answering as GoToSocial
// 0.20.0-rc1 answered the conformance suite (test/conformance): its
// domain_blocks and domain_allows lists are not paginated (GoToSocial
// returns them whole), domains are answered in Unicode, a read of an id
// that does not exist is a 500, a create of an invalid domain too, the
// bulk import overwrites existing entries and answers nothing when one of
// its entries fails, and a write to a domain whose side effects are still
// running is made and answered 409 (Options.ActionDuration).
//
// Unless Options.NoDomainLimits is set it also has domain_limits, which
// 0.20.0-rc1 does not; they page only when asked to (limit, max 100).
func NewGoToSocial(opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "0.20.1+git-8f7a3c2"
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	// GoToSocial ids are ULIDs: 26 characters that sort by creation time.
	s := newServer("gotosocial", opts, func(n int64) string { return fmt.Sprintf("01HFAKE%019d", n) }, family{
		// An unknown token is dropped by the OAuth middleware, so it
		// reads as none.
		noTokenStatus: http.StatusUnauthorized, noToken: "Unauthorized: token not supplied",
		forbidden: "Forbidden: user " + gtsUserID + " not an admin",
		throttled: "rate limit reached", resetFormat: "2006-01-02T15:04:05.000Z07:00",
	})
	instance := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"uri": "https://gotosocial.test", "account_domain": "gotosocial.test", "domain": "gotosocial.test",
			"title": "Fake GoToSocial", "version": s.opts.Version,
		})
	}
	s.mux.HandleFunc("GET /api/v1/instance", instance)
	s.mux.HandleFunc("GET /api/v2/instance", instance)
	for _, kind := range []string{"block", "allow"} {
		m := s.blocks
		if kind == "allow" {
			m = s.allows
		}
		base := "/api/v1/admin/domain_" + kind + "s"
		s.mux.HandleFunc("GET "+base, func(w http.ResponseWriter, r *http.Request) {
			export, ok := gtsBoolParam(w, r, "export")
			if !ok {
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			out := make([]any, 0, len(m))
			for _, rec := range sorted(m) {
				out = append(out, gtsPermJSON(rec, export))
			}
			writeJSON(w, http.StatusOK, out)
		})
		s.mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) { s.gtsCreatePerm(w, r, m, kind) })
		s.mux.HandleFunc("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
			export, ok := gtsBoolParam(w, r, "export")
			if !ok {
				return
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			rec, ok := m[r.PathValue("id")]
			if !ok {
				// DomainPermissionGet turns "no rows" into an internal
				// error (0.20.0-rc1): never 404.
				gtsInternalError(w)
				return
			}
			writeJSON(w, http.StatusOK, gtsPermJSON(rec, export))
		})
		s.mux.HandleFunc("PUT "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) { s.gtsUpdatePerm(w, r, m, kind) })
		s.mux.HandleFunc("DELETE "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) { s.gtsDeletePerm(w, r, m, kind) })
	}
	if !opts.NoDomainLimits {
		const base = "/api/v1/admin/domain_limits"
		s.mux.HandleFunc("GET "+base, s.gtsListLimits)
		s.mux.HandleFunc("POST "+base, s.gtsCreateLimit)
		s.mux.HandleFunc("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			defer s.mu.Unlock()
			rec, ok := s.limits[r.PathValue("id")]
			if !ok {
				gtsNotFound(w, "limit", r.PathValue("id"))
				return
			}
			writeJSON(w, http.StatusOK, gtsLimitJSON(rec))
		})
		s.mux.HandleFunc("PUT "+base+"/{id}", s.gtsUpdateLimit)
		s.mux.HandleFunc("DELETE "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) { s.gtsDelete(w, r, s.limits, "limit", gtsLimitJSON) })
	}
	s.routeOAuth()
	s.start()
	return s
}

// gtsUserID is the id a fake GoToSocial gives the account behind a user
// token (AcceptUserToken) in its 403s.
const gtsUserID = "01HFAKEUSER0000000000000000"

// gtsBoolParam reads a boolean query parameter as GoToSocial's
// apiutil.ParseDomainPermissionExport/Import do, answering 400 when it is
// not one; ok is false when it answered.
func gtsBoolParam(w http.ResponseWriter, r *http.Request, key string) (value, ok bool) {
	v := r.URL.Query().Get(key)
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": fmt.Sprintf("Bad Request: error parsing key %s with value %s as bool: %v", key, v, err)})
		return false, false
	}
	return b, true
}

func gtsNotFound(w http.ResponseWriter, kind, id string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("Not Found: no domain %s entry exists with ID %s", kind, id)})
}

func gtsInternalError(w http.ResponseWriter) {
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Internal Server Error"})
}

// gtsStored is the form a domain is stored in: lower case, IDNA names in
// punycode; ok is false for what GoToSocial cannot store.
func gtsStored(domain string) (string, bool) {
	d, err := idna.Lookup.ToASCII(strings.TrimSpace(domain))
	if err != nil || !validDomain(d) {
		return "", false
	}
	return d, true
}

// gtsShown is a stored domain as GoToSocial's API shows it: in Unicode.
func gtsShown(domain string) string {
	if u, err := idna.Lookup.ToUnicode(domain); err == nil {
		return u
	}
	return domain
}

// gtsPermJSON renders a block or allow; an export holds only the domain
// and the public comment.
func gtsPermJSON(r *Record, export bool) any {
	if export {
		return map[string]any{"domain": gtsShown(r.Domain), "public_comment": r.PublicComment}
	}
	return map[string]any{
		"id": r.ID, "domain": gtsShown(r.Domain), "obfuscate": r.Obfuscate,
		"public_comment": r.PublicComment, "private_comment": r.PrivateComment,
		"created_by": "01HFAKEADMIN0000000000000", "created_at": r.CreatedAt.UTC().Format(gtsTime),
	}
}

// gtsTime is how GoToSocial renders instants: milliseconds, UTC.
const gtsTime = "2006-01-02T15:04:05.000Z"

func gtsLimitJSON(r *Record) any {
	return map[string]any{
		"id": r.ID, "domain": gtsShown(r.Domain),
		"media_policy": r.MediaPolicy, "follows_policy": r.FollowsPolicy,
		"statuses_policy": r.StatusesPolicy, "accounts_policy": r.AccountsPolicy,
		"content_warning": r.ContentWarning,
		"public_comment":  r.PublicComment, "private_comment": r.PrivateComment,
		"created_by": "01HFAKEADMIN0000000000000", "created_at": r.CreatedAt.UTC().Format(gtsTime),
	}
}

// action is a running "side effects" action on a domain.
type action struct {
	started, ends time.Time
}
