package moderation

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestMergeProvenance(t *testing.T) {
	p := mustMerge(t, MergeInput{
		Threshold: Threshold{ThresholdWeight, 2},
		Sources: []Source{
			src("hillside", 1, Entry{Domain: "x.example", Action: Silence, PublicComment: "noisy"}),
			capped(src("iftas-dni", 2, e("x.example", Suspend)), Silence),
			src("watcher", 0, e("x.example", Suspend)),
		},
	})
	if len(p.Entries) != 1 {
		t.Fatalf("entries = %+v", effective(p))
	}
	prov := p.Entries[0].Provenance
	if len(prov.Sources) != 3 {
		t.Fatalf("provenance has %d sources, want all 3 including the watcher", len(prov.Sources))
	}
	type view struct {
		name    string
		weight  int
		said    Action
		action  Action
		counted bool
	}
	var got []view
	for _, c := range prov.Sources {
		got = append(got, view{c.Source.Name, c.Source.Weight, c.Said.Action, c.Action, c.Counted})
	}
	want := []view{
		{"hillside", 1, Silence, Silence, true},
		{"iftas-dni", 2, Suspend, Silence, true},
		{"watcher", 0, Suspend, Suspend, false},
	}
	if !slices.Equal(got, want) {
		t.Errorf("provenance:\n got  %+v\n want %+v", got, want)
	}
	if prov.Sources[0].Said.PublicComment != "noisy" {
		t.Errorf("comment not kept in provenance")
	}
	if !prov.Sources[1].Capped() || prov.Sources[0].Capped() {
		t.Errorf("Capped() wrong: %v %v", prov.Sources[0].Capped(), prov.Sources[1].Capped())
	}
	wantSummary := "weight 3 ≥ threshold 2, merge max, capped by maxAction: hillside silence, iftas-dni silence"
	if s := p.Entries[0].Summary(); s != wantSummary {
		t.Errorf("Summary() = %q, want %q", s, wantSummary)
	}
}

func TestSummaryIsBounded(t *testing.T) {
	var sources []Source
	for i := range 40 {
		sources = append(sources, src(strings.Repeat("s", 20)+strconv.Itoa(i), 1, e("x.example", Suspend)))
	}
	p := mustMerge(t, MergeInput{Sources: sources, Local: []Entry{{Domain: "y.example", Action: Suspend, PrivateComment: strings.Repeat("ü", 300)}}})
	for i := range p.Entries {
		s := p.Entries[i].Summary()
		if len(s) > maxSummary || !strings.HasSuffix(s, "…") {
			t.Errorf("%s: summary of %d bytes: %q", p.Entries[i].Domain, len(s), s)
		}
	}
}

func TestDesired(t *testing.T) {
	p := mustMerge(t, MergeInput{
		Local: []Entry{
			{Domain: "quiet.example", Action: Noop},
			{Domain: "reports.example", Action: Noop, RejectReports: true},
			{Domain: "spam.example", Action: Suspend, PrivateComment: "ticket 41"},
		},
	})
	got := p.Desired()
	want := []Entry{
		{Domain: "reports.example", Action: Noop, RejectReports: true, PrivateComment: "local decision"},
		{Domain: "spam.example", Action: Suspend, PrivateComment: "local decision: ticket 41"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Desired:\n got  %+v\n want %+v", got, want)
	}
}
