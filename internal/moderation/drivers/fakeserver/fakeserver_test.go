package fakeserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

func call(t *testing.T, s *Server, method, path, token string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestMastodonQuirks(t *testing.T) {
	s := NewMastodon(Options{PageSize: 2})
	defer s.Close()
	// The admin controllers authorize only a token Doorkeeper found; no
	// token is refused by Pundit (403), as the API documentation says.
	if resp, body := call(t, s, "GET", "/api/v1/admin/domain_blocks", "", nil); resp.StatusCode != 403 || !strings.Contains(body, "This action is not allowed") {
		t.Fatalf("no token: %d %s", resp.StatusCode, body)
	}
	if resp, body := call(t, s, "GET", "/api/v1/instance", "", nil); resp.StatusCode != 200 || !strings.Contains(body, `"version":"4.5.2"`) {
		t.Fatalf("instance: %d %s", resp.StatusCode, body)
	}
	for _, d := range []string{"a.example", "b.example", "c.example"} {
		s.AddBlock(Record{Domain: d, Severity: "silence"})
	}
	resp, body := call(t, s, "GET", "/api/v1/admin/domain_blocks?limit=50", DefaultToken, nil)
	var page []map[string]any
	if err := json.Unmarshal([]byte(body), &page); err != nil || len(page) != 2 || page[0]["domain"] != "c.example" {
		t.Fatalf("page 1: %v %s", err, body)
	}
	link := resp.Header.Get("Link")
	if !strings.Contains(link, `max_id=`+page[1]["id"].(string)) || !strings.Contains(link, `rel="next"`) {
		t.Fatalf("Link %q", link)
	}
	// 422 for a subdomain of a blocked domain, with the existing block.
	resp, body = call(t, s, "POST", "/api/v1/admin/domain_blocks", DefaultToken, url.Values{"domain": {"x.b.example"}, "severity": {"suspend"}})
	if resp.StatusCode != 422 || !strings.Contains(body, "already imposed stricter limits on b.example") || !strings.Contains(body, `"existing_domain_block"`) {
		t.Fatalf("parent 422: %d %s", resp.StatusCode, body)
	}
	if resp, _ = call(t, s, "PUT", "/api/v1/admin/domain_allows/1", DefaultToken, url.Values{}); resp.StatusCode != 404 && resp.StatusCode != 405 {
		t.Fatalf("allow PUT exists: %d", resp.StatusCode)
	}
	if got := s.Calls()["POST /api/v1/admin/domain_blocks"]; got != 1 || s.Writes() != 1 { // the PUT matched no route
		t.Fatalf("calls %v writes %d", s.Calls(), s.Writes())
	}
}

func TestGoToSocialQuirks(t *testing.T) {
	old := NewGoToSocial(Options{NoDomainLimits: true})
	defer old.Close()
	if resp, _ := call(t, old, "GET", "/api/v1/admin/domain_limits", DefaultToken, nil); resp.StatusCode != 404 {
		t.Fatalf("old domain_limits: %d", resp.StatusCode)
	}
	s := NewGoToSocial(Options{})
	defer s.Close()
	if resp, _ := call(t, s, "GET", "/api/v1/admin/domain_limits", DefaultToken, nil); resp.StatusCode != 200 {
		t.Fatalf("domain_limits: %d", resp.StatusCode)
	}
	// Creates are idempotent: the existing block comes back unchanged.
	s.AddBlock(Record{Domain: "a.example", PrivateComment: "by hand"})
	_, body := call(t, s, "POST", "/api/v1/admin/domain_blocks", DefaultToken, url.Values{"domain": {"a.example"}, "private_comment": {"new"}})
	if !strings.Contains(body, `"private_comment":"by hand"`) || len(s.Blocks()) != 1 {
		t.Fatalf("create on existing: %s", body)
	}
	// Bulk import from a multipart JSON file.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("domains", "domains.json")
	fmt.Fprint(fw, `[{"domain":"b.example","public_comment":"p"},{"domain":"c.example","obfuscate":true}]`)
	mw.Close()
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/admin/domain_blocks?import=true", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || len(s.Blocks()) != 3 || s.Calls()["POST /api/v1/admin/domain_blocks?import=true"] != 1 {
		t.Fatalf("import: %d, %d blocks, calls %v", resp.StatusCode, len(s.Blocks()), s.Calls())
	}
	// A second limit for a domain is a conflict.
	form := url.Values{"domain": {"d.example"}, "accounts_policy": {"mute"}}
	call(t, s, "POST", "/api/v1/admin/domain_limits", DefaultToken, form)
	if resp, _ := call(t, s, "POST", "/api/v1/admin/domain_limits", DefaultToken, form); resp.StatusCode != 409 {
		t.Fatalf("duplicate limit: %d", resp.StatusCode)
	}
	if resp, _ := call(t, s, "POST", "/api/v1/admin/domain_limits", DefaultToken, url.Values{"domain": {"e.example"}, "media_policy": {"explode"}}); resp.StatusCode != 400 {
		t.Fatalf("bad policy: %d", resp.StatusCode)
	}
}

