package moderation

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// MergeRule says how the actions of the entries that apply combine.
type MergeRule string

const (
	// MergeMax: the strictest action wins and flags are ORed, as in
	// FediBlockHole's "max" merge plan.
	MergeMax MergeRule = "max"
	// MergeMin: the mildest action wins and flags are ANDed, as in the
	// Oliphant consensus lists.
	MergeMin MergeRule = "min"
)

// ThresholdKind names how much agreement a subscribed entry needs.
type ThresholdKind string

const (
	// ThresholdWeight: the summed weight of the sources listing a domain.
	ThresholdWeight ThresholdKind = "weight"
	// ThresholdCount: the number of sources with weight > 0 listing it.
	ThresholdCount ThresholdKind = "count"
	// ThresholdPercent: the listed weight as a percentage of the weight of
	// all sources.
	ThresholdPercent ThresholdKind = "percent"
)

// Threshold is the agreement a subscribed entry needs before it applies.
// The zero value means weight ≥ 1: any trusted source is enough.
type Threshold struct {
	Kind  ThresholdKind
	Value int
}

func (t Threshold) withDefault() Threshold {
	if t.Kind == "" && t.Value == 0 {
		return Threshold{Kind: ThresholdWeight, Value: 1}
	}
	return t
}

func (t Threshold) String() string {
	if t.Kind == ThresholdPercent {
		return fmt.Sprintf("%d%%", t.Value)
	}
	return fmt.Sprintf("%s %d", t.Kind, t.Value)
}

// Source is a subscribed feed with the trust given to it.
type Source struct {
	// Name identifies the source in provenance and rejections.
	Name string
	// Weight is the trust given to the source. A weight-0 source is
	// watched: it appears in provenance and explanations but never counts
	// towards a threshold and never shapes an action.
	Weight int
	// MaxAction, when set, caps what the source can impose: with silence,
	// its suspensions count as silences.
	MaxAction *Action
	// Entries as parsed from the feed.
	Entries []Entry
}

// LocalSource is the name rejections and provenance use for the
// community's own entries. The parentheses keep it apart from any source
// name a manifest can hold.
const LocalSource = "(local)"

// MergeInput is everything a merge decides from.
type MergeInput struct {
	// Local are the community's own decisions. They always apply.
	Local []Entry
	// Sources are the subscriptions.
	Sources []Source
	// Threshold a subscribed entry needs; zero means weight ≥ 1.
	Threshold Threshold
	// Rule combines the entries that apply; empty means max.
	Rule MergeRule
	// Exceptions are never blocked, nor is any parent domain of them.
	Exceptions []string
	// Protected are our own instances' domains: never blocked, nor any
	// parent domain of them.
	Protected []string
}

// Rejection is an entry that was refused, and why.
type Rejection struct {
	Domain string
	// Source is the source's name, or LocalSource.
	Source string
	Reason string
}

// DecisionKind says what decided an effective entry.
type DecisionKind uint8

const (
	// DecidedLocally: the community's own entry.
	DecidedLocally DecisionKind = iota
	// DecidedByConsensus: subscribed sources reached the threshold.
	DecidedByConsensus
)

// Decision is the rule that produced an effective entry. Its text is built
// only when asked for (String), because a merge can produce hundreds of
// thousands of entries and most are never explained; what every entry of
// a merge shares (threshold, rule, total weight) is held once.
type Decision struct {
	Kind DecisionKind
	// Capped is set when the winning action was lowered by a source's
	// MaxAction. (Next to Kind, so the two share a word.)
	Capped bool
	// Weight and Count are what the counting sources reached: their summed
	// weight and how many they were.
	Weight, Count int

	settings *mergeSettings
}

// mergeSettings is what every decision of one merge shares.
type mergeSettings struct {
	threshold   Threshold
	rule        MergeRule
	totalWeight int
}

