package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Audience is who a Server answers, fixed when it is built. The operator
// runs two listeners, each with its own Server over the same store:
//
//   - PublicAudience, the listener exposed to the world (behind the
//     Ingress): it serves policies whose visibility is public.
//   - ClusterAudience, a listener reachable only from inside the cluster
//     (a ClusterIP Service whose NetworkPolicy admits only the cluster's
//     pods, never exposed by an Ingress; both ship in the Helm chart,
//     feeds.networkPolicy, and in config/manager): it serves public and
//     cluster policies.
//
// What a request is allowed to see thus depends only on where it could
// connect, which the network enforces, and never on what it claims
// (X-Forwarded-For, a header, a source address behind a proxy), which
// anyone can forge.
type Audience int

const (
	// PublicAudience serves public policies only.
	PublicAudience Audience = iota + 1
	// ClusterAudience serves public and cluster policies.
	ClusterAudience
)

func (a Audience) String() string {
	switch a {
	case PublicAudience:
		return "public"
	case ClusterAudience:
		return "cluster"
	}
	return "audience(" + strconv.Itoa(int(a)) + ")"
}

// sees reports whether the audience may read a policy of visibility v.
func (a Audience) sees(v Visibility) bool {
	switch v {
	case VisibilityPublic:
		return a == PublicAudience || a == ClusterAudience
	case VisibilityCluster:
		return a == ClusterAudience
	}
	return false
}

// DefaultMaxAge is how long a client or cache may reuse a response before
// revalidating it (cheaply, with its ETag).
const DefaultMaxAge = 5 * time.Minute

// renderVersion changes whenever what the server renders for the same
// policy changes, so that an ETag never names two different bodies across
// operator upgrades.
const renderVersion = "3"

// Server serves published policies:
//
//	/                                   what is served here, with links (HTML)
//	/policies/                          index (HTML)
//	/policies/{namespace}/{name}        transparency page (HTML)
//	/policies/{namespace}/{name}.html   the same, unambiguous for names with dots
//	/policies/{namespace}/{name}.csv    Mastodon CSV
//	/policies/{namespace}/{name}.json   GoToSocial JSON
//	/policies/{namespace}/{name}.txt    plain text, one domain a line
//	/{namespace}/{policy}/proposals/{proposal}.json
//	                                    a pending proposal's change set
//	                                    (cluster listener only; proposals.go)
//
// Policies the audience may not see answer 404 like policies that do not
// exist, so the public listener does not even reveal their names.
//
// Obfuscation, per audience (issue 15: the page starred out a domain that
// the feeds it links to named in full):
//   - public: every form says the same thing. The page and the .csv, .json
//     and .txt feeds list an obfuscated entry under its starred-out name
//     (exa****.*om), flagged obfuscate where the format has the flag; the
//     page adds the SHA-256 of the full domain, so someone who knows it can
//     check it is listed. A starred-out name is never a valid domain, so no
//     reader can block anything with it, and ours counts it as obfuscated.
//   - cluster: the page is read by people, and stars out as the public
//     one does; the feeds are read by the co-op's own policies, which must
//     enforce the entry, so they name the domain in full, flagged
//     obfuscate so that subscribers keep it hidden in turn. The page says
//     so next to its feed links.
type Server struct {
	store    PolicyStore
	audience Audience
	maxAge   time.Duration
	mux      *http.ServeMux
	cache    *renderCache
}

