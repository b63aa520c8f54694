package review

import (
	"testing"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// merge computes a candidate: own entries plus one subscribed source of
// weight 1 (threshold weight 1, so whatever it lists applies).
func merge(t *testing.T, local, source []moderation.Entry) *moderation.Policy {
	t.Helper()
	p, err := moderation.Merge(moderation.MergeInput{Local: local, Sources: []moderation.Source{{Name: "hillside", Weight: 1, Entries: source}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func e(domain string, a moderation.Action) moderation.Entry {
	return moderation.Entry{Domain: domain, Action: a}
}

func h(domain string, a moderation.Action) Held { return Held{Entry: e(domain, a)} }

func TestDecideSplitsByKind(t *testing.T) {
	S, Si := moderation.Suspend, moderation.Silence
	all := []v1alpha1.ReviewChange{v1alpha1.ReviewSourceAdditions, v1alpha1.ReviewRetractions, v1alpha1.ReviewOwnEntries}
	for _, tc := range []struct {
		name          string
		applied       []Held
		local, source []moderation.Entry
		reviewed      []v1alpha1.ReviewChange
		// wantApply are the domains (and actions) the servers get now,
		// wantReview the domains waiting, with their kind.
		wantApply  []Held
		wantReview map[string]v1alpha1.ReviewChange
		immediate  int
	}{{
		name: "nothing changes", applied: []Held{h("a.example", S)}, source: []moderation.Entry{e("a.example", S)},
		wantApply: []Held{h("a.example", S)},
	}, {
		name: "a source adds a domain: waits by default", source: []moderation.Entry{e("new.example", S)},
		wantReview: map[string]v1alpha1.ReviewChange{"new.example": v1alpha1.ReviewSourceAdditions},
	}, {
		name: "a source escalates: waits, the servers keep the milder entry", applied: []Held{h("a.example", Si)}, source: []moderation.Entry{e("a.example", S)},
		wantApply: []Held{h("a.example", Si)}, wantReview: map[string]v1alpha1.ReviewChange{"a.example": v1alpha1.ReviewSourceAdditions},
	}, {
		name: "an own entry applies at once by default", local: []moderation.Entry{e("own.example", S)},
		wantApply: []Held{h("own.example", S)}, immediate: 1,
	}, {
		name: "an own entry waits when OwnEntries is reviewed", local: []moderation.Entry{e("own.example", S)}, reviewed: all,
		wantReview: map[string]v1alpha1.ReviewChange{"own.example": v1alpha1.ReviewOwnEntries},
	}, {
		name: "a removal waits: the servers keep it", applied: []Held{h("gone.example", S)},
		wantApply: []Held{h("gone.example", S)}, wantReview: map[string]v1alpha1.ReviewChange{"gone.example": v1alpha1.ReviewRetractions},
	}, {
		name: "a relaxation waits", applied: []Held{h("a.example", S)}, source: []moderation.Entry{e("a.example", Si)},
		wantApply: []Held{h("a.example", S)}, wantReview: map[string]v1alpha1.ReviewChange{"a.example": v1alpha1.ReviewRetractions},
	}, {
		name: "retractions not reviewed: a removal applies at once", applied: []Held{h("gone.example", S)}, source: []moderation.Entry{e("new.example", S)},
		reviewed: []v1alpha1.ReviewChange{v1alpha1.ReviewSourceAdditions}, immediate: 1,
		wantReview: map[string]v1alpha1.ReviewChange{"new.example": v1alpha1.ReviewSourceAdditions},
	}, {
		name:    "additions not reviewed: a source's addition applies, its retraction waits",
		applied: []Held{h("gone.example", S)}, source: []moderation.Entry{e("new.example", S)},
		reviewed: []v1alpha1.ReviewChange{v1alpha1.ReviewRetractions}, immediate: 1,
		wantApply: []Held{h("gone.example", S), h("new.example", S)}, wantReview: map[string]v1alpha1.ReviewChange{"gone.example": v1alpha1.ReviewRetractions},
	}, {
		name: "a bare noop imposes nothing and is no change", local: []moderation.Entry{e("noop.example", moderation.Noop)},
	}, {
		name: "a reworded public comment waits under either kind", applied: []Held{{Entry: moderation.Entry{Domain: "a.example", Action: S, PublicComment: "spam"}}},
		source: []moderation.Entry{{Domain: "a.example", Action: S, PublicComment: "harassment"}}, reviewed: []v1alpha1.ReviewChange{v1alpha1.ReviewRetractions},
		wantApply: []Held{{Entry: moderation.Entry{Domain: "a.example", Action: S, PublicComment: "spam"}}}, wantReview: map[string]v1alpha1.ReviewChange{"a.example": v1alpha1.ReviewSourceAdditions},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			out := Decide(tc.applied, merge(t, tc.local, tc.source), nil, tc.reviewed)
			if len(out.Apply) != len(tc.wantApply) {
				t.Fatalf("apply %v, want %v", out.Apply, tc.wantApply)
			}
			for i := range out.Apply {
				if !Same(out.Apply[i].Entry, tc.wantApply[i].Entry) {
					t.Errorf("apply[%d] = %+v, want %+v", i, out.Apply[i], tc.wantApply[i])
				}
			}
			if len(out.Review.Changes) != len(tc.wantReview) {
				t.Fatalf("review %+v, want %v", out.Review.Changes, tc.wantReview)
			}
			for _, c := range out.Review.Changes {
				if k, ok := tc.wantReview[c.Domain]; !ok || k != c.Kind {
					t.Errorf("review %s as %s, want %v", c.Domain, c.Kind, tc.wantReview)
				}
				if c.Why == "" {
					t.Errorf("%s: no why", c.Domain)
				}
			}
			if out.Immediate != tc.immediate {
				t.Errorf("immediate %d, want %d", out.Immediate, tc.immediate)
			}
			if out.Review.Empty() != (out.Review.Hash == "") {
				t.Errorf("hash %q for %d changes", out.Review.Hash, len(out.Review.Changes))
			}
		})
	}
}

func TestWhyNamesTheSourceAndNeverAPrivateComment(t *testing.T) {
	local := []moderation.Entry{{Domain: "own.example", Action: moderation.Suspend, PrivateComment: "ticket 41, do not share"}}
	source := []moderation.Entry{e("bad.example", moderation.Suspend)}
	out := Decide([]Held{h("gone.example", moderation.Silence)}, merge(t, local, source), nil,
		[]v1alpha1.ReviewChange{v1alpha1.ReviewSourceAdditions, v1alpha1.ReviewRetractions, v1alpha1.ReviewOwnEntries})
	want := map[string]string{
		"bad.example":  "weight 1 ≥ threshold 1, merge max: hillside suspend",
		"gone.example": "no longer in the computed policy: no source reaching the threshold and no own entry lists it",
		"own.example":  "the policy's own entry (spec.entries)",
	}
	for _, c := range out.Review.Changes {
		if c.Why != want[c.Domain] {
			t.Errorf("%s: why %q, want %q", c.Domain, c.Why, want[c.Domain])
		}
	}
	if got := Summarize(out.Review.Changes); got != (v1alpha1.ChangeSummary{Added: 2, Removed: 1}) {
		t.Errorf("summary %+v", got)
	}
}

func TestHashIsContentAddressed(t *testing.T) {
	applied := []Held{h("a.example", moderation.Silence)}
	one := Decide(applied, merge(t, nil, []moderation.Entry{e("a.example", moderation.Suspend), e("b.example", moderation.Suspend)}), nil, nil)
	// The same changes from differently ordered input, and different
	// provenance (two sources), give the same hash.
	p, err := moderation.Merge(moderation.MergeInput{Sources: []moderation.Source{
		{Name: "x", Weight: 1, Entries: []moderation.Entry{e("b.example", moderation.Suspend)}},
		{Name: "y", Weight: 1, Entries: []moderation.Entry{e("b.example", moderation.Suspend), e("a.example", moderation.Suspend)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	two := Decide(applied, p, nil, nil)
	if one.Review.Hash != two.Review.Hash {
		t.Errorf("same changes, hashes %s and %s", one.Review.Hash, two.Review.Hash)
	}
	// Another after, or another before, is another change set.
	three := Decide(applied, merge(t, nil, []moderation.Entry{e("a.example", moderation.Suspend), e("b.example", moderation.Silence)}), nil, nil)
	four := Decide([]Held{h("a.example", moderation.RejectMedia)}, merge(t, nil, []moderation.Entry{e("a.example", moderation.Suspend), e("b.example", moderation.Suspend)}), nil, nil)
	if three.Review.Hash == one.Review.Hash || four.Review.Hash == one.Review.Hash {
		t.Error("different change sets share a hash")
	}
}
