package review

import (
	"fmt"
	"slices"
	"strings"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Apply returns the applied state with an approved change set applied,
// exactly as it was proposed, whatever the computation says now. Every
// change must start from what the servers have: if one does not (the
// applied state moved since the proposal), nothing is applied, and the
// error says which domain, for the proposal to be made again.
func Apply(applied []Held, set ChangeSet) ([]Held, error) {
	at := make(map[string]int, len(applied))
	for i := range applied {
		at[applied[i].Domain] = i
	}
	out := slices.Clone(applied)
	drop := map[string]bool{}
	for _, c := range set.Changes {
		i, ok := at[c.Domain]
		switch {
		case ok != (c.Before != nil) || (ok && !Same(applied[i].Entry, *c.Before)):
			return nil, fmt.Errorf("%s is no longer %q on the servers; the change set no longer applies", c.Domain, Describe(c.Before))
		case c.After == nil:
			drop[c.Domain] = true
		case ok:
			out[i] = held(*c.After, c.ClusterOnly)
		default:
			out = append(out, held(*c.After, c.ClusterOnly))
		}
	}
	out = slices.DeleteFunc(out, func(h Held) bool { return drop[h.Domain] })
	slices.SortFunc(out, func(a, b Held) int { return strings.Compare(a.Domain, b.Domain) })
	return out, nil
}

// heldComment is the provenance of an applied entry the computation no
// longer agrees with (a change waiting for review): the engine's own
// provenance was that of an older computation.
const heldComment = "kept until the community approves a change (spec.review)"

// Compose builds the effective policy the servers get from the applied
// state: an entry the candidate agrees with keeps the candidate's
// provenance; one it does not is kept as applied, said to be held by
// review. The candidate's refusals stay for the status. clusterOnly is
// the set of applied domains the public feed must not serve.
func Compose(applied []Held, candidate *moderation.Policy) (eff *moderation.Policy, clusterOnly map[string]bool) {
	eff = &moderation.Policy{Entries: make([]moderation.EffectiveEntry, 0, len(applied)), Rejected: candidate.Rejected}
	for i := range applied {
		h := &applied[i]
		if h.ClusterOnly {
			if clusterOnly == nil {
				clusterOnly = map[string]bool{}
			}
			clusterOnly[h.Domain] = true
		}
		if c := candidate.Lookup(h.Domain); c != nil && Same(c.Entry, h.Entry) {
			eff.Entries = append(eff.Entries, *c)
			continue
		}
		local := moderation.Entry{Domain: h.Domain, PrivateComment: heldComment}
		eff.Entries = append(eff.Entries, moderation.EffectiveEntry{Entry: h.Entry, Provenance: moderation.Provenance{Local: &local}})
	}
	return eff, clusterOnly
}

// FromPolicy is the applied state of an effective policy: how review
// starts on a policy whose servers already hold a computation.
func FromPolicy(eff *moderation.Policy, clusterOnly map[string]bool) []Held {
	out := make([]Held, 0, len(eff.Entries))
	for i := range eff.Entries {
		if e := &eff.Entries[i]; e.Imposes() {
			out = append(out, held(e.Entry, clusterOnly[e.Domain]))
		}
	}
	return out
}
