package drivers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

const (
	mBlocks   = "/api/v1/admin/domain_blocks"
	mBlocksID = "/api/v1/admin/domain_blocks/:id"
)

func TestRegistry(t *testing.T) {
	names := drivers.Names()
	if strings.Join(names, ",") != "gotosocial,mastodon" {
		t.Fatalf("Names() = %v", names)
	}
	if _, err := drivers.New("misskey", drivers.Config{BaseURL: "http://x", Token: "t"}); !errors.Is(err, drivers.ErrUnknownDriver) {
		t.Fatalf("New(misskey) err = %v, want ErrUnknownDriver", err)
	}
	if _, err := drivers.New("mastodon", drivers.Config{BaseURL: "ftp://x", Token: "t"}); err == nil {
		t.Fatal("New accepted a non-http base URL")
	}
	if _, err := drivers.New("mastodon", drivers.Config{BaseURL: "http://x"}); err == nil {
		t.Fatal("New accepted an empty token")
	}
}

func TestMastodonProbe(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	caps, err := newDriver(t, "mastodon", srv, drivers.Config{}).Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Software != "mastodon" || caps.Version != "4.5.2" || !caps.Silence || !caps.RejectMedia || !caps.Allows || caps.MarkedAllows || caps.BulkImport {
		t.Fatalf("caps = %+v", caps)
	}

	const secret = "not-the-right-token-s3cr3t"
	_, err = newDriver(t, "mastodon", srv, drivers.Config{Token: secret}).Probe(ctx)
	if err == nil {
		t.Fatal("Probe with a wrong token succeeded")
	}
	msg := err.Error()
	// An unknown token reaches Pundit as no token at all: 403.
	for _, want := range []string{srv.URL, "GET " + mBlocks, "403", "This action is not allowed", "admin:read:domain_blocks"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if strings.Contains(msg, secret) {
		t.Errorf("error leaks the token: %q", msg)
	}

	old := fakeserver.NewMastodon(fakeserver.Options{Version: "3.5.3"})
	defer old.Close()
	if _, err := newDriver(t, "mastodon", old, drivers.Config{}).Probe(ctx); err == nil || !strings.Contains(err.Error(), "4.0") {
		t.Fatalf("Probe(3.5.3) err = %v, want a needs-4.0 error", err)
	}
}

func TestMastodonExpress(t *testing.T) {
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	caps := drivers.Capabilities{Software: "mastodon", Silence: true, RejectMedia: true, RejectReports: true, Allows: true}
	in := []moderation.Entry{
		{Domain: "s.example", Action: moderation.Suspend, PrivateComment: "x"},
		{Domain: "l.example", Action: moderation.Silence, RejectMedia: true},
		{Domain: "m.example", Action: moderation.RejectMedia},
		{Domain: "n.example", Action: moderation.Noop},
		{Domain: "r.example", Action: moderation.Noop, RejectReports: true},
		{Domain: "nm.example", Action: moderation.Noop, RejectMedia: true},
		{Domain: "a.example", Action: moderation.Allow, PublicComment: "friends"},
	}
	got, notes := d.Express(caps, in, drivers.Blocklist)
	sameEntries(t, got, []moderation.Entry{
		{Domain: "s.example", Action: moderation.Suspend, PrivateComment: "x"},
		{Domain: "l.example", Action: moderation.Silence, RejectMedia: true},
		{Domain: "m.example", Action: moderation.RejectMedia, RejectMedia: true},
		{Domain: "r.example", Action: moderation.Noop, RejectReports: true},
		{Domain: "nm.example", Action: moderation.RejectMedia, RejectMedia: true},
	})
	if len(notes) != 2 || !strings.HasPrefix(notes[0], "n.example:") || !strings.HasPrefix(notes[1], "a.example:") {
		t.Fatalf("notes = %q", notes)
	}
	got, notes = d.Express(caps, in[6:], drivers.Allowlist)
	if len(notes) != 0 || len(got) != 1 || got[0] != (moderation.Entry{Domain: "a.example", Action: moderation.Allow}) {
		t.Fatalf("allowlist: got %+v notes %q", got, notes)
	}
}

func TestMastodonListPaginates(t *testing.T) {
	srv := fakeserver.NewMastodon(fakeserver.Options{PageSize: 200})
	defer srv.Close()
	for i := range 450 {
		r := fakeserver.Record{Domain: fmt.Sprintf("d%03d.example", i), Severity: "suspend"}
		if i%2 == 0 {
			r.PrivateComment = drivers.MarkComment(fmt.Sprintf("entry %d", i))
		} else {
			r.PrivateComment = "blocked by hand"
		}
		srv.AddBlock(r)
	}
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	if _, err := d.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	cur, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(cur) != 450 {
		t.Fatalf("listed %d entries, want 450", len(cur))
	}
	seen := map[string]bool{}
	managed := 0
	for _, se := range cur {
		if seen[se.ID] {
			t.Fatalf("id %s listed twice", se.ID)
		}
		seen[se.ID] = true
		if se.Managed {
			managed++
			if strings.Contains(se.PrivateComment, drivers.Marker) {
				t.Fatalf("marker not stripped: %q", se.PrivateComment)
			}
		} else if se.PrivateComment != "blocked by hand" {
			t.Fatalf("unmanaged comment changed: %q", se.PrivateComment)
		}
	}
	if managed != 225 {
		t.Fatalf("managed = %d, want 225", managed)
	}
	// 200 + 200 + 50, following Link headers that name a host we cannot
	// reach (the server's public name) by path only.
	if got := srv.Calls()["GET "+mBlocks]; got != 3 {
		t.Fatalf("GET domain_blocks calls = %d, want 3 (calls: %v)", got, srv.Calls())
	}
}

func TestMastodonCreateUpdateDelete(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	caps, err := d.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desired, notes := d.Express(caps, []moderation.Entry{
		{Domain: "spam.example", Action: moderation.Suspend, PublicComment: "spam", PrivateComment: "local: mods 2026-02"},
		{Domain: "loud.example", Action: moderation.Silence, RejectMedia: true, Obfuscate: true, PrivateComment: "garden-fence 6/7"},
		{Domain: "pics.example", Action: moderation.RejectMedia, PrivateComment: ""},
		{Domain: "reports.example", Action: moderation.Noop, RejectReports: true, PrivateComment: " leading space kept"},
	}, drivers.Blocklist)
	if len(notes) != 0 {
		t.Fatalf("notes: %q", notes)
	}
	human := srv.AddBlock(fakeserver.Record{Domain: "human.example", Severity: "silence", PrivateComment: "decided at the March meeting"})

	srv.ResetCounters()
	var progress []int
	plan := planFor(desired, mustList(t, d))
	res, err := d.Apply(ctx, plan, func(done, total int) {
		if total != 4 {
			t.Errorf("progress total = %d", total)
		}
		progress = append(progress, done)
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 4 || res.Done != 4 || res.Total != 4 || res.WriteCalls != 4 {
		t.Fatalf("result %+v", res)
	}
	if srv.Writes() != 4 || srv.Calls()["POST "+mBlocks] != 4 {
		t.Fatalf("writes %d calls %v", srv.Writes(), srv.Calls())
	}
	if progress[len(progress)-1] != 4 {
		t.Fatalf("progress %v", progress)
	}
	// The marker round-trips: what was desired is what is listed.
	sameEntries(t, managedEntries(t, d), desired)
	for _, b := range srv.Blocks() {
		if b.Domain == "pics.example" && (b.Severity != "noop" || !b.RejectMedia || b.PrivateComment != drivers.Marker) {
			t.Fatalf("reject-media stored as %+v", b)
		}
	}

	// Change one, drop one, add one: one call each.
	desired2 := []moderation.Entry{desired[0], desired[2], desired[3],
		{Domain: "new.example", Action: moderation.Suspend, PrivateComment: "fediseer censure"}}
	desired2[0].Action = moderation.Silence
	desired2[0].PrivateComment = "downgraded after appeal"
	srv.ResetCounters()
	plan, res, err = syncOnce(t, ctx, d, desired2)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Create) != 1 || len(plan.Update) != 1 || len(plan.Delete) != 1 || plan.Unmanaged != 1 {
		t.Fatalf("plan %+v", plan)
	}
	calls := srv.Calls()
	if srv.Writes() != 3 || calls["POST "+mBlocks] != 1 || calls["PUT "+mBlocksID] != 1 || calls["DELETE "+mBlocksID] != 1 {
		t.Fatalf("writes %d calls %v", srv.Writes(), calls)
	}
	if res.Created != 1 || res.Updated != 1 || res.Deleted != 1 {
		t.Fatalf("result %+v", res)
	}
	sameEntries(t, managedEntries(t, d), desired2)

	// The hand-made block survived, untouched, and is listed as not ours.
	var found bool
	for _, se := range mustList(t, d) {
		if se.ID == human.ID {
			found = true
			if se.Managed || se.PrivateComment != "decided at the March meeting" || se.Action != moderation.Silence {
				t.Fatalf("hand-made entry listed as %+v", se)
			}
		}
	}
	if !found {
		t.Fatal("hand-made entry gone")
	}
	// Steady state: nothing to do.
	if p := planFor(desired2, mustList(t, d)); !p.Empty() {
		t.Fatalf("second plan not empty: %+v", p)
	}
}

func mustList(t *testing.T, d drivers.Driver) []moderation.ServerEntry {
	t.Helper()
	cur, err := d.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return cur
}

func TestMastodonRefusesUnmanaged(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	human := srv.AddBlock(fakeserver.Record{Domain: "human.example", Severity: "suspend", PrivateComment: "ours, not yours"})
	ours := srv.AddBlock(fakeserver.Record{Domain: "ours.example", Severity: "suspend", PrivateComment: drivers.MarkComment("x")})
	humanEntry := moderation.Entry{Domain: "human.example", Action: moderation.Suspend, PrivateComment: "ours, not yours"}

	cases := map[string]moderation.Plan{
		// A buggy plan claiming the human's entry is ours.
		"delete claimed managed": {Delete: []moderation.ServerEntry{{ID: human.ID, Entry: humanEntry, Managed: true}}},
		"delete unmanaged":       {Delete: []moderation.ServerEntry{{ID: human.ID, Entry: humanEntry}}},
		"update":                 {Update: []moderation.Update{{ID: human.ID, From: humanEntry, To: moderation.Entry{Domain: "human.example", Action: moderation.Silence}}}},
		"id of another domain": {Delete: []moderation.ServerEntry{{ID: human.ID, Managed: true,
			Entry: moderation.Entry{Domain: "ours.example", Action: moderation.Suspend}}}},
		// Even mixed with a legitimate change, nothing is written.
		"mixed": {
			Create: []moderation.Entry{{Domain: "new.example", Action: moderation.Suspend}},
			Delete: []moderation.ServerEntry{
				{ID: ours.ID, Managed: true, Entry: moderation.Entry{Domain: "ours.example", Action: moderation.Suspend, PrivateComment: "x"}},
				{ID: human.ID, Managed: true, Entry: humanEntry},
			}},
	}
	for name, plan := range cases {
		t.Run(name, func(t *testing.T) {
			srv.ResetCounters()
			_, err := d.Apply(ctx, plan, nil)
			if !errors.Is(err, drivers.ErrUnmanaged) {
				t.Fatalf("err = %v, want ErrUnmanaged", err)
			}
			if srv.Writes() != 0 {
				t.Fatalf("%d writes reached the server", srv.Writes())
			}
		})
	}
	if n := len(srv.Blocks()); n != 2 {
		t.Fatalf("%d blocks left, want 2", n)
	}
}

func TestMastodon422(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	srv.AddBlock(fakeserver.Record{Domain: "example.com", Severity: "suspend"})
	srv.AddBlock(fakeserver.Record{Domain: "soft.org", Severity: "silence"})

	plan := moderation.Plan{Create: []moderation.Entry{
		{Domain: "sub.example.com", Action: moderation.Silence, PrivateComment: "feed"},
		{Domain: "a.soft.org", Action: moderation.Suspend, PrivateComment: "feed"},
		{Domain: "fine.net", Action: moderation.Suspend},
	}}
	srv.ResetCounters()
	res, err := d.Apply(ctx, plan, nil)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res.Done != 3 || res.Created != 1 || len(res.Covered) != 1 || res.Covered[0].Domain != "sub.example.com" {
		t.Fatalf("result %+v", res)
	}
	if len(res.Conflicts) != 1 || res.Conflicts[0].Existing.Domain != "soft.org" || res.Conflicts[0].Existing.Action != moderation.Silence {
		t.Fatalf("conflicts %+v", res.Conflicts)
	}
	if srv.Writes() != 3 {
		t.Fatalf("writes = %d, want 3 (one attempt each, no retry loop)", srv.Writes())
	}

	// A 422 that is a validation error is a failure that names the call.
	res, err = d.Apply(ctx, moderation.Plan{Create: []moderation.Entry{{Domain: "not a domain", Action: moderation.Suspend}}}, nil)
	if err == nil || len(res.Failed) != 1 {
		t.Fatalf("invalid domain: err %v result %+v", err, res)
	}
	for _, want := range []string{srv.URL, "POST " + mBlocks, "422", "not a valid domain name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestMastodonAllowlistAllows(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	caps, err := d.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	desired, _ := d.Express(caps, []moderation.Entry{
		{Domain: "friends.example", Action: moderation.Allow, PrivateComment: "partner co-op"},
		{Domain: "bad.example", Action: moderation.Suspend, PrivateComment: "x"},
	}, drivers.Allowlist)
	if _, _, err := syncOnce(t, ctx, d, desired); err != nil {
		t.Fatal(err)
	}
	if a := srv.Allows(); len(a) != 1 || a[0].Domain != "friends.example" {
		t.Fatalf("allows %+v", a)
	}
	// Mastodon allows cannot carry the marker: listed as not ours, so a
	// later plan covers them instead of recreating or ever deleting them.
	plan := planFor(desired, mustList(t, d))
	if !plan.Empty() || len(plan.Covered) != 1 {
		t.Fatalf("second plan %+v", plan)
	}
	plan = planFor(nil, mustList(t, d))
	if len(plan.Delete) != 1 || plan.Delete[0].Domain != "bad.example" {
		t.Fatalf("retraction plan %+v", plan)
	}
}

func TestMastodon5000Creates(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	desired := manyBlocks(5000, moderation.Suspend)
	if _, err := d.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	plan, res, err := syncOnce(t, ctx, d, desired)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Create) != 5000 || res.Created != 5000 || res.WriteCalls != 5000 {
		t.Fatalf("plan creates %d, result %+v", len(plan.Create), res.Created)
	}
	if srv.Writes() != 5000 {
		t.Fatalf("server saw %d writes, want exactly 5000", srv.Writes())
	}
	t.Logf("mastodon, 5000 creates: %d write calls, calls %v", srv.Writes(), srv.Calls())
	srv.ResetCounters()
	if p := planFor(desired, mustList(t, d)); !p.Empty() {
		t.Fatalf("second plan not empty: %d creates %d updates %d deletes", len(p.Create), len(p.Update), len(p.Delete))
	}
	if got := srv.Calls()["GET "+mBlocks]; got != 26 {
		t.Fatalf("listing 5000 took %d pages, want 26 (25 full + 1 empty)", got)
	}
}

