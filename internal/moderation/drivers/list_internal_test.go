package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/outbound"
)

// endless serves pages of n entries of pad bytes each, every page linking
// to the next, forever: the hostile admin API of issue 12 case 4.
func endless(t *testing.T, n, pad int) *httptest.Server {
	t.Helper()
	entry := fmt.Sprintf(`{"id":"1","domain":"x.example","private_comment":%q}`, strings.Repeat("p", pad))
	page := "[" + strings.TrimSuffix(strings.Repeat(entry+",", n), ",") + "]"
	var served int
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		w.Header().Set("Link", fmt.Sprintf(`<https://elsewhere.example/api/v1/x?page=%d>; rel="next"`, served))
		fmt.Fprint(w, page)
	}))
	t.Cleanup(hs.Close)
	return hs
}

// trusted is a client for a test server on loopback, which the guarded
// stack refuses unless the origin is trusted.
func trusted(tb testing.TB, rawURL string) *http.Client {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	hc, err := outbound.Default().Client(outbound.SameOrigin, outbound.Trusted{Host: outbound.HostPort(u)})
	if err != nil {
		tb.Fatal(err)
	}
	return hc
}

func listAll(t *testing.T, c *client) (int, error) {
	t.Helper()
	n := 0
	err := c.getAll(context.Background(), c.newListBudget(), "/api/v1/x", "/api/v1/x", func(dec *json.Decoder) (moderation.ServerEntry, error) {
		var v struct {
			ID, Domain     string
			PrivateComment string `json:"private_comment"`
		}
		err := dec.Decode(&v)
		return moderation.ServerEntry{ID: v.ID, Entry: moderation.Entry{Domain: v.Domain, PrivateComment: v.PrivateComment}}, err
	}, func(moderation.ServerEntry) { n++ })
	return n, err
}

func TestListBudget(t *testing.T) {
	cases := []struct {
		name      string
		n, pad    int
		bytes     int64
		entries   int
		wantUnder int // entries decoded stay under this
		wantIn    string
	}{
		// Endless pages of one 1 MiB entry stop once 4 MiB are kept:
		// never 10,000 of them.
		{"kept across pages", 1, 1 << 20, 4 << 20, 1000, 5, "more than 4194304 bytes of entries"},
		// Small entries stop at the entry cap, inside a page.
		{"entries", 1000, 0, 64 << 20, 2500, 2501, "more than 2500 entries"},
		// One page bigger than the whole budget is read only that far.
		{"one huge page", 10, 1 << 20, 4 << 20, 1000, 5, "bytes of entries"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hs := endless(t, c.n, c.pad)
			cl, err := newClient(Config{BaseURL: hs.URL, Token: "t", HTTPClient: trusted(t, hs.URL), RateLimit: RateLimit{Requests: -1}, MaxListBytes: c.bytes, MaxListEntries: c.entries})
			if err != nil {
				t.Fatal(err)
			}
			n, err := listAll(t, cl)
			if !errors.Is(err, ErrListTooLarge) {
				t.Fatalf("err = %v, want ErrListTooLarge", err)
			}
			if n >= c.wantUnder {
				t.Fatalf("decoded %d entries, want fewer than %d", n, c.wantUnder)
			}
			if !strings.Contains(err.Error(), c.wantIn) || !strings.Contains(err.Error(), "GET /api/v1/x") {
				t.Fatalf("err = %v, want it to name the call and say %q", err, c.wantIn)
			}
		})
	}
}

// TestListReadBudget: endless pages that hold nothing to keep (1 MiB of
// white space in an empty array) stop once twice the kept budget was read.
func TestListReadBudget(t *testing.T) {
	page := "[" + strings.Repeat(" ", 1<<20) + "]"
	pages := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages++
		w.Header().Set("Link", fmt.Sprintf(`</api/v1/x?page=%d>; rel="next"`, pages))
		fmt.Fprint(w, page)
	}))
	defer hs.Close()
	cl, err := newClient(Config{BaseURL: hs.URL, Token: "t", HTTPClient: trusted(t, hs.URL), RateLimit: RateLimit{Requests: -1}, MaxListBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listAll(t, cl); !errors.Is(err, ErrListTooLarge) || !strings.Contains(err.Error(), "bytes left of it") {
		t.Fatalf("err = %v, want ErrListTooLarge on what was read", err)
	}
	if pages != 8 {
		t.Fatalf("read %d pages of 1 MiB, want 8 (twice the 4 MiB kept budget)", pages)
	}
}

// TestListDefaults: a GoToSocial answering 50,000 blocks in one page of
// more than 16 MiB (the bound of other answers) is read whole.
func TestListDefaults(t *testing.T) {
	var b strings.Builder
	b.WriteString("[")
	comment := strings.Repeat("c", 200)
	for i := range 50_000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":"%026d","domain":"d%06d.example","obfuscate":false,"public_comment":"%s","private_comment":"fedcommons: from a big list","created_by":"01H5XK3H97914JC85XGEQEB6J8","created_at":"2026-12-02T02:04:38.000Z"}`, i, i, comment)
	}
	b.WriteString("]")
	body := b.String()
	if len(body) < 16<<20 {
		t.Fatalf("test page is %d bytes; it must exceed the 16 MiB single-answer bound", len(body))
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, body) }))
	defer hs.Close()
	cl, err := newClient(Config{BaseURL: hs.URL, Token: "t", HTTPClient: trusted(t, hs.URL), RateLimit: RateLimit{Requests: -1}})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := listAll(t, cl); err != nil || n != 50_000 {
		t.Fatalf("listed %d, err %v", n, err)
	}
}

func TestListedDomain(t *testing.T) {
	for in, want := range map[string]string{
		"bücher.example":        "xn--bcher-kva.example",
		"xn--bcher-kva.example": "xn--bcher-kva.example",
		"Upper.Example":         "upper.example",
		"*.wild.example":        "*.wild.example",
		" spaced.example ":      "spaced.example",
	} {
		if got := listedDomain(in); got != want {
			t.Errorf("listedDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
