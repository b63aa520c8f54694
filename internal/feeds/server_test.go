package feeds

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

const secret = "PRIVATE-ticket-41-do-not-publish"

var updated = time.Date(2026, 11, 3, 10, 30, 0, 0, time.UTC)

func policy(ns, name string, v Visibility) Published {
	return Published{
		Namespace: ns, Name: name, Community: "Riverside Commons", Visibility: v,
		Hash: "sha256:0123abcd", UpdatedAt: updated,
		Entries: []PublishedEntry{
			{Entry: moderation.Entry{Domain: "spam.example", Action: moderation.Suspend, RejectMedia: true, PublicComment: "spam", PrivateComment: secret}, Summary: "our own decision"},
			{Entry: moderation.Entry{Domain: "loud.example", Action: moderation.Silence, PublicComment: "harassment", PrivateComment: secret}, Summary: "hillside (1) + iftas-dni (2) ≥ 2"},
			{Entry: moderation.Entry{Domain: "example.com", Action: moderation.Suspend, Obfuscate: true, PublicComment: "illegal content", PrivateComment: secret}, Summary: "our own decision"},
		},
	}
}

// leakyStore is a PolicyStore that keeps private comments, to prove the
// Server does not rely on MemoryStore to drop them.
type leakyStore map[string]*Published

func (s leakyStore) Get(ns, name string) (*Published, bool) { p, ok := s[ns+"/"+name]; return p, ok }
func (s leakyStore) List() []*Published {
	var out []*Published
	for _, p := range s {
		out = append(out, p)
	}
	return out
}

