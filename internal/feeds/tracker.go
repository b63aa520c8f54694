package feeds

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/textcut"
)

// Retraction is the guard against an outage or a broken export looking
// like the withdrawal of many blocks (FederationPolicy spec.retraction).
type Retraction struct {
	// MinCleanFetches: a domain gone from a source stays in force until
	// this many clean fetches in a row have not listed it. Values below 1
	// count as 1.
	MinCleanFetches int
	// MaxShrinkPercent: a fetch listing fewer entries than the last good
	// copy by more than this percentage is held. 0 holds every shrink;
	// 100 (or more) holds none.
	MaxShrinkPercent int
}

// DefaultRetraction matches the API's defaults.
var DefaultRetraction = Retraction{MinCleanFetches: 2, MaxShrinkPercent: 20}

// DefaultMaxTrackedEntries bounds the entries a Tracker keeps per source.
// It is Mastodon's own import limit (a larger list cannot be imported into
// Mastodon anyway). Serialised, an entry takes its domain, its comments and
// about 10 bytes: 20,000 entries with typical 20-character domains make
// some 600 KB of JSON, under a ConfigMap's 1 MiB but not by much, so the
// operator should keep the state with Save (gzip, about a quarter of that)
// in binaryData, one key per policy.
const DefaultMaxTrackedEntries = 20_000

// maxMessage bounds an error kept in the state: the text comes from a
// remote server and from there goes into status and a ConfigMap.
const maxMessage = 512

// maxValidator bounds an ETag or Last-Modified kept for the next request:
// real ones are a few dozen bytes, and the value comes from the remote
// server and is saved with the state. A longer one is not kept (clipped,
// it would never match): the next fetch is simply unconditional.
const maxValidator = 1 << 10

// Observation is one attempt to fetch a source, as the Tracker sees it.
type Observation struct {
	// Time of the fetch.
	Time time.Time
	// Err is a failed fetch or an unreadable body. The last good copy stays
	// in force and nothing counts towards retractions.
	Err error
	// NotModified: the source answered 304 to our validators, so it is
	// still exactly the last good copy. It counts as a clean fetch.
	NotModified bool
	// Entries the source lists, when it answered 200 and was parsed.
	Entries []moderation.Entry
	// Validators to send next time, from this response.
	Validators Validators
}

// Outcome says what an Observation did.
type Outcome struct {
	// Applied: the fetch was clean (200 within the shrink limit, or 304)
	// and the effective copy now follows it.
	Applied bool
	// Held says why a 200 was not applied; the last good copy stays.
	Held string
	// Error repeats Observation.Err (or a limit the Tracker enforces).
	Error string
	// Retracted are the domains this observation removed, after
	// MinCleanFetches clean fetches without them.
	Retracted []string
}

// EffectiveEntry is an entry in force for a source.
type EffectiveEntry struct {
	moderation.Entry
	// Missing counts the clean fetches in a row that no longer listed the
	// domain; 0 when the source lists it.
	Missing int
	// Needed is MinCleanFetches: at Missing == Needed the entry goes.
	Needed int
}

// RetractionPending reports whether the source has dropped the entry and
// it is only kept while the removal is confirmed.
func (e EffectiveEntry) RetractionPending() bool { return e.Missing > 0 }

// Note says, for status and provenance, why a dropped entry still applies.
func (e EffectiveEntry) Note() string {
	if e.Missing == 0 {
		return ""
	}
	return fmt.Sprintf("retraction pending %d/%d", e.Missing, e.Needed)
}

// SourceStatus is a source's state in the shape of the API's SourceStatus
// (without Kubernetes types: the controller converts).
type SourceStatus struct {
	Name            string
	LastFetchTime   time.Time
	LastSuccessTime time.Time
	ETag            string
	// Entries listed by the source's last good copy.
	Entries int
	// PendingRetractions are entries the source dropped that still apply.
	PendingRetractions int
	// Error of the last fetch, cleared by a clean one.
	Error string
	// Held says why the last 200 was not applied.
	Held string
	// Replacing: the source names another list than the copy in force (its
	// URL or format changed) and the new one has not been fetched cleanly
	// yet. The copy of the previous list stays in force until it is.
	Replacing bool
	// Unsaved: the source had a good copy that was not saved across a
	// restart (the state was over its budget, see SaveWithin). Nothing of
	// it is in force: its policy must not be computed until it is fetched
	// again, or its entries would be retracted for nothing.
	Unsaved bool
}

// Tracker keeps, per source, the last good copy and the retraction
// counters, and decides what a new fetch changes. It holds no connections
// and does no I/O: feed it Observations, read Effective and Status, save
// it with json.Marshal and restore it with json.Unmarshal. Safe for
// concurrent use.
type Tracker struct {
	// MaxEntries bounds the entries kept per source; a fetch with more is
	// treated as a failed one. 0 means DefaultMaxTrackedEntries.
	MaxEntries int

	mu      sync.Mutex
	sources map[string]*sourceState
	// version counts changes, so that whoever saves the state can tell it
	// changed without serialising it.
	version uint64
}

