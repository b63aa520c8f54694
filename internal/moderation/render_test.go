package moderation

import (
	"strings"
	"testing"
)

// TestThresholdWording pins every threshold text a person reads, met (in a
// decision and so in every summary) and not met (in an explanation), for
// each kind of threshold: both are built by one renderer.
func TestThresholdWording(t *testing.T) {
	tests := []struct {
		threshold Threshold
		name      string // Threshold.String, as validation errors quote it
		met       string // the decision on met.example
		shortfall string // the explanation of short.example
	}{
		{Threshold{ThresholdWeight, 2}, "weight 2",
			"weight 4 ≥ threshold 2, merge max", "short.example: not blocked: weight 1 of 2 needed"},
		{Threshold{ThresholdCount, 2}, "count 2",
			"count 2 ≥ threshold 2, merge max", "short.example: not blocked: 1 of 2 sources needed"},
		{Threshold{ThresholdPercent, 60}, "60%",
			"percent 80% (weight 4 of 5) ≥ threshold 60%, merge max", "short.example: not blocked: 20% (weight 1 of 5) of 60% needed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.threshold.String(); got != tt.name {
				t.Errorf("String() = %q, want %q", got, tt.name)
			}
			p := mustMerge(t, MergeInput{Threshold: tt.threshold, Sources: []Source{
				src("a", 3, e("met.example", Suspend)),
				src("b", 1, e("met.example", Suspend), e("short.example", Suspend)),
				src("c", 1),
			}})
			entry := p.Lookup("met.example")
			if entry == nil {
				t.Fatalf("met.example not decided: %+v", effective(p))
			}
			if got := entry.Provenance.Decision.String(); got != tt.met {
				t.Errorf("decision = %q, want %q", got, tt.met)
			}
			if got := entry.Summary(); !strings.HasPrefix(got, tt.met+": ") {
				t.Errorf("summary = %q, want it to start with the decision", got)
			}
			if got, _, _ := strings.Cut(p.Explain("short.example").String(), "\n"); got != tt.shortfall {
				t.Errorf("explanation = %q, want %q", got, tt.shortfall)
			}
		})
	}
}
