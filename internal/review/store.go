package review

// Where a reviewed policy's state is saved: ConfigMaps it owns, in its
// namespace. The layout is here, without a Kubernetes client, because two
// programs read it: the operator (its applied state across a restart)
// and `fedcommons policy review --changes` (a pending change set too large
// for its PolicyProposal). Both must agree on every name and key.
//
// The head <policy>-review holds the digest, the chunk count and the first
// chunk; a state over one chunk continues in <policy>-review-<digest>-<i>.
// Chunks are named by digest so that a save interrupted half-way leaves
// the previous head and its chunks intact: the old chunks are deleted only
// once the new head is written.

import (
	"fmt"
	"strconv"
)

// Keys of the saved state's ConfigMaps.
const (
	// StateKey (BinaryData) is a chunk of Save's output.
	StateKey = "state.json.gz"
	// DigestKey (Data, head only) is Save's digest.
	DigestKey = "digest"
	// ChunksKey (Data, head only) is how many chunks there are.
	ChunksKey = "chunks"
)

// HeadName is the name of a policy's head ConfigMap.
func HeadName(policy string) string { return policy + "-review" }

// ChunkName is the name of chunk i (from 1) of the state saved as digest.
func ChunkName(policy, digest string, i int) string {
	return fmt.Sprintf("%s-review-%s-%d", policy, ShortHash(digest), i)
}

// ShortHash is the first 10 hex digits of a "sha256:…" hash.
func ShortHash(h string) string {
	if len(h) < 17 {
		return h
	}
	return h[7:17]
}

// Stored is one ConfigMap's name and content, as the operator writes it.
type Stored struct {
	Name   string
	Data   map[string]string
	Binary map[string][]byte
}

// Layout is what Save's output becomes: the ConfigMaps to write, in the
// order to write them (the chunks, then the head that names them).
func Layout(policy string, chunks [][]byte, digest string) []Stored {
	out := make([]Stored, 0, len(chunks))
	for i := 1; i < len(chunks); i++ {
		out = append(out, Stored{Name: ChunkName(policy, digest, i), Binary: map[string][]byte{StateKey: chunks[i]}})
	}
	return append(out, Stored{
		Name:   HeadName(policy),
		Data:   map[string]string{DigestKey: digest, ChunksKey: strconv.Itoa(len(chunks))},
		Binary: map[string][]byte{StateKey: chunks[0]},
	})
}

// Getter reads one ConfigMap of the policy's namespace; found is false
// when there is no such ConfigMap.
type Getter func(name string) (data map[string]string, binary map[string][]byte, found bool, err error)

// Saved is a state as read back, with what names its ConfigMaps.
type Saved struct {
	State  State
	Digest string
	Chunks int
}

// ReadState reads and decodes policy's saved state through get: the head,
// then each chunk it names (at most MaxChunks). found is false when there
// is no head. A missing chunk is an error, never an empty state.
func ReadState(get Getter, policy string) (saved Saved, found bool, err error) {
	head := HeadName(policy)
	data, binary, found, err := get(head)
	if err != nil || !found {
		return Saved{}, false, err
	}
	digest := data[DigestKey]
	n, err := strconv.Atoi(data[ChunksKey])
	if err != nil || n < 1 || n > MaxChunks {
		return Saved{}, false, fmt.Errorf("ConfigMap %s: %s %q is not a chunk count from 1 to %d", head, ChunksKey, data[ChunksKey], MaxChunks)
	}
	chunks := [][]byte{binary[StateKey]}
	for i := 1; i < n; i++ {
		name := ChunkName(policy, digest, i)
		_, b, ok, err := get(name)
		switch {
		case err != nil:
			return Saved{}, false, fmt.Errorf("ConfigMap %s: %w", name, err)
		case !ok:
			return Saved{}, false, fmt.Errorf("ConfigMap %s: not found (the state named by %s is incomplete)", name, head)
		}
		chunks = append(chunks, b[StateKey])
	}
	st, err := Load(chunks, digest)
	if err != nil {
		return Saved{}, false, fmt.Errorf("ConfigMap %s: %w", head, err)
	}
	return Saved{State: st, Digest: digest, Chunks: n}, true, nil
}
