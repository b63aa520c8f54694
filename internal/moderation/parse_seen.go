package moderation

import (
	"hash/maphash"
	"math/bits"
)

// domainSet is the builder's index of the domains it kept, for duplicates:
// which entry holds a domain, and so on which line it was first read.
//
// Why not a map[string]int (issue 16 item 4): for a list of 100,000 rows
// in no order, nearly every lookup was a cache miss into a table of a few
// megabytes, and the map was a third of parsing. This is an open-addressed
// table of one word a slot, the domain's hash tag and the entry's index, so
// the table is half the size of the map's and a lookup reads one slot (its
// neighbours, on a collision, are in the same cache line); the domain
// itself is compared only when the tags match, which for a new domain is
// about never. The hash is the runtime's (maphash), seeded per table, so a
// feed cannot choose names that collide.
type domainSet struct {
	seed  maphash.Seed
	slots []uint64 // 0 when empty, else tag | (index+1)
	n     int
}

const (
	indexBits = 32
	indexMask = 1<<indexBits - 1
	tagMask   = ^uint64(indexMask)
)

// newDomainSet sizes the table for about hint domains: it grows past half
// full, and the builder's hint overestimates (see bytesPerRow).
func newDomainSet(hint int) domainSet {
	return domainSet{seed: maphash.MakeSeed(), slots: make([]uint64, tableSize(hint+hint/2))}
}

// tableSize is the power of two at least n, and at least 16.
func tableSize(n int) int {
	if n <= 16 {
		return 16
	}
	return 1 << bits.Len(uint(n-1))
}

func (s *domainSet) hash(domain string) uint64 { return maphash.String(s.seed, domain) }

// find returns the index of the entry whose domain is domain, or -1, and
// the domain's hash for add. entries are the entries the set indexes.
func (s *domainSet) find(entries []Entry, domain string) (at int, hash uint64) {
	h := s.hash(domain)
	tag, mask := h&tagMask, uint64(len(s.slots)-1)
	for i := h & mask; ; i = (i + 1) & mask {
		v := s.slots[i]
		if v == 0 {
			return -1, h
		}
		if v&tagMask == tag {
			if at := int(v&indexMask) - 1; entries[at].Domain == domain {
				return at, h
			}
		}
	}
}

// add records that entries[index] holds its domain, of hash h, which find
// did not find. The table doubles when half full, so a probe stays short.
// An index fits in indexBits: ParseOptions.MaxEntries is held below 2^31.
func (s *domainSet) add(entries []Entry, index int, h uint64) {
	if 2*(s.n+1) > len(s.slots) {
		old := s.slots
		s.slots = make([]uint64, 2*len(old))
		for _, v := range old {
			if v != 0 {
				s.put(s.hash(entries[int(v&indexMask)-1].Domain), v&indexMask)
			}
		}
	}
	s.put(h, uint64(index+1))
	s.n++
}

func (s *domainSet) put(h, index uint64) {
	mask := uint64(len(s.slots) - 1)
	i := h & mask
	for s.slots[i] != 0 {
		i = (i + 1) & mask
	}
	s.slots[i] = h&tagMask | index
}
