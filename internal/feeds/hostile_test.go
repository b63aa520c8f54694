package feeds

import (
	"context"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fedcommons/fedcommons/internal/feeds/hostile"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// serveHostile serves the whole catalogue over real HTTP.
func serveHostile(tb testing.TB) ([]*hostile.Feed, *httptest.Server) {
	tb.Helper()
	feeds := hostile.Feeds()
	if err := hostile.Prepare(feeds); err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(hostile.Handler(feeds))
	tb.Cleanup(srv.Close)
	return feeds, srv
}

// fetchHostile runs one feed through the path the policy controller uses:
// a conditional fetch, the parser, the tracker.
func fetchHostile(srv *httptest.Server, f *hostile.Feed) (FetchResult, *Tracker) {
	fetcher := &Fetcher{Allow: loopback}
	tr := NewTracker()
	res := FetchSource(context.Background(), fetcher, tr, Source{
		Name: "hostile", URL: srv.URL + "/" + f.Name, Format: f.Format, Retraction: DefaultRetraction,
	})
	return res, tr
}

// TestHostileFeeds: every feed of the catalogue gets exactly the outcome
// written next to it, through real HTTP, the real fetcher, parser and
// tracker: a refusal with an error naming the cap (and the line), or an
// accepted list whose every kept value is clean.
func TestHostileFeeds(t *testing.T) {
	feeds, srv := serveHostile(t)
	if len(feeds) < 25 {
		t.Fatalf("the catalogue has %d feeds, want at least 25", len(feeds))
	}
	seen := map[string]bool{}
	for _, f := range feeds {
		if seen[f.Name] {
			t.Fatalf("two feeds named %s", f.Name)
		}
		seen[f.Name] = true
		t.Run(f.Name, func(t *testing.T) {
			res, tr := fetchHostile(srv, f)
			checkHostile(t, f, res, tr)
		})
	}
}

func checkHostile(t *testing.T, f *hostile.Feed, res FetchResult, tr *Tracker) {
	t.Helper()
	want := f.Expect
	status := res.Status
	if want.Err != "" {
		if status.Error == "" {
			t.Fatalf("accepted with %d entries, want a refusal mentioning %q", len(res.Effective), want.Err)
		}
		if !strings.Contains(status.Error, want.Err) {
			t.Errorf("error %q does not name %q", status.Error, want.Err)
		}
		if want.Line > 0 && !strings.Contains(status.Error, hostile.Line(want.Line)) {
			t.Errorf("error %q does not name %q", status.Error, hostile.Line(want.Line))
		}
		if len(res.Effective) != 0 || res.Outcome.Applied {
			t.Errorf("a refused feed applied: %+v", res.Outcome)
		}
		return
	}
	if status.Error != "" || !res.Outcome.Applied {
		t.Fatalf("refused (%q, held %q), want %d entries", status.Error, res.Outcome.Held, want.Entries)
	}
	if len(res.Effective) != want.Entries {
		t.Errorf("%d entries, want %d", len(res.Effective), want.Entries)
	}
	got := map[string]moderation.Entry{}
	for _, e := range res.Effective {
		got[e.Domain] = e.Entry
		if d, _, err := moderation.NormalizeDomain(e.Domain); err != nil || d != e.Domain {
			t.Errorf("kept a domain that is not normalised: %q (%v)", e.Domain, err)
		}
		checkCleanText(t, "comment of "+e.Domain, e.PublicComment)
		if want.CommentsAtMost > 0 && len(e.PublicComment) > want.CommentsAtMost {
			t.Errorf("comment of %s is %d bytes, want at most %d", e.Domain, len(e.PublicComment), want.CommentsAtMost)
		}
	}
	for _, d := range want.Has {
		if _, ok := got[d]; !ok {
			t.Errorf("missing %s", d)
		}
	}
	for _, d := range want.HasNot {
		if _, ok := got[d]; ok {
			t.Errorf("kept %s", d)
		}
	}
	for _, d := range want.Rejected {
		if _, ok := got[d]; !ok {
			t.Errorf("missing %s (kept by the parser, refused by the merge)", d)
		}
		if moderation.RefusePublicSuffix(d) == "" {
			t.Errorf("the merge would not refuse %s", d)
		}
	}
	for _, d := range want.Protected {
		if _, ok := got[d]; !ok {
			t.Errorf("missing %s (kept by the parser, refused by a merge that protects it)", d)
		}
	}
	if res.Skipped < want.Skipped {
		t.Errorf("%d rows skipped, want at least %d", res.Skipped, want.Skipped)
	}
	if res.Obfuscated != want.Obfuscated {
		t.Errorf("%d obfuscated rows, want %d", res.Obfuscated, want.Obfuscated)
	}
	for _, p := range res.Problems {
		checkCleanText(t, "problem record", p.Record)
	}
	if v := tr.Validators("hostile"); want.NoValidators && (v.ETag != "" || v.LastModified != "") {
		t.Errorf("kept validators of %d and %d bytes", len(v.ETag), len(v.LastModified))
	}
}

// checkCleanText: what is kept is valid UTF-8 without NUL or control
// characters other than newline and tab.
func checkCleanText(t *testing.T, what, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Errorf("%s is not valid UTF-8: %q", what, s)
		return
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			t.Errorf("%s holds control character %U: %q", what, r, s)
			return
		}
	}
}

// heapBudget is what one fetch of one feed may add to the heap (issue 12:
// every hostile shape stays under 64 MiB above baseline).
const heapBudget = 64 << 20