type sourceState struct {
	good        bool // a clean copy has been applied at least once
	entries     []moderation.Entry
	pending     []pending // sorted by domain
	validators  Validators
	lastFetch   time.Time
	lastSuccess time.Time
	err, held   string
	needed      int
	// replace: the next clean 200 replaces what is in force wholesale,
	// neither judged against it (another list would look like a shrink)
	// nor asked for with its validators (they belong to the other list).
	// Set when the source's URL or format changes, and for unsaved copies.
	replace bool
	// unsaved: a good copy existed but was not saved across a restart.
	unsaved bool
}

type pending struct {
	entry   moderation.Entry
	missing int
}

// NewTracker returns an empty Tracker.
func NewTracker() *Tracker { return &Tracker{} }

func (t *Tracker) maxEntries() int {
	if t.MaxEntries > 0 {
		return t.MaxEntries
	}
	return DefaultMaxTrackedEntries
}

func (t *Tracker) state(name string) *sourceState {
	if t.sources == nil {
		t.sources = map[string]*sourceState{}
	}
	s := t.sources[name]
	if s == nil {
		s = &sourceState{}
		t.sources[name] = s
	}
	return s
}

func (r Retraction) normalized() Retraction {
	if r.MinCleanFetches < 1 {
		r.MinCleanFetches = 1
	}
	if r.MaxShrinkPercent < 0 {
		r.MaxShrinkPercent = 0
	}
	return r
}

// Observe records one fetch of a source and applies it if the rules allow:
//
//   - a failed fetch changes nothing but the error (an outage is never a
//     retraction) and does not count towards removals;
//   - a 304 is a clean fetch of the last good copy;
//   - a 200 that shrinks the source by more than MaxShrinkPercent is held:
//     the last good copy stays, validators are not updated (so the next
//     fetch gets the whole body again and is judged again), nothing counts;
//   - a clean 200 replaces the source's listing; a domain it no longer
//     lists stays in force until MinCleanFetches clean fetches in a row
//     have not listed it, and a domain listed again resets its count.
//
// A changed entry (say suspend → silence, or an explicit noop) applies at
// once: that is the source saying something, not a silence.
func (t *Tracker) Observe(name string, obs Observation, r Retraction) Outcome {
	r = r.normalized()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.version++
	s := t.state(name)
	s.needed = r.MinCleanFetches
	s.lastFetch = obs.Time

	if obs.Err != nil {
		s.err = clip(obs.Err.Error())
		return Outcome{Error: s.err}
	}
	obs.Validators = bounded(obs.Validators)
	if obs.NotModified {
		if !s.good || s.replace {
			s.err = "the source answered 304 Not Modified but no earlier copy of this list is kept"
			return Outcome{Error: s.err}
		}
		s.err, s.held = "", ""
		s.lastSuccess = obs.Time
		if obs.Validators.ETag != "" {
			s.validators.ETag = obs.Validators.ETag
		}
		if obs.Validators.LastModified != "" {
			s.validators.LastModified = obs.Validators.LastModified
		}
		return Outcome{Applied: true, Retracted: s.advance(nil)}
	}

	entries := dedupe(obs.Entries)
	if len(entries) > t.maxEntries() {
		s.err = fmt.Sprintf("the source lists %d entries, above the %d kept per source", len(entries), t.maxEntries())
		return Outcome{Error: s.err}
	}
	if s.replace {
		return s.replaceWith(entries, obs)
	}
	if prev := len(s.entries); s.good && shrinksTooMuch(prev, len(entries), r.MaxShrinkPercent) {
		s.err = ""
		s.held = fmt.Sprintf("held: %d → %d entries, shrank %s > %d%%", prev, len(entries), percent(prev-len(entries), prev), r.MaxShrinkPercent)
		return Outcome{Held: s.held}
	}

	listed := make(map[string]bool, len(entries))
	for _, e := range entries {
		listed[e.Domain] = true
	}
	// What the source listed last time and no longer does starts its
	// count now; advance counts this fetch for it and for older ones.
	for _, e := range s.entries {
		if !listed[e.Domain] {
			s.pending = append(s.pending, pending{entry: e})
		}
	}
	slices.SortFunc(s.pending, func(a, b pending) int { return strings.Compare(a.entry.Domain, b.entry.Domain) })
	retracted := s.advance(listed)

	s.entries = entries
	s.good = true
	s.validators = obs.Validators
	s.lastSuccess = obs.Time
	s.err, s.held = "", ""
	return Outcome{Applied: true, Retracted: retracted}
}

