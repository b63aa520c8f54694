package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
)

// form builds form values from key, value pairs.
func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// perm is a block or allow as GoToSocial's API answers it.
type perm struct {
	ID             string `json:"id"`
	Domain         string `json:"domain"`
	Obfuscate      bool   `json:"obfuscate"`
	PublicComment  string `json:"public_comment"`
	PrivateComment string `json:"private_comment"`
}

// rawList lists a collection outside the driver, by the domain as the
// server answers it.
func (e *endpoint) rawList(t *testing.T, kind string) map[string]perm {
	t.Helper()
	return permsByDomain(t, kind, e.call(t, e.token, http.MethodGet, "/api/v1/admin/domain_"+kind+"s", nil))
}

// permsByDomain decodes a list answer of domain_<kind>s by domain.
func permsByDomain(t *testing.T, kind string, r raw) map[string]perm {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("list %ss: %s", kind, r)
	}
	var ps []perm
	if err := json.Unmarshal([]byte(r.body), &ps); err != nil {
		t.Fatal(err)
	}
	out := map[string]perm{}
	for _, p := range ps {
		out[p.Domain] = p
	}
	return out
}

// handMade creates a block as a human would, in the admin panel (which
// calls the same API), and returns it as the server answered.
func (e *endpoint) handMade(t *testing.T, kind, domain, private string) perm {
	t.Helper()
	r := e.call(t, e.token, http.MethodPost, "/api/v1/admin/domain_"+kind+"s", form("domain", domain, "private_comment", private, "public_comment", "by a moderator", "obfuscate", "true"))
	if r.status != http.StatusOK {
		t.Fatalf("hand-made %s of %s: %s", kind, domain, r)
	}
	var p perm
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// contractHandMade: entries without the marker are never changed or
// deleted, whatever the plan says, and cover the domain they hold.
func contractHandMade(t *testing.T, tg target, ep *endpoint) {
	ctx := context.Background()
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	h1 := ep.handMade(t, "block", ep.dom("h1"), "blocked by hand")
	h2 := ep.handMade(t, "block", ep.dom("h2"), "also by hand")
	h3 := ep.handMade(t, "allow", ep.dom("h3"), "a friend")

	plan, res, err := ep.sync(t, d, []moderation.Entry{block(ep.dom("h2"), "", "policy", false), block(ep.dom("x"), "", "policy", false)})
	if err != nil || res.Created != 1 || len(plan.Covered) != 1 || plan.Covered[0].Domain != ep.dom("h2") {
		t.Fatalf("plan %+v result %+v err %v", plan, res, err)
	}
	// A plan that would touch them anyway is refused before any write.
	for _, se := range ep.list(t, d) {
		if se.Managed {
			continue
		}
		forged := se
		forged.Managed = true
		ep.wire.snapshot()
		if _, err := d.Apply(ctx, moderation.Plan{Delete: []moderation.ServerEntry{forged}}, nil); !errors.Is(err, drivers.ErrUnmanaged) {
			t.Fatalf("forged delete of %s: err = %v, want ErrUnmanaged", se.Domain, err)
		}
		to := se.Entry
		to.PublicComment = "taken over"
		if _, err := d.Apply(ctx, moderation.Plan{Update: []moderation.Update{{ID: se.ID, From: se.Entry, To: to}}}, nil); !errors.Is(err, drivers.ErrUnmanaged) {
			t.Fatalf("forged update of %s: err = %v, want ErrUnmanaged", se.Domain, err)
		}
		if w := ep.wire.snapshot(); w.writes != 0 {
			t.Fatalf("refused plans still wrote %d times", w.writes)
		}
	}
	if _, res, err := ep.sync(t, d, nil); err != nil || res.Deleted != 1 {
		t.Fatalf("empty policy: %+v %v", res, err)
	}
	blocks, allows := ep.rawList(t, "block"), ep.rawList(t, "allow")
	for _, want := range []struct {
		in map[string]perm
		p  perm
	}{{blocks, h1}, {blocks, h2}, {allows, h3}} {
		if got := want.in[want.p.Domain]; got != want.p {
			t.Fatalf("hand-made entry changed:\n got %+v\nwant %+v", got, want.p)
		}
	}
	if _, ok := blocks[ep.dom("x")]; ok {
		t.Fatal("our block of x is still there")
	}
}

// contractIdempotent: once a policy is applied, the next pass plans
// nothing and sends no write, whatever the entries hold (Unicode names,
// obfuscation, allows, comments). A comment GoToSocial stores otherwise
// than it was sent converges in one more pass.
func contractIdempotent(t *testing.T, tg target, ep *endpoint) {
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	idn, _, err := moderation.NormalizeDomain("bücher." + ep.suffix)
	if err != nil {
		t.Fatal(err)
	}
	want := []moderation.Entry{
		block(idn, "Unicode name", "policy", false),
		block(ep.dom("hidden"), "obfuscated", "policy", true),
		block(ep.dom("plain"), "", "", false),
		allow(ep.dom("friend"), "friends", "policy"),
	}
	if _, res, err := ep.sync(t, d, want); err != nil || res.Created != len(want) {
		t.Fatalf("first pass: %+v %v", res, err)
	}
	ep.wire.snapshot()
	plan, _, err := ep.sync(t, d, want)
	if w := ep.wire.snapshot(); err != nil || !plan.Empty() || w.writes != 0 {
		t.Fatalf("second pass: plan %+v, %d writes, err %v", plan, w.writes, err)
	}

	// Markup and surrounding spaces in a public comment: the create
	// stores them sanitised, the update verbatim.
	marked := append(want, block(ep.dom("markup"), "  <b>spam</b> &amp; abuse  ", "policy", false))
	if _, res, err := ep.sync(t, d, marked); err != nil || res.Created != 1 {
		t.Fatalf("markup, first pass: %+v %v", res, err)
	}
	_, res, err := ep.sync(t, d, marked)
	if err != nil || res.Updated != 1 {
		t.Fatalf("markup, second pass: %+v %v (want the one update a sanitising create makes necessary)", res, err)
	}
	ep.wire.snapshot()
	plan, _, err = ep.sync(t, d, marked)
	if w := ep.wire.snapshot(); err != nil || !plan.Empty() || w.writes != 0 {
		t.Fatalf("markup, third pass: plan %+v, %d writes, err %v", plan, w.writes, err)
	}
}

// contractBulkImport: many creates go in one import; an entry a human made
// between the plan and the import is not overwritten by it (GoToSocial's
// import overwrites existing entries), and the next pass writes nothing.
func contractBulkImport(t *testing.T, tg target, ep *endpoint) {
	ctx := context.Background()
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	var want []moderation.Entry
	for i := range 40 {
		want = append(want, block(ep.dom(fmt.Sprintf("i%02d", i)), "imported", fmt.Sprintf("list %d", i), i%3 == 0))
	}
	idn, _, _ := moderation.NormalizeDomain("münchen." + ep.suffix)
	want = append(want, block(idn, "imported", "list idn", false))
	caps, err := d.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sendable, _ := d.Express(caps, want, drivers.Blocklist)
	plan := moderation.Diff(sendable, ep.list(t, d))
	// A moderator blocks two of them by hand meanwhile.
	h1 := ep.handMade(t, "block", ep.dom("i07"), "by hand, just now")
	h2 := ep.handMade(t, "block", ep.dom("i08"), "by hand, just now")
	ep.wire.snapshot()
	res, err := d.Apply(ctx, plan, nil)
	w := ep.wire.snapshot()
	if err != nil || res.Created != 39 || len(res.Covered) != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	// One import, and the two existing domains created alone (each tried
	// again if the moderator's block still had its side effects running).
	if w.writes != 3+w.statuses[http.StatusConflict] {
		t.Fatalf("import took %d writes, want 3 and one per 409 (answers %v)", w.writes, w.statuses)
	}
	blocks := ep.rawList(t, "block")
	for _, h := range []perm{h1, h2} {
		if got := blocks[h.Domain]; got != h {
			t.Fatalf("the import changed a hand-made block:\n got %+v\nwant %+v", got, h)
		}
	}
	ep.wire.snapshot()
	plan, _, err = ep.sync(t, d, want)
	if w := ep.wire.snapshot(); err != nil || !plan.Empty() || w.writes != 0 {
		t.Fatalf("re-sync: plan %+v, %d writes, err %v", plan, w.writes, err)
	}
}

// contractBusyDomain: while a domain's side effects run, GoToSocial
// refuses other writes for it with 409 (after making them). Two other
// clients churn the domain's allow until the server answers them 409;
// then, while they go on, the driver blocks and unblocks the domain three
// times, and every one of its changes must succeed within its bounded
// retries.
func contractBusyDomain(t *testing.T, tg target, ep *endpoint) {
	ctx := context.Background()
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	if _, err := d.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	busy := ep.dom("busy")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var churn409 atomic.Int32
	for range 2 {
		// Each churner is a client of its own: 70 rounds of 2 requests
		// stay within one client's budget.
		churner := ep.other()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 70; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, err := churner.send(churner.token, http.MethodPost, "/api/v1/admin/domain_allows", form("domain", busy))
				if err != nil {
					t.Error(err)
					return
				}
				if r.status == http.StatusConflict {
					churn409.Add(1)
				}
				var p perm
				_ = json.Unmarshal([]byte(r.body), &p)
				if p.ID == "" {
					continue
				}
				r, err = churner.send(churner.token, http.MethodDelete, "/api/v1/admin/domain_allows/"+p.ID, nil)
				if err != nil {
					t.Error(err)
					return
				}
				if r.status == http.StatusConflict {
					churn409.Add(1)
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); churn409.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the other clients were never answered 409: the domain was never busy, the case would test nothing")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var driver409 int
	for round := range 3 {
		ep.wire.snapshot()
		res, err := d.Apply(ctx, moderation.Plan{Create: []moderation.Entry{block(busy, "", "policy", false)}}, nil)
		w := ep.wire.snapshot()
		driver409 += w.statuses[http.StatusConflict]
		var mine moderation.ServerEntry
		for _, se := range ep.list(t, d) {
			if se.Domain == busy && se.Action == moderation.Suspend {
				mine = se
			}
		}
		if err != nil || res.Created != 1 || !mine.Managed {
			t.Fatalf("round %d, create on a busy domain: %+v %v (listed %+v)", round, res, err, mine)
		}
		ep.wire.snapshot()
		res, err = d.Apply(ctx, moderation.Plan{Delete: []moderation.ServerEntry{mine}}, nil)
		driver409 += ep.wire.snapshot().statuses[http.StatusConflict]
		if err != nil || res.Deleted != 1 {
			t.Fatalf("round %d, delete on a busy domain: %+v %v", round, res, err)
		}
		if _, ok := ep.rawList(t, "block")[busy]; ok {
			t.Fatalf("round %d: the block is still there", round)
		}
	}
	t.Logf("409s: %d answered to the driver's 6 changes, %d to the other clients", driver409, churn409.Load())
}

// contractRateLimit: the driver follows the server's own count
// (X-RateLimit-Remaining/Reset) and stops cleanly, with when to come back,
// rather than wait minutes in place or hammer the server with 429s.
func contractRateLimit(t *testing.T, tg target, ep *endpoint) {
	ctx := context.Background()
	// Spend the client's budget down to 8 requests, as other work would.
	left := -1
	for left != 8 {
		r := ep.call(t, "", http.MethodGet, "/api/v1/instance", nil)
		n, err := strconv.Atoi(r.header.Get("X-Ratelimit-Remaining"))
		if r.status != http.StatusOK || err != nil {
			t.Fatalf("spending the budget: %s, X-Ratelimit-Remaining %q", r, r.header.Get("X-Ratelimit-Remaining"))
		}
		left = n
		if left < 8 {
			t.Fatalf("budget already down to %d", left)
		}
	}
	d := ep.driver(t, tg, ep.token, drivers.Config{BulkThreshold: 1000})
	var want []moderation.Entry
	for i := range 12 {
		want = append(want, block(ep.dom(fmt.Sprintf("r%02d", i)), "", "policy", false))
	}
	ep.wire.snapshot()
	start := time.Now()
	res, err := d.Apply(ctx, moderation.Plan{Create: want}, nil)
	took := time.Since(start)
	w := ep.wire.snapshot()
	var rl *drivers.RateLimitedError
	if !errors.Is(err, drivers.ErrStopped) || !errors.As(err, &rl) {
		t.Fatalf("err = %v, want ErrStopped with a RateLimitedError", err)
	}
	if res.Done >= res.Total || res.Created != res.Done || res.RetryAfter <= 0 || res.RetryAfter > tg.rateWindow {
		t.Fatalf("result %+v: want some created, a stop before the end and a RetryAfter within the %s window", res, tg.rateWindow)
	}
	if w.statuses[http.StatusTooManyRequests] > 1 || took > 10*time.Second {
		t.Fatalf("%d answers 429 in %s (%v): the driver must stop on the server's count, not on its refusals", w.statuses[http.StatusTooManyRequests], took, w.statuses)
	}
	t.Logf("stopped after %d of %d creates in %s, retry after %s; answers %v", res.Done, res.Total, took.Round(time.Millisecond), res.RetryAfter.Round(time.Second), w.statuses)
	listed := 0
	for _, b := range ep.rawListFrom(t, "block") {
		if strings.HasSuffix(b.Domain, "."+ep.suffix) {
			listed++
		}
	}
	if listed != res.Created {
		t.Fatalf("server holds %d of the case's blocks, the result says %d created", listed, res.Created)
	}
}

// rawListFrom lists through another client address (the case's own is
// spent).
func (e *endpoint) rawListFrom(t *testing.T, kind string) map[string]perm {
	t.Helper()
	if e.fake != nil {
		// The fake counts every client in one budget: ask it directly.
		out := map[string]perm{}
		recs := e.fake.Blocks()
		if kind == "allow" {
			recs = e.fake.Allows()
		}
		for _, r := range recs {
			out[r.Domain] = perm{ID: r.ID, Domain: r.Domain, Obfuscate: r.Obfuscate, PublicComment: r.PublicComment, PrivateComment: r.PrivateComment}
		}
		return out
	}
	return e.other().rawList(t, kind)
}