// heapSampler records the largest heap in use (live objects and garbage
// not yet collected, which is what the process holds) while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func heapInUse() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapSampler() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.peak.Store(heapInUse())
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		s := []metrics.Sample{{Name: heapMetric}}
		for {
			select {
			case <-h.stop:
				return
			default:
			}
			metrics.Read(s)
			if v := s[0].Value.Uint64(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			time.Sleep(50 * time.Microsecond)
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	if v := heapInUse(); v > h.peak.Load() {
		h.peak.Store(v)
	}
	return h.peak.Load()
}

// BenchmarkHostileFeeds fetches each feed of the catalogue through the real
// path (HTTP, Fetcher, parser, Tracker) and reports the peak heap above the
// baseline taken just before, as peak-heap-MiB. It fails when a feed costs
// more than heapBudget. Run it with
//
//	go test -run '^$' -bench BenchmarkHostileFeeds -benchtime 1x ./internal/feeds/
func BenchmarkHostileFeeds(b *testing.B) {
	feeds, srv := serveHostile(b)
	for _, f := range feeds {
		b.Run(f.Name, func(b *testing.B) {
			var worst uint64
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				base := heapInUse()
				sampler := startHeapSampler()
				b.StartTimer()
				res, tr := fetchHostile(srv, f)
				b.StopTimer()
				peak := sampler.Stop()
				runtime.KeepAlive(res)
				runtime.KeepAlive(tr)
				if peak > base && peak-base > worst {
					worst = peak - base
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MiB")
			if worst > heapBudget {
				b.Errorf("%s: peak heap %.1f MiB above baseline, over the %d MiB budget", f.Name, float64(worst)/(1<<20), heapBudget>>20)
			}
		})
	}
}

// TestHostileSavedState (issue 12 case 7): a feed every cap accepts makes a
// saved state beyond a ConfigMap, so the caps alone cannot bound the state:
// SaveWithin leaves that source's copy out and names it, while a state of
// real size saves whole.
func TestHostileSavedState(t *testing.T) {
	feeds, srv := serveHostile(t)
	res, tr := fetchHostile(srv, hostile.Lookup(feeds, "csv-state-overflow.csv"))
	if res.Status.Error != "" || len(res.Effective) != 20_000 {
		t.Fatalf("the feed was not accepted: %q, %d entries", res.Status.Error, len(res.Effective))
	}
	if whole, err := tr.Save(); err != nil || len(whole) <= DefaultMaxSavedBytes {
		t.Fatalf("the whole state is %d bytes (%v), want more than the %d budget", len(whole), err, DefaultMaxSavedBytes)
	}
	data, unsaved, err := tr.SaveWithin(DefaultMaxSavedBytes)
	if err != nil || len(data) > DefaultMaxSavedBytes || len(unsaved) != 1 || unsaved[0] != "hostile" {
		t.Fatalf("SaveWithin: %d bytes, unsaved %v, %v", len(data), unsaved, err)
	}

	small, _ := fetchHostile(srv, hostile.Lookup(feeds, "csv-homographs.csv"))
	if small.Status.Error != "" {
		t.Fatal(small.Status.Error)
	}
	tr.Retain() // forget the large source
	tr.Observe("small", Observation{Time: time.Now(), Entries: entriesOf(small.Effective)}, DefaultRetraction)
	if data, unsaved, err := tr.SaveWithin(DefaultMaxSavedBytes); err != nil || len(data) == 0 || len(unsaved) != 0 {
		t.Fatalf("a small state: %d bytes, unsaved %v, %v", len(data), unsaved, err)
	}
}

func entriesOf(eff []EffectiveEntry) []moderation.Entry {
	out := make([]moderation.Entry, len(eff))
	for i := range eff {
		out[i] = eff[i].Entry
	}
	return out
}

// TestHostileErrorReachesStatus: the refusal names its cap and line in the
// source status the policy's SourcesHealthy condition is built from, even
// from the longest URL the API admits (2048 bytes) and after the tracker
// clips the message.
func TestHostileErrorReachesStatus(t *testing.T) {
	f := hostile.Lookup(hostile.Feeds(), "csv-commas-gzip.csv")
	srv := httptest.NewServer(f)
	defer srv.Close()
	url := srv.URL + "/" + strings.Repeat("long-path/", 205)[:2048-len(srv.URL)-1]
	res := FetchSource(context.Background(), &Fetcher{Allow: loopback}, NewTracker(), Source{Name: "s", URL: url, Format: f.Format})
	if !strings.Contains(res.Status.Error, "line 2: more than 256 fields in one CSV record (cap MaxFieldsPerRecord)") {
		t.Fatalf("status error %q", res.Status.Error)
	}
}

// countWriter counts what is written to it.
type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// TestHostileBombRatio: the gzip bombs are bombs, about 1000:1 as deflate
// allows at most, and decode beyond the fetch limit.
func TestHostileBombRatio(t *testing.T) {
	feeds := hostile.Feeds()
	for _, name := range []string{"csv-gzip-bomb.csv", "plain-gzip-bomb-comments.txt", "csv-commas-gzip.csv"} {
		f := hostile.Lookup(feeds, name)
		var n countWriter
		if err := f.WriteBody(&n); err != nil {
			t.Fatal(err)
		}
		if ratio := int(n) / f.CompressedSize(); ratio < 900 {
			t.Errorf("%s: %d bytes from %d, a ratio of %d:1", name, n, f.CompressedSize(), ratio)
		}
		if name != "csv-commas-gzip.csv" && int64(n) <= DefaultMaxBytes {
			t.Errorf("%s decodes to %d bytes, within the limit", name, n)
		}
	}
}
