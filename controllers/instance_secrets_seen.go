package controllers

import (
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// secretsCheckInterval is how long a complete check of an Instance's
// generated Secrets stands, while its spec does not change.
//
// Secrets are not cached (no list or watch on Secrets, docs/operator-
// rbac.md), so each check is one GET per generated Secret, plus the
// generation of their values that are then thrown away. An Instance
// takes 8–10 passes to roll out, woken by its children's status; checking
// on every one of them made `get secrets` the largest request count of a
// rollout: 27–30 per Instance at 100 Instances (docs/benchmarks.md).
// What the skipped checks would catch is a generated Secret deleted or
// relabelled by hand; as Secrets are not watched, that was already found
// only on the next pass, whenever it came; now it is found on the first
// pass after this interval. Any change to the spec checks at once.
const secretsCheckInterval = 5 * time.Minute

// secretsSeen remembers, per Instance, the last complete check of its
// generated Secrets in this process.
type secretsSeen struct {
	mu   sync.Mutex
	seen map[types.NamespacedName]secretsCheck
}

// secretsCheck is what a check depended on: the Instance (its UID, so
// that one deleted and created again is checked anew), its spec (the
// generation: software, version, admin, bundled services and
// deletionPolicy decide which Secrets exist and their labels and owner)
// and its community (a label of each Secret); and the names checked.
type secretsCheck struct {
	uid        types.UID
	generation int64
	community  string
	at         time.Time
	names      []string
}

// fresh tells whether the last complete check of inst still stands at now.
// The Instance's status must list every Secret that check saw: should the
// status write of that pass have failed, the record the operator relies on
// never to generate a Secret twice is not there yet, and only a check
// writes it.
func (s *secretsSeen) fresh(inst *v1alpha1.Instance, now time.Time) bool {
	s.mu.Lock()
	last, ok := s.seen[types.NamespacedName{Namespace: inst.Namespace, Name: inst.Name}]
	s.mu.Unlock()
	if !ok || last.uid != inst.UID || last.generation != inst.Generation || last.community != inst.Status.Community ||
		now.Before(last.at) || now.Sub(last.at) >= secretsCheckInterval {
		return false
	}
	for _, name := range last.names {
		if !slices.Contains(inst.Status.GeneratedSecrets, name) {
			return false
		}
	}
	return true
}

// checked records a complete check at now of inst, which has the Secrets
// names.
func (s *secretsSeen) checked(inst *v1alpha1.Instance, names []string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[types.NamespacedName]secretsCheck{}
	}
	s.seen[types.NamespacedName{Namespace: inst.Namespace, Name: inst.Name}] = secretsCheck{
		uid: inst.UID, generation: inst.Generation, community: inst.Status.Community, at: now, names: names,
	}
}

// forget drops what is remembered of an Instance that is gone.
func (s *secretsSeen) forget(key types.NamespacedName) {
	s.mu.Lock()
	delete(s.seen, key)
	s.mu.Unlock()
}