func newStore(t *testing.T, ps ...Published) *MemoryStore {
	t.Helper()
	s := NewMemoryStore()
	for _, p := range ps {
		if err := s.Put(p); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// listeners starts the two listeners the operator runs, over one store.
func listeners(t *testing.T, store PolicyStore) (public, cluster *httptest.Server) {
	t.Helper()
	public = httptest.NewServer(NewServer(store, PublicAudience, 0))
	cluster = httptest.NewServer(NewServer(store, ClusterAudience, 0))
	t.Cleanup(public.Close)
	t.Cleanup(cluster.Close)
	return public, cluster
}

func get(t *testing.T, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	return do(t, http.MethodGet, url, hdr...)
}

func do(t *testing.T, method, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestServerContentTypesAndFeeds(t *testing.T) {
	pub, _ := listeners(t, newStore(t, policy("riverside", "shared-moderation", VisibilityPublic)))
	base := pub.URL + "/policies/riverside/shared-moderation"
	for _, tc := range []struct {
		suffix, ctype string
		format        moderation.Format
	}{
		{".csv", "text/csv; charset=utf-8", moderation.FormatMastodonCSV},
		{".json", "application/json", moderation.FormatGoToSocialJSON},
		{".txt", "text/plain; charset=utf-8", moderation.FormatPlain},
		{"", "text/html; charset=utf-8", ""},
		{".html", "text/html; charset=utf-8", ""},
	} {
		resp, body := get(t, base+tc.suffix)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", tc.suffix, resp.StatusCode, body)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.ctype {
			t.Errorf("%s: Content-Type %q, want %q", tc.suffix, got, tc.ctype)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("%s: security headers missing: %v", tc.suffix, resp.Header)
		}
		if got := resp.Header.Get("Cache-Control"); got != "public, max-age=300" {
			t.Errorf("%s: Cache-Control %q", tc.suffix, got)
		}
		if got := resp.Header.Get("Last-Modified"); got != "Tue, 03 Nov 2026 10:30:00 GMT" {
			t.Errorf("%s: Last-Modified %q", tc.suffix, got)
		}
		if tc.format == "" {
			continue
		}
		// What we publish, the engine (and so other fedcommons
		// operators, and the servers whose formats these are) reads back.
		res, err := moderation.Parse(tc.format, strings.NewReader(body))
		if err != nil {
			t.Fatalf("%s does not parse as %s: %v\n%s", tc.suffix, tc.format, err, body)
		}
		if len(res.Entries) == 0 || res.Entries[0].Domain != "spam.example" {
			t.Fatalf("%s: parsed %+v from\n%s", tc.suffix, res.Entries, body)
		}
	}
}

func TestServerETag(t *testing.T) {
	store := newStore(t, policy("riverside", "shared-moderation", VisibilityPublic))
	pub, cl := listeners(t, store)
	path := "/policies/riverside/shared-moderation"
	tags := map[string]string{}
	for _, srv := range []*httptest.Server{pub, cl} {
		for _, suffix := range []string{".csv", ".json", ".txt", ""} {
			resp, _ := get(t, srv.URL+path+suffix)
			etag := resp.Header.Get("ETag")
			if !strings.HasPrefix(etag, `"sha256:0123abcd-`) || !strings.HasSuffix(etag, `"`) {
				t.Fatalf("%s: ETag %q is not a strong tag derived from the hash", suffix, etag)
			}
			if other, dup := tags[etag]; dup {
				t.Fatalf("%s and %s share the ETag %s", suffix, other, etag)
			}
			tags[etag] = srv.URL + suffix
			for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
				resp, body := get(t, srv.URL+path+suffix, "If-None-Match", inm)
				if resp.StatusCode != http.StatusNotModified || body != "" {
					t.Fatalf("%s with If-None-Match %s: %d", suffix, inm, resp.StatusCode)
				}
				if resp.Header.Get("ETag") != etag || resp.Header.Get("Cache-Control") == "" {
					t.Fatalf("304 without ETag/Cache-Control: %v", resp.Header)
				}
			}
			if resp, _ := get(t, srv.URL+path+suffix, "If-None-Match", `"stale"`); resp.StatusCode != 200 {
				t.Fatalf("%s: stale tag answered %d", suffix, resp.StatusCode)
			}
		}
	}
	// If-Modified-Since, when there is no If-None-Match.
	if resp, _ := get(t, pub.URL+path+".csv", "If-Modified-Since", updated.Format(http.TimeFormat)); resp.StatusCode != http.StatusNotModified {
		t.Fatalf("If-Modified-Since at UpdatedAt: %d", resp.StatusCode)
	}
	if resp, _ := get(t, pub.URL+path+".csv", "If-Modified-Since", updated.Add(-time.Hour).Format(http.TimeFormat)); resp.StatusCode != 200 {
		t.Fatalf("If-Modified-Since before UpdatedAt: %d", resp.StatusCode)
	}
	// A new hash is a new tag, and the old one no longer matches.
	resp, _ := get(t, pub.URL+path+".csv")
	old := resp.Header.Get("ETag")
	p := policy("riverside", "shared-moderation", VisibilityPublic)
	p.Hash = "sha256:feedbeef"
	if err := store.Put(p); err != nil {
		t.Fatal(err)
	}
	resp, _ = get(t, pub.URL+path+".csv", "If-None-Match", old)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") == old {
		t.Fatalf("changed policy: %d %s", resp.StatusCode, resp.Header.Get("ETag"))
	}
	// Without a usable hash the body's own hash is the tag.
	p.Hash = `bad "hash"`
	if err := store.Put(p); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, pub.URL+path+".txt")
	etag := resp.Header.Get("ETag")
	if len(etag) != 66 || strings.Contains(etag, "bad") {
		t.Fatalf("fallback ETag %q", etag)
	}
	if resp, again := get(t, pub.URL+path+".txt", "If-None-Match", etag); resp.StatusCode != http.StatusNotModified || again != "" {
		t.Fatalf("fallback ETag not honoured: %d", resp.StatusCode)
	}
	_ = body
	// HEAD: headers, no body.
	resp, body = do(t, http.MethodHead, pub.URL+path+".csv")
	if resp.StatusCode != 200 || body != "" || resp.Header.Get("ETag") == "" {
		t.Fatalf("HEAD: %d %q", resp.StatusCode, body)
	}
}