// Threshold is the threshold the sources had to reach.
func (d Decision) Threshold() Threshold {
	if d.settings == nil {
		return Threshold{}
	}
	return d.settings.threshold
}

// Rule is the merge rule that combined the sources' entries.
func (d Decision) Rule() MergeRule {
	if d.settings == nil {
		return ""
	}
	return d.settings.rule
}

// TotalWeight is the weight of every source of the merge.
func (d Decision) TotalWeight() int {
	if d.settings == nil {
		return 0
	}
	return d.settings.totalWeight
}

func (d Decision) String() string {
	if d.Kind == DecidedLocally {
		return "local decision"
	}
	t := d.Threshold()
	var b strings.Builder
	b.WriteString(reached(t, d.Weight, d.Count, d.TotalWeight()))
	b.WriteString(" ≥ threshold ")
	b.WriteString(itoa(t.Value))
	if t.Kind == ThresholdPercent {
		b.WriteByte('%')
	}
	b.WriteString(", merge ")
	b.WriteString(string(d.Rule()))
	if d.Capped {
		b.WriteString(", capped by maxAction")
	}
	return b.String()
}

// reached says what the sources reached in the threshold's own unit.
func reached(t Threshold, weight, count, total int) string {
	switch t.Kind {
	case ThresholdCount:
		return "count " + itoa(count)
	case ThresholdPercent:
		pct := 0
		if total > 0 {
			pct = weight * 100 / total
		}
		return "percent " + itoa(pct) + "% (weight " + itoa(weight) + " of " + itoa(total) + ")"
	}
	return "weight " + itoa(weight)
}

// met reports whether the reached agreement satisfies the threshold.
// Percent is compared in integers (weight×100 ≥ P×total) so 2 of 3 at
// 66% passes and at 67% does not, without rounding surprises.
func met(t Threshold, weight, count, total int) bool {
	switch t.Kind {
	case ThresholdCount:
		return count >= t.Value
	case ThresholdPercent:
		return total > 0 && weight*100 >= t.Value*total
	}
	return weight >= t.Value
}

// Contribution is what one source said about one domain.
type Contribution struct {
	// Source is the source (name, weight, cap).
	Source *Source
	// Said is the entry as the source published it; nil when the source
	// does not list the domain (only in explanations).
	Said *Entry
	// Action is what the entry counts as after the source's cap.
	Action Action
	// Counted is set when the entry counted towards the decision: the
	// source has weight, the entry is not an allow and was not refused,
	// and no local entry overrode the sources.
	Counted bool
}

// Capped reports whether the source's MaxAction lowered what it said.
func (c Contribution) Capped() bool { return c.Said != nil && c.Action != c.Said.Action }

// Provenance is why an effective entry exists.
type Provenance struct {
	Decision Decision
	// Local is the community's own entry when it decided; nil otherwise.
	Local *Entry
	// Sources are every source that listed the domain, in input order,
	// including watched (weight 0) and overridden ones.
	Sources []Contribution
}

// EffectiveEntry is an entry of the merged policy and why it exists.
type EffectiveEntry struct {
	Entry
	Provenance Provenance
}

// Policy is the result of a merge.
type Policy struct {
	// Entries sorted by domain, one per domain.
	Entries []EffectiveEntry
	// Rejected entries sorted by domain, then source name (LocalSource first).
	Rejected []Rejection

	// What Explain needs to answer about domains that have no entry.
	input    MergeInput
	sources  []Source // the policy's own copy; provenance points into it
	local    []Entry  // normalised local entries, sorted by domain
	sorted   [][]int32
	guard    protection
	total    int
	settings *mergeSettings
	hashMemo string
}

