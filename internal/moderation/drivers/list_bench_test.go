package drivers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkHostileList: an admin API whose Link headers never end, every
// page 16 MiB of entries (issue 12 case 4). The List stops at its budget;
// peak-heap-MiB is the most the heap held above where it started.
func BenchmarkHostileList(b *testing.B) {
	entry := fmt.Sprintf(`{"id":"1","domain":"x.example","private_comment":%q},`, strings.Repeat("p", 200))
	page := []byte("[" + strings.Repeat(entry, (16<<20)/len(entry)) + `{"id":"2","domain":"y.example"}]`)
	var n atomic.Int64
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", fmt.Sprintf(`</api/v1/admin/domain_blocks?page=%d>; rel="next"`, n.Add(1)))
		_, _ = w.Write(page)
	}))
	defer hs.Close()
	g, err := NewMastodon(Config{BaseURL: hs.URL, Token: "t", HTTPClient: trusted(b, hs.URL), RateLimit: RateLimit{Requests: -1}})
	if err != nil {
		b.Fatal(err)
	}
	d := g.(*mastodon)
	d.caps = &Capabilities{Software: "mastodon"}
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		base := ms.HeapAlloc
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			var m runtime.MemStats
			for {
				select {
				case <-stop:
					return
				case <-time.After(2 * time.Millisecond):
				}
				runtime.ReadMemStats(&m)
				if m.HeapAlloc > base && m.HeapAlloc-base > peak {
					peak = m.HeapAlloc - base
				}
			}
		}()
		_, err := d.List(context.Background())
		close(stop)
		<-done
		if !errors.Is(err, ErrListTooLarge) {
			b.Fatalf("err = %v, want ErrListTooLarge", err)
		}
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(n.Load())/float64(b.N), "pages/op")
}
