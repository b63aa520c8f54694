package drivers_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

const (
	gBlocks   = "/api/v1/admin/domain_blocks"
	gAllows   = "/api/v1/admin/domain_allows"
	gLimits   = "/api/v1/admin/domain_limits"
	gImport   = "POST " + gBlocks + "?import=true"
	gBlocksID = gBlocks + "/:id"
	gLimitsID = gLimits + "/:id"
)

func TestGoToSocialProbe(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewGoToSocial(fakeserver.Options{})
	defer srv.Close()
	caps, err := newDriver(t, "gotosocial", srv, drivers.Config{}).Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Software != "gotosocial" || caps.Version != "0.20.1+git-8f7a3c2" || !caps.Limits || !caps.Silence || !caps.RejectMedia ||
		caps.RejectReports || !caps.Allows || !caps.MarkedAllows || !caps.BulkImport || len(caps.Notes) != 0 {
		t.Fatalf("caps = %+v", caps)
	}

	old := fakeserver.NewGoToSocial(fakeserver.Options{Version: "0.16.0+git-1a2b3c4", NoDomainLimits: true})
	defer old.Close()
	caps, err = newDriver(t, "gotosocial", old, drivers.Config{}).Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Limits || caps.Silence || caps.RejectMedia || !caps.Allows || len(caps.Notes) != 1 || !strings.Contains(caps.Notes[0], "domain_limits") {
		t.Fatalf("old caps = %+v", caps)
	}
	if got := old.Calls()["GET "+gLimits]; got != 0 {
		t.Fatalf("a 404 route counted as a call: %v", old.Calls())
	}

	_, err = newDriver(t, "gotosocial", srv, drivers.Config{Token: "wrong"}).Probe(ctx)
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), srv.URL) || !drivers.Unauthorized(err) {
		t.Fatalf("bad token: err = %v", err)
	}
	srv.AcceptUserToken("not-an-admin")
	_, err = newDriver(t, "gotosocial", srv, drivers.Config{Token: "not-an-admin"}).Probe(ctx)
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "admin account") || drivers.Unauthorized(err) {
		t.Fatalf("token of a user who is not an admin: err = %v", err)
	}
}

