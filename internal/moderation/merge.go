package moderation

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
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
type DecisionKind int

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
	// Weight and Count are what the counting sources reached: their summed
	// weight and how many they were.
	Weight, Count int
	// Capped is set when the winning action was lowered by a source's
	// MaxAction.
	Capped bool

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

	p.sources = make([]Source, len(in.Sources))
	p.sorted = make([][]int32, len(in.Sources))
	votes := 0
	for i, s := range in.Sources {
		s.Entries = p.normalizeSource(s.Name, s.Entries)
		p.sources[i] = s
		p.sorted[i] = sortedOrder(s.Entries)
		p.total += s.Weight
		votes += len(s.Entries)
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

// normalizeSource returns the source's entries with normalised domains.
// Parser output is already normalised and is used as is, without a copy;
// hand-built entries are normalised into a copy, and the ones that cannot
// be are rejected.
func (p *Policy) normalizeSource(name string, entries []Entry) []Entry {
	first := -1
	for i := range entries {
		if !isNormalized(entries[i].Domain) || entries[i].Canonical() != entries[i] {
			first = i
			break
		}
	}
	if first < 0 {
		return entries
	}
	out := make([]Entry, 0, len(entries))
	out = append(out, entries[:first]...)
	for _, e := range entries[first:] {
		d, _, err := NormalizeDomain(e.Domain)
		if err != nil {
			p.Rejected = append(p.Rejected, Rejection{Domain: e.Domain, Source: name, Reason: err.Error()})
			continue
		}
		e.Domain = d
		out = append(out, e.Canonical())
	}
	return out
}

// sortedOrder returns nil when the entries are already sorted by domain
// (published feeds nearly always are), or the permutation that sorts them.
func sortedOrder(entries []Entry) []int32 {
	if slices.IsSortedFunc(entries, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) }) {
		return nil
	}
	order := make([]int32, len(entries))
	for i := range order {
		order[i] = int32(i)
	}
	// Not stable: a source's duplicates are resolved by content (see run).
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(entries[a].Domain, entries[b].Domain) })
	return order
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
	// is its first 8 bytes as a big-endian number: comparing keys orders
	// nearly every pair of domains without a string comparison.
	head string
	key  uint64
}

