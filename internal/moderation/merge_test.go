package moderation

import (
	"errors"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func e(domain string, a Action) Entry { return Entry{Domain: domain, Action: a} }

func src(name string, weight int, entries ...Entry) Source {
	return Source{Name: name, Weight: weight, Entries: entries}
}

func capped(s Source, a Action) Source {
	s.MaxAction = &a
	return s
}

func mustMerge(t *testing.T, in MergeInput) *Policy {
	t.Helper()
	p, err := Merge(in)
	if err != nil {
		t.Fatalf("Merge: %v", err)
	}
	return p
}

// effective returns the policy's entries without provenance, for comparison.
func effective(p *Policy) []Entry {
	out := make([]Entry, len(p.Entries))
	for i, e := range p.Entries {
		out[i] = e.Entry
	}
	return out
}

// mergeCase is one row of a merge table: an input, the entries and
// rejections it must give and, when set, the first entry's decision text.
type mergeCase struct {
	name     string
	in       MergeInput
	want     []Entry
	rejected []Rejection
	decision string // of the first entry, when set
}

func runMergeCases(t *testing.T, tests []mergeCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustMerge(t, tt.in)
			got := effective(p)
			if !slices.Equal(got, tt.want) {
				t.Errorf("entries:\n got  %+v\n want %+v", got, tt.want)
			}
			if !slices.Equal(p.Rejected, tt.rejected) {
				t.Errorf("rejected:\n got  %+v\n want %+v", p.Rejected, tt.rejected)
			}
			if tt.decision != "" {
				if got := p.Entries[0].Provenance.Decision.String(); got != tt.decision {
					t.Errorf("decision = %q, want %q", got, tt.decision)
				}
			}
			checkPolicyInvariants(t, p)
			checkNoExplainSame(t, tt.in, p)
		})
	}
}

// checkNoExplainSame merges in again with NoExplain: the result must be
// the same in every field a caller reads, and nothing of the protection
// index may be kept (the operator sets NoExplain so as not to keep one
// per FederationPolicy).
func checkNoExplainSame(t *testing.T, in MergeInput, want *Policy) {
	t.Helper()
	in.NoExplain = true
	p := mustMerge(t, in)
	if got, w := effective(p), effective(want); !slices.Equal(got, w) {
		t.Errorf("NoExplain entries:\n got  %+v\n want %+v", got, w)
	}
	if !slices.Equal(p.Rejected, want.Rejected) || !slices.Equal(p.SkippedProtected, want.SkippedProtected) {
		t.Errorf("NoExplain refusals: got %+v / %+v, want %+v / %+v", p.Rejected, p.SkippedProtected, want.Rejected, want.SkippedProtected)
	}
	if p.Hash() != want.Hash() {
		t.Errorf("NoExplain hash %s, want %s", p.Hash(), want.Hash())
	}
	if p.guard.refused != nil || p.guard.allowed != nil {
		t.Errorf("NoExplain kept the protection index: %d refused, %d allowed", len(p.guard.refused), len(p.guard.allowed))
	}
	if x := p.Explain("example.org"); !errors.Is(x.Err, ErrNotExplainable) {
		t.Errorf("Explain after NoExplain: Err = %v, want ErrNotExplainable", x.Err)
	}
}

