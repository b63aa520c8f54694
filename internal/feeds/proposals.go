package feeds

// The change sets of pending proposals (FederationPolicy spec.review):
// a PolicyProposal holds the first changes only, to stay within object
// size limits; the whole set is served here, by the cluster listener
// only, for `fedcommons policy review` and for moderators who read it
// before approving.

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// ProposalStore holds the change set of each policy's pending proposal.
type ProposalStore interface {
	// Proposal returns the JSON change set of a pending proposal.
	Proposal(namespace, policy, name string) ([]byte, bool)
}

// proposals keeps one pending change set per policy: a newer proposal
// replaces the previous one, so memory is bounded by the policies.
type proposals struct {
	mu     sync.RWMutex
	byName map[string]pendingChanges // by namespace/policy
}

type pendingChanges struct {
	name string
	body []byte
}

// PutProposal serves body (JSON) as the change set of the policy's
// pending proposal name, in place of the previous one.
func (s *MemoryStore) PutProposal(namespace, policy, name string, body []byte) {
	s.proposals.mu.Lock()
	defer s.proposals.mu.Unlock()
	if s.proposals.byName == nil {
		s.proposals.byName = map[string]pendingChanges{}
	}
	s.proposals.byName[storeKey(namespace, policy)] = pendingChanges{name: name, body: body}
}

// DeleteProposal stops serving the policy's pending change set.
func (s *MemoryStore) DeleteProposal(namespace, policy string) {
	s.proposals.mu.Lock()
	defer s.proposals.mu.Unlock()
	delete(s.proposals.byName, storeKey(namespace, policy))
}

// Proposal implements ProposalStore.
func (s *MemoryStore) Proposal(namespace, policy, name string) ([]byte, bool) {
	s.proposals.mu.RLock()
	defer s.proposals.mu.RUnlock()
	p, ok := s.proposals.byName[storeKey(namespace, policy)]
	if !ok || p.name != name {
		return nil, false
	}
	return p.body, true
}

// ProposalPath is where a pending proposal's change set is served.
func ProposalPath(namespace, policy, name string) string {
	return "/" + namespace + "/" + policy + "/proposals/" + name + ".json"
}

// serveProposal answers a pending proposal's change set; anything else,
// and every request to the public listener, is 404.
func (s *Server) serveProposal(w http.ResponseWriter, r *http.Request) {
	ps, ok := s.store.(ProposalStore)
	ns, policy := r.PathValue("namespace"), r.PathValue("policy")
	name, isJSON := strings.CutSuffix(r.PathValue("file"), ".json")
	if !ok || s.audience != ClusterAudience || !isJSON || !validNamespace(ns) || !validName(policy) || !validName(name) {
		http.NotFound(w, r)
		return
	}
	body, ok := ps.Proposal(ns, policy, name)
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	// A proposal's name carries its hash: the body never changes.
	h.Set("Cache-Control", "private, max-age=300")
	h.Set("Content-Type", kindJSON.contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
