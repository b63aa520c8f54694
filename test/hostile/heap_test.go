package hostile

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"time"
)

// heapSampler records the peak of runtime.MemStats.HeapInuse (spans holding
// live objects and garbage not yet collected: what the heap costs the
// process) while it runs, sampled every 10 ms. It measures the whole test
// process: the operator, and also the API clients, the feed server and the
// fake admin servers of the test, so the figure is an upper bound for the
// operator alone. (The victim's fake admin servers run in another process:
// see fakes_test.go.)
type heapSampler struct {
	base uint64
	mu   sync.Mutex
	peak uint64
	at   time.Duration
	// live is the peak of the heap marked live by a collection
	// (/gc/heap/live:bytes): what is really held, without the garbage
	// a collection has yet to free.
	live uint64
	stop chan struct{}
	done sync.WaitGroup
}

func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func heapInuse() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// startHeapSampler collects garbage, takes the baseline and starts sampling.
func startHeapSampler() *heapSampler {
	runtime.GC()
	h := &heapSampler{base: heapInuse(), stop: make(chan struct{})}
	h.peak = h.base
	began := time.Now()
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
				v, live := heapInuse(), liveHeap()
				h.mu.Lock()
				if v > h.peak {
					h.peak, h.at = v, time.Since(began)
				}
				h.live = max(h.live, live)
				h.mu.Unlock()
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the baseline, the peak, when the peak
// was seen, and the peak live heap.
func (h *heapSampler) Stop() (base, peak uint64, at time.Duration, live uint64) {
	close(h.stop)
	h.done.Wait()
	return h.base, h.peak, h.at, h.live
}
