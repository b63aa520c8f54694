package federation

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Result is one FederationPolicy's computed effective policy.
type Result struct {
	// Policy names the FederationPolicy.
	Policy types.NamespacedName
	// Generation is the policy's metadata.generation the result was
	// computed for. The Instance syncer refuses to act on a policy whose
	// current generation has no result yet.
	Generation int64
	// Visibility is the policy's publish visibility (default applied).
	Visibility v1alpha1.Visibility
	// Effective is the engine's merge result, with provenance.
	Effective *moderation.Policy
	// Hash is Effective.Hash(), computed once; for a public policy holding
	// cluster-only entries, folded with them (see Restrict).
	Hash string
	// ClusterOnly are the effective domains that came from a source
	// published to the cluster only (see Restrict): never served by the
	// public feed listener, nor passed on as public to a subscriber.
	// Shared, read only.
	ClusterOnly map[string]bool
	// Refs maps the names of the policy's policyRef sources to the
	// policies they read, to keep subscription loops from echoing.
	Refs map[string]types.NamespacedName
	// ComputedAt is when the result was computed; ChangedAt when its hash
	// last changed (the feed's "updated" time).
	ComputedAt, ChangedAt time.Time
}

// PublishedFor returns the entries a subscriber (reader) receives when it
// reads this policy through a policyRef: every effective entry without its
// private comment (never shown outside the community), except entries this
// policy only holds because the reader's own policy told it so. Two
// communities subscribing to each other would otherwise keep each other's
// retracted entries alive forever, each one's copy feeding the other's.
func (r *Result) PublishedFor(reader types.NamespacedName) []moderation.Entry {
	out := make([]moderation.Entry, 0, len(r.Effective.Entries))
	for i := range r.Effective.Entries {
		e := &r.Effective.Entries[i]
		if r.echoes(e, reader) {
			continue
		}
		entry := e.Entry
		entry.PrivateComment = ""
		out = append(out, entry)
	}
	return out
}

func (r *Result) echoes(e *moderation.EffectiveEntry, reader types.NamespacedName) bool {
	if e.Provenance.Decision.Kind != moderation.DecidedByConsensus || len(r.Refs) == 0 {
		return false
	}
	others := 0
	for _, c := range e.Provenance.Sources {
		if !c.Counted || c.Source == nil {
			continue
		}
		if ref, ok := r.Refs[c.Source.Name]; ok && ref == reader {
			continue
		}
		others++
	}
	return others == 0
}

// Registry holds the latest Result of every FederationPolicy. It lives in
// memory only: after a restart it is empty until each policy has been
// computed again, which is exactly what the Instance syncer waits for.
// Safe for concurrent use; Results are immutable once stored.
type Registry struct {
	mu      sync.RWMutex
	results map[types.NamespacedName]*Result
}

// NewRegistry returns an empty Registry.
func NewRegistry() *Registry {
	return &Registry{results: map[types.NamespacedName]*Result{}}
}

// Put stores a result, replacing the previous one for the same policy.
// It reports whether the effective content changed (new policy or new
// hash), which is when selected Instances and subscribers must be told.
// ChangedAt is carried over from the previous result when the hash is the
// same.
func (g *Registry) Put(r *Result) (changed bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	prev := g.results[r.Policy]
	changed = prev == nil || prev.Hash != r.Hash
	if !changed {
		r.ChangedAt = prev.ChangedAt
	} else if r.ChangedAt.IsZero() {
		r.ChangedAt = r.ComputedAt
	}
	g.results[r.Policy] = r
	return changed
}

// Get returns a policy's result.
func (g *Registry) Get(key types.NamespacedName) (*Result, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	r, ok := g.results[key]
	return r, ok
}

// Current returns a policy's result only if it was computed for the given
// generation.
func (g *Registry) Current(key types.NamespacedName, generation int64) (*Result, bool) {
	r, ok := g.Get(key)
	if !ok || r.Generation != generation {
		return nil, false
	}
	return r, true
}

// Delete forgets a policy.
func (g *Registry) Delete(key types.NamespacedName) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.results, key)
}