// Merge combines a community's own entries with its subscriptions.
//
// The rules, in order:
//   - A domain that is a public suffix, one of our instances, an exception,
//     or a parent of one of those is never blocked (a block on example.org
//     would cover social.example.org); such entries are Rejected.
//   - A local entry always applies and overrides every source for its
//     domain: it is the community's own decision, so a local noop means
//     "we decided not to block this" and a local allow protects the domain.
//     A subscribed block on a parent of a locally allowed domain is refused
//     for the same reason as for exceptions.
//   - Otherwise a subscribed entry applies when the sources that list the
//     domain reach the threshold; only sources with weight > 0 count.
//   - Subscribed allows never decide: they are shown in provenance but
//     neither cancel other sources' blocks nor add allows. Whom we federate
//     with in spite of a block is for the community to say (a compromised
//     feed must not be able to unblock a domain).
//   - Among the entries that apply the merge rule picks the action (after
//     each source's MaxAction cap) and combines reject_media and
//     reject_reports. Obfuscate is ORed under both rules: if any source
//     asks for a name not to be published, it is not.
//
// Merge keeps references to the input's entries in the provenance; do not
// modify them afterwards.
func Merge(in MergeInput) (*Policy, error) {
	in.Threshold = in.Threshold.withDefault()
	if in.Rule == "" {
		in.Rule = MergeMax
	}
	if err := validate(in); err != nil {
		return nil, err
	}
	p := &Policy{input: in}
	guard, err := newProtection(in.Protected, in.Exceptions)
	if err != nil {
		return nil, err
	}
	p.guard = guard

	// Local entries: normalised, sorted. Local allows protect their
	// parents from subscribed blocks.
	for _, e := range in.Local {
		d, _, err := NormalizeDomain(e.Domain)
		if err != nil {
			p.Rejected = append(p.Rejected, Rejection{Domain: e.Domain, Source: LocalSource, Reason: err.Error()})
			continue
		}
		e.Domain = d
		// Cleaned as parsers clean feed comments, so a published policy
		// reads back exactly.
		e.PublicComment = cleanComment(e.PublicComment)
		p.local = append(p.local, e.Canonical())
		if e.Action == Allow {
			p.guard.addAllowed(d)
		}
	}
	// Sorted on every field, so that several local entries for one domain
	// combine the same way whatever order the manifests listed them in.
	slices.SortFunc(p.local, compareEntries)

	p.sources = slices.Clone(in.Sources)
	p.sorted = make([][]int32, len(in.Sources))
	rejected := make([][]Rejection, len(in.Sources))
	votes := 0
	for _, s := range in.Sources {
		p.total += s.Weight
		votes += len(s.Entries)
	}
	// Checking a source is a pass over every one of its entries (a million
	// for ten large feeds) and sources are independent, so large merges
	// check them on every core.
	forEach(len(p.sources), votes >= parallelMergeVotes, func(i int) {
		s := &p.sources[i]
		s.Entries, p.sorted[i], rejected[i] = prepareSource(s.Name, s.Entries)
	})
	votes = 0
	for i := range p.sources {
		votes += len(p.sources[i].Entries)
		p.Rejected = append(p.Rejected, rejected[i]...)
	}
	p.settings = &mergeSettings{threshold: in.Threshold, rule: in.Rule, totalWeight: p.total}
	p.merge(votes)
	slices.SortFunc(p.Rejected, compareRejections)
	return p, nil
}