// replaceWith applies a clean copy of a list that replaces what is in
// force: another list (a changed URL), or one whose copy was not saved. The
// previous entries go at once, as the previous list's do when a source is
// removed: the new list is the source now.
func (s *sourceState) replaceWith(entries []moderation.Entry, obs Observation) Outcome {
	listed := make(map[string]bool, len(entries))
	for _, e := range entries {
		listed[e.Domain] = true
	}
	var retracted []string
	for _, e := range s.entries {
		if !listed[e.Domain] {
			retracted = append(retracted, e.Domain)
		}
	}
	for _, p := range s.pending {
		if !listed[p.entry.Domain] {
			retracted = append(retracted, p.entry.Domain)
		}
	}
	slices.Sort(retracted)
	s.entries, s.pending = entries, nil
	s.good, s.replace, s.unsaved = true, false, false
	s.validators = obs.Validators
	s.lastSuccess = obs.Time
	s.err, s.held = "", ""
	return Outcome{Applied: true, Retracted: retracted}
}

func bounded(v Validators) Validators {
	if len(v.ETag) > maxValidator {
		v.ETag = ""
	}
	if len(v.LastModified) > maxValidator {
		v.LastModified = ""
	}
	return v
}

// advance counts one clean fetch for every pending retraction: entries
// listed again leave the list (their count is reset by leaving it), the
// others gain one, and those that reach s.needed are retracted.
func (s *sourceState) advance(listed map[string]bool) []string {
	var retracted []string
	kept := s.pending[:0]
	for _, p := range s.pending {
		if listed[p.entry.Domain] {
			continue
		}
		p.missing++
		if p.missing >= s.needed {
			retracted = append(retracted, p.entry.Domain)
			continue
		}
		kept = append(kept, p)
	}
	clear(s.pending[len(kept):])
	s.pending = kept
	return retracted
}

// shrinksTooMuch compares in integers so that "exactly at the limit" is
// exact: 100 → 80 with a 20% limit applies.
func shrinksTooMuch(prev, now, maxPercent int) bool {
	if prev == 0 || now >= prev {
		return false
	}
	return (prev-now)*100 > maxPercent*prev
}

func percent(part, whole int) string {
	if (part*100)%whole == 0 {
		return fmt.Sprintf("%d%%", part*100/whole)
	}
	return fmt.Sprintf("%.1f%%", float64(part)*100/float64(whole))
}

// dedupe keeps the first entry for each domain, in order.
func dedupe(in []moderation.Entry) []moderation.Entry {
	seen := make(map[string]bool, len(in))
	out := make([]moderation.Entry, 0, len(in))
	for _, e := range in {
		if seen[e.Domain] {
			continue
		}
		seen[e.Domain] = true
		out = append(out, e)
	}
	return out
}

// clip keeps maxMessage bytes of an error and marks the cut.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	return textcut.Prefix(s, maxMessage) + textcut.Ellipsis
}

// Effective returns the entries in force for a source, sorted by domain:
// the last good copy plus the dropped entries whose retraction is not yet
// confirmed. Nil for a source never fetched cleanly.
func (t *Tracker) Effective(name string) []EffectiveEntry {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[name]
	if s == nil {
		return nil
	}
	out := make([]EffectiveEntry, 0, len(s.entries)+len(s.pending))
	for _, e := range s.entries {
		out = append(out, EffectiveEntry{Entry: e, Needed: s.needed})
	}
	for _, p := range s.pending {
		out = append(out, EffectiveEntry{Entry: p.entry, Missing: p.missing, Needed: s.needed})
	}
	slices.SortFunc(out, func(a, b EffectiveEntry) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// Validators returns what the next fetch of a source should send: those
// of the last applied copy, so that a held copy is fetched and judged again.
func (t *Tracker) Validators(name string) Validators {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.sources[name]; s != nil && s.good && !s.replace {
		return s.validators
	}
	return Validators{}
}

// Status returns a source's status.
func (t *Tracker) Status(name string) SourceStatus {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := SourceStatus{Name: name}
	if s := t.sources[name]; s != nil {
		st.LastFetchTime, st.LastSuccessTime = s.lastFetch, s.lastSuccess
		st.ETag = s.validators.ETag
		st.Entries = len(s.entries)
		st.PendingRetractions = len(s.pending)
		st.Error, st.Held = s.err, s.held
		st.Replacing = s.replace && s.good
		st.Unsaved = s.unsaved
	}
	return st
}

// Sources lists the tracked sources, sorted.
func (t *Tracker) Sources() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.sources))
	for n := range t.sources {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Retain forgets every source not named: a source removed from the spec
// must not keep its entries (and its share of the saved state) forever.
func (t *Tracker) Retain(names ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for n := range t.sources {
		if !slices.Contains(names, n) {
			delete(t.sources, n)
			t.version++
		}
	}
}

// Rebase says the source now names another list (its URL or format
// changed). What is in force stays in force, so that an outage at the new
// address retracts nothing, until the new list is fetched cleanly once; that
// copy then replaces it wholesale (see Observe). A source not tracked yet
// needs nothing.
func (t *Tracker) Rebase(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[name]
	if s == nil {
		return
	}
	s.replace = true
	s.validators = Validators{}
	s.err, s.held = "", ""
	t.version++
}
