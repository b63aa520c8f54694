package moderation

import (
	"runtime"
	"slices"
	"sort"
)

// cursor walks one source in domain order, over positions [pos, end) of
// its sorted order.
type cursor struct {
	entries []Entry
	// order, when the source is not sorted, is its entries in domain
	// order, each with its keys.
	order    []sortedItem
	pos, end int
	// head is the current entry's domain, "" when done; kept here so the
	// k-way merge compares strings without going through the order. key
	// and key2 are its first 16 bytes as big-endian numbers: comparing
	// keys orders nearly every pair of domains, and tells most equal ones
	// apart, without a string comparison. Names on real lists share long
	// prefixes ("mastodon.", "social.", numbered hosts), which is why 8
	// bytes are not enough.
	head      string
	key, key2 uint64
}

// prefixKey packs the first 8 bytes of s, zero-padded, so that keys order
// like the strings do (domains never contain a zero byte). It runs once per
// entry of every source; the common case, a name of 8 bytes or more, is a
// single load.
func prefixKey(s string) uint64 {
	if len(s) >= 8 {
		return uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8 | uint64(s[7])
	}
	var k uint64
	for i := 0; i < 8; i++ {
		k <<= 8
		if i < len(s) {
			k |= uint64(s[i])
		}
	}
	return k
}

func (c *cursor) at(i int) *Entry {
	if c.order == nil {
		return &c.entries[i]
	}
	return &c.entries[c.order[i].index]
}

// domainAt is the domain at position i, read from the order when there is
// one.
func (c *cursor) domainAt(i int) string {
	if c.order == nil {
		return c.entries[i].Domain
	}
	return c.order[i].domain
}

func (c *cursor) entry() *Entry { return c.at(c.pos) }

func (c *cursor) advance() {
	c.pos++
	c.head, c.key, c.key2 = "", 0, 0
	switch {
	case c.pos >= c.end:
	case c.order != nil:
		it := &c.order[c.pos]
		c.head, c.key, c.key2 = it.domain, it.key, it.key2
	default:
		c.head = c.entries[c.pos].Domain
		c.key, c.key2 = keysOf(c.head)
	}
}

func (c *cursor) start(from, to int) {
	c.pos, c.end = from-1, to
	c.advance()
}

// vote is one source's entry for the domain being decided.
type vote struct {
	source int
	entry  *Entry
}

// applied is a decided domain, kept compact until the number of effective
// entries is known and they can be built in one exactly sized slice. It
// holds no pointer, so the garbage collector never scans these lists.
type applied struct {
	// start and n locate the domain's contributions in the part's arena.
	start, n      int32
	weight, count int32
	// local is the index+1 of the domain's local entry in the part's
	// locals, 0 when it has none.
	local int32
	// For a decision by the sources: what combine decided, and the index
	// of the contribution whose public comment the entry takes (-1: none).
	// It is combined in run, while the sources' entries are still in the
	// CPU cache; build, a pass later, would fetch each from memory again.
	verdict   verdict
	best      int32
	capped    bool
	bySources bool
}

// blockSize is how many items one block of a part's arena or decided list
// holds. Parts grow by blocks rather than being sized for the worst case
// (every vote a contribution) or grown by copying: allocation is what sets
// the pace of garbage collection, and a merge's output is already tens of
// megabytes.
const blockSize = 1 << 13

// mergePart is a range of domains merged on its own. Large merges are cut
// at domains into parts that run on every core; every domain of one part
// sorts before every domain of the next, so the results concatenate.
type mergePart struct {
	cursors []cursor
	// arena holds the part's provenance in blocks of arenaBlock
	// contributions. A domain's contributions never straddle two blocks,
	// so a position p is arena[p/arenaBlock][p%arenaBlock].
	arena      [][]Contribution
	arenaBlock int
	// decided are the part's domains with an effective entry, in blocks.
	decided  [][]applied
	locals   []*Entry
	rejected []Rejection
	votes    int
	offset   int // of the part's first entry in Policy.Entries
}

// parallelMergeVotes is the size from which a merge is worth splitting
// (a variable so tests can run both paths on the same input).
var parallelMergeVotes = 50_000

// partVotes is about how many votes a part of a split merge gets, and
// partsPerCore how many parts each core gets at most. Parts are handed to
// the cores as they become free, so a core slowed by the garbage collector
// (which takes a share of a core while it marks) or by other processes
// does not hold the whole merge back.
const (
	partVotes    = 25_000
	partsPerCore = 4
)

// split cuts the merge into parts of about equal size: several per core for
// a large merge, otherwise one.
func (p *Policy) split(votes int) []mergePart {
	lists := len(p.sources) + 1
	base := make([]cursor, lists)
	for i := range p.sources {
		base[i] = cursor{entries: p.sources[i].Entries, order: p.sorted[i], end: len(p.sources[i].Entries)}
	}
	base[lists-1] = cursor{entries: p.local, end: len(p.local)}

	cuts := [][]int{make([]int, lists), make([]int, lists)}
	for i := range base {
		cuts[1][i] = base[i].end
	}
	if procs := runtime.GOMAXPROCS(0); votes >= parallelMergeVotes && procs >= 2 {
		n := max(2, min(procs*partsPerCore, votes/partVotes))
		// The pivots are evenly spaced domains of the largest source.
		largest := 0
		for i := range base {
			if base[i].end > base[largest].end {
				largest = i
			}
		}
		last := cuts[1]
		cuts = cuts[:1]
		for k := 1; k < n; k++ {
			pivot := base[largest].domainAt(base[largest].end * k / n)
			mid := make([]int, lists)
			for i := range base {
				c := &base[i]
				mid[i] = sort.Search(c.end, func(j int) bool { return c.domainAt(j) >= pivot })
			}
			cuts = append(cuts, mid)
		}
		cuts = append(cuts, last)
	}
	parts := make([]mergePart, len(cuts)-1)
	for k := range parts {
		part := &parts[k]
		part.cursors = slices.Clone(base)
		for i := range part.cursors {
			part.cursors[i].start(cuts[k][i], cuts[k+1][i])
			if i < len(p.sources) {
				part.votes += cuts[k+1][i] - cuts[k][i]
			}
		}
		// A domain has at most one contribution per source, so a block
		// holds the largest; a small part needs no more than its votes.
		part.arenaBlock = max(min(part.votes, blockSize), len(p.sources), 1)
	}
	return parts
}

