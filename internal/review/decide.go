package review

import (
	"slices"
	"strings"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/textcut"
)

// Held is an entry the servers were given: one domain of the applied
// state. Its private comment is empty (the provenance is the candidate's
// when the candidate agrees, see Compose).
type Held struct {
	moderation.Entry
	// ClusterOnly: the entry came from a source published to the cluster
	// only, and the public feed must not serve it.
	ClusterOnly bool
}

// DefaultChanges are the changes reviewed when spec.review.changes is empty.
var DefaultChanges = []v1alpha1.ReviewChange{v1alpha1.ReviewSourceAdditions, v1alpha1.ReviewRetractions}

// Outcome is Decide's answer.
type Outcome struct {
	// Apply is the applied state with the changes that need no review:
	// what the servers get now.
	Apply []Held
	// Review is the change set that waits for approval.
	Review ChangeSet
	// Immediate counts the changes applied at once.
	Immediate int
}

// maxWhy bounds a change's Why (PolicyChange.why holds 512 bytes).
const maxWhy = 300

// Decide splits the difference between the applied state (sorted by
// domain, as Apply and Load return it) and the candidate (a fresh merge)
// into changes that apply at once and changes that need review, by the
// kinds reviewed (DefaultChanges when empty). clusterOnly are the
// candidate's domains restricted to the cluster (federation.Result).
//
// Only entries that impose something count: a bare noop changes nothing
// on a server, so it neither needs review nor appears in the state.
func Decide(applied []Held, candidate *moderation.Policy, clusterOnly map[string]bool, reviewed []v1alpha1.ReviewChange) Outcome {
	if len(reviewed) == 0 {
		reviewed = DefaultChanges
	}
	needs := func(k v1alpha1.ReviewChange) bool { return slices.Contains(reviewed, k) }
	out := Outcome{Apply: make([]Held, 0, max(len(applied), len(candidate.Entries)))}
	var changes []Change
	i, j := 0, 0
	for i < len(applied) || j < len(candidate.Entries) {
		var a *Held
		var c *moderation.EffectiveEntry
		switch {
		case j >= len(candidate.Entries) || (i < len(applied) && applied[i].Domain < candidate.Entries[j].Domain):
			a = &applied[i]
			i++
		case i >= len(applied) || candidate.Entries[j].Domain < applied[i].Domain:
			c = &candidate.Entries[j]
			j++
		default:
			a, c = &applied[i], &candidate.Entries[j]
			i++
			j++
		}
		if c != nil && !c.Imposes() {
			c = nil
		}
		if a == nil && c == nil {
			continue
		}
		if a != nil && c != nil && Same(a.Entry, c.Entry) {
			out.Apply = append(out.Apply, held(c.Entry, clusterOnly[c.Domain]))
			continue
		}
		ch := change(a, c, candidate, clusterOnly)
		review := needs(ch.Kind)
		if ch.Direction() == Reworded {
			// As strict in some respect, milder in another: either kind
			// asks for review.
			review = review || needs(v1alpha1.ReviewRetractions)
		}
		switch {
		case review:
			changes = append(changes, ch)
			if a != nil {
				out.Apply = append(out.Apply, *a)
			}
		default:
			out.Immediate++
			if c != nil {
				out.Apply = append(out.Apply, held(c.Entry, ch.ClusterOnly))
			}
		}
	}
	out.Review = ChangeSet{Changes: changes, Hash: hashChanges(changes)}
	return out
}

// change describes how a domain goes from a to c (either may be nil).
func change(a *Held, c *moderation.EffectiveEntry, candidate *moderation.Policy, clusterOnly map[string]bool) Change {
	ch := Change{}
	if a != nil {
		ch.Domain = a.Domain
		before := bare(a.Entry)
		ch.Before = &before
	}
	if c != nil {
		ch.Domain = c.Domain
		after := bare(c.Entry)
		ch.After = &after
		ch.ClusterOnly = clusterOnly[c.Domain]
	}
	switch d := ch.Direction(); {
	case d == Removed || d == Relaxed:
		ch.Kind = v1alpha1.ReviewRetractions
	case c.Provenance.Decision.Kind == moderation.DecidedLocally:
		ch.Kind = v1alpha1.ReviewOwnEntries
	default:
		ch.Kind = v1alpha1.ReviewSourceAdditions
	}
	ch.Why = textcut.Truncate(why(ch.Domain, c, candidate), maxWhy)
	return ch
}

// why is the provenance in words safe to show every moderator: a local
// entry's private comment is not quoted.
func why(domain string, c *moderation.EffectiveEntry, candidate *moderation.Policy) string {
	if c != nil {
		if c.Provenance.Decision.Kind == moderation.DecidedLocally {
			return "the policy's own entry (spec.entries)"
		}
		return c.Summary()
	}
	var refused []string
	k, _ := slices.BinarySearchFunc(candidate.Rejected, domain, func(r moderation.Rejection, d string) int { return strings.Compare(r.Domain, d) })
	for ; k < len(candidate.Rejected) && candidate.Rejected[k].Domain == domain && len(refused) < 3; k++ {
		refused = append(refused, candidate.Rejected[k].Source+": "+candidate.Rejected[k].Reason)
	}
	if len(refused) > 0 {
		return "refused now (" + strings.Join(refused, "; ") + ")"
	}
	if e := candidate.Lookup(domain); e != nil {
		return "now a noop: " + e.Provenance.Decision.String()
	}
	return "no longer in the computed policy: no source reaching the threshold and no own entry lists it"
}

// Same reports whether two entries say the same thing to a server:
// private comments are not compared (as moderation.Diff).
func Same(a, b moderation.Entry) bool {
	a, b = a.Canonical(), b.Canonical()
	a.PrivateComment, b.PrivateComment = "", ""
	return a == b
}

func bare(e moderation.Entry) moderation.Entry {
	e = e.Canonical()
	e.PrivateComment = ""
	return e
}

func held(e moderation.Entry, clusterOnly bool) Held {
	return Held{Entry: bare(e), ClusterOnly: clusterOnly}
}
