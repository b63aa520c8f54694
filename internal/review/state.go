package review

// The applied state's saved form: compact JSON, gzip-compressed, cut into
// chunks that each fit a ConfigMap. A 100,000-entry policy compresses to
// well under a megabyte, but nothing bounds a policy's size below what
// several ConfigMaps hold, so the controller writes as many chunks as it
// takes, up to MaxChunks, and refuses clearly beyond.

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// State is what a reviewed policy must not forget across a restart.
type State struct {
	// Applied is what the servers were given, sorted by domain.
	Applied []Held
	// Pending is the change set waiting for approval, if any: applying it
	// must not depend on a computation that may have moved on.
	Pending *Pending
	// Rejected are the hashes of the latest rejected change sets, newest
	// last (at most MaxRejected): such a set is not proposed again.
	Rejected []string
}

// Pending is a proposed change set and the proposal that carries it.
type Pending struct {
	Proposal string
	ChangeSet
}

// MaxRejected bounds the rejected hashes remembered.
const MaxRejected = 32

// Reject remembers a rejected hash.
func (s *State) Reject(hash string) {
	if slices.Contains(s.Rejected, hash) {
		return
	}
	s.Rejected = append(s.Rejected, hash)
	if n := len(s.Rejected) - MaxRejected; n > 0 {
		s.Rejected = slices.Delete(s.Rejected, 0, n)
	}
}

// WasRejected reports whether a change set was rejected.
func (s *State) WasRejected(hash string) bool { return slices.Contains(s.Rejected, hash) }

const (
	// ChunkSize is the most one ConfigMap holds of the saved state: the
	// API server refuses objects over about 1.5 MiB, and etcd warns from
	// 1 MiB.
	ChunkSize = 900 << 10
	// MaxChunks bounds the ConfigMaps a policy's state takes: 16 × 900
	// KiB compressed is several million entries.
	MaxChunks = 16
	// maxPlain bounds what Load decompresses.
	maxPlain     = 256 << 20
	stateVersion = 1
)

// ErrTooLarge is a state that does not fit MaxChunks ConfigMaps.
var ErrTooLarge = errors.New("the applied state is too large to save")

// stateJSON is the saved form: entries as short objects, actions by name
// (not by their Go value, which may be reordered).
type stateJSON struct {
	V        int          `json:"v"`
	Applied  []entryJSON  `json:"applied,omitempty"`
	Pending  *pendingJSON `json:"pending,omitempty"`
	Rejected []string     `json:"rejected,omitempty"`
}

type pendingJSON struct {
	Proposal string       `json:"proposal"`
	Hash     string       `json:"hash"`
	Changes  []changeJSON `json:"changes"`
}

type changeJSON struct {
	Domain string                `json:"d"`
	Before *entryJSON            `json:"b,omitempty"`
	After  *entryJSON            `json:"a,omitempty"`
	Kind   v1alpha1.ReviewChange `json:"k"`
	Why    string                `json:"w,omitempty"`
}

// entryJSON: d domain (empty inside a change), a action (omitted for
// suspend), m reject media, r reject reports, o obfuscate, c public
// comment, x cluster only.
type entryJSON struct {
	D string `json:"d,omitempty"`
	A string `json:"a,omitempty"`
	M bool   `json:"m,omitempty"`
	R bool   `json:"r,omitempty"`
	O bool   `json:"o,omitempty"`
	C string `json:"c,omitempty"`
	X bool   `json:"x,omitempty"`
}

func toJSON(h Held) entryJSON {
	e := entryJSON{D: h.Domain, M: h.RejectMedia, R: h.RejectReports, O: h.Obfuscate, C: h.PublicComment, X: h.ClusterOnly}
	if h.Action != moderation.Suspend {
		e.A = h.Action.String()
	}
	return e
}

func fromJSON(e entryJSON) (Held, error) {
	h := Held{Entry: moderation.Entry{Domain: e.D, Action: moderation.Suspend, RejectMedia: e.M, RejectReports: e.R, Obfuscate: e.O, PublicComment: e.C}, ClusterOnly: e.X}
	if e.A != "" {
		a, err := moderation.ParseAction(e.A)
		if err != nil {
			return Held{}, err
		}
		h.Action = a
	}
	return h, nil
}