func validate(in MergeInput) error {
	var errs []error
	if in.Rule != MergeMax && in.Rule != MergeMin {
		errs = append(errs, fmt.Errorf("unknown merge rule %q (want max or min)", in.Rule))
	}
	switch in.Threshold.Kind {
	case ThresholdWeight, ThresholdCount:
		if in.Threshold.Value < 1 {
			errs = append(errs, fmt.Errorf("threshold %s must be at least 1", in.Threshold))
		}
	case ThresholdPercent:
		if in.Threshold.Value < 1 || in.Threshold.Value > 100 {
			errs = append(errs, fmt.Errorf("threshold %s must be between 1%% and 100%%", in.Threshold))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown threshold kind %q (want weight, count or percent)", in.Threshold.Kind))
	}
	seen := make(map[string]bool, len(in.Sources))
	for _, s := range in.Sources {
		switch {
		case s.Name == "" || s.Name == LocalSource:
			errs = append(errs, fmt.Errorf("source name %q is not allowed", s.Name))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("source %q appears twice", s.Name))
		}
		seen[s.Name] = true
		if s.Weight < 0 {
			errs = append(errs, fmt.Errorf("source %q has negative weight %d", s.Name, s.Weight))
		}
		if s.MaxAction != nil && !(s.MaxAction.IsBlock() || *s.MaxAction == Noop) {
			errs = append(errs, fmt.Errorf("source %q: maxAction %s is not a block action", s.Name, *s.MaxAction))
		}
	}
	return errors.Join(errs...)
}

// prepareSource returns the source's entries with normalised domains, the
// permutation that sorts them by domain (nil when they already are), and
// the entries refused because their domain is not one.
//
// Parser output is already normalised and, from a published feed, nearly
// always sorted: it is used as is, without a copy, after one pass that
// checks both. Hand-built entries are normalised into a copy.
func prepareSource(name string, entries []Entry) ([]Entry, []int32, []Rejection) {
	first, sorted := checkSource(entries)
	var rejected []Rejection
	if first < len(entries) {
		out := make([]Entry, 0, len(entries))
		out = append(out, entries[:first]...)
		for _, e := range entries[first:] {
			d, _, err := NormalizeDomain(e.Domain)
			if err != nil {
				rejected = append(rejected, Rejection{Domain: e.Domain, Source: name, Reason: err.Error()})
				continue
			}
			e.Domain = d
			out = append(out, e.Canonical())
		}
		entries = out
		sorted = slices.IsSortedFunc(entries, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) })
	}
	if sorted {
		return entries, nil, rejected
	}
	return entries, sortedOrder(entries), rejected
}

// checkSource returns the index of the first entry whose domain is not
// normalised or that is not canonical (len(entries) when there is none),
// and whether the entries before it are sorted by domain. It is one pass
// so each entry is read from memory once.
//
// The order is checked on the names' first 8 bytes as a number, which
// settles nearly every pair of neighbours without a string comparison
// (measured: those comparisons were a third of the pass).
func checkSource(entries []Entry) (first int, sorted bool) {
	sorted = true
	prev, prevKey := "", uint64(0)
	for i := range entries {
		e := &entries[i]
		if !isCanonical(e) || !isNormalized(e.Domain) {
			return i, sorted
		}
		if sorted {
			key := prefixKey(e.Domain)
			if key < prevKey || (key == prevKey && e.Domain < prev) {
				sorted = false
			}
			prevKey = key
		}
		prev = e.Domain
	}
	return len(entries), sorted
}

// isCanonical reports whether e.Canonical() == e, without copying and
// comparing the whole entry (its strings included).
func isCanonical(e *Entry) bool {
	v := verdictOf(e)
	return v.canonical() == v
}

// sortedOrder returns the permutation that sorts the entries by domain.
func sortedOrder(entries []Entry) []int32 {
	order := make([]int32, len(entries))
	for i := range order {
		order[i] = int32(i)
	}
	// Not stable: a source's duplicates are resolved by content (see run).
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(entries[a].Domain, entries[b].Domain) })
	return order
}

// forEach calls fn(0) ... fn(n-1), on every core when parallel is set.
func forEach(n int, parallel bool, fn func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if !parallel || workers < 2 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
			fn(i)
		}
	}
	var wg sync.WaitGroup
	for range workers - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