func TestMastodonRetryAfter(t *testing.T) {
	for _, omit := range []bool{false, true} {
		t.Run(fmt.Sprintf("omitRetryAfter=%v", omit), func(t *testing.T) {
			ctx := context.Background()
			clock := newFakeClock()
			srv := fakeserver.NewMastodon(fakeserver.Options{RateLimit: 5, RateWindow: time.Second, Now: clock.Now, SendRetryAfter: !omit, HideRateLimitHeaders: true})
			defer srv.Close()
			d := newDriver(t, "mastodon", srv, drivers.Config{Clock: clock})
			res, err := d.Apply(ctx, moderation.Plan{Create: manyBlocks(12, moderation.Suspend)}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Created != 12 || len(srv.Blocks()) != 12 {
				t.Fatalf("created %d, server has %d", res.Created, len(srv.Blocks()))
			}
			if srv.Throttled() == 0 {
				t.Fatal("the server never answered 429: the test tests nothing")
			}
			if srv.Writes() != 12 {
				t.Fatalf("writes %d, want 12 (429s are not writes)", srv.Writes())
			}
			// Five per 1s window: 12 requests need two more windows.
			if s := clock.totalSlept(); s < 2*time.Second || s > 3*time.Second {
				t.Fatalf("slept %s in total, want 2s..3s (%v)", s, clock.slept)
			}
		})
	}
}

func TestMastodonAdvertisedRateLimit(t *testing.T) {
	clock := newFakeClock()
	srv := fakeserver.NewMastodon(fakeserver.Options{RateLimit: 4, RateWindow: time.Second, Now: clock.Now})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{Clock: clock})
	res, err := d.Apply(context.Background(), moderation.Plan{Create: manyBlocks(10, moderation.Suspend)}, nil)
	if err != nil || res.Created != 10 {
		t.Fatalf("err %v result %+v", err, res)
	}
	// X-RateLimit-Remaining: 0 + X-RateLimit-Reset pause us before the
	// server has to refuse anything.
	if srv.Throttled() != 0 {
		t.Fatalf("%d requests throttled despite advertised limits", srv.Throttled())
	}
	if clock.totalSlept() < 2*time.Second {
		t.Fatalf("slept %s, want at least 2s", clock.totalSlept())
	}
}

