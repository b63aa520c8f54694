package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
)

// DefaultRefreshInterval is how often a source is fetched when its policy
// does not say.
const DefaultRefreshInterval = 6 * time.Hour

// DefaultMaxSavedBytes bounds what Subscriptions.Save returns. The state
// lives in a ConfigMap, which the API server refuses above 1 MiB of data;
// requests carry binaryData in base64 (a third more) next to managedFields,
// so the budget stays well under the limit rather than at it.
const DefaultMaxSavedBytes = 768 << 10

// retryUnsaved is how soon a source whose copy was not saved is fetched
// again after a failure: its policy waits for it, so its usual interval
// would be too long, and five minutes is the shortest interval the API
// allows out of courtesy to publishers.
const retryUnsaved = 5 * time.Minute

// minWait is the shortest wait Update proposes before the next pass.
const minWait = time.Minute

// Subscription is one url source of a policy, as Subscriptions fetches it.
type Subscription struct {
	Source
	// Interval between fetches; 0 means DefaultRefreshInterval.
	Interval time.Duration
}

func (s Subscription) interval() time.Duration {
	if s.Interval > 0 {
		return s.Interval
	}
	return DefaultRefreshInterval
}

// fingerprint names the list a source reads: another URL or format is
// another list, even under the same source name.
func (s Subscription) fingerprint() string { return s.URL + "|" + string(s.Format) }

// Subscriptions owns one policy's url sources from one pass to the next
// and across restarts: the Tracker (each source's last good copy and
// pending retractions), which list each source was last fetched from, and
// when each is due again. It does the I/O of fetching through a Fetcher;
// saving is left to the caller with Save and Load, as bytes. Not safe for
// concurrent use: one policy is reconciled by one worker at a time.
type Subscriptions struct {
	// MaxSavedBytes bounds what Save returns; 0 means DefaultMaxSavedBytes.
	MaxSavedBytes int
	// fetchDeadline replaces PolicyFetchDeadline in tests.
	fetchDeadline time.Duration

	tracker      *Tracker
	fingerprints map[string]string
	// changes counts changes to fingerprints; with the Tracker's version it
	// tells whether anything changed since savedAt.
	changes uint64
	savedAt uint64
}

// NewSubscriptions returns empty Subscriptions.
func NewSubscriptions() *Subscriptions {
	return &Subscriptions{tracker: NewTracker(), fingerprints: map[string]string{}}
}

func (s *Subscriptions) version() uint64 {
	s.tracker.mu.Lock()
	defer s.tracker.mu.Unlock()
	return s.tracker.version + s.changes
}

// SourceUpdate is one source after Update.
type SourceUpdate struct {
	Name string
	// Fetch is what the fetch did, when the source was due; nil otherwise.
	Fetch *FetchResult
	// Status and Effective are the source's state and the entries in force
	// for it (the last good copy and the retractions not yet confirmed).
	Status    SourceStatus
	Effective []EffectiveEntry
}

// Update is what Subscriptions.Update did.
type Update struct {
	// Sources in the order they were given.
	Sources []SourceUpdate
	// Dropped names the sources forgotten because they were no longer
	// given (removed or renamed in the spec).
	Dropped []string
	// Next is how long until a source is due again (at least a minute); 0
	// when there are no sources.
	Next time.Duration
}

