package conformance

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
)

// caseIDs numbers the cases of a run; each gets its own domains and, on
// the real server, its own client address.
var caseIDs atomic.Int32

// runContracts runs the wire contract and the driver contract against tg.
func runContracts(t *testing.T, tg target) {
	t.Run("wire", func(t *testing.T) { runWireContract(t, tg) })
	t.Run("driver", func(t *testing.T) { runDriverContract(t, tg) })
}

// contractCase is one case of a contract.
type contractCase struct {
	name string
	run  func(t *testing.T, tg target, ep *endpoint)
}

func runCases(t *testing.T, tg target, cases []contractCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ep := tg.open(t, int(caseIDs.Add(1)))
			c.run(t, tg, ep)
		})
	}
}

// runDriverContract is what every driver must do against its server, as
// delivery uses it (Probe, Express, List, Diff, Apply).
func runDriverContract(t *testing.T, tg target) {
	runCases(t, tg, []contractCase{
		{"probe", contractProbe},
		{"create-update-delete", contractCRUD},
		{"list-longer-than-a-page", contractLongList},
		{"ownership-markers", contractOwnership},
		{"hand-made-entries", contractHandMade},
		{"idempotent-resync", contractIdempotent},
		{"bulk-import", contractBulkImport},
		{"busy-domain", contractBusyDomain},
		{"rate-limit", contractRateLimit},
	})
}

func block(domain, public, private string, obfuscate bool) moderation.Entry {
	return moderation.Entry{Domain: domain, Action: moderation.Suspend, PublicComment: public, PrivateComment: private, Obfuscate: obfuscate}
}

func allow(domain, public, private string) moderation.Entry {
	return moderation.Entry{Domain: domain, Action: moderation.Allow, PublicComment: public, PrivateComment: private}
}

// contractProbe: the token check tells a good admin token from a bad one
// and from a non-admin's without reading a single entry, and the
// capabilities are the version's.
func contractProbe(t *testing.T, tg target, ep *endpoint) {
	ctx := context.Background()
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	ep.wire.snapshot()
	caps, err := d.Probe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if caps.Software != tg.driver || caps.Version != tg.version || caps.Allows != tg.allows || caps.Limits != tg.limits || !caps.BulkImport {
		t.Fatalf("capabilities %+v; want %s %s, allows %v, limits %v, bulk import", caps, tg.driver, tg.version, tg.allows, tg.limits)
	}
	w := ep.wire.snapshot()
	for get := range w.gets {
		if strings.HasPrefix(get, "/api/v1/admin/") && (!strings.Contains(get, "?") || strings.Count(get, "/") > 4) {
			t.Errorf("Probe sent GET %s: a token check must not list a collection nor ask for an id", get)
		}
	}
	if w.bytes > 4096 {
		t.Errorf("Probe read %d bytes", w.bytes)
	}
	t.Logf("probe: %d requests, %d bytes, answers %v; notes %q", w.requests, w.bytes, w.statuses, caps.Notes)

	_, err = ep.driver(t, tg, "not-a-token-the-server-knows", drivers.Config{}).Probe(ctx)
	if err == nil || !drivers.Unauthorized(err) {
		t.Errorf("unknown token: err = %v, want a refusal Unauthorized recognises (401)", err)
	}
	_, err = ep.driver(t, tg, ep.userToken, drivers.Config{}).Probe(ctx)
	if err == nil || drivers.Unauthorized(err) || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "admin") {
		t.Errorf("token of an account without the admin role: err = %v, want a 403 naming the admin role", err)
	}
}

// same compares what the server lists with what was sent, ignoring ids.
func same(t *testing.T, what string, got []moderation.ServerEntry, want []moderation.Entry) {
	t.Helper()
	key := func(e moderation.Entry) string { return e.Domain + "/" + e.Action.String() }
	sort.Slice(got, func(i, j int) bool { return key(got[i].Entry) < key(got[j].Entry) })
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if len(got) != len(want) {
		t.Fatalf("%s: server lists %d entries, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if !got[i].Managed || got[i].Entry != want[i] {
			t.Fatalf("%s: entry %d:\n got %+v (managed %v)\nwant %+v", what, i, got[i].Entry, got[i].Managed, want[i])
		}
	}
}