func TestRateLimitAndConcurrency(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := NewMastodon(Options{RateLimit: 2, RateWindow: 10 * time.Second, Now: clock, SendRetryAfter: true})
	defer s.Close()
	call(t, s, "GET", "/api/v1/instance", "", nil)
	call(t, s, "GET", "/api/v1/instance", "", nil)
	resp, _ := call(t, s, "GET", "/api/v1/instance", "", nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "10" || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("429: %d %v", resp.StatusCode, resp.Header)
	}
	mu.Lock()
	now = now.Add(10 * time.Second)
	mu.Unlock()
	if resp, _ := call(t, s, "GET", "/api/v1/instance", "", nil); resp.StatusCode != 200 {
		t.Fatalf("after the window: %d", resp.StatusCode)
	}

	// Hand edits and API calls from many goroutines (run with -race).
	c := NewGoToSocial(Options{})
	defer c.Close()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.AddBlock(Record{Domain: fmt.Sprintf("h%d.example", i)})
		}()
		go func() {
			defer wg.Done()
			call(t, c, "POST", "/api/v1/admin/domain_blocks", DefaultToken, url.Values{"domain": {fmt.Sprintf("a%d.example", i)}})
			_ = c.Calls()
		}()
	}
	wg.Wait()
	if len(c.Blocks()) != 16 || c.Writes() != 8 {
		t.Fatalf("%d blocks, %d writes", len(c.Blocks()), c.Writes())
	}
}

func TestAcceptToken(t *testing.T) {
	s := NewMastodon(Options{})
	defer s.Close()
	if resp, _ := call(t, s, "GET", "/api/v1/admin/domain_blocks", "minted-later", nil); resp.StatusCode != 403 {
		t.Fatalf("unknown token: %d, want 403", resp.StatusCode)
	}
	s.AcceptToken("minted-later")
	for _, tok := range []string{"minted-later", DefaultToken} {
		if resp, body := call(t, s, "GET", "/api/v1/admin/domain_blocks", tok, nil); resp.StatusCode != 200 {
			t.Fatalf("token %q: %d %s, want 200", tok, resp.StatusCode, body)
		}
	}
}

// RoundTrip delays reads as well as writes (Latency delays writes only).
func TestRoundTripDelaysEveryRequest(t *testing.T) {
	const rt = 50 * time.Millisecond
	for _, s := range []*Server{NewMastodon(Options{RoundTrip: rt}), NewGoToSocial(Options{RoundTrip: rt})} {
		start := time.Now()
		resp, _ := call(t, s, http.MethodGet, "/api/v1/admin/domain_blocks", DefaultToken, nil)
		if took := time.Since(start); resp.StatusCode != http.StatusOK || took < rt {
			t.Errorf("%s: GET answered %d after %s, want 200 after at least %s", s.software, resp.StatusCode, took, rt)
		}
		s.Close()
	}
}
