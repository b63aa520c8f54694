package feeds

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

func TestFetchSource(t *testing.T) {
	var mu sync.Mutex
	body, etag := "", ""
	set := func(b, e string) { mu.Lock(); body, etag = b, e; mu.Unlock() }
	csvOf := func(ds ...string) string {
		var sb strings.Builder
		sb.WriteString("#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n")
		for _, d := range ds {
			fmt.Fprintf(&sb, "%s,suspend,true,false,spam,false\n", d)
		}
		return sb.String()
	}
	s := serve(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "text/csv")
		_, _ = io.WriteString(w, body)
	})
	f := &Fetcher{Allow: loopback}
	tr := NewTracker()
	src := Source{Name: "iftas-dni", URL: s.URL + "/dni.csv", Format: moderation.FormatMastodonCSV, Retraction: Retraction{MinCleanFetches: 2, MaxShrinkPercent: 20}}
	ctx := context.Background()

	set(csvOf("a.example", "b.example", "c.example", "d.example", "e.example"), `"v1"`)
	r := FetchSource(ctx, f, tr, src)
	if !r.Outcome.Applied || r.Status.Entries != 5 || r.Status.ETag != `"v1"` || r.Status.Error != "" || len(r.Effective) != 5 {
		t.Fatalf("first fetch: %+v", r)
	}
	if r.Status.LastFetchTime.IsZero() || r.Status.LastSuccessTime != r.Status.LastFetchTime {
		t.Fatalf("times: %+v", r.Status)
	}

	// Unchanged: the tracker's validators make it a 304.
	r = FetchSource(ctx, f, tr, src)
	if !r.Outcome.Applied || r.Status.Entries != 5 {
		t.Fatalf("304 fetch: %+v", r)
	}

	// One domain retracted: pending, then gone on the next clean fetch.
	set(csvOf("a.example", "b.example", "c.example", "d.example"), `"v2"`)
	r = FetchSource(ctx, f, tr, src)
	if len(r.Effective) != 5 || r.Status.PendingRetractions != 1 || r.Effective[4].Note() != "retraction pending 1/2" {
		t.Fatalf("pending retraction: %+v", r)
	}
	r = FetchSource(ctx, f, tr, src) // 304: a clean fetch
	if len(r.Effective) != 4 || len(r.Outcome.Retracted) != 1 || r.Outcome.Retracted[0] != "e.example" {
		t.Fatalf("confirmed retraction: %+v", r)
	}

	// A truncated export is held.
	set(csvOf("a.example"), `"v3"`)
	r = FetchSource(ctx, f, tr, src)
	if r.Outcome.Applied || r.Status.Held != "held: 4 → 1 entries, shrank 75% > 20%" || len(r.Effective) != 4 {
		t.Fatalf("held: %+v", r)
	}

	// A captive portal's HTML is an error, not an empty list.
	set("<!DOCTYPE html><html><body>Please log in</body></html>", `"portal"`)
	r = FetchSource(ctx, f, tr, src)
	if r.Outcome.Applied || !strings.Contains(r.Status.Error, "is not a readable mastodon-csv list") || len(r.Effective) != 4 {
		t.Fatalf("portal: %+v", r)
	}

	// An outage keeps everything.
	s.Close()
	r = FetchSource(ctx, f, tr, src)
	if r.Outcome.Applied || r.Status.Error == "" || len(r.Effective) != 4 || r.Status.Entries != 4 {
		t.Fatalf("outage: %+v", r)
	}

	// A refused address is reported in the status in plain words.
	r = FetchSource(ctx, &Fetcher{}, NewTracker(), Source{Name: "x", URL: "http://169.254.169.254/", Format: moderation.FormatPlain})
	if r.Status.Error != "refused: 169.254.169.254 is the cloud metadata address" {
		t.Fatalf("refused: %q", r.Status.Error)
	}
}
