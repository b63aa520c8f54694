package moderation

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
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
	// Owner names the community whose policy this is, in the terms
	// Protected.Owner uses.
	Owner string
	// Protected are the co-op's instances' domains: never blocked by a
	// subscribed entry, nor any parent domain of them; those of Owner are
	// not blocked by local entries either (see Protected for why).
	Protected []Protected
	// NoExplain leaves out of the Policy what only Explain reads about a
	// domain without an entry: the index of the protected domains, the
	// exceptions and their parents, which the merge itself needs only
	// while it runs. The merge's result is the same; Explain then answers
	// ErrNotExplainable.
	//
	// The operator keeps one Policy per FederationPolicy and protects
	// every Instance domain of the cluster in each, so the index it kept
	// grew with communities × Instances: at 3,000 Instances in 300
	// communities it was 140 of the operator's 262 MiB of live heap
	// (docs/benchmarks.md). The command line keeps it to explain.
	NoExplain bool
}

// ErrNotExplainable is Explain's answer on a Policy merged with
// MergeInput.NoExplain.
var ErrNotExplainable = errors.New("this policy was merged without what explanations need (MergeInput.NoExplain)")

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
	// SkippedProtected are the protected names that are not domains,
	// sorted by domain then owner. They protect nothing.
	SkippedProtected []SkippedProtected

	// What Explain needs to answer about domains that have no entry
	// (guard only without NoExplain). The merge input is not kept: its
	// Protected list is as long as the cluster's Instances.
	sources  []Source       // the policy's own copy; provenance points into it
	local    []Entry        // normalised local entries, sorted by domain
	sorted   [][]sortedItem // during the merge only
	guard    protection
	total    int
	settings *mergeSettings
	hashMemo string
	// noExplain: merged with MergeInput.NoExplain, guard dropped.
	noExplain bool
}

// Lookup returns the effective entry for a normalised domain, or nil.
func (p *Policy) Lookup(domain string) *EffectiveEntry {
	i, ok := slices.BinarySearchFunc(p.Entries, domain, func(e EffectiveEntry, d string) int { return strings.Compare(e.Domain, d) })
	if !ok {
		return nil
	}
	return &p.Entries[i]
}

// Desired returns the entries a server should hold: every entry that
// imposes something (a bare noop has nothing to write), with the private
// comment set to Summary. This is what drivers pass to Diff.
func (p *Policy) Desired() []Entry {
	out := make([]Entry, 0, len(p.Entries))
	for i := range p.Entries {
		e := &p.Entries[i]
		if !e.Imposes() {
			continue
		}
		entry := e.Entry
		entry.PrivateComment = e.Summary()
		out = append(out, entry)
	}
	return out
}

// Hash identifies what the policy asks of servers: "sha256:" and the hex
// digest of every entry that imposes something, in domain order, with the
// fields Diff compares. It does not depend on the order of the inputs, and
// it does not change when only provenance does (see Diff on private
// comments), so an unchanged hash means there is nothing to apply.
func (p *Policy) Hash() string {
	if p.hashMemo != "" {
		return p.hashMemo
	}
	h := sha256.New()
	var buf []byte
	for i := range p.Entries {
		e := p.Entries[i].Entry.Canonical()
		if !e.Imposes() {
			continue
		}
		buf = AppendHashed(AppendField(buf[:0], e.Domain), e)
		h.Write(buf)
	}
	p.hashMemo = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return p.hashMemo
}

// AppendHashed appends what Hash counts of a canonical entry (Diff's
// fields, without the domain): the action, the flags and the public
// comment. internal/review hashes change sets with it, so both hashes
// always agree on what counts as a change.
func AppendHashed(buf []byte, e Entry) []byte {
	buf = append(buf, byte(e.Action), flag(e.RejectMedia), flag(e.RejectReports), flag(e.Obfuscate))
	return AppendField(buf, e.PublicComment)
}

// AppendField writes a length-prefixed string, so no comment can be
// crafted to look like the start of the next entry.
func AppendField(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func flag(b bool) byte {
	if b {
		return 1
	}
	return 0
}