func TestServerVisibility(t *testing.T) {
	store := newStore(t,
		policy("riverside", "open", VisibilityPublic),
		policy("riverside", "members", VisibilityCluster),
		policy("riverside", "secret", VisibilityNone),
	)
	pub, cl := listeners(t, store)
	want := map[string]map[string]int{
		pub.URL: {"open": 200, "members": 404, "secret": 404, "missing": 404},
		cl.URL:  {"open": 200, "members": 200, "secret": 404, "missing": 404},
	}
	for base, names := range want {
		for name, code := range names {
			for _, suffix := range []string{"", ".html", ".csv", ".json", ".txt"} {
				resp, _ := get(t, base+"/policies/riverside/"+name+suffix)
				if resp.StatusCode != code {
					t.Errorf("%s %s%s: %d, want %d", base, name, suffix, resp.StatusCode, code)
				}
			}
		}
	}
	// The index lists what the listener serves, and nothing else.
	_, idx := get(t, pub.URL+"/policies/")
	if !strings.Contains(idx, "riverside/open") || strings.Contains(idx, "members") || strings.Contains(idx, "secret") {
		t.Fatalf("public index:\n%s", idx)
	}
	resp, idx := get(t, cl.URL+"/policies/")
	if !strings.Contains(idx, "riverside/open") || !strings.Contains(idx, "riverside/members") || strings.Contains(idx, "secret") {
		t.Fatalf("cluster index:\n%s", idx)
	}
	if resp.Header.Get("Cache-Control") != "private, max-age=300" {
		t.Fatalf("cluster listener allows shared caching: %q", resp.Header.Get("Cache-Control"))
	}
	// A Server built without an audience serves as the public one.
	zero := httptest.NewServer(NewServer(store, 0, 0))
	defer zero.Close()
	if resp, _ := get(t, zero.URL+"/policies/riverside/members"); resp.StatusCode != 404 {
		t.Fatalf("zero audience served a cluster policy: %d", resp.StatusCode)
	}
}