// Update brings the subscriptions in line with subs and fetches those due:
// a source never fetched, one that now names another list (its previous
// copy stays in force until the new list is fetched cleanly, see
// Tracker.Rebase), one whose copy was not saved across a restart, and one
// whose interval has passed. A source no longer in subs is forgotten with
// its entries: its removal is the moderator's decision.
func (s *Subscriptions) Update(ctx context.Context, f *Fetcher, subs []Subscription, now time.Time) Update {
	var u Update
	names := make([]string, len(subs))
	for i, sub := range subs {
		names[i] = sub.Name
	}
	known := s.tracker.Sources()
	for name := range s.fingerprints {
		known = append(known, name)
	}
	slices.Sort(known)
	for _, name := range slices.Compact(known) {
		if !slices.Contains(names, name) {
			u.Dropped = append(u.Dropped, name)
		}
	}
	for _, name := range u.Dropped {
		if _, ok := s.fingerprints[name]; ok {
			delete(s.fingerprints, name)
			s.changes++
		}
	}
	s.tracker.Retain(names...)

	// Bookkeeping first, in order; then the fetches that are due run
	// concurrently under one deadline for the whole policy, so a policy
	// with many slow sources costs one deadline, not one per source.
	u.Sources = make([]SourceUpdate, len(subs))
	var due []int
	for i, sub := range subs {
		fp := sub.fingerprint()
		moved := s.fingerprints[sub.Name] != fp
		if moved {
			if s.fingerprints[sub.Name] != "" {
				s.tracker.Rebase(sub.Name)
			}
			s.fingerprints[sub.Name] = fp
			s.changes++
		}
		u.Sources[i] = SourceUpdate{Name: sub.Name, Status: s.tracker.Status(sub.Name)}
		if moved || s.due(sub, u.Sources[i].Status, now) {
			due = append(due, i)
		} else {
			u.Sources[i].Effective = s.tracker.Effective(sub.Name)
		}
	}
	// Sources whose last fetch failed go last: a community's unreachable
	// sources must not take the slots of its working ones pass after pass.
	slices.SortStableFunc(due, func(a, b int) int {
		return cmpBool(u.Sources[a].Status.Error != "", u.Sources[b].Status.Error != "")
	})
	s.fetchAll(ctx, f, subs, due, u.Sources)
	for i, sub := range subs {
		if next := max(s.wait(sub, u.Sources[i].Status, now), minWait); u.Next == 0 || next < u.Next {
			u.Next = next
		}
	}
	return u
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// PolicyFetchDeadline bounds all the fetches of one policy's pass together.
// Fetches still running then are cancelled and recorded as failed (their
// last good copies stay in force) and retried on the next pass: a
// community's slow or unreachable sources hold a reconcile worker for at
// most this long, whatever their number.
const PolicyFetchDeadline = 45 * time.Second

// fetchConcurrency is how many of one policy's sources are fetched at
// once: enough that a policy at the 32-source cap finishes within the
// deadline when each source takes a few seconds, few enough that one
// policy holds at most four bodies (each capped by the Fetcher) in memory
// and four connections at a time.
const fetchConcurrency = 4

// fetchAll fetches subs[i] for every i in due, fetchConcurrency at a time,
// and records each result in out[i]. The Tracker is safe for concurrent
// use and each fetch touches only its own source.
func (s *Subscriptions) fetchAll(ctx context.Context, f *Fetcher, subs []Subscription, due []int, out []SourceUpdate) {
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, s.deadline())
	defer cancel()
	sem := make(chan struct{}, fetchConcurrency)
	var wg sync.WaitGroup
	for _, i := range due {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if ctx.Err() != nil {
				// The deadline passed before this source's turn: it was
				// not tried, which is no failure. It stays due, keeps
				// its copy in force, and is fetched early next pass.
				out[i].Effective = s.tracker.Effective(subs[i].Name)
				return
			}
			res := FetchSource(ctx, f, s.tracker, subs[i].Source)
			out[i].Fetch = &res
			out[i].Status, out[i].Effective = res.Status, res.Effective
		}()
	}
	wg.Wait()
}

func (s *Subscriptions) deadline() time.Duration {
	if s.fetchDeadline > 0 {
		return s.fetchDeadline
	}
	return PolicyFetchDeadline
}

func (s *Subscriptions) due(sub Subscription, st SourceStatus, now time.Time) bool {
	return st.LastFetchTime.IsZero() || s.wait(sub, st, now) <= 0
}

// wait is how long until the source is due.
func (s *Subscriptions) wait(sub Subscription, st SourceStatus, now time.Time) time.Duration {
	interval := sub.interval()
	if st.Unsaved {
		interval = min(interval, retryUnsaved)
	}
	return interval - now.Sub(st.LastFetchTime)
}

// Saved is the state to keep across restarts, as Save returns it.
type Saved struct {
	// State is the Tracker's state (gzip-compressed JSON).
	State []byte
	// Fingerprints are the lists each source was fetched from (JSON).
	Fingerprints []byte
	// Unsaved names the sources whose copies did not fit the budget and are
	// left out of State: after a restart their policy waits until they are
	// fetched again.
	Unsaved []string
	// Size is len(State)+len(Fingerprints) and Budget the bound it met.
	Size, Budget int

	version uint64
}

// Save returns the state to keep, bounded by MaxSavedBytes, or ok false
// when nothing changed since the last Load or MarkSaved: a steady pass
// serialises nothing. Call MarkSaved once the state is written.
func (s *Subscriptions) Save() (saved Saved, ok bool, err error) {
	v := s.version()
	if v == s.savedAt {
		return Saved{}, false, nil
	}
	budget := s.MaxSavedBytes
	if budget <= 0 {
		budget = DefaultMaxSavedBytes
	}
	fps, err := json.Marshal(s.fingerprints)
	if err != nil {
		return Saved{}, false, err
	}
	state, unsaved, err := s.tracker.SaveWithin(budget - len(fps))
	if err != nil {
		return Saved{}, false, err
	}
	return Saved{State: state, Fingerprints: fps, Unsaved: unsaved, Size: len(state) + len(fps), Budget: budget, version: v}, true, nil
}

// MarkSaved records that saved was written. A write that failed is not
// marked, and the next Save tries again.
func (s *Subscriptions) MarkSaved(saved Saved) { s.savedAt = saved.version }

// Load restores what Save returned (either part may be empty). A state it
// cannot read completely is refused as a whole: half a state would look
// like retractions.
func (s *Subscriptions) Load(state, fingerprints []byte) error {
	fps := map[string]string{}
	if len(fingerprints) > 0 {
		if err := json.Unmarshal(fingerprints, &fps); err != nil {
			return fmt.Errorf("reading saved source fingerprints: %w", err)
		}
	}
	if len(state) > 0 {
		if err := s.tracker.Load(state); err != nil {
			return err
		}
	}
	s.fingerprints = fps
	s.savedAt = s.version()
	return nil
}