func TestMergeRules(t *testing.T) {
	runMergeCases(t, []mergeCase{
		{
			name: "threshold weight exactly met",
			in: MergeInput{Threshold: Threshold{ThresholdWeight, 2}, Sources: []Source{
				src("a", 1, e("spam.example", Suspend)), src("b", 1, e("spam.example", Suspend))}},
			want:     []Entry{e("spam.example", Suspend)},
			decision: "weight 2 ≥ threshold 2, merge max",
		},
		{
			name: "threshold weight one below",
			in: MergeInput{Threshold: Threshold{ThresholdWeight, 2}, Sources: []Source{
				src("a", 1, e("spam.example", Suspend)), src("b", 1)}},
			want: nil,
		},
		{
			name: "default threshold is weight 1",
			in:   MergeInput{Sources: []Source{src("a", 1, e("spam.example", Silence))}},
			want: []Entry{e("spam.example", Silence)},
		},
		{
			name: "percent with mixed weights",
			// Total weight 5: a alone is 60%, b+c together 40%.
			in: MergeInput{Threshold: Threshold{ThresholdPercent, 60}, Sources: []Source{
				src("a", 3, e("heavy.example", Suspend)),
				src("b", 1, e("light.example", Suspend)),
				src("c", 1, e("light.example", Suspend))}},
			want:     []Entry{e("heavy.example", Suspend)},
			decision: "percent 60% (weight 3 of 5) ≥ threshold 60%, merge max",
		},
		{
			name: "percent one above what the sources reach",
			in: MergeInput{Threshold: Threshold{ThresholdPercent, 61}, Sources: []Source{
				src("a", 3, e("heavy.example", Suspend)), src("b", 1), src("c", 1)}},
			want: nil,
		},
		{
			name: "percent counts watched sources in nothing",
			// A weight-0 source adds no weight to the total either.
			in: MergeInput{Threshold: Threshold{ThresholdPercent, 100}, Sources: []Source{
				src("a", 2, e("x.example", Suspend)), src("watch", 0)}},
			want: []Entry{e("x.example", Suspend)},
		},
		{
			name: "count ignores weight-0 sources",
			in: MergeInput{Threshold: Threshold{ThresholdCount, 2}, Sources: []Source{
				src("a", 1, e("one.example", Suspend), e("two.example", Suspend)),
				src("watch", 0, e("one.example", Suspend)),
				src("b", 5, e("two.example", Silence))}},
			want:     []Entry{e("two.example", Suspend)},
			decision: "count 2 ≥ threshold 2, merge max",
		},
		{
			name: "weight-0 source alone decides nothing",
			in:   MergeInput{Sources: []Source{src("watch", 0, e("x.example", Suspend))}},
			want: nil,
		},
		{
			name: "maxAction caps a suspension to silence",
			in: MergeInput{Sources: []Source{
				capped(src("loud", 1, Entry{Domain: "x.example", Action: Suspend, RejectReports: true}), Silence)}},
			want:     []Entry{{Domain: "x.example", Action: Silence, RejectReports: true}},
			decision: "weight 1 ≥ threshold 1, merge max, capped by maxAction",
		},
		{
			name: "maxAction noop imposes nothing",
			in: MergeInput{Sources: []Source{
				capped(src("loud", 1, Entry{Domain: "x.example", Action: Silence, RejectReports: true}), Noop)}},
			want: []Entry{e("x.example", Noop)},
		},
		{
			name: "capped source does not lower an uncapped one under max",
			in: MergeInput{Sources: []Source{
				capped(src("loud", 1, e("x.example", Suspend)), Silence),
				src("calm", 1, e("x.example", Suspend))}},
			want:     []Entry{e("x.example", Suspend)},
			decision: "weight 2 ≥ threshold 1, merge max",
		},
		{
			name: "merge max: strictest action, flags ORed",
			in: MergeInput{Rule: MergeMax, Sources: []Source{
				src("a", 1, Entry{Domain: "x.example", Action: Silence, RejectMedia: true}),
				src("b", 1, Entry{Domain: "x.example", Action: Suspend, RejectReports: true})}},
			want: []Entry{{Domain: "x.example", Action: Suspend, RejectMedia: true, RejectReports: true}},
		},
		{
			name: "merge min: mildest action, flags ANDed",
			in: MergeInput{Rule: MergeMin, Sources: []Source{
				src("a", 1, Entry{Domain: "x.example", Action: Silence, RejectMedia: true, RejectReports: true}),
				src("b", 1, Entry{Domain: "x.example", Action: Suspend, RejectReports: true})}},
			want: []Entry{{Domain: "x.example", Action: Silence, RejectReports: true}},
		},
		{
			name: "merge min: reject-media against silence",
			in: MergeInput{Rule: MergeMin, Sources: []Source{
				src("a", 1, Entry{Domain: "x.example", Action: Noop, RejectMedia: true}), // Mastodon's spelling
				src("b", 1, Entry{Domain: "x.example", Action: Silence, RejectMedia: true})}},
			want: []Entry{{Domain: "x.example", Action: RejectMedia, RejectMedia: true}},
		},
		{
			name: "obfuscate is ORed under min too",
			in: MergeInput{Rule: MergeMin, Sources: []Source{
				src("a", 1, Entry{Domain: "x.example", Action: Suspend, Obfuscate: true}),
				src("b", 1, e("x.example", Suspend))}},
			want: []Entry{{Domain: "x.example", Action: Suspend, Obfuscate: true}},
		},
		{
			name: "local entry applies without any source",
			in:   MergeInput{Threshold: Threshold{ThresholdWeight, 5}, Local: []Entry{e("spam.example", Suspend)}},
			want: []Entry{e("spam.example", Suspend)},
		},
		{
			name: "local noop overrides sources",
			in: MergeInput{Local: []Entry{e("x.example", Noop)}, Sources: []Source{
				src("a", 3, e("x.example", Suspend))}},
			want:     []Entry{e("x.example", Noop)},
			decision: "local decision",
		},
		{
			name: "local silence overrides a stricter source",
			in: MergeInput{Local: []Entry{e("x.example", Silence)}, Sources: []Source{
				src("a", 3, e("x.example", Suspend))}},
			want: []Entry{e("x.example", Silence)},
		},
		{
			name: "local allow beats subscribed suspend",
			in: MergeInput{Local: []Entry{e("friend.example", Allow)}, Sources: []Source{
				src("a", 3, e("friend.example", Suspend))}},
			want: []Entry{e("friend.example", Allow)},
		},
		{
			name: "local allow and local suspend: allow wins",
			in:   MergeInput{Local: []Entry{e("friend.example", Suspend), e("friend.example", Allow)}},
			want: []Entry{e("friend.example", Allow)},
		},
		{
			name: "subscribed allow is advice only",
			in: MergeInput{Sources: []Source{
				src("a", 5, e("x.example", Allow)), src("b", 1, e("x.example", Suspend)), src("c", 1, e("y.example", Allow))}},
			want: []Entry{e("x.example", Suspend)},
		},
		{
			name: "IDNA and wildcard local entries are normalised",
			in:   MergeInput{Local: []Entry{e("Bücher.Example.", Suspend), e("*.wild.example", Silence)}},
			want: []Entry{e("wild.example", Silence), e("xn--bcher-kva.example", Suspend)},
		},
		{
			name: "obfuscated and invalid local entries are refused",
			in:   MergeInput{Local: []Entry{e("ex*mple.com", Suspend), e("not a domain", Suspend)}},
			want: nil,
			rejected: []Rejection{
				{"ex*mple.com", LocalSource, `obfuscated domain: "ex*mple.com"`},
				{"not a domain", LocalSource, `invalid domain: "not a domain"`}},
		},
		{
			name: "a source listing a domain twice counts once",
			in: MergeInput{Threshold: Threshold{ThresholdWeight, 2}, Sources: []Source{
				src("a", 1, e("x.example", Suspend), e("x.example", Suspend))}},
			want: nil,
		},
		{
			name: "public comment from the most trusted source with the winning action",
			in: MergeInput{Sources: []Source{
				src("b", 1, Entry{Domain: "x.example", Action: Suspend, PublicComment: "from b"}),
				src("a", 2, Entry{Domain: "x.example", Action: Suspend, PublicComment: "from a"}),
				src("c", 9, Entry{Domain: "x.example", Action: Silence, PublicComment: "from c"})}},
			want: []Entry{{Domain: "x.example", Action: Suspend, PublicComment: "from a"}},
		},
	})
}