// Save serialises the state and cuts it into chunks of at most ChunkSize
// bytes; digest identifies the whole, so that Load can tell chunks of two
// different saves apart.
func Save(s State) (chunks [][]byte, digest string, err error) {
	out := stateJSON{V: stateVersion, Applied: make([]entryJSON, len(s.Applied)), Rejected: s.Rejected}
	for i, h := range s.Applied {
		out.Applied[i] = toJSON(h)
	}
	if p := s.Pending; p != nil {
		out.Pending = &pendingJSON{Proposal: p.Proposal, Hash: p.Hash, Changes: make([]changeJSON, len(p.Changes))}
		for i, c := range p.Changes {
			cj := changeJSON{Domain: c.Domain, Kind: c.Kind, Why: c.Why}
			if c.Before != nil {
				b := toJSON(Held{Entry: *c.Before})
				b.D = ""
				cj.Before = &b
			}
			if c.After != nil {
				a := toJSON(Held{Entry: *c.After, ClusterOnly: c.ClusterOnly})
				a.D = ""
				cj.After = &a
			}
			out.Pending.Changes[i] = cj
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(out); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	data := buf.Bytes()
	if len(data) > ChunkSize*MaxChunks {
		return nil, "", fmt.Errorf("%w: %d entries take %d KiB compressed, more than the %d ConfigMaps of %d KiB it may use",
			ErrTooLarge, len(s.Applied), len(data)>>10, MaxChunks, ChunkSize>>10)
	}
	for len(data) > 0 {
		n := min(len(data), ChunkSize)
		chunks = append(chunks, data[:n:n])
		data = data[n:]
	}
	sum := sha256.Sum256(buf.Bytes())
	return chunks, "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Load restores a state from the chunks Save wrote, in order, checking
// them against digest.
func Load(chunks [][]byte, digest string) (State, error) {
	data := bytes.Join(chunks, nil)
	if sum := sha256.Sum256(data); "sha256:"+hex.EncodeToString(sum[:]) != digest {
		return State{}, errors.New("the saved chunks do not add up to the saved digest (a save was interrupted)")
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return State{}, err
	}
	plain, err := io.ReadAll(io.LimitReader(zr, maxPlain+1))
	if err != nil {
		return State{}, err
	}
	if len(plain) > maxPlain {
		return State{}, fmt.Errorf("more than %d MiB uncompressed", maxPlain>>20)
	}
	var in stateJSON
	if err := json.Unmarshal(plain, &in); err != nil {
		return State{}, err
	}
	if in.V != stateVersion {
		return State{}, fmt.Errorf("saved state version %d, this operator reads %d", in.V, stateVersion)
	}
	s := State{Applied: make([]Held, len(in.Applied)), Rejected: in.Rejected}
	for i, e := range in.Applied {
		if s.Applied[i], err = fromJSON(e); err != nil {
			return State{}, err
		}
	}
	if !slices.IsSortedFunc(s.Applied, func(a, b Held) int { return strings.Compare(a.Domain, b.Domain) }) {
		return State{}, errors.New("the saved entries are not in domain order")
	}
	if p := in.Pending; p != nil {
		s.Pending = &Pending{Proposal: p.Proposal, ChangeSet: ChangeSet{Hash: p.Hash, Changes: make([]Change, len(p.Changes))}}
		for i, cj := range p.Changes {
			c := Change{Domain: cj.Domain, Kind: cj.Kind, Why: cj.Why}
			if cj.Before != nil {
				h, err := fromJSON(*cj.Before)
				if err != nil {
					return State{}, err
				}
				h.Domain = cj.Domain
				c.Before = &h.Entry
			}
			if cj.After != nil {
				h, err := fromJSON(*cj.After)
				if err != nil {
					return State{}, err
				}
				h.Domain = cj.Domain
				c.After, c.ClusterOnly = &h.Entry, h.ClusterOnly
			}
			s.Pending.Changes[i] = c
		}
		if hashChanges(s.Pending.Changes) != p.Hash {
			return State{}, errors.New("the saved pending change set does not match its hash")
		}
	}
	return s, nil
}
