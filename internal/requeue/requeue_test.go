package requeue

import (
	"testing"
	"time"
)

func TestJitterStaysWithinTenPercent(t *testing.T) {
	const d = time.Minute
	seen := map[time.Duration]bool{}
	for range 1000 {
		got := Jitter(d)
		if got < d-d/10 || got > d+d/10 {
			t.Fatalf("Jitter(%v) = %v, outside ±10%%", d, got)
		}
		seen[got] = true
	}
	if len(seen) < 2 {
		t.Errorf("Jitter(%v) returned %d distinct values in 1000 calls: no spread", d, len(seen))
	}
}

func TestJitterKeepsNoRequeue(t *testing.T) {
	for _, d := range []time.Duration{0, -time.Second} {
		if got := Jitter(d); got != d {
			t.Errorf("Jitter(%v) = %v, want it unchanged", d, got)
		}
	}
}
