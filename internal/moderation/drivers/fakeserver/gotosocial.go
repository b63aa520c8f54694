package fakeserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NewGoToSocial starts a fake GoToSocial. Its domain_blocks and
// domain_allows lists are not paginated (GoToSocial returns them whole);
// domain_limits pages only when asked to (limit, max 100).
func NewGoToSocial(opts Options) *Server {
	if opts.Version == "" {
		opts.Version = "0.20.1+git-8f7a3c2"
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 100
	}
	// GoToSocial ids are ULIDs: 26 characters that sort by creation time.
	s := newServer("gotosocial", opts, func(n int64) string { return fmt.Sprintf("01HFAKE%019d", n) },
		"Unauthorized: token not supplied or invalid")
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
			s.mu.Lock()
			defer s.mu.Unlock()
			out := make([]any, 0, len(m))
			for _, rec := range sorted(m) {
				out = append(out, gtsPermJSON(rec))
			}
			writeJSON(w, http.StatusOK, out)
		})
		s.mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) { s.gtsCreatePerm(w, r, m, kind) })
		s.mux.HandleFunc("GET "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			defer s.mu.Unlock()
			rec, ok := m[r.PathValue("id")]
			if !ok {
				gtsNotFound(w, kind, r.PathValue("id"))
				return
			}
			writeJSON(w, http.StatusOK, gtsPermJSON(rec))
		})
		s.mux.HandleFunc("PUT "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) { s.gtsUpdatePerm(w, r, m, kind) })
		s.mux.HandleFunc("DELETE "+base+"/{id}", func(w http.ResponseWriter, r *http.Request) { s.gtsDelete(w, r, m, kind, gtsPermJSON) })
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

func gtsNotFound(w http.ResponseWriter, kind, id string) {
	writeJSON(w, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("Not Found: no domain %s exists with id %s", kind, id)})
}

func gtsPermJSON(r *Record) any {
	return map[string]any{
		"id": r.ID, "domain": r.Domain, "obfuscate": r.Obfuscate,
		"public_comment": r.PublicComment, "private_comment": r.PrivateComment,
		"subscription_id": "", "created_by": "01HFAKEADMIN0000000000000", "created_at": r.CreatedAt.Format(time.RFC3339Nano),
	}
}

func gtsLimitJSON(r *Record) any {
	return map[string]any{
		"id": r.ID, "domain": r.Domain,
		"media_policy": r.MediaPolicy, "follows_policy": r.FollowsPolicy,
		"statuses_policy": r.StatusesPolicy, "accounts_policy": r.AccountsPolicy,
		"content_warning": r.ContentWarning,
		"public_comment":  r.PublicComment, "private_comment": r.PrivateComment,
		"created_by": "01HFAKEADMIN0000000000000", "created_at": r.CreatedAt.Format(time.RFC3339Nano),
	}
}

// gtsImportEntry is one element of the JSON file a bulk import uploads.
type gtsImportEntry struct {
	Domain         string `json:"domain"`
	Obfuscate      bool   `json:"obfuscate"`
	PublicComment  string `json:"public_comment"`
	PrivateComment string `json:"private_comment"`
}

// gtsCreateOrGetLocked is createDomainBlock/createDomainAllow: an existing
// entry for the exact domain is returned unchanged (its side effects are
// re-run on a real server), otherwise a new one is stored.
func (s *Server) gtsCreateOrGetLocked(m map[string]*Record, e gtsImportEntry) (*Record, error) {
	domain := strings.ToLower(strings.TrimSpace(e.Domain))
	if !validDomain(domain) {
		return nil, fmt.Errorf("invalid domain %q", e.Domain)
	}
	if rec := findDomain(m, domain); rec != nil {
		return rec, nil
	}
	return s.insertLocked(m, Record{Domain: domain, Obfuscate: e.Obfuscate, PublicComment: e.PublicComment, PrivateComment: e.PrivateComment}), nil
}

func (s *Server) gtsCreatePerm(w http.ResponseWriter, r *http.Request, m map[string]*Record, kind string) {
	if imp := r.URL.Query().Get("import"); imp != "" {
		on, err := strconv.ParseBool(imp)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: couldn't parse import query param"})
			return
		}
		if on {
			s.gtsImport(w, r, m, kind)
			return
		}
	}
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	if p["domain"] == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: empty domain provided"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, err := s.gtsCreateOrGetLocked(m, gtsImportEntry{
		Domain: p["domain"], Obfuscate: truthy(p["obfuscate"]), PublicComment: p["public_comment"], PrivateComment: p["private_comment"],
	})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, gtsPermJSON(rec))
}

