package feeds

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

func TestServerRendersOncePerChange(t *testing.T) {
	store := newStore(t, policy("riverside", "open", VisibilityPublic))
	srv := NewServer(store, PublicAudience, 0)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	for range 20 {
		for _, ext := range []string{".csv", ".json", ".txt", ".html"} {
			if resp, _ := get(t, ts.URL+"/policies/riverside/open"+ext); resp.StatusCode != http.StatusOK {
				t.Fatalf("%s: %d", ext, resp.StatusCode)
			}
		}
	}
	if _, renders := srv.cache.stats(); renders != 4 {
		t.Fatalf("80 requests for 4 representations rendered %d times, want 4", renders)
	}

	// A new version of the policy is rendered anew, and the old body is
	// never served for it.
	p := policy("riverside", "open", VisibilityPublic)
	p.Hash = "sha256:new"
	p.Entries = append(p.Entries, PublishedEntry{Entry: moderation.Entry{Domain: "new.example", Action: moderation.Suspend}})
	if err := store.Put(p); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, ts.URL+"/policies/riverside/open.txt"); !strings.Contains(body, "new.example") {
		t.Fatalf("stale body after a change: %q", body)
	}
	if _, renders := srv.cache.stats(); renders != 5 {
		t.Fatalf("renders after one change = %d, want 5", renders)
	}

	// The page shows the community name and the time: a change of either
	// with the same entries is a new page too.
	p.Community = "Riverside Co-op"
	if err := store.Put(p); err != nil {
		t.Fatal(err)
	}
	if _, body := get(t, ts.URL+"/policies/riverside/open.html"); !strings.Contains(body, "Riverside Co-op") {
		t.Fatal("stale page after the community name changed")
	}
}

func TestServerWithoutHashIsNotCached(t *testing.T) {
	p := policy("riverside", "open", VisibilityPublic)
	p.Hash = ""
	store := newStore(t, p)
	srv := NewServer(store, PublicAudience, 0)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for range 3 {
		get(t, ts.URL+"/policies/riverside/open.csv")
	}
	if size, renders := srv.cache.stats(); renders != 3 || size != 0 {
		t.Fatalf("without a hash: renders %d, cached bytes %d; want 3 renders, nothing kept", renders, size)
	}
}

func TestRenderCacheOneRenderInFlight(t *testing.T) {
	c := newRenderCache(1<<20, 2)
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	render := func() ([]byte, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		<-release
		return []byte("body"), nil
	}
	var wg sync.WaitGroup
	bodies := make([]string, 16)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := c.get(context.Background(), "k", render)
			if err != nil {
				t.Error(err)
			}
			bodies[i] = string(b)
		}()
	}
	// Let the goroutines queue behind the first render.
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if calls != 1 {
		t.Fatalf("16 concurrent requests rendered %d times, want 1", calls)
	}
	for _, b := range bodies {
		if b != "body" {
			t.Fatalf("a waiter got %q", b)
		}
	}
}

func TestRenderCacheBudget(t *testing.T) {
	c := newRenderCache(100, 1)
	body := func(n int) func() ([]byte, error) {
		return func() ([]byte, error) { return make([]byte, n), nil }
	}
	ctx := context.Background()
	for i := range 10 {
		if _, err := c.get(ctx, fmt.Sprint(i), body(30)); err != nil {
			t.Fatal(err)
		}
	}
	if size, _ := c.stats(); size > 100 {
		t.Fatalf("cache holds %d bytes over a budget of 100", size)
	}
	// The most recent bodies are kept, the oldest evicted.
	_, before := c.stats()
	_, _ = c.get(ctx, "9", body(30))
	_, _ = c.get(ctx, "0", body(30))
	if _, after := c.stats(); after != before+1 {
		t.Fatalf("renders %d → %d: want the newest kept (0 renders) and the oldest evicted (1 render)", before, after)
	}
	// A body larger than the whole budget is served but not kept.
	if b, err := c.get(ctx, "huge", body(1000)); err != nil || len(b) != 1000 {
		t.Fatalf("huge body: %d bytes, %v", len(b), err)
	}
	if size, _ := c.stats(); size > 100 {
		t.Fatalf("a body over the budget was kept: %d bytes", size)
	}
}

// A request that cannot get a render slot before it is cancelled gets 503
// with Retry-After, and the renders already running are not disturbed.
func TestServerBusyWhenSlotsAreTaken(t *testing.T) {
	store := newStore(t, policy("riverside", "open", VisibilityPublic))
	srv := NewServer(store, PublicAudience, 0)
	for range cap(srv.cache.slots) {
		srv.cache.slots <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/policies/riverside/open.csv", nil)
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("all slots taken: %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if strings.Contains(rec.Body.String(), "context") {
		t.Fatalf("internal error text served: %q", rec.Body.String())
	}
}

// BenchmarkServeLargePage serves the transparency page of a 100,000-entry
// policy over and over, as a client in a loop would: with the cache every
// request after the first costs a copy of the body, not a render.
//
//	go test -run '^$' -bench ServeLargePage -benchmem ./internal/feeds
func BenchmarkServeLargePage(b *testing.B) {
	p := policy("riverside", "big", VisibilityPublic)
	p.Entries = make([]PublishedEntry, 100_000)
	for i := range p.Entries {
		p.Entries[i] = PublishedEntry{Entry: moderation.Entry{Domain: fmt.Sprintf("d%06d.example", i), Action: moderation.Suspend, PublicComment: "spam"}, Summary: "shared (2) ≥ 2"}
	}
	store := NewMemoryStore()
	if err := store.Put(p); err != nil {
		b.Fatal(err)
	}
	srv := NewServer(store, PublicAudience, 0)
	req := httptest.NewRequest(http.MethodGet, "/policies/riverside/big.html", nil)
	srv.ServeHTTP(discard{}, req) // the one render
	b.ReportAllocs()
	for b.Loop() {
		srv.ServeHTTP(discard{}, req)
	}
	_, renders := srv.cache.stats()
	b.ReportMetric(float64(renders), "renders")
}

// BenchmarkRenderLargePage is one render of the same page: what every
// request cost before the cache, and what the first request costs now.
func BenchmarkRenderLargePage(b *testing.B) {
	p := policy("riverside", "big", VisibilityPublic)
	p.Entries = make([]PublishedEntry, 100_000)
	for i := range p.Entries {
		p.Entries[i] = PublishedEntry{Entry: moderation.Entry{Domain: fmt.Sprintf("d%06d.example", i), Action: moderation.Suspend, PublicComment: "spam"}, Summary: "shared (2) ≥ 2"}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := renderPage(&p, PublicAudience); err != nil {
			b.Fatal(err)
		}
	}
}

// discard is a ResponseWriter that keeps nothing, so a benchmark measures
// the server and not a recorder's buffer.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(b []byte) (int, error) { return len(b), nil }
func (discard) WriteHeader(int)             {}
