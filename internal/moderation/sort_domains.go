package moderation

import (
	"slices"
	"strings"
)

// sortByDomain sorts a parser's entries (distinct domains) by domain, in
// place, for ParseOptions.SortByDomain.
//
// Why not slices.SortFunc on the entries (issue 16 item 4): an entry is
// several words, and a comparison sort of 100,000 names moves each many
// times and compares strings; sorting ten such lists was as long as
// merging them. Here the names' first 16 bytes, as two numbers, are sorted
// by their bytes (a most-significant-digit radix sort, which reads each
// item a few times and compares nothing), with the index of the entry; the
// few names that share their first 16 bytes are then ordered by the rest.
// The entries are moved once each, along the cycles of the sorted order,
// and their names copied in that order.
func sortByDomain(entries []Entry) {
	if slices.IsSortedFunc(entries, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) }) {
		return
	}
	items := domainOrder(entries)
	for k := range items {
		if items[k].index < 0 {
			continue // placed by an earlier cycle
		}
		held := entries[k]
		for j := k; ; {
			from := int(items[j].index)
			items[j].index = -1
			if from == k {
				entries[j] = held
				break
			}
			entries[j] = entries[from]
			j = from
		}
	}
	// The names are copied in their new order: Merge reads each name's
	// first bytes as it walks the entries, and names left where the file
	// had them would be a cache miss each (the copy reads them once, and
	// its reads do not wait on one another).
	var names stringArena
	for k := range entries {
		entries[k].Domain = names.clone(entries[k].Domain)
	}
}

// domainOrder returns the entries' items in domain order; entries with
// the same domain come in no particular order.
func domainOrder(entries []Entry) []domainItem {
	items := make([]domainItem, len(entries))
	for i := range entries {
		key, key2 := keysOf(entries[i].Domain)
		items[i] = domainItem{key, key2, int32(i)}
	}
	radixSort(items, make([]domainItem, len(items)), 0, entries)
	return items
}

// domainItem is an entry while sorting: its domain's first 16 bytes (see
// keysOf) and its index. It holds no pointer, so moving it costs the
// garbage collector nothing.
type domainItem struct {
	key, key2 uint64
	index     int32
}

// byteAt is byte depth (0 to 15) of the item's name, 0 past its end.
func (it *domainItem) byteAt(depth int) byte {
	if depth < 8 {
		return byte(it.key >> (56 - 8*depth))
	}
	return byte(it.key2 >> (56 - 8*(depth-8)))
}

// compareItems orders items as their names order: keys first, then the
// names' bytes after the 16th.
func compareItems(a, b *domainItem, entries []Entry) int {
	switch {
	case a.key != b.key:
		if a.key < b.key {
			return -1
		}
		return 1
	case a.key2 != b.key2:
		if a.key2 < b.key2 {
			return -1
		}
		return 1
	}
	x, y := entries[a.index].Domain, entries[b.index].Domain
	return strings.Compare(x[min(16, len(x)):], y[min(16, len(y)):])
}

// radixSmall is the size under which a run of items is sorted by
// insertion: a radix pass costs a 256-entry count whatever the run's size.
const radixSmall = 48

// radixSort sorts items, whose names agree on their first depth bytes, by
// name; tmp is scratch space as long as items.
func radixSort(items, tmp []domainItem, depth int, entries []Entry) {
	for {
		switch {
		case len(items) <= radixSmall:
			for i := 1; i < len(items); i++ {
				for j := i; j > 0 && compareItems(&items[j], &items[j-1], entries) < 0; j-- {
					items[j], items[j-1] = items[j-1], items[j]
				}
			}
			return
		case depth == 16:
			slices.SortFunc(items, func(a, b domainItem) int { return compareItems(&a, &b, entries) })
			return
		}
		var count [256]int
		for i := range items {
			count[items[i].byteAt(depth)]++
		}
		if count[items[0].byteAt(depth)] == len(items) {
			depth++ // one byte for all: the next one tells them apart
			continue
		}
		var at [256]int
		sum := 0
		for b, n := range count {
			at[b] = sum
			sum += n
		}
		for i := range items {
			b := items[i].byteAt(depth)
			tmp[at[b]] = items[i]
			at[b]++
		}
		copy(items, tmp[:len(items)])
		from := 0
		for _, n := range count {
			if n > 1 {
				radixSort(items[from:from+n], tmp[from:from+n], depth+1, entries)
			}
			from += n
		}
		return
	}
}