// NewServer returns a Server for one audience. maxAge 0 means
// DefaultMaxAge.
func NewServer(store PolicyStore, audience Audience, maxAge time.Duration) *Server {
	if audience != PublicAudience && audience != ClusterAudience {
		// Fail closed: an unset audience must not mean "cluster".
		audience = PublicAudience
	}
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	s := &Server{
		store: store, audience: audience, maxAge: maxAge, mux: http.NewServeMux(),
		cache: newRenderCache(DefaultRenderCacheBytes, DefaultRenderSlots),
	}
	s.mux.HandleFunc("GET /{$}", s.serveRoot)
	s.mux.HandleFunc("GET /policies/{$}", s.serveIndex)
	s.mux.HandleFunc("GET /policies/{namespace}/{file}", s.servePolicy)
	s.mux.HandleFunc("GET /{namespace}/{policy}/proposals/{file}", s.serveProposal)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Everything served here is data or a page that runs no script: say
	// so to browsers, for every response including errors.
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	s.mux.ServeHTTP(w, r)
}

// kind is one representation of a policy.
type kind struct {
	ext         string
	contentType string
}

var (
	kindPage = kind{".html", "text/html; charset=utf-8"}
	kindCSV  = kind{".csv", "text/csv; charset=utf-8"}
	kindJSON = kind{".json", "application/json"}
	kindText = kind{".txt", "text/plain; charset=utf-8"}
	kinds    = []kind{kindCSV, kindJSON, kindText, kindPage}
)

func (s *Server) lookup(namespace, name string) *Published {
	if !validName(name) {
		return nil
	}
	p, ok := s.store.Get(namespace, name)
	if !ok || p == nil || !s.audience.sees(p.Visibility) {
		return nil
	}
	return p
}

func (s *Server) servePolicy(w http.ResponseWriter, r *http.Request) {
	ns, file := r.PathValue("namespace"), r.PathValue("file")
	if !validNamespace(ns) {
		http.NotFound(w, r)
		return
	}
	// A name may contain dots, so "a.csv" could be the CSV of "a" or the
	// page of a policy named "a.csv": the extension wins when such a
	// policy exists, and "a.csv.html" always reaches the page.
	for _, k := range kinds {
		if base, ok := strings.CutSuffix(file, k.ext); ok {
			if p := s.lookup(ns, base); p != nil {
				s.serve(w, r, p, k)
				return
			}
		}
	}
	if p := s.lookup(ns, file); p != nil {
		s.serve(w, r, p, kindPage)
		return
	}
	http.NotFound(w, r)
}

// serve answers with one representation of p, or 304 when the client's
// copy is current. The ETag is derived from the policy hash without
// rendering, so revalidation costs nothing.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, p *Published, k kind) {
	etag := ""
	if h := etagSafe(p.Hash); h != "" {
		etag = `"` + h + "-" + strings.TrimPrefix(k.ext, ".") + "-" + s.audience.String() + "-" + renderVersion
		if k == kindPage && p.historyTag != "" {
			// The page shows the history, which changes without the hash.
			etag += "-" + p.historyTag
		}
		etag += `"`
	}
	hdr := w.Header()
	s.setCaching(hdr, p)
	if etag != "" {
		hdr.Set("ETag", etag)
		if notModified(r, etag, p.UpdatedAt) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	body, err := s.cache.get(r.Context(), renderKey(p, k), func() ([]byte, error) { return s.render(p, k) })
	if err != nil {
		renderFailed(w, err)
		return
	}
	if etag == "" {
		sum := sha256.Sum256(body)
		etag = `"` + hex.EncodeToString(sum[:]) + `"`
		hdr.Set("ETag", etag)
		if notModified(r, etag, p.UpdatedAt) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	hdr.Set("Content-Type", k.contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// renderKey names everything a rendered body depends on besides the
// Server's audience: the policy, its content hash, the representation, and
// what the page shows beyond the entries. A policy without a usable hash
// is not cached ("").
func renderKey(p *Published, k kind) string {
	h := etagSafe(p.Hash)
	if h == "" {
		return ""
	}
	key := p.Namespace + "/" + p.Name + "|" + h + "|" + k.ext + "|" + strconv.FormatInt(p.UpdatedAt.UnixNano(), 10) + "|" + p.Community
	if k == kindPage {
		key += "|" + p.historyTag
	}
	return key
}

// renderFailed answers a request whose body could not be rendered: 503
// with Retry-After when it gave up waiting for a render slot, 500 else.
// Nothing of the error reaches the client.
func renderFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, errBusy) {
		w.Header().Set("Retry-After", "5")
		http.Error(w, "busy, try again shortly", http.StatusServiceUnavailable)
		return
	}
	http.Error(w, "cannot render this page", http.StatusInternalServerError)
}

func (s *Server) setCaching(h http.Header, p *Published) {
	// A response of the cluster listener must never land in a shared
	// cache that might hand it to the public.
	scope := "public"
	if s.audience == ClusterAudience {
		scope = "private"
	}
	h.Set("Cache-Control", fmt.Sprintf("%s, max-age=%d", scope, int(s.maxAge.Seconds())))
	if p != nil && !p.UpdatedAt.IsZero() {
		h.Set("Last-Modified", p.UpdatedAt.UTC().Format(http.TimeFormat))
	}
}

// etagSafe returns h if it can go between the quotes of an ETag, else "".
func etagSafe(h string) string {
	if h == "" || len(h) > 200 {
		return ""
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return ""
		}
	}
	return h
}