func TestServerRouting(t *testing.T) {
	store := newStore(t,
		policy("riverside", "shared.moderation", VisibilityPublic),
		policy("riverside", "a.csv", VisibilityPublic),
	)
	pub, _ := listeners(t, store)
	for path, want := range map[string]struct {
		code  int
		ctype string
	}{
		"/policies/riverside/shared.moderation":      {200, "text/html; charset=utf-8"},
		"/policies/riverside/shared.moderation.csv":  {200, "text/csv; charset=utf-8"},
		"/policies/riverside/shared.moderation.json": {200, "application/json"},
		"/policies/riverside/a.csv":                  {200, "text/html; charset=utf-8"}, // no policy "a": the page of "a.csv"
		"/policies/riverside/a.csv.csv":              {200, "text/csv; charset=utf-8"},
		"/policies/riverside/a.csv.html":             {200, "text/html; charset=utf-8"},
		"/policies/":                                 {200, "text/html; charset=utf-8"},
		"/policies/Riverside/shared.moderation":      {404, ""},
		"/policies/riverside/.hidden":                {404, ""},
		"/policies/riverside/shared.moderation.xml":  {404, ""},
		"/policies/riverside/shared.moderation/x":    {404, ""},
		"/policies/riverside":                        {404, ""},
		"/":                                          {200, "text/html; charset=utf-8"}, // what is served here (issue 15)
		"/nothing":                                   {404, ""},
		"/policies/riverside/%3Cscript%3E":           {404, ""},
	} {
		resp, _ := get(t, pub.URL+path)
		if resp.StatusCode != want.code || (want.ctype != "" && resp.Header.Get("Content-Type") != want.ctype) {
			t.Errorf("%s: %d %q, want %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), want.code, want.ctype)
		}
	}
	if resp, _ := do(t, http.MethodPost, pub.URL+"/policies/riverside/shared.moderation.csv"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if resp, _ := get(t, pub.URL+"/policies"); resp.StatusCode != 200 {
		t.Fatalf("/policies does not lead to the index: %d", resp.StatusCode)
	}
}

func TestServerEscapesHostileContent(t *testing.T) {
	hostile := `<script>alert("x")</script>`
	p := Published{
		Namespace: "riverside", Name: "shared-moderation", Visibility: VisibilityPublic, Hash: "sha256:1",
		Community: `Evil <b onmouseover="x">Co-op</b>`,
		Entries: []PublishedEntry{
			{Entry: moderation.Entry{Domain: `bad"><img src=x onerror=alert(1)>.example`, Action: moderation.Suspend, PublicComment: hostile}, Summary: `<a href="javascript:alert(1)">hillside</a>`},
			{Entry: moderation.Entry{Domain: "fine.example", Action: moderation.Silence, PublicComment: `'; DROP TABLE blocks; --`}, Summary: hostile},
		},
	}
	pub, _ := listeners(t, newStore(t, p))
	for _, path := range []string{"/policies/riverside/shared-moderation", "/policies/"} {
		_, body := get(t, pub.URL+path)
		for _, bad := range []string{"<script", "<img", "<b ", `href="javascript`} {
			if strings.Contains(body, bad) {
				t.Fatalf("%s contains %q unescaped:\n%s", path, bad, body)
			}
		}
	}
	_, body := get(t, pub.URL+"/policies/riverside/shared-moderation")
	if !strings.Contains(body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Fatalf("hostile comment not shown escaped:\n%s", body)
	}
}

func TestPrivateCommentsNeverServed(t *testing.T) {
	public := policy("riverside", "open", VisibilityPublic)
	cluster := policy("riverside", "members", VisibilityCluster)
	// Through the MemoryStore, which drops them on Put ...
	mem := newStore(t, public, cluster)
	if p, _ := mem.Get("riverside", "open"); p.Entries[0].Entry.PrivateComment != "" {
		t.Fatal("MemoryStore kept a private comment")
	}
	if public.Entries[0].Entry.PrivateComment != secret {
		t.Fatal("Put modified the caller's entries")
	}
	// ... and through a store that keeps them: the Server drops them itself.
	leaky := leakyStore{"riverside/open": &public, "riverside/members": &cluster}
	for _, store := range []PolicyStore{mem, leaky} {
		pub, cl := listeners(t, store)
		for _, base := range []string{pub.URL, cl.URL} {
			for _, path := range []string{"/policies/", "/policies/riverside/open", "/policies/riverside/members"} {
				for _, suffix := range []string{"", ".html", ".csv", ".json", ".txt"} {
					if path == "/policies/" && suffix != "" {
						continue
					}
					_, body := get(t, base+path+suffix)
					if strings.Contains(body, secret) || strings.Contains(body, "ticket") {
						t.Fatalf("%s%s%s leaks the private comment:\n%s", base, path, suffix, body)
					}
				}
			}
		}
	}
}

func TestServerObfuscation(t *testing.T) {
	pub, cl := listeners(t, newStore(t, policy("riverside", "open", VisibilityPublic)))
	path := "/policies/riverside/open"
	for _, base := range []string{pub.URL, cl.URL} {
		_, page := get(t, base+path)
		if strings.Contains(page, "example.com") || !strings.Contains(page, "exa****.*om") {
			t.Fatalf("page does not obfuscate the Mastodon way:\n%s", page)
		}
		// The digest lets someone who knows the domain check it.
		if !strings.Contains(page, "a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947") {
			t.Fatal("page lacks the SHA-256 of the obfuscated domain")
		}
	}
	for _, suffix := range []string{".csv", ".json", ".txt"} {
		// The public feeds star the entry out exactly as the page does
		// (issue 15: the page hid what the feeds it links to named) ...
		_, body := get(t, pub.URL+path+suffix)
		if strings.Contains(body, "example.com") || !strings.Contains(body, "exa****.*om") {
			t.Fatalf("public %s does not obfuscate as the page does:\n%s", suffix, body)
		}
		// ... the cluster feeds carry it, flagged where the format can.
		_, body = get(t, cl.URL+path+suffix)
		if !strings.Contains(body, "example.com") {
			t.Fatalf("cluster %s lacks the obfuscated entry:\n%s", suffix, body)
		}
	}
	_, csvBody := get(t, cl.URL+path+".csv")
	res, err := moderation.Parse(moderation.FormatMastodonCSV, strings.NewReader(csvBody))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range res.Entries {
		if e.Domain == "example.com" {
			found = e.Obfuscate
		}
	}
	if !found {
		t.Fatalf("cluster CSV does not keep the obfuscate flag:\n%s", csvBody)
	}

	// A subscriber reading the public CSV never applies the starred name:
	// it is counted as obfuscated, and everything else is read.
	_, csvBody = get(t, pub.URL+path+".csv")
	res, err = moderation.Parse(moderation.FormatMastodonCSV, strings.NewReader(csvBody))
	if err != nil {
		t.Fatal(err)
	}
	if res.Obfuscated != 1 || len(res.Entries) != 2 {
		t.Fatalf("public CSV read back: %d entries, %d obfuscated; want 2 and 1:\n%s", len(res.Entries), res.Obfuscated, csvBody)
	}

	// Each page says what its feeds do with these names.
	_, page := get(t, pub.URL+path)
	if !strings.Contains(page, "The feeds star them out the same way") {
		t.Errorf("public page does not say its feeds star out too:\n%s", page)
	}
	_, page = get(t, cl.URL+path)
	if !strings.Contains(page, "name these domains in full, flagged obfuscate") {
		t.Errorf("cluster page does not say its feeds name them in full:\n%s", page)
	}
}

func TestPublicDomain(t *testing.T) {
	for in, want := range map[string]string{
		"example.com":            "exa****.*om",
		"a.b":                    "a.*",
		"abcd":                   "ab*d",
		"very.long.domain.co.uk": "very.l***.******.co.uk",
		"bücher.example":         "büch**.****ple",
	} {
		if got := PublicDomain(moderation.Entry{Domain: in, Obfuscate: true}); got != want {
			t.Errorf("PublicDomain(%q) = %q, want %q", in, got, want)
		}
	}
	if got := PublicDomain(moderation.Entry{Domain: "example.com"}); got != "example.com" {
		t.Errorf("unobfuscated entry changed: %q", got)
	}
}

func TestMemoryStore(t *testing.T) {
	s := NewMemoryStore()
	for _, bad := range []Published{
		{Namespace: "Riverside", Name: "x", Visibility: VisibilityPublic},
		{Namespace: "riverside", Name: "../x", Visibility: VisibilityPublic},
		{Namespace: "riverside", Name: "x", Visibility: "everyone"},
		{Namespace: "riverside", Name: "x"},
	} {
		if err := s.Put(bad); err == nil {
			t.Errorf("Put accepted %+v", bad)
		}
	}
	// Concurrent writers and readers (run with -race).
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := range 50 {
				p := policy("ns", fmt.Sprintf("p%d", j%5), VisibilityPublic)
				p.Hash = fmt.Sprintf("h%d-%d", i, j)
				_ = s.Put(p)
				if j%7 == 0 {
					s.Delete("ns", "p0")
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 50 {
				for _, p := range s.List() {
					_ = len(p.Entries)
				}
				_, _ = s.Get("ns", "p1")
			}
		}()
	}
	wg.Wait()
	list := s.List()
	for i := 1; i < len(list); i++ {
		if list[i-1].Name >= list[i].Name {
			t.Fatal("List is not sorted")
		}
	}
	var zero MemoryStore
	if err := zero.Put(policy("ns", "p", VisibilityNone)); err != nil {
		t.Fatal("zero MemoryStore unusable:", err)
	}
}

func TestServerConcurrentRequests(t *testing.T) {
	store := newStore(t, policy("riverside", "open", VisibilityPublic))
	pub, _ := listeners(t, store)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 10 {
				p := policy("riverside", "open", VisibilityPublic)
				p.Hash = fmt.Sprintf("sha256:%d-%d", i, j)
				_ = store.Put(p)
				resp, err := http.Get(pub.URL + "/policies/riverside/open.csv")
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if !bytes.Contains(b, []byte("spam.example")) {
					t.Errorf("incomplete feed: %s", b)
				}
			}
		}()
	}
	wg.Wait()
}

