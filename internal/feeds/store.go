package feeds

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Visibility is who may read a published policy (FederationPolicy
// spec.publish.visibility).
type Visibility string

const (
	// VisibilityPublic: anyone, on both listeners.
	VisibilityPublic Visibility = "public"
	// VisibilityCluster: only the cluster-internal listener.
	VisibilityCluster Visibility = "cluster"
	// VisibilityNone: nobody; the policy is not served at all.
	VisibilityNone Visibility = "none"
)

// Published is one community's effective policy as it may be shown to
// others. The operator fills it from a FederationPolicy's effective entries.
type Published struct {
	// Namespace and Name of the FederationPolicy: the feed's stable path.
	Namespace string
	Name      string
	// Community is the community's display name, for the page.
	Community string
	// Visibility decides which listener serves it.
	Visibility Visibility
	// Hash identifies the content (e.g. "sha256:…" of the effective
	// policy): it becomes the strong ETag. Empty means the server hashes
	// what it renders.
	Hash string
	// UpdatedAt is when the effective policy last changed.
	UpdatedAt time.Time
	// Entries in the order they are to be shown.
	Entries []PublishedEntry
	// History is the policy's decided changes, newest first, as
	// MemoryStore.SetHistory last set them, for the transparency page.
	// Put ignores the History it is given and keeps the one set: the
	// policy and its history change at different times, from different
	// reconcilers, and neither may erase the other's.
	History []HistoryRecord
	// historyTag changes whenever History does (see boundHistory).
	historyTag string
}

// PublishedEntry is an effective entry and why it is there.
type PublishedEntry struct {
	// Entry is the decision. Its PrivateComment is never served: the
	// MemoryStore drops it on Put and the Server ignores it anyway.
	Entry moderation.Entry
	// Summary is the public provenance: "our own decision", "hillside (1)
	// + iftas-dni (2) ≥ 2". It must not quote private comments.
	Summary string
	// ClusterOnly: the entry came from a policy published to the cluster
	// only, and keeps that visibility whatever the policy holding it says:
	// the public listener never serves it (no feed, no page, no count).
	ClusterOnly bool
}

// PolicyStore is where the Server reads published policies. Returned
// values are shared: callers must not modify them.
type PolicyStore interface {
	// Get returns the policy published at namespace/name.
	Get(namespace, name string) (*Published, bool)
	// List returns every published policy, sorted by namespace and name.
	List() []*Published
}

// MemoryStore is a PolicyStore in memory, safe for concurrent use. Put
// replaces a policy with a private copy, so readers always see a complete
// snapshot, never one half-updated.
type MemoryStore struct {
	mu       sync.RWMutex
	policies map[string]*Published
	// history is kept apart from policies so that it survives a Put, and
	// may be set before the policy is first published.
	history map[string]storedHistory

	proposals proposals
}

type storedHistory struct {
	records []HistoryRecord
	tag     string
}

// NewMemoryStore returns an empty store.
func NewMemoryStore() *MemoryStore { return &MemoryStore{policies: map[string]*Published{}} }

var (
	dnsLabel     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	dnsSubdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
)

// validNamespace and validName are Kubernetes' own rules; anything else in
// a request path is not a policy and is answered 404 without a lookup.
func validNamespace(s string) bool { return len(s) <= 63 && dnsLabel.MatchString(s) }
func validName(s string) bool      { return len(s) <= 253 && dnsSubdomain.MatchString(s) }

func storeKey(namespace, name string) string { return namespace + "/" + name }

// Put publishes p (a copy of it, without private comments), replacing any
// policy at the same namespace and name.
func (s *MemoryStore) Put(p Published) error {
	if !validNamespace(p.Namespace) || !validName(p.Name) {
		return fmt.Errorf("cannot publish %q/%q: not a Kubernetes namespace and name", p.Namespace, p.Name)
	}
	switch p.Visibility {
	case VisibilityPublic, VisibilityCluster, VisibilityNone:
	default:
		return fmt.Errorf("cannot publish %s/%s: unknown visibility %q (want public, cluster or none)", p.Namespace, p.Name, p.Visibility)
	}
	cp := p
	cp.Entries = make([]PublishedEntry, len(p.Entries))
	for i, e := range p.Entries {
		e.Entry.PrivateComment = ""
		cp.Entries[i] = e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.policies == nil {
		s.policies = map[string]*Published{}
	}
	h := s.history[storeKey(p.Namespace, p.Name)]
	cp.History, cp.historyTag = h.records, h.tag
	s.policies[storeKey(p.Namespace, p.Name)] = &cp
	return nil
}

// SetHistory sets the decided changes the transparency page of the policy
// at namespace/name shows: the newest MaxHistory of records, each cut to
// the page's bounds (a copy: records is not kept). It may come before the
// policy's first Put, and lasts until the next SetHistory or Delete; nil
// clears it.
func (s *MemoryStore) SetHistory(namespace, name string, records []HistoryRecord) {
	bounded, tag := boundHistory(records)
	key := storeKey(namespace, name)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.history == nil {
		s.history = map[string]storedHistory{}
	}
	if bounded == nil {
		delete(s.history, key)
	} else {
		s.history[key] = storedHistory{bounded, tag}
	}
	// Readers hold the old snapshot: replace it, never modify it.
	if p, ok := s.policies[key]; ok {
		cp := *p
		cp.History, cp.historyTag = bounded, tag
		s.policies[key] = &cp
	}
}

// Delete withdraws the policy at namespace/name, and its history: whoever
// publishes it again sets that again.
func (s *MemoryStore) Delete(namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.policies, storeKey(namespace, name))
	delete(s.history, storeKey(namespace, name))
}

// Get implements PolicyStore.
func (s *MemoryStore) Get(namespace, name string) (*Published, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.policies[storeKey(namespace, name)]
	return p, ok
}

// List implements PolicyStore.
func (s *MemoryStore) List() []*Published {
	s.mu.RLock()
	out := make([]*Published, 0, len(s.policies))
	for _, p := range s.policies {
		out = append(out, p)
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b *Published) int {
		return strings.Compare(storeKey(a.Namespace, a.Name), storeKey(b.Namespace, b.Name))
	})
	return out
}

// PublicDomain is how an obfuscated entry's domain is shown, the way
// Mastodon shows it (DomainBlock#public_domain): the middle starred out,
// the dots and a quarter of the length at each end kept. "example.com"
// becomes "exa****.*om".
func PublicDomain(e moderation.Entry) string {
	if !e.Obfuscate {
		return e.Domain
	}
	chars := []rune(e.Domain)
	n := len(chars)
	visible := n / 4
	for i, c := range chars {
		if i > visible && i < n-visible && c != '.' {
			chars[i] = '*'
		}
	}
	return string(chars)
}
