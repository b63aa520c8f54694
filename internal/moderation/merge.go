package moderation

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Merge combines a community's own entries with its subscriptions.
//
// The rules, in order:
//   - A domain that is a public suffix, one of our instances, an exception,
//     or a parent of one of those is never blocked (a block on example.org
//     would cover social.example.org); such entries are Rejected. Another
//     community's instance, or a parent of it, is not blocked by a
//     subscribed entry, but our local entries still apply to it (see
//     Protected). A protected name that is not a domain protects nothing
//     and is reported in SkippedProtected: it never fails the merge.
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
	p := &Policy{}
	guard, skipped, err := newProtection(in.Owner, in.Protected, in.Exceptions)
	if err != nil {
		return nil, err
	}
	p.guard, p.SkippedProtected = guard, skipped

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
	p.sorted = make([][]sortedItem, len(in.Sources))
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
	p.sorted = nil // the walk's own: not kept with the policy
	if in.NoExplain {
		p.guard, p.noExplain = protection{}, true
	}
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
func prepareSource(name string, entries []Entry) ([]Entry, []sortedItem, []Rejection) {
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

// sortedItem is one entry of an unsorted source, in the sorted order the
// k-way merge walks: the domain's first 16 bytes as keys (see cursor), the
// domain and the entry's index. The merge reads these one after the other;
// going through a permutation of indices instead read each entry and its
// name from wherever the source had it, a cache miss each (issue 16 item
// 4: that walk was half of the merge of ten unsorted lists).
type sortedItem struct {
	key, key2 uint64
	domain    string
	index     int32
}

func keysOf(s string) (key, key2 uint64) {
	key = prefixKey(s)
	if len(s) > 8 {
		key2 = prefixKey(s[8:])
	}
	return key, key2
}

// sortedOrder returns the entries' items sorted by domain, by the radix
// sort of sortByDomain (a comparison sort was a third of merging ten
// unsorted lists). Not stable: a source's duplicates are resolved by
// content (see run).
func sortedOrder(entries []Entry) []sortedItem {
	order := domainOrder(entries)
	items := make([]sortedItem, len(entries))
	for k, o := range order {
		items[k] = sortedItem{o.key, o.key2, entries[o.index].Domain, o.index}
	}
	return items
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