// gtsImport takes a multipart "domains" file holding a JSON array; any
// failed entry turns the whole answer into a 422 listing the failures
// (the others are still created), as GoToSocial does.
func (s *Server) gtsImport(w http.ResponseWriter, r *http.Request, m map[string]*Record, kind string) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	f, _, err := r.FormFile("domains")
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: import was specified but list of domains is empty"})
		return
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, 32<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	var entries []gtsImportEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: error parsing attachment as domain permissions: " + err.Error()})
		return
	}
	if len(entries) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: error importing domain permissions: 0 entries provided"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, 0, len(entries))
	failures := map[string]string{}
	for _, e := range entries {
		rec, err := s.gtsCreateOrGetLocked(m, e)
		if err != nil {
			failures[e.Domain] = err.Error()
			continue
		}
		out = append(out, gtsPermJSON(rec))
	}
	if len(failures) > 0 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{
			"error": fmt.Sprintf("Unprocessable Entity: one or more errors importing domain %ss: %v", kind, failures),
		})
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) gtsUpdatePerm(w http.ResponseWriter, r *http.Request, m map[string]*Record, kind string) {
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := m[r.PathValue("id")]
	if !ok {
		gtsNotFound(w, kind, r.PathValue("id"))
		return
	}
	if v, ok := p["obfuscate"]; ok {
		rec.Obfuscate = truthy(v)
	}
	if v, ok := p["public_comment"]; ok {
		rec.PublicComment = v
	}
	if v, ok := p["private_comment"]; ok {
		rec.PrivateComment = v
	}
	writeJSON(w, http.StatusOK, gtsPermJSON(rec))
}

func (s *Server) gtsDelete(w http.ResponseWriter, r *http.Request, m map[string]*Record, kind string, render func(*Record) any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	rec, ok := m[id]
	if !ok {
		gtsNotFound(w, kind, id)
		return
	}
	delete(m, id)
	writeJSON(w, http.StatusOK, render(rec))
}

var gtsPolicies = map[string][]string{
	"media_policy":    {"no_action", "mark_sensitive", "reject"},
	"follows_policy":  {"no_action", "manual_approval", "reject_non_mutual", "reject_all"},
	"statuses_policy": {"no_action", "filter_warn", "filter_hide"},
	"accounts_policy": {"no_action", "mute"},
}

// applyLimitParams sets the policies present in p, checking their values.
func applyLimitParams(rec *Record, p map[string]string) error {
	fields := map[string]*string{
		"media_policy": &rec.MediaPolicy, "follows_policy": &rec.FollowsPolicy,
		"statuses_policy": &rec.StatusesPolicy, "accounts_policy": &rec.AccountsPolicy,
	}
	for name, dst := range fields {
		v, ok := p[name]
		if !ok {
			continue
		}
		valid := false
		for _, allowed := range gtsPolicies[name] {
			valid = valid || v == allowed
		}
		if !valid {
			return fmt.Errorf("invalid %s %q", name, v)
		}
		*dst = v
	}
	for name, dst := range map[string]*string{"content_warning": &rec.ContentWarning, "public_comment": &rec.PublicComment, "private_comment": &rec.PrivateComment} {
		if v, ok := p[name]; ok {
			*dst = v
		}
	}
	return nil
}

func (s *Server) gtsCreateLimit(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	domain := strings.ToLower(strings.TrimSpace(p["domain"]))
	if domain == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: domain must be set"})
		return
	}
	if !validDomain(domain) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("Bad Request: invalid domain %q", domain)})
		return
	}
	rec := Record{Domain: domain, MediaPolicy: "no_action", FollowsPolicy: "no_action", StatusesPolicy: "no_action", AccountsPolicy: "no_action"}
	if err := applyLimitParams(&rec, p); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if findDomain(s.limits, domain) != nil {
		writeJSON(w, http.StatusConflict, map[string]string{"error": "Conflict: there is already a limit in place for " + domain})
		return
	}
	writeJSON(w, http.StatusOK, gtsLimitJSON(s.insertLocked(s.limits, rec)))
}

func (s *Server) gtsUpdateLimit(w http.ResponseWriter, r *http.Request) {
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.limits[r.PathValue("id")]
	if !ok {
		gtsNotFound(w, "limit", r.PathValue("id"))
		return
	}
	updated := *rec
	if err := applyLimitParams(&updated, p); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	*rec = updated
	writeJSON(w, http.StatusOK, gtsLimitJSON(rec))
}

// gtsListLimits returns every limit alphabetically unless paging is asked
// for (limit > 0): then newest first, with Link next/prev while the page is
// not empty.
func (s *Server) gtsListLimits(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit < 0 || limit > 100 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: limit must be between 0 and 100"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all := sorted(s.limits)
	if limit == 0 {
		sort.Slice(all, func(i, j int) bool { return all[i].Domain < all[j].Domain })
		out := make([]any, 0, len(all))
		for _, rec := range all {
			out = append(out, gtsLimitJSON(rec))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	limit = min(limit, s.opts.PageSize)
	maxID, minID := q.Get("max_id"), q.Get("min_id")
	var sel []*Record
	for i := len(all) - 1; i >= 0; i-- {
		rec := all[i]
		if (maxID != "" && rec.ID >= maxID) || (minID != "" && rec.ID <= minID) {
			continue
		}
		sel = append(sel, rec)
		if len(sel) == limit {
			break
		}
	}
	out := make([]any, 0, len(sel))
	for _, rec := range sel {
		out = append(out, gtsLimitJSON(rec))
	}
	if len(sel) > 0 {
		next := url.Values{"limit": {strconv.Itoa(limit)}, "max_id": {sel[len(sel)-1].ID}}
		prev := url.Values{"limit": {strconv.Itoa(limit)}, "min_id": {sel[0].ID}}
		w.Header().Set("Link", fmt.Sprintf("<%s/api/v1/admin/domain_limits?%s>; rel=\"next\", <%s/api/v1/admin/domain_limits?%s>; rel=\"prev\"",
			s.publicBase(), next.Encode(), s.publicBase(), prev.Encode()))
	}
	writeJSON(w, http.StatusOK, out)
}
