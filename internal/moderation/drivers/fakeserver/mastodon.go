package fakeserver

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// NewMastodon starts a fake Mastodon (4.x admin API).
func NewMastodon(opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "4.5.2"
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 200
	}
	// Domain block and allow ids are bigserial ids rendered as strings:
	// 1, 2, 3... (only statuses and accounts have snowflake ids).
	s := newServer("mastodon", opts, func(n int64) string { return strconv.FormatInt(n, 10) }, family{
		// Api::BaseController#authorize_if_got_token!, then Pundit's
		// NotAuthorizedError rendered by Api::ErrorHandling.
		noTokenStatus: http.StatusForbidden, noToken: "This action is not allowed",
		forbidden: "This action is not allowed",
		// config/initializers/rack_attack.rb throttled_responder,
		// I18n errors.429, iso8601(6).
		throttled: "Too many requests", resetFormat: "2006-01-02T15:04:05.000000Z07:00", alignedWindows: true, throttlesUnknownRoutes: true,
	})
	instance := func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{
			"uri": "mastodon.test", "domain": "mastodon.test", "title": "Fake Mastodon", "version": s.opts.Version,
		})
	}
	s.mux.HandleFunc("GET /api/v1/instance", instance)
	s.mux.HandleFunc("GET /api/v2/instance", instance)
	s.mux.HandleFunc("GET /api/v1/admin/domain_blocks", func(w http.ResponseWriter, r *http.Request) {
		s.mastoList(w, r, s.blocks, "/api/v1/admin/domain_blocks", mastoBlockJSON)
	})
	s.mux.HandleFunc("POST /api/v1/admin/domain_blocks", s.mastoCreateBlock)
	s.mux.HandleFunc("GET /api/v1/admin/domain_blocks/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		b, ok := s.blocks[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
			return
		}
		writeJSON(w, http.StatusOK, mastoBlockJSON(b))
	})
	s.mux.HandleFunc("PUT /api/v1/admin/domain_blocks/{id}", s.mastoUpdateBlock)
	s.mux.HandleFunc("DELETE /api/v1/admin/domain_blocks/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mastoDelete(w, r, s.blocks)
	})
	s.mux.HandleFunc("GET /api/v1/admin/domain_allows", func(w http.ResponseWriter, r *http.Request) {
		s.mastoList(w, r, s.allows, "/api/v1/admin/domain_allows", mastoAllowJSON)
	})
	s.mux.HandleFunc("POST /api/v1/admin/domain_allows", s.mastoCreateAllow)
	s.mux.HandleFunc("GET /api/v1/admin/domain_allows/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		a, ok := s.allows[r.PathValue("id")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
			return
		}
		writeJSON(w, http.StatusOK, mastoAllowJSON(a))
	})
	s.mux.HandleFunc("DELETE /api/v1/admin/domain_allows/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mastoDelete(w, r, s.allows)
	})
	s.start()
	return s
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// mastoTime is how Rails renders instants in JSON: milliseconds, UTC.
const mastoTime = "2006-01-02T15:04:05.000Z"

// mastoBlockJSON is REST::Admin::DomainBlockSerializer.
func mastoBlockJSON(b *Record) any {
	return map[string]any{
		"id": b.ID, "domain": b.Domain,
		"created_at": b.CreatedAt.UTC().Format(mastoTime), "severity": b.Severity,
		"reject_media": b.RejectMedia, "reject_reports": b.RejectReports,
		"private_comment": nullable(b.PrivateComment), "public_comment": nullable(b.PublicComment),
		"obfuscate": b.Obfuscate,
	}
}

// mastoAllowJSON is REST::Admin::DomainAllowSerializer.
func mastoAllowJSON(a *Record) any {
	return map[string]any{"id": a.ID, "domain": a.Domain, "created_at": a.CreatedAt.UTC().Format(mastoTime)}
}

// mastoList pages newest first by id, as Paginable#to_a_paginated_by_id:
// limit defaults to 100 and is capped (200 on real Mastodon); max_id pages
// down, min_id/since_id up; "next" only when the page is full.
func (s *Server) mastoList(w http.ResponseWriter, r *http.Request, m map[string]*Record, path string, render func(*Record) any) {
	q := r.URL.Query()
	limit := 100
	if v := q.Get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			limit = max(1, abs(n))
		}
	}
	limit = min(limit, s.opts.PageSize)
	idOf := func(id string) (int64, bool) {
		if id == "" {
			return 0, false
		}
		n, err := strconv.ParseInt(id, 10, 64)
		return n, err == nil
	}
	maxID, hasMax := idOf(q.Get("max_id"))
	sinceID, hasSince := idOf(q.Get("since_id"))
	minID, hasMin := idOf(q.Get("min_id"))

	s.mu.Lock()
	// Ids are bigints: paging compares them as numbers, oldest first here.
	all := sorted(m)
	sort.SliceStable(all, func(i, j int) bool { a, _ := idOf(all[i].ID); b, _ := idOf(all[j].ID); return a < b })
	var sel []*Record
	for _, rec := range all {
		id, _ := idOf(rec.ID)
		if (hasMax && id >= maxID) || (hasSince && id <= sinceID) || (hasMin && id <= minID) {
			continue
		}
		sel = append(sel, rec)
	}
	// min_id takes the oldest after it; otherwise the newest.
	if hasMin {
		if len(sel) > limit {
			sel = sel[:limit]
		}
	} else if len(sel) > limit {
		sel = sel[len(sel)-limit:]
	}
	slices.Reverse(sel)
	page := make([]any, 0, len(sel))
	for _, rec := range sel {
		page = append(page, render(rec))
	}
	s.mu.Unlock()

	var links []string
	keep := url.Values{}
	if v := q.Get("limit"); v != "" {
		keep.Set("limit", v)
	}
	if len(sel) == limit {
		next := cloneValues(keep)
		next.Set("max_id", sel[len(sel)-1].ID)
		links = append(links, fmt.Sprintf("<%s%s?%s>; rel=\"next\"", s.publicBase(), path, next.Encode()))
	}
	if len(sel) > 0 {
		prev := cloneValues(keep)
		prev.Set("min_id", sel[0].ID)
		links = append(links, fmt.Sprintf("<%s%s?%s>; rel=\"prev\"", s.publicBase(), path, prev.Encode()))
	}
	if len(links) > 0 {
		w.Header().Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, page)
}