func TestMastodonPersistentRateLimitStops(t *testing.T) {
	clock := newFakeClock()
	// Probe takes 3 requests of the window, the creates the other 3.
	srv := fakeserver.NewMastodon(fakeserver.Options{RateLimit: 6, RateWindow: 5 * time.Minute, Now: clock.Now})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{Clock: clock, RateLimit: drivers.RateLimit{Requests: -1, MaxWait: 30 * time.Second}})
	if _, err := d.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	res, err := d.Apply(context.Background(), moderation.Plan{Create: manyBlocks(10, moderation.Suspend)}, nil)
	if !errors.Is(err, drivers.ErrStopped) {
		t.Fatalf("err = %v, want ErrStopped", err)
	}
	var rl *drivers.RateLimitedError
	if !errors.As(err, &rl) {
		t.Fatalf("err = %v, want a RateLimitedError inside", err)
	}
	if res.Done != 3 || res.Created != 3 || res.Total != 10 {
		t.Fatalf("result %+v", res)
	}
	if res.RetryAfter < 4*time.Minute || res.RetryAfter > 5*time.Minute {
		t.Fatalf("RetryAfter = %s, want about 5m", res.RetryAfter)
	}
	if clock.totalSlept() != 0 {
		t.Fatalf("slept %s in place; a 5-minute wait must be handed back", clock.totalSlept())
	}
}