// merge walks every source in domain order at once (a k-way merge of
// sorted lists), so each domain is seen exactly once, grouping needs no
// hash map and the output comes out sorted.
func (p *Policy) merge(votes int) {
	parts := p.split(votes)
	forEach(len(parts), len(parts) > 1, func(i int) { p.run(&parts[i]) })

	n := 0
	for i := range parts {
		parts[i].offset = n
		for _, block := range parts[i].decided {
			n += len(block)
		}
		p.Rejected = append(p.Rejected, parts[i].rejected...)
	}
	p.Entries = make([]EffectiveEntry, n)
	forEach(len(parts), len(parts) > 1, func(i int) { p.build(&parts[i]) })
}

// run merges one part.
func (p *Policy) run(part *mergePart) {
	localAt := len(p.sources)
	cursors := part.cursors
	var group []vote
	var locals []*Entry
	at := make([]int, 0, len(cursors)) // cursors whose head is the domain
	for {
		// One pass finds the smallest head and every cursor holding it.
		// Keys settle nearly every comparison; equal keys leave only the
		// bytes after the 16th to compare (none, when the name is that
		// short: domains hold no zero byte, so equal zero-padded keys
		// then mean equal names).
		domain, key, key2, found := "", uint64(0), uint64(0), false
		at = at[:0]
		for i := range cursors {
			c := &cursors[i]
			switch {
			case c.head == "":
			case !found || c.key < key || (c.key == key && c.key2 < key2):
				domain, key, key2, found = c.head, c.key, c.key2, true
				at = append(at[:0], i)
			case c.key == key && c.key2 == key2:
				a, b := c.head[min(16, len(c.head)):], domain[min(16, len(domain)):]
				switch {
				case a == b:
					at = append(at, i)
				case a < b:
					domain = c.head
					at = append(at[:0], i)
				}
			}
		}
		if !found {
			break
		}
		group, locals = group[:0], locals[:0]
		for _, i := range at {
			c := &cursors[i]
			e := c.entry()
			c.advance()
			if i == localAt {
				locals = append(locals, e)
			} else {
				group = append(group, vote{source: i, entry: e})
			}
			// The same domain again: a source lists it more than once.
			for c.key == key && c.head == domain {
				e := c.entry()
				c.advance()
				switch {
				case i == localAt:
					locals = append(locals, e)
				case compareEntries(*e, *group[len(group)-1].entry) < 0:
					// A source listing a domain twice counts once, with
					// its mildest entry, whatever order it listed them in.
					group[len(group)-1].entry = e
				}
			}
		}
		if a, ok := p.decide(part, domain, locals, group); ok {
			part.appendDecided(a)
		}
	}
}

func (part *mergePart) appendDecided(a applied) {
	if len(part.decided) == 0 || len(part.decided[len(part.decided)-1]) == blockSize {
		part.decided = append(part.decided, make([]applied, 0, min(part.votes, blockSize)))
	}
	last := &part.decided[len(part.decided)-1]
	*last = append(*last, a)
}

// arenaFor returns the arena block the next n contributions go to, and the
// arena position of its end.
func (part *mergePart) arenaFor(n int) (block *[]Contribution, at int) {
	k := len(part.arena) - 1
	// A full block is never returned, even for no contributions, so that
	// every position lies inside its block.
	if k < 0 || len(part.arena[k])+max(n, 1) > part.arenaBlock {
		part.arena = append(part.arena, make([]Contribution, 0, part.arenaBlock))
		k++
	}
	return &part.arena[k], k*part.arenaBlock + len(part.arena[k])
}

// build turns a part's decisions into effective entries.
func (p *Policy) build(part *mergePart) {
	i := part.offset
	for _, block := range part.decided {
		for _, a := range block {
			arena := part.arena[int(a.start)/part.arenaBlock]
			from := int(a.start) % part.arenaBlock
			contributions := arena[from : from+int(a.n) : from+int(a.n)]
			ee := &p.Entries[i]
			i++
			ee.Provenance.Sources = contributions
			if !a.bySources {
				local := part.locals[a.local-1]
				ee.Entry = *local
				ee.Provenance.Local = local
				ee.Provenance.Decision = Decision{Kind: DecidedLocally}
				continue
			}
			// Every contribution names the domain; the one with the
			// comment is read anyway.
			said := contributions[0].Said
			if a.best >= 0 {
				said = contributions[a.best].Said
				ee.PublicComment = said.PublicComment
			}
			ee.Domain = said.Domain
			a.verdict.setOn(&ee.Entry)
			ee.Provenance.Decision = Decision{Kind: DecidedByConsensus, Weight: int(a.weight), Count: int(a.count), Capped: a.capped, settings: p.settings}
		}
	}
}