func compareEntries(a, b Entry) int {
	if c := strings.Compare(a.Domain, b.Domain); c != 0 {
		return c
	}
	if a.Action != b.Action {
		return int(a.Action) - int(b.Action)
	}
	if a.RejectMedia != b.RejectMedia {
		return int(flag(a.RejectMedia)) - int(flag(b.RejectMedia))
	}
	if a.RejectReports != b.RejectReports {
		return int(flag(a.RejectReports)) - int(flag(b.RejectReports))
	}
	if a.Obfuscate != b.Obfuscate {
		return int(flag(a.Obfuscate)) - int(flag(b.Obfuscate))
	}
	if c := strings.Compare(a.PublicComment, b.PublicComment); c != 0 {
		return c
	}
	return strings.Compare(a.PrivateComment, b.PrivateComment)
}

func compareRejections(a, b Rejection) int {
	if c := strings.Compare(a.Domain, b.Domain); c != 0 {
		return c
	}
	if c := strings.Compare(a.Source, b.Source); c != 0 {
		return c
	}
	return strings.Compare(a.Reason, b.Reason)
}

// cursor walks one source in domain order, over positions [pos, end) of
// its sorted order.
type cursor struct {
	entries  []Entry
	order    []int32
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
	return &c.entries[c.order[i]]
}

func (c *cursor) entry() *Entry { return c.at(c.pos) }

