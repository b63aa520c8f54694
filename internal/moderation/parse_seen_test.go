package moderation

import (
	"strconv"
	"testing"
)

// TestDomainSetLikeMap checks domainSet against a map through growth from
// the smallest table: every domain added is found at its index, and no
// other is found.
func TestDomainSetLikeMap(t *testing.T) {
	for _, hint := range []int{0, 10, 5_000} {
		s := newDomainSet(hint)
		var entries []Entry
		want := map[string]int{}
		for i := range 3_000 {
			d := "host" + strconv.Itoa(i*7%1_000) + ".example" // every name three times
			at, h := s.find(entries, d)
			if w, ok := want[d]; ok != (at >= 0) || ok && at != w {
				t.Fatalf("hint %d: find(%q) = %d, want %d (present %t)", hint, d, at, w, ok)
			}
			if at < 0 {
				entries = append(entries, Entry{Domain: d})
				s.add(entries, len(entries)-1, h)
				want[d] = len(entries) - 1
			}
		}
		if len(entries) != 1_000 || s.n != 1_000 || len(s.slots) < 2*s.n {
			t.Fatalf("hint %d: %d entries, %d in the set, %d slots", hint, len(entries), s.n, len(s.slots))
		}
		if at, _ := s.find(entries, "absent.example"); at != -1 {
			t.Fatalf("hint %d: found an absent domain at %d", hint, at)
		}
	}
}
