package metrics

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestSyncResultsAndState(t *testing.T) {
	ns, inst := "riverside", "toot"
	t.Cleanup(func() { ForgetInstance(ns, inst) })
	at := time.Unix(1_795_000_000, 0)

	RecordSync(ns, inst, Sync{Result: SyncComplete, Created: 3, Entries: 3, At: at})
	RecordSync(ns, inst, Sync{Result: SyncPartial, Created: 2, Entries: 5, Pending: 4, At: at.Add(time.Hour)})
	RecordSync(ns, inst, Sync{Result: SyncFailed, Deleted: 1, At: at.Add(2 * time.Hour)})

	for _, tc := range []struct {
		what      string
		got, want float64
	}{
		{"complete syncs", testutil.ToFloat64(moderationSyncs.WithLabelValues(ns, inst, SyncComplete)), 1},
		{"partial syncs", testutil.ToFloat64(moderationSyncs.WithLabelValues(ns, inst, SyncPartial)), 1},
		{"failed syncs", testutil.ToFloat64(moderationSyncs.WithLabelValues(ns, inst, SyncFailed)), 1},
		{"creates, failed sync or not", testutil.ToFloat64(moderationWrites.WithLabelValues(ns, inst, "create")), 5},
		{"deletes made before a failure", testutil.ToFloat64(moderationWrites.WithLabelValues(ns, inst, "delete")), 1},
		// A failed sync knows nothing new; a partial one moves entries and
		// pending but is not a complete sync.
		{"entries", testutil.ToFloat64(moderationEntries.WithLabelValues(ns, inst)), 5},
		{"pending", testutil.ToFloat64(moderationPending.WithLabelValues(ns, inst)), 4},
		{"last complete sync", testutil.ToFloat64(moderationLastComplete.WithLabelValues(ns, inst)), float64(at.Unix())},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.what, tc.got, tc.want)
		}
	}

	// After a restart, the state comes from status before any sync.
	ForgetInstance(ns, inst)
	if n := testutil.CollectAndCount(moderationEntries); n != 0 {
		t.Fatalf("%d entries series after ForgetInstance", n)
	}
	RecordState(ns, inst, 7, 0, at)
	if got := testutil.ToFloat64(moderationEntries.WithLabelValues(ns, inst)); got != 7 {
		t.Errorf("entries from status = %v, want 7", got)
	}
	if n := testutil.CollectAndCount(moderationSyncs); n != 0 {
		t.Errorf("recording state counted %d syncs", n)
	}
}

func TestFeedSeriesFollowTheSubscriptions(t *testing.T) {
	ns := "riverside"
	t.Cleanup(func() { ForgetPolicy(ns, "shared"); ForgetPolicy(ns, "other") })
	RecordFetch(ns, "shared", "a", FetchApplied)
	RecordFeedEntries(ns, "shared", "a", 10)
	RecordFetch(ns, "shared", "b", FetchError)
	RecordFeedEntries(ns, "shared", "b", 0)
	RecordFeedEntries(ns, "other", "b", 1)

	RecordPolicy(ns, "shared", 10, 2)
	ForgetSource(ns, "shared", "b") // unsubscribed
	if n := testutil.CollectAndCount(feedEntries); n != 2 {
		t.Errorf("%d feed entries series, want 2 (shared/a and other/b)", n)
	}
	if n := testutil.CollectAndCount(feedFetches); n != 1 {
		t.Errorf("%d fetch series, want 1 (shared/a)", n)
	}
	if got := testutil.ToFloat64(policyRejected.WithLabelValues(ns, "shared")); got != 2 {
		t.Errorf("rejected = %v", got)
	}

	ForgetPolicy(ns, "shared")
	if n := testutil.CollectAndCount(feedEntries); n != 1 {
		t.Errorf("%d feed entries series after forgetting shared, want 1 (other/b)", n)
	}
	if n := testutil.CollectAndCount(policyEntries); n != 0 {
		t.Errorf("%d policy series after forgetting shared, want 0", n)
	}
}