// TestGoToSocialProbeIsCheap: the token check reads no entry, however
// many the server holds, and never asks for an id (0.20 answers 500 for
// an id it does not have).
func TestGoToSocialProbeIsCheap(t *testing.T) {
	srv := fakeserver.NewGoToSocial(fakeserver.Options{NoDomainLimits: true})
	defer srv.Close()
	for i := range 2000 {
		srv.AddBlock(fakeserver.Record{Domain: fmt.Sprintf("b%04d.example", i)})
	}
	var listed int64
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err == nil {
			listed += resp.ContentLength
		}
		return resp, err
	})}
	caps, err := newDriver(t, "gotosocial", srv, drivers.Config{HTTPClient: counting}).Probe(context.Background())
	if err != nil || !caps.Allows || caps.Limits {
		t.Fatalf("caps %+v err %v", caps, err)
	}
	if listed > 4096 {
		t.Fatalf("Probe read %d bytes from a server with 2000 blocks", listed)
	}
	for call := range srv.Calls() {
		if strings.HasSuffix(call, "/:id") {
			t.Fatalf("Probe asked for an id: %v", srv.Calls())
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestGoToSocialExpress(t *testing.T) {
	srv := fakeserver.NewGoToSocial(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "gotosocial", srv, drivers.Config{})
	in := []moderation.Entry{
		{Domain: "s.example", Action: moderation.Suspend, RejectMedia: true, RejectReports: true, Obfuscate: true, PrivateComment: "p"},
		{Domain: "l.example", Action: moderation.Silence, RejectReports: true},
		{Domain: "m.example", Action: moderation.RejectMedia},
		{Domain: "n.example", Action: moderation.Noop},
		{Domain: "a.example", Action: moderation.Allow, PublicComment: "friends"},
	}
	newest := drivers.Capabilities{Software: "gotosocial", Version: "0.20.1", Limits: true, Silence: true, RejectMedia: true, Allows: true}
	got, notes := d.Express(newest, in, drivers.Blocklist)
	sameEntries(t, got, []moderation.Entry{
		{Domain: "s.example", Action: moderation.Suspend, Obfuscate: true, PrivateComment: "p"},
		{Domain: "l.example", Action: moderation.Silence},
		{Domain: "m.example", Action: moderation.RejectMedia, RejectMedia: true},
		{Domain: "a.example", Action: moderation.Allow, PublicComment: "friends"},
	})
	if len(notes) != 2 || !strings.Contains(notes[0], "reject-reports") || !strings.HasPrefix(notes[1], "n.example") {
		t.Fatalf("notes %q", notes)
	}

	// Without domain_limits a silence is reported, never turned into a block.
	old := drivers.Capabilities{Software: "gotosocial", Version: "0.16.0", Allows: true}
	got, notes = d.Express(old, in, drivers.Allowlist)
	for _, e := range got {
		if e.Domain == "l.example" || e.Domain == "m.example" {
			t.Fatalf("%s expressed as %+v on a server without limits", e.Domain, e)
		}
	}
	if len(got) != 2 || len(notes) != 3 || !strings.Contains(notes[0], "domain_limits") {
		t.Fatalf("got %+v notes %q", got, notes)
	}
}

func TestGoToSocialCreateUpdateDelete(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewGoToSocial(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "gotosocial", srv, drivers.Config{})
	caps, err := d.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	humanBlock := srv.AddBlock(fakeserver.Record{Domain: "human.example", PrivateComment: "by hand"})
	humanLimit := srv.AddLimit(fakeserver.Record{Domain: "tuned.example", MediaPolicy: "mark_sensitive", AccountsPolicy: "no_action",
		FollowsPolicy: "no_action", StatusesPolicy: "filter_warn", PrivateComment: "fine tuning"})
	desired, notes := d.Express(caps, []moderation.Entry{
		{Domain: "spam.example", Action: moderation.Suspend, PublicComment: "spam", PrivateComment: "local"},
		{Domain: "loud.example", Action: moderation.Silence, RejectMedia: true, PrivateComment: "garden-fence 6/7"},
		{Domain: "pics.example", Action: moderation.RejectMedia, PrivateComment: "seirdy"},
		{Domain: "friend.example", Action: moderation.Allow, PrivateComment: "partner co-op"},
	}, drivers.Blocklist)
	if len(notes) != 0 {
		t.Fatalf("notes %q", notes)
	}
	srv.ResetCounters()
	_, res, err := syncOnce(t, ctx, d, desired)
	if err != nil {
		t.Fatal(err)
	}
	calls := srv.Calls()
	if res.Created != 4 || srv.Writes() != 4 || calls["POST "+gBlocks] != 1 || calls["POST "+gLimits] != 2 || calls["POST "+gAllows] != 1 {
		t.Fatalf("result %+v writes %d calls %v", res, srv.Writes(), calls)
	}
	sameEntries(t, managedEntries(t, d), desired)
	for _, l := range srv.Limits() {
		if l.Domain == "loud.example" && (l.AccountsPolicy != "mute" || l.FollowsPolicy != "manual_approval" || l.MediaPolicy != "reject") {
			t.Fatalf("silence stored as %+v", l)
		}
	}

	// Update in place (one PUT), a kind change (limit -> block: one DELETE
	// and one POST), a delete.
	desired2 := []moderation.Entry{desired[0], desired[1], desired[3]}
	desired2[0].PublicComment = "spam and harassment"
	desired2[1] = moderation.Entry{Domain: "loud.example", Action: moderation.Suspend, PrivateComment: "escalated"}
	srv.ResetCounters()
	plan, res, err := syncOnce(t, ctx, d, desired2)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Update) != 2 || len(plan.Delete) != 1 || len(plan.Create) != 0 || plan.Unmanaged != 2 {
		t.Fatalf("plan %+v", plan)
	}
	calls = srv.Calls()
	if res.Updated != 2 || res.Deleted != 1 || srv.Writes() != 4 || calls["PUT "+gBlocksID] != 1 ||
		calls["DELETE "+gLimitsID] != 2 || calls["POST "+gBlocks] != 1 {
		t.Fatalf("result %+v writes %d calls %v", res, srv.Writes(), calls)
	}
	sameEntries(t, managedEntries(t, d), desired2)
	if p := planFor(desired2, mustList(t, d)); !p.Empty() {
		t.Fatalf("second plan not empty: %+v", p)
	}

	// Hand-made entries survived unchanged and are listed as not ours.
	byID := map[string]moderation.ServerEntry{}
	for _, se := range mustList(t, d) {
		byID[se.ID] = se
	}
	if se := byID[humanBlock.ID]; se.Managed || se.PrivateComment != "by hand" || se.Action != moderation.Suspend {
		t.Fatalf("hand-made block listed as %+v", se)
	}
	if se := byID[humanLimit.ID]; se.Managed || se.Action != moderation.Noop || se.PrivateComment != "fine tuning" {
		t.Fatalf("hand-made limit listed as %+v", se)
	}
	if l := srv.Limits(); len(l) != 1 || l[0].StatusesPolicy != "filter_warn" {
		t.Fatalf("limits left %+v", l)
	}

	// Defence in depth: a plan deleting the hand-made limit is refused.
	srv.ResetCounters()
	_, err = d.Apply(ctx, moderation.Plan{Delete: []moderation.ServerEntry{{ID: humanLimit.ID, Managed: true,
		Entry: moderation.Entry{Domain: "tuned.example", Action: moderation.Noop}}}}, nil)
	if !errors.Is(err, drivers.ErrUnmanaged) || srv.Writes() != 0 {
		t.Fatalf("err %v, writes %d", err, srv.Writes())
	}
}

func TestGoToSocial5000CreatesByImport(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewGoToSocial(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "gotosocial", srv, drivers.Config{})
	desired := manyBlocks(5000, moderation.Suspend)
	if _, err := d.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	var progress []int
	cur := mustList(t, d)
	res, err := d.Apply(ctx, planFor(desired, cur), func(done, total int) { progress = append(progress, done) })
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 5000 || len(srv.Blocks()) != 5000 {
		t.Fatalf("created %d, server has %d", res.Created, len(srv.Blocks()))
	}
	if srv.Writes() != 10 || srv.Calls()[gImport] != 10 || res.WriteCalls != 10 {
		t.Fatalf("writes %d (result %d), calls %v; want 10 imports of 500", srv.Writes(), res.WriteCalls, srv.Calls())
	}
	if len(progress) < 10 || progress[0] != 500 || progress[len(progress)-1] != 5000 {
		t.Fatalf("progress %v", progress)
	}
	t.Logf("gotosocial, 5000 creates: %d write calls (%v)", srv.Writes(), srv.Calls())
	sameEntries(t, managedEntries(t, d), desired)
	if p := planFor(desired, mustList(t, d)); !p.Empty() {
		t.Fatalf("second plan not empty: %d creates", len(p.Create))
	}
}

func TestGoToSocialImportEdgeCases(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewGoToSocial(fakeserver.Options{})
	defer srv.Close()
	d := newDriver(t, "gotosocial", srv, drivers.Config{BulkThreshold: 5})
	srv.AddBlock(fakeserver.Record{Domain: "bad00003.example", PrivateComment: "blocked by hand"})

	// GoToSocial's import overwrites an entry that exists: a domain the
	// server holds goes to the single create, which hands the entry back
	// unchanged (covered). The outcome is read back from the list.
	batch := manyBlocks(8, moderation.Suspend)
	if _, err := d.Probe(ctx); err != nil {
		t.Fatal(err)
	}
	srv.ResetCounters()
	res, err := d.Apply(ctx, moderation.Plan{Create: batch}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created != 7 || len(res.Covered) != 1 || res.Covered[0].Domain != "bad00003.example" {
		t.Fatalf("result %+v calls %v", res, srv.Calls())
	}
	if calls := srv.Calls(); calls[gImport] != 1 || calls["POST "+gBlocks] != 1 || calls["GET "+gBlocks] != 2 {
		t.Fatalf("calls %v, want 1 import, 1 single create, 2 reads", calls)
	}
	for _, b := range srv.Blocks() {
		if b.Domain == "bad00003.example" && b.PrivateComment != "blocked by hand" {
			t.Fatalf("import overwrote a hand-made block: %+v", b)
		}
	}

	// One bad domain makes the import hang up without an answer, after
	// creating the others (0.20.0-rc1 panics): the driver reads the list
	// back and creates what is missing one by one, which pins the failure
	// on that entry.
	batch = manyBlocks(14, moderation.Suspend)[8:]
	batch = append(batch, moderation.Entry{Domain: "not a domain", Action: moderation.Suspend})
	srv.ResetCounters()
	res, err = d.Apply(ctx, moderation.Plan{Create: batch}, nil)
	if err == nil || len(res.Failed) != 1 || res.Failed[0].Domain != "not a domain" || res.Created != 6 || res.Done != 7 {
		t.Fatalf("err %v result %+v", err, res)
	}
	if !strings.Contains(err.Error(), "POST "+gBlocks) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("error does not name the call and answer: %v", err)
	}
	if calls := srv.Calls(); calls[gImport] != 1 || calls["POST "+gBlocks] != 1 {
		t.Fatalf("calls %v, want 1 import and 1 single create", calls)
	}
	if n := len(srv.Blocks()); n != 14 { // 1 by hand + 7 + 6
		t.Fatalf("server has %d blocks, want 14", n)
	}
}

func TestGoToSocialWithoutLimits(t *testing.T) {
	ctx := context.Background()
	srv := fakeserver.NewGoToSocial(fakeserver.Options{Version: "0.16.0+git-1a2b3c4", NoDomainLimits: true})
	defer srv.Close()
	d := newDriver(t, "gotosocial", srv, drivers.Config{})
	// Even a plan built without Express never turns a silence into a block.
	res, err := d.Apply(ctx, moderation.Plan{Create: []moderation.Entry{
		{Domain: "loud.example", Action: moderation.Silence},
		{Domain: "spam.example", Action: moderation.Suspend},
	}}, nil)
	if err == nil || len(res.Failed) != 1 || res.Failed[0].Domain != "loud.example" || res.Created != 1 {
		t.Fatalf("err %v result %+v", err, res)
	}
	if b := srv.Blocks(); len(b) != 1 || b[0].Domain != "spam.example" {
		t.Fatalf("blocks %+v", b)
	}
	if srv.Writes() != 1 {
		t.Fatalf("writes %d", srv.Writes())
	}
	// List does not ask for limits it knows are not there.
	srv.ResetCounters()
	if _, err := d.List(ctx); err != nil {
		t.Fatal(err)
	}
	if srv.Requests() != 2 {
		t.Fatalf("List made %d requests, want 2 (blocks, allows)", srv.Requests())
	}
}

// TestGoToSocialBusyDomain: replacing a block by an allow deletes the block
// and creates the allow at once; GoToSocial answers the create 409 while
// the unblock's side effects run (after making it). The driver waits and
// tries again, within a bound, and a delete answered 409 counts as done.
func TestGoToSocialBusyDomain(t *testing.T) {
	ctx := context.Background()
	// The server's side effects and the driver's waits run on one clock,
	// which moves only when the driver waits.
	clock := newFakeClock()
	srv := fakeserver.NewGoToSocial(fakeserver.Options{NoDomainLimits: true, ActionDuration: 300 * time.Millisecond, Now: clock.Now})
	defer srv.Close()
	d := newDriver(t, "gotosocial", srv, drivers.Config{Clock: clock})
	block := moderation.Entry{Domain: "friend.example", Action: moderation.Suspend, PrivateComment: "a list"}
	if res, err := d.Apply(ctx, moderation.Plan{Create: []moderation.Entry{block}}, nil); err != nil || res.Created != 1 {
		t.Fatalf("create: %+v %v", res, err)
	}
	cur := mustList(t, d)
	allow := moderation.Entry{Domain: "friend.example", Action: moderation.Allow, PrivateComment: "local"}
	res, err := d.Apply(ctx, moderation.Plan{Update: []moderation.Update{{ID: cur[0].ID, From: cur[0].Entry, To: allow}}}, nil)
	if err != nil || res.Updated != 1 {
		t.Fatalf("replace: %+v %v", res, err)
	}
	if b, a := srv.Blocks(), srv.Allows(); len(b) != 0 || len(a) != 1 || !strings.HasPrefix(a[0].PrivateComment, drivers.Marker) {
		t.Fatalf("blocks %+v allows %+v", b, a)
	}
	if srv.Calls()["POST "+gAllows] < 2 {
		t.Fatalf("the create was never refused: the test tests nothing (calls %v)", srv.Calls())
	}
	// Deleting while busy: the first DELETE is made and answered 409, the
	// retry finds nothing (404), which is what was wanted.
	cur = mustList(t, d)
	res, err = d.Apply(ctx, moderation.Plan{Delete: []moderation.ServerEntry{cur[0]}}, nil)
	if err != nil || res.Deleted != 1 || len(srv.Allows()) != 0 {
		t.Fatalf("delete: %+v %v allows %+v", res, err, srv.Allows())
	}

	// A domain that stays busy fails one change after a bounded wait.
	clock = newFakeClock()
	stuck := fakeserver.NewGoToSocial(fakeserver.Options{NoDomainLimits: true, ActionDuration: time.Hour, Now: clock.Now})
	defer stuck.Close()
	d = newDriver(t, "gotosocial", stuck, drivers.Config{Clock: clock})
	stuck.AddAllow(fakeserver.Record{Domain: "busy.example"})
	if _, err := d.Apply(ctx, moderation.Plan{Create: []moderation.Entry{{Domain: "busy.example", Action: moderation.Suspend}}}, nil); err != nil {
		t.Fatal(err) // the first write starts the hour-long action
	}
	cur = mustList(t, d)
	var blk moderation.ServerEntry
	for _, se := range cur {
		if se.Action == moderation.Suspend {
			blk = se
		}
	}
	res, err = d.Apply(ctx, moderation.Plan{Delete: []moderation.ServerEntry{blk}}, nil)
	if err != nil || res.Deleted != 1 {
		t.Fatalf("delete on a busy domain: %+v %v", res, err)
	}
	before := clock.totalSlept()
	res, err = d.Apply(ctx, moderation.Plan{Create: []moderation.Entry{{Domain: "busy.example", Action: moderation.Suspend}}}, nil)
	if err == nil || len(res.Failed) != 1 || !strings.Contains(err.Error(), "409") {
		t.Fatalf("create on a domain busy for an hour: %+v %v", res, err)
	}
	if s := clock.totalSlept() - before; s != 7750*time.Millisecond {
		t.Fatalf("waited %s in total, want 7.75s", s)
	}
}
