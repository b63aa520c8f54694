package feeds

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// hostile is a comment as someone might write one: markup meant to run
// in every reader's browser, and far longer than the page shows.
const hostileComment = `<script>document.title='pwned'</script><img src=x onerror="document.body.dataset.pwned=1">` + "\"'&"

// phoneHistory is a reviewed policy's history with what could break the
// page: a hostile comment, a long unbroken one, an obfuscated domain, a
// change that must stay in the cluster, and more records than are shown.
func phoneHistory() []HistoryRecord {
	newest := HistoryRecord{
		Outcome: HistoryRejected, ProposedAt: updated.Add(-2 * time.Hour), DecidedAt: updated.Add(time.Hour),
		Cause: "source iftas-dni", Added: 1, Removed: 14,
		Changes: []HistoryChange{
			{Domain: "friends-of-a-friend-with-a-very-long-name.example", Before: "suspend", Why: "iftas-dni (2) no longer lists it"},
			{Domain: "example.com", Before: "suspend", Obfuscate: true, Why: "our own decision"},
			{Domain: "internal.example", After: "suspend", ClusterOnly: true, Why: "co-op (1) ≥ 1"},
		},
		Approvals: []HistoryVote{{User: "oidc:bob", At: updated}},
		Rejections: []HistoryVote{
			{User: "alice@riverside.example", At: updated, PublicComment: hostileComment},
			{User: "carol", At: updated, PublicComment: strings.Repeat("retractions-of-this-size-need-an-assembly-", 30)},
		},
	}
	out := []HistoryRecord{newest}
	for i := range MaxHistory + 5 {
		out = append(out, HistoryRecord{
			Outcome: HistoryApplied, ProposedAt: updated.Add(-time.Duration(i+2) * time.Hour), DecidedAt: updated.Add(-time.Duration(i+1) * time.Hour),
			Cause: "source shared-blocklist", Added: 1,
			Changes:   []HistoryChange{{Domain: fmt.Sprintf("spam%d.example", i), After: "suspend", Why: "shared-blocklist (2) ≥ 2"}},
			Approvals: []HistoryVote{{User: "alice@riverside.example", At: updated, PublicComment: "checked the list"}, {User: "oidc:bob", At: updated}},
		})
	}
	return out
}

// TestPageShowsHistory: the decided changes of a reviewed policy, newest
// first and bounded, with only what may be public, the comments escaped
// and cut; a new decision changes the page's ETag though the policy's
// hash does not change.
func TestPageShowsHistory(t *testing.T) {
	store := NewMemoryStore()
	// The history may come before the policy is first published.
	store.SetHistory("riverside", "shared-moderation", phoneHistory())
	if err := store.Put(phonePolicy()); err != nil {
		t.Fatal(err)
	}
	pub, cluster := listeners(t, store)
	url := "/policies/riverside/shared-moderation"
	resp, page := get(t, pub.URL+url)
	for _, want := range []string{
		"<h2>History</h2>",
		"<h3>Rejected on 3 November 2026, 11:30 UTC</h3>",
		"<p>1 added, 14 removed. Proposed 3 November 2026, 08:30 UTC, caused by source iftas-dni.</p>",
		"<li><code>friends-of-a-friend-with-a-very-long-name.example</code>: suspend → none <span class=\"muted\">(iftas-dni (2) no longer lists it)</span></li>",
		`<code class="obf" title="SHA-256 a379a6f6eeafb9a55e378c118034e2751e682fab9f2d30ab13d2125586ce1947">exa****.*om</code>: suspend → none`,
		`<li class="muted">and 13 more</li>`,
		"<p>Approved by oidc:bob.</p>",
		"Rejected by alice@riverside.example: <q>&lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;&lt;img src=x onerror=&#34;document.body.dataset.pwned=1&#34;&gt;&#34;&#39;&amp;</q>; carol: <q>retractions-of",
		"<h3>Applied on 3 November 2026, 09:30 UTC</h3>",
		"<li><code>spam0.example</code>: none → suspend",
		"Approved by alice@riverside.example: <q>checked the list</q>; oidc:bob.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not say %q", want)
		}
	}
	for _, bad := range []string{"<script>", "<img", "internal.example", "example.com<", "spam19.example", strings.Repeat("retractions-of-this-size-need-an-assembly-", 7)} {
		if strings.Contains(page, bad) {
			t.Errorf("page shows %q", bad)
		}
	}
	if n := strings.Count(page, `<article class="decision">`); n != MaxHistory {
		t.Errorf("page shows %d decisions, want the last %d", n, MaxHistory)
	}
	if strings.Index(page, "Rejected on") > strings.Index(page, "Applied on") {
		t.Error("the history is not newest first")
	}
	// Inside the cluster, the cluster-only change is shown.
	if _, cpage := get(t, cluster.URL+url); !strings.Contains(cpage, "<code>internal.example</code>: none → suspend") {
		t.Error("the cluster's page does not show the cluster-only change")
	}

	// A new decision: the policy's hash is the same, the page is not.
	etag := resp.Header.Get("ETag")
	csvResp, _ := get(t, pub.URL+url+".csv")
	csvTag := csvResp.Header.Get("ETag")
	more := phoneHistory()
	more[0].DecidedAt = updated.Add(3 * time.Hour)
	more[0].Rejections = append(more[0].Rejections, HistoryVote{User: "dave", PublicComment: "a third no"})
	store.SetHistory("riverside", "shared-moderation", more)
	resp, page = get(t, pub.URL+url, "If-None-Match", etag)
	if resp.StatusCode != 200 || !strings.Contains(page, "dave: <q>a third no</q>") || resp.Header.Get("ETag") == etag {
		t.Errorf("after a new decision: %d, ETag %s (was %s), page shows it: %v", resp.StatusCode, resp.Header.Get("ETag"), etag, strings.Contains(page, "a third no"))
	}
	if resp, _ := get(t, pub.URL+url+".csv", "If-None-Match", csvTag); resp.StatusCode != 304 {
		t.Errorf("the feed changed with the history: %d", resp.StatusCode)
	}

	// Publishing the policy again keeps its history; deleting drops it.
	p := phonePolicy()
	p.Hash = "sha256:fedcba"
	p.History = nil
	if err := store.Put(p); err != nil {
		t.Fatal(err)
	}
	if _, page = get(t, pub.URL+url); !strings.Contains(page, "a third no") {
		t.Error("a Put erased the history")
	}
	store.Delete("riverside", "shared-moderation")
	if err := store.Put(p); err != nil {
		t.Fatal(err)
	}
	if _, page = get(t, pub.URL+url); strings.Contains(page, "History") {
		t.Error("a deleted policy's history came back")
	}
}