// TestClusterOnlyEntriesStayInTheCluster (issue 12 case 11, "visibility
// laundering"): a public policy holding entries it read from a policy
// published to the cluster only serves them on the cluster listener and
// nowhere on the public one: no feed, no page row, no count in the index.
func TestClusterOnlyEntriesStayInTheCluster(t *testing.T) {
	p := policy("riverside", "public", VisibilityPublic)
	p.Entries = append(p.Entries, PublishedEntry{
		Entry:   moderation.Entry{Domain: "hill-only.example", Action: moderation.Suspend, PublicComment: "shared with the co-op only"},
		Summary: "hillside (1) ≥ 1", ClusterOnly: true,
	})
	pub, cluster := listeners(t, newStore(t, p))
	for _, suffix := range []string{".csv", ".json", ".txt", ".html", ""} {
		_, body := get(t, pub.URL+"/policies/riverside/public"+suffix)
		if strings.Contains(body, "hill-only") || strings.Contains(body, "shared with the co-op only") {
			t.Errorf("public %q serves the cluster-only entry:\n%s", suffix, body)
		}
		if !strings.Contains(body, "spam.example") {
			t.Errorf("public %q lacks the public entries:\n%s", suffix, body)
		}
		_, body = get(t, cluster.URL+"/policies/riverside/public"+suffix)
		if !strings.Contains(body, "hill-only.example") {
			t.Errorf("cluster %q lacks the cluster-only entry:\n%s", suffix, body)
		}
	}
	_, body := get(t, pub.URL+"/policies/riverside/public.html")
	if !strings.Contains(body, "3 entries") {
		t.Errorf("public page counts what it withholds:\n%s", body)
	}
	_, body = get(t, pub.URL+"/policies/")
	if !strings.Contains(body, `<td data-label="Entries">3</td>`) {
		t.Errorf("public index counts what it withholds:\n%s", body)
	}
	_, body = get(t, cluster.URL+"/policies/")
	if !strings.Contains(body, `<td data-label="Entries">4</td>`) {
		t.Errorf("cluster index:\n%s", body)
	}
}

// TestPublishedCSVEscapesFormulas (issue 12 case 11): a comment a
// spreadsheet would run is served as text.
func TestPublishedCSVEscapesFormulas(t *testing.T) {
	p := policy("riverside", "public", VisibilityPublic)
	p.Entries[0].Entry.PublicComment = `=HYPERLINK("https://evil.example","click")`
	pub, _ := listeners(t, newStore(t, p))
	_, body := get(t, pub.URL+"/policies/riverside/public.csv")
	if !strings.Contains(body, `"'=HYPERLINK(""https://evil.example"",""click"")"`) {
		t.Errorf("the formula is not escaped:\n%s", body)
	}
	res, err := moderation.Parse(moderation.FormatMastodonCSV, strings.NewReader(body))
	if err != nil || res.Entries[slices.IndexFunc(res.Entries, func(e moderation.Entry) bool { return e.Domain == "spam.example" })].PublicComment != p.Entries[0].Entry.PublicComment {
		t.Errorf("a subscriber does not read the comment back as written: %+v, %v", res, err)
	}
}
