package fakeserver

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// A fake GoToSocial's domain_limits, the API newer versions than 0.20
// document (docs.gotosocial.org, admin/domain_limits); 0.20.0-rc1 has none
// (Options.NoDomainLimits), and no real server with it has been met yet.

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