func (c *cursor) advance() {
	c.pos++
	c.head, c.key, c.key2 = "", 0, 0
	if c.pos < c.end {
		c.head = c.entry().Domain
		c.key = prefixKey(c.head)
		if len(c.head) > 8 {
			c.key2 = prefixKey(c.head[8:])
		}
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
			pivot := base[largest].at(base[largest].end * k / n).Domain
			mid := make([]int, lists)
			for i := range base {
				c := &base[i]
				mid[i] = sort.Search(c.end, func(j int) bool { return c.at(j).Domain >= pivot })
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

// decide settles one domain: rejections are recorded, contributions are
// appended to the part's arena, and ok says whether the domain has an
// effective entry.
func (p *Policy) decide(part *mergePart, domain string, locals []*Entry, group []vote) (a applied, ok bool) {
	// An allow is refused only on a public suffix; blocks are refused on
	// protected names too. Checking the suffix list costs more than the
	// rest of a domain's decision, so it is done only when needed.
	suffix, guarded := "", ""
	if anyImposes(locals, group) {
		suffix = RefusePublicSuffix(domain)
		guarded = p.guard.refuse(domain)
	}
	refusal := func(e *Entry, fromSource bool) string {
		switch {
		case suffix != "":
			return suffix
		case e.Action == Allow || !e.Imposes():
			return ""
		case guarded != "":
			return guarded
		case fromSource:
			if child := p.guard.allowedChild(domain); child != "" {
				return "would cover " + child + ", which a local entry allows"
			}
		}
		return ""
	}

	var local *Entry
	if len(locals) > 0 {
		var kept []*Entry
		for _, e := range locals {
			if reason := refusal(e, false); reason != "" {
				part.rejected = append(part.rejected, Rejection{Domain: domain, Source: LocalSource, Reason: reason})
				continue
			}
			kept = append(kept, e)
		}
		local = p.combineLocal(kept)
	}

	block, start := part.arenaFor(len(group))
	arena := *block
	mark := len(arena)
	weight, count := 0, 0
	for _, v := range group {
		src := &p.sources[v.source]
		c := Contribution{Source: src, Said: v.entry, Action: capAction(v.entry.Action, src.MaxAction)}
		switch reason := refusal(v.entry, true); {
		case reason != "":
			part.rejected = append(part.rejected, Rejection{Domain: domain, Source: src.Name, Reason: reason})
		case v.entry.Action == Allow:
			// Subscribed allows are advice only (see Merge).
		case src.Weight > 0 && local == nil:
			c.Counted = true
			weight += src.Weight
			count++
		}
		arena = append(arena, c)
	}
	a.start, a.n = int32(start), int32(len(arena)-mark)
	a.weight, a.count = int32(weight), int32(count)
	switch {
	case local != nil:
		part.locals = append(part.locals, local)
		a.local = int32(len(part.locals))
		*block = arena
		return a, true
	case count > 0 && met(p.input.Threshold, weight, count, p.total):
		a.bySources = true
		a.verdict, a.capped, a.best = combine(p.input.Rule, arena[mark:])
		*block = arena
		return a, true
	}
	// Not applied: the space is not kept; Explain recomputes on demand.
	// Only the length is given back: the block was not reallocated, since
	// it had room for the whole group.
	*block = arena[:mark]
	return a, false
}

func anyImposes(locals []*Entry, group []vote) bool {
	for _, e := range locals {
		if e.Imposes() || e.Action == Allow {
			return true
		}
	}
	for _, v := range group {
		if v.entry.Imposes() {
			return true
		}
	}
	return false
}

// combineLocal merges the community's own entries for one domain (several
// FederationPolicies can select the same instance): an allow wins,
// otherwise the merge rule decides.
func (p *Policy) combineLocal(entries []*Entry) *Entry {
	switch len(entries) {
	case 0:
		return nil
	case 1:
		return entries[0]
	}
	for _, e := range entries {
		if e.Action == Allow {
			return e
		}
	}
	out := *entries[0]
	for _, e := range entries[1:] {
		out = combinePair(p.input.Rule, out, *e, e.Action)
		if out.PrivateComment == "" {
			out.PrivateComment = e.PrivateComment
		}
	}
	return &out
}

// capAction lowers a block to the source's cap. Allows are not capped: a
// cap limits what a source can impose.
func capAction(a Action, limit *Action) Action {
	if limit != nil && a != Allow && a > *limit {
		return *limit
	}
	return a
}

// combine applies the merge rule to the counted contributions (there is at
// least one): it returns the entry's action and flags (canonical), whether
// the result is capped, and the index of the contribution whose public
// comment the entry takes, -1 for none. The comment comes from the most
// trusted source whose action won and that gave one (ties: the first name
// in alphabetical order). The result is reported as capped when merging
// what the sources said, without their caps, would have given another
// action.
//
// It runs for every effective entry a consensus decides, so it combines
// verdicts (action and flags) rather than copying whole entries.
func combine(rule MergeRule, contributions []Contribution) (v verdict, capped bool, best int32) {
	var out verdict
	var uncapped Action
	first := true
	for i := range contributions {
		c := &contributions[i]
		if !c.Counted {
			continue
		}
		said := verdictOf(c.Said).canonical()
		if first {
			out, uncapped, first = said.capped(c.Action), said.action, false
			continue
		}
		out = out.with(rule, said, c.Action)
		if (rule == MergeMin) == (said.action < uncapped) {
			uncapped = said.action
		}
	}
	// The comment is chosen without regard to input order, so reordering
	// sources does not change the policy or its hash.
	best = -1
	for i := range contributions {
		c := &contributions[i]
		if !c.Counted || c.Action != out.action || c.Said.PublicComment == "" {
			continue
		}
		if best < 0 || c.Source.Weight > contributions[best].Source.Weight ||
			(c.Source.Weight == contributions[best].Source.Weight && c.Source.Name < contributions[best].Source.Name) {
			best = int32(i)
		}
	}
	return out.canonical(), uncapped != out.action, best
}

// verdict is the part of an entry the merge rules combine.
type verdict struct {
	action                                Action
	rejectMedia, rejectReports, obfuscate bool
}

func verdictOf(e *Entry) verdict {
	return verdict{e.Action, e.RejectMedia, e.RejectReports, e.Obfuscate}
}

func (v verdict) setOn(e *Entry) {
	e.Action, e.RejectMedia, e.RejectReports, e.Obfuscate = v.action, v.rejectMedia, v.rejectReports, v.obfuscate
}

// canonical holds the rules of Entry.Canonical: reject-media is spelled
// one way, and an allow, which restricts nothing, carries no flags.
func (v verdict) canonical() verdict {
	switch {
	case v.action == RejectMedia:
		v.rejectMedia = true
	case v.action == Noop && v.rejectMedia:
		v.action = RejectMedia
	case v.action == Allow:
		v.rejectMedia, v.rejectReports = false, false
	}
	return v
}

// capped applies a cap: the action is lowered, and a cap at noop clears
// the flags too, since the source may then impose nothing.
func (v verdict) capped(to Action) verdict {
	if to != v.action {
		v.action = to
		if to == Noop {
			v.rejectMedia, v.rejectReports = false, false
		}
	}
	return v.canonical()
}

// with merges b (counted as action bAction) into v.
func (v verdict) with(rule MergeRule, b verdict, bAction Action) verdict {
	b = b.capped(bAction).canonical()
	a := v.canonical()
	if rule == MergeMin {
		if b.action < a.action {
			a.action = b.action
		}
		a.rejectMedia = a.rejectMedia && b.rejectMedia
		a.rejectReports = a.rejectReports && b.rejectReports
	} else {
		if b.action > a.action {
			a.action = b.action
		}
		a.rejectMedia = a.rejectMedia || b.rejectMedia
		a.rejectReports = a.rejectReports || b.rejectReports
	}
	a.obfuscate = a.obfuscate || b.obfuscate
	return a
}

// combinePair merges b (counted as action bAction) into a.
func combinePair(rule MergeRule, a, b Entry, bAction Action) Entry {
	verdictOf(&a).with(rule, verdictOf(&b), bAction).setOn(&a)
	return a
}

// protection answers "may this domain be blocked?" for our own instances,
// exceptions and locally allowed domains, including their parents, in one
// map lookup per domain.
type protection struct {
	// refused maps a domain to the reason blocks on it are refused.
	refused map[string]string
	// allowed maps a parent of a locally allowed domain to that domain.
	allowed map[string]string
	// lengths has bit n set when a key of either map is n bytes long:
	// nearly every domain of a merge is answered by one bit test instead
	// of hashing it.
	lengths [256 / 64]uint64
}

func (g *protection) mayHold(domain string) bool {
	n := len(domain)
	return n < 256 && g.lengths[n/64]&(1<<(n%64)) != 0
}

func (g *protection) noteLength(domain string) {
	if n := len(domain); n < 256 {
		g.lengths[n/64] |= 1 << (n % 64)
	}
}

func newProtection(protected, exceptions []string) (protection, error) {
	g := protection{refused: map[string]string{}, allowed: map[string]string{}}
	var errs []error
	add := func(list []string, what string) {
		for _, raw := range list {
			d, _, err := NormalizeDomain(raw)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w", what, raw, err))
				continue
			}
			if _, ok := g.refused[d]; !ok || what == "our instance" {
				g.refused[d] = what + " " + d
			}
			g.noteLength(d)
			parentDomains(d, func(parent string) bool {
				g.noteLength(parent)
				if _, ok := g.refused[parent]; !ok {
					g.refused[parent] = "parent of " + what + " " + d + ": a block would cover it"
				}
				return true
			})
		}
	}
	add(protected, "our instance")
	add(exceptions, "exception")
	return g, errors.Join(errs...)
}

func (g *protection) addAllowed(domain string) {
	parentDomains(domain, func(parent string) bool {
		g.noteLength(parent)
		if _, ok := g.allowed[parent]; !ok {
			g.allowed[parent] = domain
		}
		return true
	})
}

func (g *protection) refuse(domain string) string {
	if len(g.refused) == 0 || !g.mayHold(domain) {
		return ""
	}
	return g.refused[domain]
}

func (g *protection) allowedChild(domain string) string {
	if len(g.allowed) == 0 || !g.mayHold(domain) {
		return ""
	}
	return g.allowed[domain]
}

// itoa formats small integers without fmt.
func itoa(n int) string {
	if n >= 0 && n < 10 {
		return string(rune('0' + n))
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}
