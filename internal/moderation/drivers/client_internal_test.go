package drivers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/outbound"
)

func TestMarkerRoundTrip(t *testing.T) {
	for _, summary := range []string{"", "x", " leading", "trailing ", "fedcommons: nested", "multi\nline"} {
		got, managed := ParseComment(MarkComment(summary))
		if !managed || got != summary {
			t.Errorf("ParseComment(MarkComment(%q)) = %q, %v", summary, got, managed)
		}
	}
	for _, stored := range []string{"", "by hand", " fedcommons: not at the start", "FEDCOMMONS: other case"} {
		if got, managed := ParseComment(stored); managed || got != stored {
			t.Errorf("ParseComment(%q) = %q, %v; want unmanaged and unchanged", stored, got, managed)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		h    http.Header
		want time.Duration
	}{
		{"seconds", http.Header{"Retry-After": {"7"}}, 7 * time.Second},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second},
		{"mastodon reset only", http.Header{"X-Ratelimit-Reset": {now.Add(42 * time.Second).Format("2006-01-02T15:04:05.000000Z07:00")}}, 42 * time.Second},
		{"unix reset", http.Header{"X-Ratelimit-Reset": {"1772366460"}}, 60 * time.Second},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Minute).Format(http.TimeFormat)}}, 0},
		{"nothing", http.Header{}, 3 * time.Second},
	}
	for _, c := range cases {
		if got := retryAfter(c.h, now, 3*time.Second); got != c.want {
			t.Errorf("%s: retryAfter = %s, want %s", c.name, got, c.want)
		}
	}
}

func TestNextLink(t *testing.T) {
	h := http.Header{}
	h.Add("Link", `<https://social.example/api/v1/admin/domain_blocks?limit=200&max_id=1,2>; rel="next", <https://social.example/api/v1/admin/domain_blocks?min_id=9>; rel="prev"`)
	if got := nextLink(h); got != "/api/v1/admin/domain_blocks?limit=200&max_id=1,2" {
		t.Fatalf("nextLink = %q", got)
	}
	h = http.Header{"Link": {`<https://x/a?min_id=9>; rel="prev"`}}
	if got := nextLink(h); got != "" {
		t.Fatalf("nextLink without next = %q", got)
	}
}

func TestLeadingVersion(t *testing.T) {
	for v, want := range map[string][2]int{"4.5.2": {4, 5}, "4.3.0+glitch": {4, 3}, "0.20.1+git-8f7a3c2": {0, 20}, "0.17.3 git-b0bd8e4": {0, 17}, "4.0.2+hometown-1.1.1": {4, 0}} {
		maj, mnr, ok := leadingVersion(v)
		if !ok || maj != want[0] || mnr != want[1] {
			t.Errorf("leadingVersion(%q) = %d.%d %v", v, maj, mnr, ok)
		}
	}
	if _, _, ok := leadingVersion("nightly"); ok {
		t.Error("leadingVersion(nightly) ok")
	}
}

// TestClientBoundsAndErrors checks what a misbehaving server gets: bounded
// reads, and errors that name server, call and answer without the token.
func TestClientBoundsAndErrors(t *testing.T) {
	const token = "tok-SECRET-123"
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/huge":
			_, _ = w.Write([]byte(strings.Repeat("x", 4096)))
		case "/echo":
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("<h1>you sent " + r.Header.Get("Authorization") + "\x1b[2J" + strings.Repeat(" blah", 150)))
		case "/json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnprocessableEntity)
			_, _ = w.Write([]byte(`{"error":"Validation failed: you sent ` + r.Header.Get("Authorization") + `\u001b[2J"}`))
		case "/ua":
			if r.Header.Get("User-Agent") != DefaultUserAgent || r.Header.Get("Authorization") != "Bearer "+token {
				w.WriteHeader(http.StatusTeapot)
			}
		case "/slow":
			time.Sleep(200 * time.Millisecond)
		}
	}))
	defer hs.Close()
	u, _ := url.Parse(hs.URL)
	hc, err := outbound.Default().Client(outbound.SameOrigin, outbound.Trusted{Host: outbound.HostPort(u)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClient(Config{BaseURL: hs.URL + "/", Token: token, HTTPClient: hc, MaxResponseBytes: 1024, RequestTimeout: 50 * time.Millisecond, RateLimit: RateLimit{Requests: -1}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.do(ctx, request{method: "GET", path: "/ua", call: "GET /ua"}); err != nil {
		t.Fatalf("headers: %v", err)
	}
	if _, err := c.do(ctx, request{method: "GET", path: "/huge", call: "GET /huge"}); err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("huge body: err = %v", err)
	}
	_, err = c.do(ctx, request{method: "POST", path: "/echo", call: "POST /echo"})
	if err == nil {
		t.Fatal("400 not an error")
	}
	// An HTML or text body is never quoted: the server controls it.
	if msg := err.Error(); msg != hs.URL+": POST /echo: HTTP 400 Bad Request" {
		t.Fatalf("error %q", msg)
	}
	// A JSON error document's message is, cleaned and without the token.
	_, err = c.do(ctx, request{method: "POST", path: "/json", call: "POST /json"})
	if msg := err.Error(); msg != hs.URL+": POST /json: HTTP 422 Unprocessable Entity: Validation failed: you sent Bearer [redacted][2J" {
		t.Fatalf("error %q", msg)
	}
	if _, err := c.do(ctx, request{method: "GET", path: "/slow", call: "GET /slow"}); err == nil || !strings.Contains(err.Error(), "GET /slow") {
		t.Fatalf("per-request timeout: err = %v", err)
	}
	if got := c.writes.Load(); got != 2 {
		t.Fatalf("write counter = %d, want 1", got)
	}
}

// The version a server reports is shown in notes and conditions: control
// characters and markup go, and it stays short.
func TestProbeVersionCleaned(t *testing.T) {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"version":"4.5.2\u001b[31m<b>` + strings.Repeat("x", 500) + `"}`))
	}))
	defer hs.Close()
	u, _ := url.Parse(hs.URL)
	hc, err := outbound.Default().Client(outbound.SameOrigin, outbound.Trusted{Host: outbound.HostPort(u)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := newClient(Config{BaseURL: hs.URL, Token: "t", HTTPClient: hc, RateLimit: RateLimit{Requests: -1}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := probeVersion(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "4.5.2[31mb") || strings.ContainsAny(v, "\x1b<>") || len([]rune(v)) > maxVersionRunes+1 {
		t.Fatalf("version %q", v)
	}
	if maj, mnr, ok := leadingVersion(v); !ok || maj != 4 || mnr != 5 {
		t.Fatalf("leadingVersion(%q) = %d.%d %v", v, maj, mnr, ok)
	}
}
