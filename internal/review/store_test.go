package review

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// mapStore is ConfigMaps by name, as Layout writes them.
type mapStore map[string]Stored

func (m mapStore) get(name string) (map[string]string, map[string][]byte, bool, error) {
	s, ok := m[name]
	return s.Data, s.Binary, ok, nil
}

// TestReadStateReadsWhatLayoutWrites: a state over several chunks comes
// back whole; a missing chunk or a bad count is an error, never "none".
func TestReadStateReadsWhatLayoutWrites(t *testing.T) {
	// Random-looking comments so that the state does not compress into
	// one chunk.
	st := State{Applied: make([]Held, 40000)}
	for i := range st.Applied {
		st.Applied[i] = Held{Entry: moderation.Entry{Domain: fmt.Sprintf("d%06d.example", i), Action: moderation.Suspend,
			PublicComment: fmt.Sprintf("%x", sha256.Sum256([]byte(fmt.Sprint(i))))}}
	}
	chunks, digest, err := Save(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 2 {
		t.Fatalf("%d chunk: the test needs several", len(chunks))
	}
	store := mapStore{}
	for _, s := range Layout("p", chunks, digest) {
		store[s.Name] = s
	}
	if len(store) != len(chunks) || store["p-review"].Data[ChunksKey] != fmt.Sprint(len(chunks)) {
		t.Fatalf("Layout wrote %d ConfigMaps for %d chunks", len(store), len(chunks))
	}
	saved, found, err := ReadState(store.get, "p")
	if err != nil || !found || saved.Digest != digest || saved.Chunks != len(chunks) || len(saved.State.Applied) != 40000 {
		t.Fatalf("ReadState: found %v, err %v, %d chunks, %d entries", found, err, saved.Chunks, len(saved.State.Applied))
	}
	if _, found, err := ReadState(mapStore{}.get, "p"); found || err != nil {
		t.Errorf("no head: found %v, err %v", found, err)
	}
	delete(store, ChunkName("p", digest, 1))
	if _, found, err := ReadState(store.get, "p"); found || err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("a missing chunk: found %v, err %v", found, err)
	}
	store["p-review"] = Stored{Data: map[string]string{DigestKey: digest, ChunksKey: "99"}, Binary: map[string][]byte{StateKey: bytes.Clone(chunks[0])}}
	if _, _, err := ReadState(store.get, "p"); err == nil || !strings.Contains(err.Error(), `chunks "99" is not a chunk count from 1 to 16`) {
		t.Errorf("a bad count: %v", err)
	}
}