// prefixKey packs the first 8 bytes of s, zero-padded, so that keys order
// like the strings do (domains never contain a zero byte).
func prefixKey(s string) uint64 {
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
	c.head, c.key = "", 0
	if c.pos < c.end {
		c.head = c.entry().Domain
		c.key = prefixKey(c.head)
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
// entries is known and they can be built in one exactly sized slice.
type applied struct {
	local         *Entry
	start, n      int32 // the domain's contributions in the part's arena
	weight, count int32
	bySources     bool
}

// mergePart is a range of domains merged on its own. Large merges are cut
// in two at a domain and the halves run on two cores; every domain of one
// half sorts before every domain of the other, so the results concatenate.
type mergePart struct {
	cursors  []cursor
	arena    []Contribution
	decided  []applied
	rejected []Rejection
	offset   int // of the part's first entry in Policy.Entries
}

// parallelMergeVotes is the size from which a merge is worth splitting
// (a variable so tests can run both paths on the same input).
var parallelMergeVotes = 50_000

// split cuts the merge into parts (one or two) of about equal size.
func (p *Policy) split(votes int) []mergePart {
	lists := len(p.sources) + 1
	base := make([]cursor, lists)
	for i := range p.sources {
		base[i] = cursor{entries: p.sources[i].Entries, order: p.sorted[i], end: len(p.sources[i].Entries)}
	}
	base[lists-1] = cursor{entries: p.local, end: len(p.local)}

	cuts := [][2][]int{}
	full := [2][]int{make([]int, lists), make([]int, lists)}
	for i := range base {
		full[1][i] = base[i].end
	}
	if votes < parallelMergeVotes || runtime.GOMAXPROCS(0) < 2 {
		cuts = append(cuts, full)
	} else {
		// The pivot is the middle domain of the largest source.
		largest := 0
		for i := range base {
			if base[i].end > base[largest].end {
				largest = i
			}
		}
		pivot := base[largest].at(base[largest].end / 2).Domain
		mid := make([]int, lists)
		for i := range base {
			c := &base[i]
			mid[i] = sort.Search(c.end, func(j int) bool { return c.at(j).Domain >= pivot })
		}
		cuts = append(cuts, [2][]int{full[0], mid}, [2][]int{mid, full[1]})
	}
	parts := make([]mergePart, len(cuts))
	for k, cut := range cuts {
		part := &parts[k]
		part.cursors = slices.Clone(base)
		n := 0
		for i := range part.cursors {
			part.cursors[i].start(cut[0][i], cut[1][i])
			if i < len(p.sources) {
				n += cut[1][i] - cut[0][i]
			}
		}
		// One backing array for the part's provenance, sized for the
		// worst case, so provenance is not hundreds of thousands of small
		// allocations.
		part.arena = make([]Contribution, 0, n)
		// Sized so the list grows at most once: a part has at least as
		// many domains as its largest source, rarely half as many again.
		largest := 0
		for i := range part.cursors {
			largest = max(largest, cut[1][i]-cut[0][i])
		}
		part.decided = make([]applied, 0, largest+largest/2)
	}
	return parts
}

// merge walks every source in domain order at once (a k-way merge of
// sorted lists), so each domain is seen exactly once, grouping needs no
// hash map and the output comes out sorted.
func (p *Policy) merge(votes int) {
	parts := p.split(votes)
	var wg sync.WaitGroup
	for i := 1; i < len(parts); i++ {
		wg.Go(func() { p.run(&parts[i]) })
	}
	p.run(&parts[0])
	wg.Wait()

	n := 0
	for i := range parts {
		parts[i].offset = n
		n += len(parts[i].decided)
		p.Rejected = append(p.Rejected, parts[i].rejected...)
	}
	p.Entries = make([]EffectiveEntry, n)
	for i := 1; i < len(parts); i++ {
		wg.Go(func() { p.build(&parts[i]) })
	}
	p.build(&parts[0])
	wg.Wait()
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
		domain, key, found := "", uint64(0), false
		at = at[:0]
		for i := range cursors {
			c := &cursors[i]
			if c.head == "" {
				continue
			}
			switch {
			case !found || c.key < key || (c.key == key && c.head < domain):
				domain, key, found = c.head, c.key, true
				at = append(at[:0], i)
			case c.key == key && c.head == domain:
				at = append(at, i)
			}
		}
		if !found {
			return
		}
		group, locals = group[:0], locals[:0]
		for _, i := range at {
			c := &cursors[i]
			first := true
			for c.head == domain {
				e := c.entry()
				c.advance()
				switch {
				case i == localAt:
					locals = append(locals, e)
				case first:
					group = append(group, vote{source: i, entry: e})
				case compareEntries(*e, *group[len(group)-1].entry) < 0:
					// A source listing a domain twice counts once, with
					// its mildest entry, whatever order it listed them in.
					group[len(group)-1].entry = e
				}
				first = false
			}
		}
		if a, ok := p.decide(part, domain, locals, group); ok {
			part.decided = append(part.decided, a)
		}
	}
}

// build turns a part's decisions into effective entries.
func (p *Policy) build(part *mergePart) {
	for i, a := range part.decided {
		contributions := part.arena[a.start : a.start+a.n : a.start+a.n]
		ee := &p.Entries[part.offset+i]
		ee.Provenance.Sources = contributions
		if !a.bySources {
			ee.Entry = *a.local
			ee.Provenance.Local = a.local
			ee.Provenance.Decision = Decision{Kind: DecidedLocally}
			continue
		}
		entry, capped := combine(p.input.Rule, contributions)
		ee.Entry = entry
		ee.Provenance.Decision = Decision{Kind: DecidedByConsensus, Weight: int(a.weight), Count: int(a.count), Capped: capped, settings: p.settings}
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

	if len(locals) > 0 {
		var kept []*Entry
		for _, e := range locals {
			if reason := refusal(e, false); reason != "" {
				part.rejected = append(part.rejected, Rejection{Domain: domain, Source: LocalSource, Reason: reason})
				continue
			}
			kept = append(kept, e)
		}
		a.local = p.combineLocal(kept)
	}

	arena := part.arena
	start := len(arena)
	weight, count := 0, 0
	for _, v := range group {
		src := &p.sources[v.source]
		c := Contribution{Source: src, Said: v.entry, Action: capAction(v.entry.Action, src.MaxAction)}
		switch reason := refusal(v.entry, true); {
		case reason != "":
			part.rejected = append(part.rejected, Rejection{Domain: domain, Source: src.Name, Reason: reason})
		case v.entry.Action == Allow:
			// Subscribed allows are advice only (see Merge).
		case src.Weight > 0 && a.local == nil:
			c.Counted = true
			weight += src.Weight
			count++
		}
		arena = append(arena, c)
	}
	a.start, a.n = int32(start), int32(len(arena)-start)
	a.weight, a.count = int32(weight), int32(count)
	switch {
	case a.local != nil:
		part.arena = arena
		return a, true
	case count > 0 && met(p.input.Threshold, weight, count, p.total):
		a.bySources = true
		part.arena = arena
		return a, true
	}
	// Not applied: give the space back; Explain recomputes on demand.
	part.arena = arena[:start]
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

// combine applies the merge rule to the counted contributions. The public
// comment comes from the most trusted source whose action won and that
// gave one (ties: the first name in alphabetical order). The result is reported as capped when merging what
// the sources said, without their caps, would have given another action.
func combine(rule MergeRule, contributions []Contribution) (Entry, bool) {
	var out Entry
	var uncapped Action
	first := true
	for i := range contributions {
		c := &contributions[i]
		if !c.Counted {
			continue
		}
		said := c.Said.Canonical()
		if first {
			out, uncapped, first = capFlags(said, c.Action), said.Action, false
			continue
		}
		out = combinePair(rule, out, said, c.Action)
		if (rule == MergeMin) == (said.Action < uncapped) {
			uncapped = said.Action
		}
	}
	// The comment is chosen without regard to input order, so reordering
	// sources does not change the policy or its hash.
	var best *Contribution
	for i := range contributions {
		c := &contributions[i]
		if !c.Counted || c.Action != out.Action || c.Said.PublicComment == "" {
			continue
		}
		if best == nil || c.Source.Weight > best.Source.Weight ||
			(c.Source.Weight == best.Source.Weight && c.Source.Name < best.Source.Name) {
			best = c
		}
	}
	out.PublicComment = ""
	if best != nil {
		out.PublicComment = best.Said.PublicComment
	}
	out.PrivateComment = ""
	return out.Canonical(), uncapped != out.Action
}

// capFlags applies a cap to an entry: the action is lowered, and a cap at
// noop clears the flags too, since the source may then impose nothing.
func capFlags(e Entry, capped Action) Entry {
	if capped != e.Action {
		e.Action = capped
		if capped == Noop {
			e.RejectMedia, e.RejectReports = false, false
		}
	}
	return e.Canonical()
}

// combinePair merges b (counted as action bAction) into a.
func combinePair(rule MergeRule, a, b Entry, bAction Action) Entry {
	b = capFlags(b, bAction).Canonical()
	a = a.Canonical()
	if rule == MergeMin {
		if b.Action < a.Action {
			a.Action = b.Action
		}
		a.RejectMedia = a.RejectMedia && b.RejectMedia
		a.RejectReports = a.RejectReports && b.RejectReports
	} else {
		if b.Action > a.Action {
			a.Action = b.Action
		}
		a.RejectMedia = a.RejectMedia || b.RejectMedia
		a.RejectReports = a.RejectReports || b.RejectReports
	}
	a.Obfuscate = a.Obfuscate || b.Obfuscate
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
