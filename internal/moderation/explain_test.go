package moderation

import (
	"strings"
	"testing"
)

func TestExplain(t *testing.T) {
	p := mustMerge(t, MergeInput{
		Threshold:  Threshold{ThresholdWeight, 2},
		Exceptions: []string{"friends.example"},
		Local:      []Entry{{Domain: "ours.example", Action: Suspend, PrivateComment: "ticket 41"}},
		Sources: []Source{
			src("hillside", 1, e("half.example", Silence), e("both.example", Silence), e("friends.example", Suspend)),
			capped(src("iftas-dni", 2, e("both.example", Suspend), e("big.example", Suspend)), Silence),
			src("watcher", 0, e("half.example", Suspend)),
		},
	})
	tests := []struct {
		domain string
		want   []string
	}{
		{"half.example", []string{
			"half.example: not blocked: weight 1 of 2 needed",
			"hillside (weight 1) says silence",
			"iftas-dni (weight 2) says nothing",
			"watcher (weight 0, watched only) says suspend",
		}},
		{"both.example", []string{
			"both.example: silence (weight 3 ≥ threshold 2, merge max, capped by maxAction)",
			"iftas-dni (weight 2) says suspend, counted as silence (maxAction)",
		}},
		{"ours.example", []string{"ours.example: suspend (local decision)", "local entry says suspend: ticket 41"}},
		{"sub.big.example", []string{"sub.big.example: blocked through its parent big.example: silence"}},
		{"friends.example", []string{"not blocked: exception friends.example", "refused from hillside: exception friends.example"}},
		{"Nobody.Example", []string{"nobody.example: not blocked: no trusted source lists it"}},
		{"a*b.example", []string{"a*b.example: not a domain: obfuscated domain"}},
	}
	for _, tt := range tests {
		t.Run(tt.domain, func(t *testing.T) {
			got := p.Explain(tt.domain).String()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Explain(%q) =\n%s\nwant it to contain %q", tt.domain, got, w)
				}
			}
		})
	}
	x := p.Explain("half.example")
	if x.Entry != nil || x.Weight != 1 || x.Count != 1 || x.TotalWeight != 3 {
		t.Errorf("Explain(half.example) = entry %v weight %d count %d total %d", x.Entry, x.Weight, x.Count, x.TotalWeight)
	}
}