// contractCRUD: blocks and allows are created, changed (in place, and
// from one kind to the other) and deleted, and the server lists exactly
// what was sent after each pass.
func contractCRUD(t *testing.T, tg target, ep *endpoint) {
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	a, b, f, g := ep.dom("a"), ep.dom("b"), ep.dom("friend"), ep.dom("good")
	v1 := []moderation.Entry{
		block(a, "spam", "list A", true),
		block(b, "", "list B", false),
		allow(f, "friends", "local"),
	}
	if _, res, err := ep.sync(t, d, v1); err != nil || res.Created != 3 {
		t.Fatalf("v1: %+v %v", res, err)
	}
	same(t, "v1", ep.list(t, d), v1)

	v2 := []moderation.Entry{
		block(a, "spam and abuse", "list A", false),
		allow(f, "friends", "local"),
		allow(g, "", "local"),
	}
	if _, res, err := ep.sync(t, d, v2); err != nil || res.Updated != 1 || res.Deleted != 1 || res.Created != 1 {
		t.Fatalf("v2: %+v %v", res, err)
	}
	same(t, "v2", ep.list(t, d), v2)

	// A block that becomes an allow lives in another collection: the
	// block is deleted and the allow created, for the same domain, at once.
	v3 := []moderation.Entry{allow(a, "", "reconsidered"), allow(f, "friends", "local"), allow(g, "", "local")}
	if _, res, err := ep.sync(t, d, v3); err != nil || res.Updated+res.Created != 1 || res.Deleted > 1 {
		t.Fatalf("v3: %+v %v", res, err)
	}
	same(t, "v3", ep.list(t, d), v3)

	if _, res, err := ep.sync(t, d, nil); err != nil || res.Deleted != 3 {
		t.Fatalf("empty: %+v %v", res, err)
	}
	same(t, "empty", ep.list(t, d), nil)
}

// contractLongList: a collection with more entries than any page holds is
// listed whole.
func contractLongList(t *testing.T, tg target, ep *endpoint) {
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	var want []moderation.Entry
	for i := range 250 {
		want = append(want, block(ep.dom(fmt.Sprintf("d%03d", i)), fmt.Sprintf("public %d", i), fmt.Sprintf("private %d", i), i%2 == 0))
	}
	if _, res, err := ep.sync(t, d, want); err != nil || res.Created != 250 {
		t.Fatalf("create: %+v %v", res, err)
	}
	ep.wire.snapshot()
	same(t, "250 blocks", ep.list(t, d), want)
	w := ep.wire.snapshot()
	pages := 0
	for get, n := range w.gets {
		if strings.HasPrefix(get, "/api/v1/admin/domain_blocks") {
			pages += n
		}
	}
	// GoToSocial answers a collection whole, whatever its size: one page.
	if pages != 1 {
		t.Fatalf("listing 250 blocks took %d pages (%v), want 1", pages, w.gets)
	}
	t.Logf("250 blocks (and every other case's) listed in %d page of %d bytes", pages, w.bytes)
}

// contractOwnership: the marker and the provenance summary after it come
// back exactly, on blocks and on allows; an entry whose comment only looks
// like ours is not.
func contractOwnership(t *testing.T, tg target, ep *endpoint) {
	d := ep.driver(t, tg, ep.token, drivers.Config{})
	summaries := []string{
		"",
		"shared: consensus 2/3 (mastodon.social.csv, seirdy-tier0) since 2026-03-01",
		`riverside: local decision "spam wave"; ünïcode ok`,
	}
	var want []moderation.Entry
	for i, s := range summaries {
		want = append(want, block(ep.dom(fmt.Sprintf("b%d", i)), "", s, false), allow(ep.dom(fmt.Sprintf("a%d", i)), "", s))
	}
	if _, res, err := ep.sync(t, d, want); err != nil || res.Created != len(want) {
		t.Fatalf("%+v %v", res, err)
	}
	same(t, "marked entries", ep.list(t, d), want)
	for i, comment := range []string{"blocked by hand", "FEDCOMMONS: other case", "fedcommons without a colon"} {
		r := ep.call(t, ep.token, http.MethodPost, "/api/v1/admin/domain_blocks", form("domain", ep.dom(fmt.Sprintf("lookalike%d", i)), "private_comment", comment))
		if r.status != http.StatusOK {
			t.Fatalf("hand-made block: %s", r)
		}
	}
	for _, se := range ep.list(t, d) {
		if strings.Contains(se.Domain, "lookalike") && se.Managed {
			t.Fatalf("%s (private comment %q) reads as ours", se.Domain, se.PrivateComment)
		}
	}
}
