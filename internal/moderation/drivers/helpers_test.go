package drivers_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// fakeClock advances instantly when slept on, recording every wait, so
// Retry-After and token-bucket waits are real waits that cost no time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	return nil
}

func (c *fakeClock) totalSlept() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t time.Duration
	for _, d := range c.slept {
		t += d
	}
	return t
}

// newDriver builds the named driver against srv; the client-side bucket is
// off unless cfg sets one, so tests count calls, not waits.
func newDriver(t *testing.T, name string, srv *fakeserver.Server, cfg drivers.Config) drivers.Driver {
	t.Helper()
	cfg.BaseURL = srv.URL
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = trusting(t, srv.URL)
	}
	if cfg.Token == "" {
		cfg.Token = fakeserver.DefaultToken
	}
	if cfg.RateLimit.Requests == 0 {
		cfg.RateLimit.Requests = -1
	}
	d, err := drivers.New(name, cfg)
	if err != nil {
		t.Fatalf("New(%s): %v", name, err)
	}
	return d
}

// planFor is a minimal stand-in for moderation.Diff (being written
// elsewhere): one entry per domain; ours are updated or deleted, anyone
// else's cover the domain.
func planFor(desired []moderation.Entry, current []moderation.ServerEntry) moderation.Plan {
	var p moderation.Plan
	managed := map[string]moderation.ServerEntry{}
	unmanaged := map[string]bool{}
	for _, se := range current {
		if se.Managed {
			managed[se.Domain] = se
		} else {
			unmanaged[se.Domain] = true
			p.Unmanaged++
		}
	}
	want := map[string]bool{}
	for _, e := range desired {
		want[e.Domain] = true
		se, ok := managed[e.Domain]
		switch {
		case ok && se.Entry != e:
			p.Update = append(p.Update, moderation.Update{ID: se.ID, From: se.Entry, To: e})
		case ok:
		case unmanaged[e.Domain]:
			p.Covered = append(p.Covered, e)
		default:
			p.Create = append(p.Create, e)
		}
	}
	for _, se := range current {
		if se.Managed && !want[se.Domain] {
			p.Delete = append(p.Delete, se)
		}
	}
	return p
}

// sync runs one List+plan+Apply cycle, as the controller will.
func syncOnce(t *testing.T, ctx context.Context, d drivers.Driver, desired []moderation.Entry) (moderation.Plan, drivers.ApplyResult, error) {
	t.Helper()
	cur, err := d.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	plan := planFor(desired, cur)
	res, err := d.Apply(ctx, plan, nil)
	return plan, res, err
}

// managedEntries returns the listed managed entries, sorted by domain.
func managedEntries(t *testing.T, d drivers.Driver) []moderation.Entry {
	t.Helper()
	cur, err := d.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	var out []moderation.Entry
	for _, se := range cur {
		if se.Managed {
			out = append(out, se.Entry)
		}
	}
	sortEntries(out)
	return out
}

func sortEntries(es []moderation.Entry) {
	sort.Slice(es, func(i, j int) bool { return es[i].Domain < es[j].Domain })
}

func sameEntries(t *testing.T, got, want []moderation.Entry) {
	t.Helper()
	g := append([]moderation.Entry(nil), got...)
	w := append([]moderation.Entry(nil), want...)
	sortEntries(g)
	sortEntries(w)
	if len(g) != len(w) {
		t.Fatalf("got %d entries, want %d\ngot:  %+v\nwant: %+v", len(g), len(w), g, w)
	}
	for i := range g {
		if g[i] != w[i] {
			t.Errorf("entry %d:\ngot  %+v\nwant %+v", i, g[i], w[i])
		}
	}
}

func manyBlocks(n int, action moderation.Action) []moderation.Entry {
	out := make([]moderation.Entry, n)
	for i := range out {
		out[i] = moderation.Entry{
			Domain:         fmt.Sprintf("bad%05d.example", i),
			Action:         action,
			PublicComment:  "spam",
			PrivateComment: fmt.Sprintf("oliphant-tier0 (8/8 sources) #%d", i),
		}
	}
	return out
}
