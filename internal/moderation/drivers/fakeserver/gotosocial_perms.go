package fakeserver

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// A fake GoToSocial's writes of domain blocks and allows ("domain
// permissions"), as GoToSocial 0.20.0-rc1 answered them.

// gtsImportEntry is one element of the JSON file a bulk import uploads;
// absent fields leave an existing entry's value as it is.
type gtsImportEntry struct {
	Domain         string  `json:"domain"`
	Obfuscate      *bool   `json:"obfuscate"`
	PublicComment  *string `json:"public_comment"`
	PrivateComment *string `json:"private_comment"`
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// gtsFunc names the processor function in a 409, as GoToSocial does.
func gtsFunc(op, kind string) string {
	return op + "Domain" + strings.ToUpper(kind[:1]) + kind[1:]
}

// gtsActionLocked starts the side effects of a write to domain, or
// returns the 409 text when the last ones are still running. A real
// server has made the write by then; so does the fake.
func (s *Server) gtsActionLocked(domain, fn string) string {
	now := s.opts.Now()
	if a, ok := s.busy[domain]; ok && now.Before(a.ends) {
		return fmt.Sprintf("Conflict: %s: an action (domain/%s) is currently running (duration %s) which conflicts with the attempted action: wait until this action is complete and try again",
			fn, domain, now.Sub(a.started))
	}
	if s.opts.ActionDuration > 0 {
		s.busy[domain] = action{started: now, ends: now.Add(s.opts.ActionDuration)}
	}
	return ""
}

// gtsCreateLocked is createDomainBlock/createDomainAllow: an existing entry
// for the domain is returned unchanged and its side effects run again,
// otherwise a new one is stored. status is 200, 409 (stored, side effects
// refused) or 500 (a domain GoToSocial cannot store).
func (s *Server) gtsCreateLocked(m map[string]*Record, kind string, e gtsImportEntry) (*Record, int, string) {
	domain, ok := gtsStored(e.Domain)
	if !ok {
		return nil, http.StatusInternalServerError, "Internal Server Error"
	}
	return s.gtsCreateStoredLocked(m, kind, domain, findDomain(m, domain), e)
}

// gtsCreateStoredLocked is gtsCreateLocked for a stored domain whose
// entry, if any, the caller looked up.
func (s *Server) gtsCreateStoredLocked(m map[string]*Record, kind, domain string, rec *Record, e gtsImportEntry) (*Record, int, string) {
	if rec == nil {
		rec = s.insertLocked(m, Record{Domain: domain, Obfuscate: deref(e.Obfuscate),
			PublicComment: gtsPlaintext(deref(e.PublicComment)), PrivateComment: gtsPlaintext(deref(e.PrivateComment))})
	}
	if conflict := s.gtsActionLocked(domain, gtsFunc("create", kind)); conflict != "" {
		return rec, http.StatusConflict, conflict
	}
	return rec, http.StatusOK, ""
}

func (s *Server) gtsCreatePerm(w http.ResponseWriter, r *http.Request, m map[string]*Record, kind string) {
	imp, ok := gtsBoolParam(w, r, "import")
	if !ok {
		return
	}
	if imp {
		s.gtsImport(w, r, m, kind)
		return
	}
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	if strings.TrimSpace(p["domain"]) == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: no domain provided"})
		return
	}
	obfuscate, public, private := truthy(p["obfuscate"]), p["public_comment"], p["private_comment"]
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, status, msg := s.gtsCreateLocked(m, kind, gtsImportEntry{Domain: p["domain"], Obfuscate: &obfuscate, PublicComment: &public, PrivateComment: &private})
	if status != http.StatusOK {
		writeJSON(w, status, map[string]string{"error": msg})
		return
	}
	writeJSON(w, http.StatusOK, gtsPermJSON(rec, false))
}

// gtsImport takes a multipart "domains" file holding a JSON array. An
// entry whose domain exists is updated in place (comments and obfuscate
// overwritten, whoever made it); the others are created. When any entry
// fails, a real 0.20.0-rc1 creates the others and then panics while
// building its 422, so the client gets no answer at all: the fake hangs
// up the same way, as it does for an import with no file.
func (s *Server) gtsImport(w http.ResponseWriter, r *http.Request, m map[string]*Record, kind string) {
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	f, _, err := r.FormFile("domains")
	if err != nil {
		hangUp(w)
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
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: DomainPermissionsImport: error parsing attachment as domain permissions: " + err.Error()})
		return
	}
	if len(entries) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: DomainPermissionsImport: error importing domain permissions: 0 entries provided"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	byDomain := make(map[string]*Record, len(m))
	for _, rec := range m {
		byDomain[rec.Domain] = rec
	}
	out := make([]any, 0, len(entries))
	failed := false
	for _, e := range entries {
		domain, ok := gtsStored(e.Domain)
		if !ok {
			failed = true
			continue
		}
		if rec := byDomain[domain]; rec != nil {
			gtsOverwrite(rec, e)
			out = append(out, gtsPermJSON(rec, false))
			continue
		}
		rec, status, _ := s.gtsCreateStoredLocked(m, kind, domain, nil, e)
		if rec != nil {
			byDomain[domain] = rec
		}
		if status != http.StatusOK {
			failed = true
			continue
		}
		out = append(out, gtsPermJSON(rec, false))
	}
	if failed {
		hangUp(w)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// gtsOverwrite is DomainPermissionUpdate as the import calls it.
func gtsOverwrite(rec *Record, e gtsImportEntry) {
	if e.Obfuscate != nil {
		rec.Obfuscate = *e.Obfuscate
	}
	if e.PublicComment != nil {
		rec.PublicComment = *e.PublicComment
	}
	if e.PrivateComment != nil {
		rec.PrivateComment = *e.PrivateComment
	}
}

// hangUp closes the connection without an answer, as a Go server does
// when its handler panics.
func hangUp(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
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
	var e gtsImportEntry
	if v, ok := p["obfuscate"]; ok {
		b := truthy(v)
		e.Obfuscate = &b
	}
	if v, ok := p["public_comment"]; ok {
		e.PublicComment = &v
	}
	if v, ok := p["private_comment"]; ok {
		e.PrivateComment = &v
	}
	gtsOverwrite(rec, e)
	writeJSON(w, http.StatusOK, gtsPermJSON(rec, false))
}

// gtsDeletePerm deletes the entry, then starts the side effects of
// lifting it: a 409 comes after the deletion.
func (s *Server) gtsDeletePerm(w http.ResponseWriter, r *http.Request, m map[string]*Record, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := r.PathValue("id")
	rec, ok := m[id]
	if !ok {
		gtsNotFound(w, kind, id)
		return
	}
	delete(m, id)
	if conflict := s.gtsActionLocked(rec.Domain, gtsFunc("delete", kind)); conflict != "" {
		writeJSON(w, http.StatusConflict, map[string]string{"error": conflict})
		return
	}
	writeJSON(w, http.StatusOK, gtsPermJSON(rec, false))
}
