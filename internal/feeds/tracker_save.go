package feeds

// The Tracker's saved form: compact JSON, gzip-compressed for a
// ConfigMap's binaryData, bounded by SaveWithin.

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Save returns the state as gzip-compressed JSON, for a ConfigMap's
// binaryData: blocklists compress about fourfold.
func (t *Tracker) Save() ([]byte, error) {
	data, _, err := t.SaveWithin(math.MaxInt)
	return data, err
}

// SaveWithin is Save bounded to budget bytes. When the whole state does
// not fit, the largest sources are saved without their copies, one after
// the other until it fits, and named in unsaved: loaded again, such a
// source has nothing in force and says so (SourceStatus.Unsaved), so that
// its policy waits for a fresh fetch instead of merging without it. What
// this Tracker holds in memory is not changed. The state is serialised
// once, and compressed once more per source left out.
func (t *Tracker) SaveWithin(budget int) (data []byte, unsaved []string, err error) {
	t.mu.Lock()
	parts := make(map[string]json.RawMessage, len(t.sources))
	stubs := make(map[string]json.RawMessage, len(t.sources))
	for name, s := range t.sources {
		if parts[name], err = json.Marshal(s.toJSON()); err != nil {
			break
		}
		if stubs[name], err = json.Marshal(s.stubJSON()); err != nil {
			break
		}
	}
	t.mu.Unlock()
	if err != nil {
		return nil, nil, err
	}
	if data, err = compress(parts, budget); err == nil || !errors.Is(err, errOverBudget) {
		return data, nil, err
	}
	largest := make([]string, 0, len(parts))
	for name := range parts {
		largest = append(largest, name)
	}
	slices.SortFunc(largest, func(a, b string) int {
		if d := len(parts[b]) - len(parts[a]); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, name := range largest {
		parts[name] = stubs[name]
		unsaved = append(unsaved, name)
		if data, err = compress(parts, budget); err == nil || !errors.Is(err, errOverBudget) {
			return data, unsaved, err
		}
	}
	return nil, unsaved, fmt.Errorf("the feed state takes more than the %s budget even without any source's entries", byteSize(int64(budget)))
}

// errOverBudget is compress giving up: the compressed state outgrew its
// budget.
var errOverBudget = errors.New("over budget")

// compress writes {"v":…,"sources":{…}} straight into the compressor,
// sources in name order, and gives up as soon as the compressed output
// outgrows limit. A state that does not fit (20,000 entries with long
// comments serialise to 20 MB) then costs neither a second serialised copy
// nor a compressed one of several MiB, on each of the tries SaveWithin
// makes.
func compress(sources map[string]json.RawMessage, limit int) ([]byte, error) {
	out := &cappedBuffer{limit: limit}
	zw := gzip.NewWriter(out)
	w := errWriter{w: zw}
	w.printf(`{"v":%d`, trackerVersion)
	if len(sources) > 0 {
		w.printf(`,"sources":{`)
		for i, name := range slices.Sorted(maps.Keys(sources)) {
			key, err := json.Marshal(name)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				w.write([]byte{','})
			}
			w.write(key)
			w.write([]byte{':'})
			w.write(sources[name])
		}
		w.write([]byte{'}'})
	}
	w.write([]byte{'}'})
	if w.err != nil {
		return nil, w.err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.buf.Bytes(), nil
}

// errWriter keeps the first error of a series of writes.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) write(p []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(p)
	}
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// cappedBuffer is a bytes.Buffer that refuses to grow past limit bytes.
type cappedBuffer struct {
	buf   bytes.Buffer
	limit int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.limit {
		return 0, errOverBudget
	}
	return c.buf.Write(p)
}

// maxSavedState bounds what Load decompresses: the state of 32 sources at
// the default entry limit, with room to spare.
const maxSavedState = 64 << 20

// Load restores a state written by Save (or, for convenience, plain JSON
// from MarshalJSON).
func (t *Tracker) Load(data []byte) error {
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		return t.UnmarshalJSON(data)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("reading saved feed state: %w", err)
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxSavedState+1))
	if err != nil {
		return fmt.Errorf("reading saved feed state: %w", err)
	}
	if len(plain) > maxSavedState {
		return fmt.Errorf("reading saved feed state: more than %s uncompressed", byteSize(maxSavedState))
	}
	return t.UnmarshalJSON(plain)
}

// trackerVersion is the version of the serialised form.
const trackerVersion = 1

// The serialised form is compact because it lives in a ConfigMap: short
// keys, actions by name (not by their Go value, which may be reordered),
// empty fields omitted.
type trackerJSON struct {
	V       int                   `json:"v"`
	Sources map[string]sourceJSON `json:"sources,omitempty"`
}

type sourceJSON struct {
	Good        bool        `json:"good,omitempty"`
	Entries     []entryJSON `json:"entries,omitempty"`
	Pending     []entryJSON `json:"pending,omitempty"`
	ETag        string      `json:"etag,omitempty"`
	LastMod     string      `json:"lastModified,omitempty"`
	LastFetch   time.Time   `json:"lastFetch,omitzero"`
	LastSuccess time.Time   `json:"lastSuccess,omitzero"`
	Error       string      `json:"error,omitempty"`
	Held        string      `json:"held,omitempty"`
	Needed      int         `json:"needed,omitempty"`
	Replace     bool        `json:"replace,omitempty"`
	Unsaved     bool        `json:"unsaved,omitempty"`
}