// notModified applies If-None-Match (weak comparison, as RFC 9110 asks for
// this header) and, only without it, If-Modified-Since.
func notModified(r *http.Request, etag string, updated time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for _, t := range strings.Split(inm, ",") {
			t = strings.TrimSpace(t)
			if t == "*" || strings.TrimPrefix(t, "W/") == etag {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !updated.IsZero() {
		if t, err := http.ParseTime(ims); err == nil {
			return !updated.Truncate(time.Second).After(t)
		}
	}
	return false
}

// visible returns p as the audience may see it: for the public audience,
// without the entries that must stay inside the cluster (ClusterOnly).
// p itself when nothing is withheld.
func (s *Server) visible(p *Published) *Published {
	if s.audience == ClusterAudience || !slices.ContainsFunc(p.Entries, func(pe PublishedEntry) bool { return pe.ClusterOnly }) {
		return p
	}
	cp := *p
	cp.Entries = make([]PublishedEntry, 0, len(p.Entries))
	for _, pe := range p.Entries {
		if !pe.ClusterOnly {
			cp.Entries = append(cp.Entries, pe)
		}
	}
	return &cp
}

// entryCount is how many of p's entries the audience sees.
func (s *Server) entryCount(p *Published) int {
	return len(s.visible(p).Entries)
}

// feedEntries returns p's entries as they may leave the operator in a
// feed: never a private comment nor, for the public audience, an entry
// that must stay in the cluster; and for the public audience an
// obfuscated domain starred out exactly as on the page.
func (s *Server) feedEntries(p *Published) []moderation.Entry {
	out := make([]moderation.Entry, 0, len(p.Entries))
	for _, pe := range p.Entries {
		if pe.ClusterOnly && s.audience != ClusterAudience {
			continue
		}
		e := pe.Entry
		e.PrivateComment = ""
		if e.Obfuscate && s.audience != ClusterAudience {
			e.Domain = PublicDomain(e)
		}
		out = append(out, e)
	}
	return out
}

func (s *Server) render(p *Published, k kind) ([]byte, error) {
	if k == kindPage {
		return renderPage(s.visible(p), s.audience)
	}
	return renderFeed(k, s.feedEntries(p))
}

func (s *Server) serveIndex(w http.ResponseWriter, r *http.Request) {
	var visible []*Published
	for _, p := range s.store.List() {
		if p != nil && s.audience.sees(p.Visibility) {
			visible = append(visible, p)
		}
	}
	body, err := s.cache.get(r.Context(), "", func() ([]byte, error) { return renderIndex(visible, s.audience, s.entryCount) })
	if err != nil {
		renderFailed(w, err)
		return
	}
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	h := w.Header()
	s.setCaching(h, nil)
	h.Set("ETag", etag)
	if notModified(r, etag, time.Time{}) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", kindPage.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