// checkPolicyInvariants holds for every policy: sorted unique domains,
// provenance on every entry, sorted rejections.
func checkPolicyInvariants(t *testing.T, p *Policy) {
	t.Helper()
	for i, e := range p.Entries {
		if i > 0 && p.Entries[i-1].Domain >= e.Domain {
			t.Fatalf("entries not sorted and unique at %d: %q then %q", i, p.Entries[i-1].Domain, e.Domain)
		}
		prov := e.Provenance
		switch prov.Decision.Kind {
		case DecidedLocally:
			if prov.Local == nil {
				t.Fatalf("%s: local decision without the local entry", e.Domain)
			}
		case DecidedByConsensus:
			counted := 0
			for _, c := range prov.Sources {
				if c.Counted {
					counted++
				}
				if c.Said == nil || c.Said.Domain != e.Domain {
					t.Fatalf("%s: contribution about another domain: %+v", e.Domain, c.Said)
				}
			}
			if counted == 0 || counted != prov.Decision.Count {
				t.Fatalf("%s: %d counted contributions, decision says %d", e.Domain, counted, prov.Decision.Count)
			}
		default:
			t.Fatalf("%s: unknown decision kind %d", e.Domain, prov.Decision.Kind)
		}
		if s := (&p.Entries[i]).Summary(); s == "" || len(s) > maxSummary {
			t.Fatalf("%s: summary %q", e.Domain, s)
		}
	}
	if !slices.IsSortedFunc(p.Rejected, compareRejections) {
		t.Fatalf("rejections not sorted: %+v", p.Rejected)
	}
}

