package feeds

import (
	lru "container/list"
	"context"
	"errors"
	"sync"
)

// Rendering a large policy is the expensive part of serving it: a
// 100,000-entry transparency page takes about a second of CPU and well over
// a hundred MiB of allocations. The feed server runs inside the leader, so
// without a bound a handful of clients (or one client in a loop) could take
// the operator's CPU and memory from every community. Two bounds make a
// request's cost independent of how often it is asked:
//
//   - renderCache keeps rendered bodies keyed by everything that determines
//     them (policy, content hash, representation; the audience is fixed per
//     Server). A policy is rendered once per change, not once per request,
//     and concurrent requests for the same body wait for one render.
//   - renderSlots caps how many renders run at once, so a burst of requests
//     for many different policies queues instead of multiplying the heap.
//
// Connections themselves are capped where the listener is made (the
// manager's feed server).

// DefaultRenderCacheBytes is the most rendered bytes a Server keeps.
const DefaultRenderCacheBytes = 64 << 20

// DefaultRenderSlots is how many renders may run at once: the operator is
// sized for two cores, and a render is CPU-bound.
const DefaultRenderSlots = 2

// errBusy is returned when a request gave up waiting for a render slot.
var errBusy = errors.New("the feed server is busy")

type cacheEntry struct {
	key  string
	body []byte
}

// renderCache is a byte-bounded LRU of rendered bodies with one render in
// flight per key.
type renderCache struct {
	max   int
	slots chan struct{}

	mu       sync.Mutex
	size     int
	order    *lru.List // front = most recently used; values are *cacheEntry
	entries  map[string]*lru.Element
	inflight map[string]*flight
	renders  int // renders started, for tests and figures
}

type flight struct {
	done chan struct{}
	body []byte
	err  error
}

func newRenderCache(maxBytes, slots int) *renderCache {
	if slots < 1 {
		slots = 1
	}
	return &renderCache{
		max:      maxBytes,
		slots:    make(chan struct{}, slots),
		order:    lru.New(),
		entries:  map[string]*lru.Element{},
		inflight: map[string]*flight{},
	}
}

// get returns the body cached under key, or renders it with render. An
// empty key is never cached (the policy has no hash to key it by), but the
// render still takes a slot.
func (c *renderCache) get(ctx context.Context, key string, render func() ([]byte, error)) ([]byte, error) {
	if key == "" {
		return c.renderInSlot(ctx, render)
	}
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		body := el.Value.(*cacheEntry).body
		c.mu.Unlock()
		return body, nil
	}
	if f, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.body, f.err
		case <-ctx.Done():
			return nil, errBusy
		}
	}
	f := &flight{done: make(chan struct{})}
	c.inflight[key] = f
	c.mu.Unlock()

	f.body, f.err = c.renderInSlot(ctx, render)

	c.mu.Lock()
	delete(c.inflight, key)
	if f.err == nil {
		c.add(key, f.body)
	}
	c.mu.Unlock()
	close(f.done)
	return f.body, f.err
}

func (c *renderCache) renderInSlot(ctx context.Context, render func() ([]byte, error)) ([]byte, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, errBusy
	}
	defer func() { <-c.slots }()
	c.mu.Lock()
	c.renders++
	c.mu.Unlock()
	return render()
}

// add stores body under key and evicts the least recently used bodies
// beyond the budget. A body larger than the whole budget is not kept.
// c.mu must be held.
func (c *renderCache) add(key string, body []byte) {
	if len(body) > c.max {
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, body: body})
	c.size += len(body)
	for c.size > c.max {
		el := c.order.Back()
		e := el.Value.(*cacheEntry)
		c.order.Remove(el)
		delete(c.entries, e.key)
		c.size -= len(e.body)
	}
}

// stats returns the bytes held and the renders started.
func (c *renderCache) stats() (bytes, renders int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size, c.renders
}