// entryJSON: d domain, a action (omitted for suspend, by far the most
// common), m reject media, r reject reports, o obfuscate, c public comment,
// p private comment, n missing count.
type entryJSON struct {
	D string `json:"d"`
	A string `json:"a,omitempty"`
	M bool   `json:"m,omitempty"`
	R bool   `json:"r,omitempty"`
	O bool   `json:"o,omitempty"`
	C string `json:"c,omitempty"`
	P string `json:"p,omitempty"`
	N int    `json:"n,omitempty"`
}

func toJSON(e moderation.Entry, missing int) entryJSON {
	a := e.Action.String()
	if e.Action == moderation.Suspend {
		a = ""
	}
	return entryJSON{D: e.Domain, A: a, M: e.RejectMedia, R: e.RejectReports, O: e.Obfuscate, C: e.PublicComment, P: e.PrivateComment, N: missing}
}

func fromJSON(j entryJSON) (moderation.Entry, error) {
	a, err := moderation.Suspend, error(nil)
	if j.A != "" {
		a, err = moderation.ParseAction(j.A)
	}
	if err != nil {
		return moderation.Entry{}, fmt.Errorf("entry %q: %w", j.D, err)
	}
	if j.D == "" {
		return moderation.Entry{}, fmt.Errorf("entry without a domain")
	}
	return moderation.Entry{Domain: j.D, Action: a, RejectMedia: j.M, RejectReports: j.R, Obfuscate: j.O, PublicComment: j.C, PrivateComment: j.P}, nil
}

func (s *sourceState) toJSON() sourceJSON {
	j := sourceJSON{
		Good: s.good, ETag: s.validators.ETag, LastMod: s.validators.LastModified,
		LastFetch: s.lastFetch, LastSuccess: s.lastSuccess, Error: s.err, Held: s.held, Needed: s.needed,
		Replace: s.replace, Unsaved: s.unsaved,
	}
	for _, e := range s.entries {
		j.Entries = append(j.Entries, toJSON(e, 0))
	}
	for _, p := range s.pending {
		j.Pending = append(j.Pending, toJSON(p.entry, p.missing))
	}
	return j
}

// stubJSON is the source without its copy, for a state over its budget:
// the times and the last error stay, and whether a copy was lost.
func (s *sourceState) stubJSON() sourceJSON {
	return sourceJSON{
		LastFetch: s.lastFetch, LastSuccess: s.lastSuccess, Error: s.err, Held: s.held, Needed: s.needed,
		Replace: true, Unsaved: s.good || s.unsaved,
	}
}

// MarshalJSON saves the whole state.
func (t *Tracker) MarshalJSON() ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := trackerJSON{V: trackerVersion, Sources: make(map[string]sourceJSON, len(t.sources))}
	for name, s := range t.sources {
		out.Sources[name] = s.toJSON()
	}
	return json.Marshal(out)
}

// UnmarshalJSON restores a state saved by MarshalJSON, replacing the
// current one. A state it cannot read completely is refused as a whole:
// half a state would look like retractions.
func (t *Tracker) UnmarshalJSON(data []byte) error {
	var in trackerJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("reading saved feed state: %w", err)
	}
	if in.V != trackerVersion {
		return fmt.Errorf("reading saved feed state: version %d, want %d", in.V, trackerVersion)
	}
	sources := make(map[string]*sourceState, len(in.Sources))
	for name, j := range in.Sources {
		s := &sourceState{
			good: j.Good, validators: Validators{ETag: j.ETag, LastModified: j.LastMod},
			lastFetch: j.LastFetch, lastSuccess: j.LastSuccess, err: j.Error, held: j.Held, needed: max(j.Needed, 1),
			replace: j.Replace, unsaved: j.Unsaved,
		}
		// The invariants Observe keeps: a domain appears once, either
		// listed or pending, and a pending one has been missed at least once.
		seen := map[string]bool{}
		for _, je := range j.Entries {
			e, err := fromJSON(je)
			if err == nil && seen[e.Domain] {
				err = fmt.Errorf("entry %q twice", e.Domain)
			}
			if err != nil {
				return fmt.Errorf("reading saved feed state of %s: %w", name, err)
			}
			seen[e.Domain] = true
			s.entries = append(s.entries, e)
		}
		for _, je := range j.Pending {
			e, err := fromJSON(je)
			if err == nil && seen[e.Domain] {
				err = fmt.Errorf("entry %q twice", e.Domain)
			}
			if err == nil && je.N < 1 {
				err = fmt.Errorf("pending entry %q missed %d times", e.Domain, je.N)
			}
			if err != nil {
				return fmt.Errorf("reading saved feed state of %s: %w", name, err)
			}
			seen[e.Domain] = true
			s.pending = append(s.pending, pending{entry: e, missing: je.N})
		}
		slices.SortFunc(s.pending, func(a, b pending) int { return strings.Compare(a.entry.Domain, b.entry.Domain) })
		sources[name] = s
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sources = sources
	t.version++
	return nil
}