// publicBase is the origin the server puts in Link headers. Real servers
// use their public name, which the operator may not reach it by; the fake
// does the same with a name that does not resolve, so a client that
// follows links blindly fails here as it would in a cluster.
func (s *Server) publicBase() string { return "https://" + s.software + ".test" }

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// mastoRuleFor is DomainBlock.rule_for: the block on the domain or its
// nearest parent (longest suffix wins).
func mastoRuleFor(m map[string]*Record, domain string) *Record {
	var best *Record
	for _, rec := range m {
		if rec.Domain == domain || strings.HasSuffix(domain, "."+rec.Domain) {
			if best == nil || len(rec.Domain) > len(best.Domain) {
				best = rec
			}
		}
	}
	return best
}

func (s *Server) mastoCreateBlock(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	domain := mastoNormalize(p["domain"])
	severity := p["severity"]
	if severity == "" {
		severity = "silence"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The API (unlike the web form) refuses any domain some block already
	// applies to, whatever its severity, with the existing block attached.
	if existing := mastoRuleFor(s.blocks, domain); domain != "" && existing != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
			"error":                 fmt.Sprintf("You have already imposed stricter limits on %s.", existing.Domain),
			"existing_domain_block": mastoBlockJSON(existing),
		})
		return
	}
	if domain == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Validation failed: Domain can't be blank"})
		return
	}
	if !validDomain(domain) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Validation failed: Domain is not a valid domain name"})
		return
	}
	if severity != "silence" && severity != "suspend" && severity != "noop" {
		// The enum raises ArgumentError, which nothing rescues
		// (documented: mastodon/mastodon#21775).
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Internal Server Error"})
		return
	}
	rec := s.insertLocked(s.blocks, Record{
		Domain: domain, Severity: severity,
		RejectMedia: truthy(p["reject_media"]), RejectReports: truthy(p["reject_reports"]), Obfuscate: truthy(p["obfuscate"]),
		PrivateComment: p["private_comment"], PublicComment: p["public_comment"],
	})
	writeJSON(w, http.StatusOK, mastoBlockJSON(rec))
}

func (s *Server) mastoUpdateBlock(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blocks[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
		return
	}
	// domain is not a permitted parameter on update.
	if v, ok := p["severity"]; ok {
		if v != "silence" && v != "suspend" && v != "noop" {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Internal Server Error"})
			return
		}
		b.Severity = v
	}
	if v, ok := p["reject_media"]; ok {
		b.RejectMedia = truthy(v)
	}
	if v, ok := p["reject_reports"]; ok {
		b.RejectReports = truthy(v)
	}
	if v, ok := p["obfuscate"]; ok {
		b.Obfuscate = truthy(v)
	}
	if v, ok := p["private_comment"]; ok {
		b.PrivateComment = v
	}
	if v, ok := p["public_comment"]; ok {
		b.PublicComment = v
	}
	writeJSON(w, http.StatusOK, mastoBlockJSON(b))
}

func (s *Server) mastoDelete(w http.ResponseWriter, r *http.Request, m map[string]*Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	if _, ok := m[id]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Record not found"})
		return
	}
	delete(m, id)
	writeJSON(w, http.StatusOK, map[string]any{})
}

// mastoCreateAllow returns the existing allow for the domain if there is
// one (DomainAllow.find_by), else creates it.
func (s *Server) mastoCreateAllow(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	domain := mastoNormalize(p["domain"])
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := findDomain(s.allows, domain); a != nil {
		writeJSON(w, http.StatusOK, mastoAllowJSON(a))
		return
	}
	if !validDomain(domain) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "Validation failed: Domain is not a valid domain name"})
		return
	}
	writeJSON(w, http.StatusOK, mastoAllowJSON(s.insertLocked(s.allows, Record{Domain: domain})))
}

// mastoNormalize is TagManager#normalize_domain, which DomainBlock and
// DomainAllow normalise their domain with: lower case, IDNA names in
// punycode (Addressable's normalized_host).
func mastoNormalize(domain string) string {
	d := strings.ToLower(strings.TrimSpace(strings.TrimSuffix(domain, "/")))
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		return a
	}
	return d
}
