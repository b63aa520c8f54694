package review

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// An approved change set is applied as proposed, even when the
// computation has moved on since; the rest stays as it was.
func TestApplyIsExactlyTheApprovedSet(t *testing.T) {
	applied := []Held{h("gone.example", moderation.Suspend), h("keep.example", moderation.Silence)}
	proposed := Decide(applied, merge(t, nil, []moderation.Entry{e("keep.example", moderation.Silence), e("new.example", moderation.Suspend)}), nil, nil)
	if len(proposed.Review.Changes) != 2 {
		t.Fatalf("changes %+v", proposed.Review.Changes)
	}
	got, err := Apply(proposed.Apply, proposed.Review)
	if err != nil {
		t.Fatal(err)
	}
	want := []Held{h("keep.example", moderation.Silence), h("new.example", moderation.Suspend)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("applied %v, want %v", got, want)
	}
	// Meanwhile a source added later.example and new.example became a
	// silence: neither is part of what was approved.
	later := merge(t, nil, []moderation.Entry{e("keep.example", moderation.Silence), e("new.example", moderation.Silence), e("later.example", moderation.Suspend)})
	next := Decide(got, later, nil, nil)
	if len(next.Review.Changes) != 2 || next.Review.Changes[0].Domain != "later.example" || next.Review.Changes[1].Domain != "new.example" {
		t.Errorf("the remainder %+v should be proposed anew", next.Review.Changes)
	}
}

func TestApplyRefusesASetThatNoLongerStartsFromTheServers(t *testing.T) {
	set := Decide([]Held{h("a.example", moderation.Silence)}, merge(t, nil, []moderation.Entry{e("a.example", moderation.Suspend)}), nil, nil).Review
	for _, applied := range [][]Held{nil, {h("a.example", moderation.RejectMedia)}} {
		if _, err := Apply(applied, set); err == nil {
			t.Errorf("applied onto %v", applied)
		}
	}
}

// Compose keeps the candidate's provenance where it agrees, and says an
// entry is held by review where it does not.
func TestComposeKeepsProvenanceAndMarksHeldEntries(t *testing.T) {
	candidate := merge(t, nil, []moderation.Entry{e("a.example", moderation.Suspend)})
	eff, clusterOnly := Compose([]Held{h("a.example", moderation.Suspend), {Entry: e("held.example", moderation.Silence), ClusterOnly: true}}, candidate)
	if len(eff.Entries) != 2 || eff.Entries[0].Provenance.Decision.Kind != moderation.DecidedByConsensus {
		t.Fatalf("entries %+v", eff.Entries)
	}
	if s := eff.Entries[1].Summary(); s != "local decision: "+heldComment {
		t.Errorf("held entry summary %q", s)
	}
	if !clusterOnly["held.example"] || clusterOnly["a.example"] {
		t.Errorf("cluster only %v", clusterOnly)
	}
	// Review starting from a computation gives the servers the same
	// policy (same hash: nothing to write).
	if again, _ := Compose(FromPolicy(candidate, nil), candidate); again.Hash() != candidate.Hash() {
		t.Errorf("composed hash %s, candidate %s", again.Hash(), candidate.Hash())
	}
}

func TestStateRoundTrip(t *testing.T) {
	applied := []Held{{Entry: moderation.Entry{Domain: "a.example", Action: moderation.Silence, RejectMedia: true, PublicComment: "spam"}, ClusterOnly: true}, h("b.example", moderation.Suspend)}
	out := Decide(applied, merge(t, nil, []moderation.Entry{e("b.example", moderation.Suspend), e("c.example", moderation.Suspend)}), map[string]bool{"c.example": true}, nil)
	s := State{Applied: out.Apply, Pending: &Pending{Proposal: "p-1", ChangeSet: out.Review}}
	s.Reject("sha256:old")
	chunks, digest, err := Save(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Load(chunks, digest)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got.Applied) != fmt.Sprint(s.Applied) || got.Pending.Hash != s.Pending.Hash || !got.WasRejected("sha256:old") {
		t.Errorf("loaded %+v, saved %+v", got, s)
	}
	if !got.Pending.Changes[1].ClusterOnly {
		t.Error("a pending change lost its cluster-only restriction")
	}
	if _, err := Load(chunks, "sha256:other"); err == nil {
		t.Error("loaded chunks of another save")
	}
}

// A 100,000-entry policy saves in one or a few ConfigMaps; a state over
// MaxChunks is refused with ErrTooLarge, never cut.
func TestStateOfALargePolicyFitsAndAnOversizedOneIsRefused(t *testing.T) {
	big := make([]Held, 100_000)
	for i := range big {
		big[i] = Held{Entry: moderation.Entry{Domain: fmt.Sprintf("d%06d.example", i), Action: moderation.Suspend, PublicComment: "spam"}}
	}
	chunks, digest, err := Save(State{Applied: big})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100,000 entries: %d chunk(s)", len(chunks))
	if len(chunks) > 2 {
		t.Errorf("100,000 entries take %d chunks", len(chunks))
	}
	if got, err := Load(chunks, digest); err != nil || len(got.Applied) != len(big) {
		t.Fatalf("loaded %d entries, %v", len(got.Applied), err)
	}
	huge := make([]Held, 40_000)
	for i := range huge {
		// Incompressible comments: 40,000 × 1,024 random-ish bytes.
		huge[i] = Held{Entry: moderation.Entry{Domain: fmt.Sprintf("d%06d.example", i), Action: moderation.Suspend, PublicComment: noise(i, 1024)}}
	}
	if _, _, err := Save(State{Applied: huge}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized state: %v", err)
	}
}

func noise(seed, n int) string {
	b := make([]byte, n)
	x := uint32(seed*2654435761 + 1)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = 'a' + byte(x%26)
	}
	return string(b)
}