func TestTokenBucket(t *testing.T) {
	clock := newFakeClock()
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{Clock: clock, RateLimit: drivers.RateLimit{Requests: 2, Period: time.Second}})
	res, err := d.Apply(context.Background(), moderation.Plan{Create: manyBlocks(6, moderation.Suspend)}, nil)
	if err != nil || res.Created != 6 {
		t.Fatalf("err %v result %+v", err, res)
	}
	// A burst of 2, then 2 per second: every request after the first two
	// (Probe's three included) waits half a second.
	want := time.Duration(srv.Requests()-2) * 500 * time.Millisecond
	if s := clock.totalSlept(); s < want-10*time.Millisecond || s > want+10*time.Millisecond {
		t.Fatalf("slept %s for %d requests, want %s (%v)", s, srv.Requests(), want, clock.slept)
	}
}

func TestMastodonDeadline(t *testing.T) {
	srv := fakeserver.NewMastodon(fakeserver.Options{Latency: 2 * time.Millisecond})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	desired := manyBlocks(400, moderation.Suspend)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	var last int
	res, err := d.Apply(ctx, moderation.Plan{Create: desired}, func(done, total int) { last = done })
	if !errors.Is(err, drivers.ErrStopped) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrStopped wrapping DeadlineExceeded", err)
	}
	if res.Total != 400 || res.Done <= 0 || res.Done >= 400 || res.Done != last {
		t.Fatalf("result %+v (last progress %d)", res, last)
	}
	// The request in flight at the deadline is still being served (the
	// server does not know the client gave up): let it land.
	time.Sleep(20 * time.Millisecond)
	// At most that one request landed unreported.
	if n := len(srv.Blocks()); n != res.Created && n != res.Created+1 {
		t.Fatalf("server has %d blocks, result says %d created", n, res.Created)
	}

	// A fresh List + plan resumes where it stopped.
	before := len(srv.Blocks())
	_, res2, err := syncOnce(t, context.Background(), d, desired)
	if err != nil {
		t.Fatal(err)
	}
	if len(srv.Blocks()) != 400 || res2.Created != 400-before {
		t.Fatalf("after resume: %d blocks, %d created on resume (had %d)", len(srv.Blocks()), res2.Created, before)
	}
	if p := planFor(desired, mustList(t, d)); !p.Empty() {
		t.Fatalf("plan after resume not empty: %+v", p)
	}
}

func TestApplyStopsOnCancel(t *testing.T) {
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "mastodon", srv, drivers.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	res, err := d.Apply(ctx, moderation.Plan{Create: manyBlocks(50, moderation.Suspend)}, func(done, total int) {
		if done == 10 {
			cancel()
		}
	})
	if !errors.Is(err, drivers.ErrStopped) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if res.Done != 10 || res.Created != 10 || len(srv.Blocks()) != 10 {
		t.Fatalf("result %+v, server has %d", res, len(srv.Blocks()))
	}
}
