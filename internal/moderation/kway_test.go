package moderation

import (
	"slices"
	"testing"
)

// TestMergeSplitMatchesSequential runs the same large merge on one core and
// split in two, and expects the very same policy.
func TestMergeSplitMatchesSequential(t *testing.T) {
	in := benchInput(false)
	in.Sources = benchSources(6, 12_000, false)
	in.Local = append(in.Local, Entry{Domain: benchDomain(5), Action: Silence}, Entry{Domain: "com", Action: Suspend})
	split := mustMerge(t, in)
	defer func(old int) { parallelMergeVotes = old }(parallelMergeVotes)
	parallelMergeVotes = 1 << 62
	sequential := mustMerge(t, in)
	if !slices.Equal(effective(split), effective(sequential)) || !slices.Equal(split.Rejected, sequential.Rejected) {
		t.Fatal("split merge differs from the sequential one")
	}
	for i := range split.Entries {
		a, b := split.Entries[i], sequential.Entries[i]
		if a.Provenance.Decision.String() != b.Provenance.Decision.String() || a.Summary() != b.Summary() {
			t.Fatalf("%s: provenance differs: %q vs %q", a.Domain, a.Summary(), b.Summary())
		}
	}
	if len(split.Rejected) == 0 {
		t.Error("expected the exception, protected and public-suffix entries to be rejected")
	}
	checkPolicyInvariants(t, split)
}
