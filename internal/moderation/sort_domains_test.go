package moderation

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestSortByDomainLikeSort checks sortByDomain against a comparison sort
// of the same entries, on names made to be hard for it: shorter than 8 and
// than 16 bytes, prefixes of each other, sharing their first 16 bytes and
// more, runs longer and shorter than radixSmall, and bytes at both ends of
// the range.
func TestSortByDomainLikeSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 16))
	stems := []string{"", "a", "ab.c", "mastodon.", "mastodon.social.", "social.example.co", "xn--bcher-kva.", "zz-", "0", "a_b.", "a-"}
	for _, n := range []int{0, 1, 2, 47, 48, 49, 300, 5_000} {
		seen := map[string]bool{}
		var entries []Entry
		for len(entries) < n {
			var b strings.Builder
			for range 1 + rng.IntN(3) {
				b.WriteString(stems[rng.IntN(len(stems))])
			}
			if rng.IntN(2) == 0 {
				b.WriteString(strconv.Itoa(rng.IntN(n + 1)))
			}
			d := b.String()
			if d == "" || seen[d] {
				continue
			}
			seen[d] = true
			entries = append(entries, Entry{Domain: d, PublicComment: "comment of " + d, Action: Action(rng.IntN(4))})
		}
		want := slices.Clone(entries)
		slices.SortFunc(want, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) })
		sortByDomain(entries)
		if !slices.Equal(entries, want) {
			t.Fatalf("%d entries: sortByDomain differs from a sort by domain", n)
		}
	}
}

// TestSortedOrderWithDuplicates checks the merge's order of an unsorted
// source, which may list a domain more than once: every entry once, by
// domain.
func TestSortedOrderWithDuplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 23))
	var entries []Entry
	for range 2_000 {
		entries = append(entries, Entry{Domain: "mastodon.social.host" + strconv.Itoa(rng.IntN(700)) + ".example"})
	}
	order := sortedOrder(entries)
	seen := make([]bool, len(entries))
	for k, it := range order {
		if seen[it.index] || it.domain != entries[it.index].Domain || k > 0 && order[k-1].domain > it.domain {
			t.Fatalf("position %d: entry %d (%s) out of order or twice", k, it.index, it.domain)
		}
		if key, key2 := keysOf(it.domain); key != it.key || key2 != it.key2 {
			t.Fatalf("position %d: keys of %s wrong", k, it.domain)
		}
		seen[it.index] = true
	}
	if len(order) != len(entries) {
		t.Fatalf("%d items for %d entries", len(order), len(entries))
	}
}