func TestMergeValidation(t *testing.T) {
	allow := Allow
	tests := []struct {
		name string
		in   MergeInput
		want string
	}{
		{"unknown rule", MergeInput{Rule: "avg"}, "unknown merge rule"},
		{"zero weight threshold", MergeInput{Threshold: Threshold{ThresholdWeight, 0}}, "at least 1"},
		{"percent over 100", MergeInput{Threshold: Threshold{ThresholdPercent, 101}}, "between 1% and 100%"},
		{"unknown threshold", MergeInput{Threshold: Threshold{"votes", 1}}, "unknown threshold kind"},
		{"negative weight", MergeInput{Sources: []Source{src("a", -1)}}, "negative weight"},
		{"duplicate source", MergeInput{Sources: []Source{src("a", 1), src("a", 2)}}, "appears twice"},
		{"reserved name", MergeInput{Sources: []Source{src(LocalSource, 1)}}, "not allowed"},
		{"allow cap", MergeInput{Sources: []Source{{Name: "a", Weight: 1, MaxAction: &allow}}}, "not a block action"},
		{"invalid exception", MergeInput{Exceptions: []string{"a b"}}, "exception"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Merge(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Merge error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}

func TestMergeHashIgnoresInputOrder(t *testing.T) {
	base := MergeInput{
		Threshold: Threshold{ThresholdWeight, 2},
		Local: []Entry{
			{Domain: "local.example", Action: Silence, PublicComment: "ours"},
			{Domain: "local.example", Action: Suspend, PublicComment: "also ours"},
			e("friend.example", Allow),
		},
		Sources: []Source{
			src("a", 1, Entry{Domain: "x.example", Action: Suspend, PublicComment: "a says"}, e("y.example", Silence), e("z.example", Suspend)),
			src("b", 1, Entry{Domain: "x.example", Action: Suspend, PublicComment: "b says"}, e("y.example", Suspend)),
			src("c", 2, e("z.example", Silence), e("w.example", Suspend)),
		},
	}
	first := mustMerge(t, base)
	if !strings.HasPrefix(first.Hash(), "sha256:") || len(first.Hash()) != len("sha256:")+64 {
		t.Fatalf("hash %q", first.Hash())
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		in := base
		in.Local = slices.Clone(base.Local)
		rng.Shuffle(len(in.Local), func(i, j int) { in.Local[i], in.Local[j] = in.Local[j], in.Local[i] })
		in.Sources = nil
		for _, s := range base.Sources {
			s.Entries = slices.Clone(s.Entries)
			rng.Shuffle(len(s.Entries), func(i, j int) { s.Entries[i], s.Entries[j] = s.Entries[j], s.Entries[i] })
			in.Sources = append(in.Sources, s)
		}
		rng.Shuffle(len(in.Sources), func(i, j int) { in.Sources[i], in.Sources[j] = in.Sources[j], in.Sources[i] })
		p := mustMerge(t, in)
		if p.Hash() != first.Hash() {
			t.Fatalf("hash changed with input order: %s vs %s\n%+v\n%+v", p.Hash(), first.Hash(), effective(p), effective(first))
		}
		if !slices.Equal(effective(p), effective(first)) {
			t.Fatalf("entries changed with input order")
		}
	}
	// And it does change when what servers receive changes.
	changed := base
	changed.Threshold = Threshold{ThresholdWeight, 3}
	if mustMerge(t, changed).Hash() == first.Hash() {
		t.Error("hash did not change when the policy did")
	}
}
