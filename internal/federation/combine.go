package federation

import (
	"fmt"
	"sort"
	"strings"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/textcut"
)

// Combined is the effective policy of one Instance: the merge of every
// FederationPolicy that selects it.
type Combined struct {
	// Entries sorted by domain, one per domain, each imposing something;
	// PrivateComment names the deciding policy and its provenance summary.
	Entries []CombinedEntry
	// Hash is the engine's hash of Entries (see moderation.Policy.Hash).
	// With a single policy it equals that policy's hash, so an Instance's
	// status.federation.policyHash can be compared with its
	// FederationPolicy's status.policyHash directly.
	Hash string
	// Policies are the names of the combined policies, sorted.
	Policies []string
}

// CombinedEntry is one entry of an Instance's effective policy and the
// policies that asked for it.
type CombinedEntry struct {
	moderation.Entry
	// Policies whose entry decided it (several when they agreed, or when
	// flags were ORed in from milder entries).
	Policies []string
}

// Desired returns the entries to hand to a driver's Express.
func (c *Combined) Desired() []moderation.Entry {
	out := make([]moderation.Entry, len(c.Entries))
	for i := range c.Entries {
		out[i] = c.Entries[i].Entry
	}
	return out
}

// Combine merges the results of the policies selecting one Instance.
//
// Strictest wins across policies: each policy has already applied its own
// consensus, exceptions and allows, so a block one policy decided is not
// undone by another policy's allow (an allow protects a domain from the
// policy's own subscriptions, not from another policy's explicit decision).
// Between blocks the stricter action wins and reject-media, reject-reports
// and obfuscate are ORed, as under the engine's max rule. An allow applies
// when no selected policy blocks the domain.
func Combine(results []*Result) (*Combined, error) {
	c := &Combined{}
	byDomain := map[string]*CombinedEntry{}
	for _, r := range results {
		name := r.Policy.Name
		c.Policies = append(c.Policies, name)
		for _, e := range r.Effective.Desired() {
			e.PrivateComment = name + ": " + e.PrivateComment
			have := byDomain[e.Domain]
			if have == nil {
				byDomain[e.Domain] = &CombinedEntry{Entry: e, Policies: []string{name}}
				continue
			}
			combineInto(have, e, name)
		}
	}
	sort.Strings(c.Policies)
	c.Entries = make([]CombinedEntry, 0, len(byDomain))
	for _, e := range byDomain {
		sort.Strings(e.Policies)
		c.Entries = append(c.Entries, *e)
	}
	sort.Slice(c.Entries, func(i, j int) bool { return c.Entries[i].Domain < c.Entries[j].Domain })

	if len(results) == 1 {
		c.Hash = results[0].Hash
		return c, nil
	}
	// Hash the combination with the engine's own definition: a merge of
	// the combined entries as local decisions reproduces them unchanged.
	p, err := moderation.Merge(moderation.MergeInput{Local: c.Desired()})
	if err != nil {
		return nil, fmt.Errorf("hash the combined policy: %w", err)
	}
	c.Hash = p.Hash()
	return c, nil
}

func combineInto(have *CombinedEntry, e moderation.Entry, policy string) {
	switch {
	case have.Action == moderation.Allow && e.Action == moderation.Allow:
		have.Policies = append(have.Policies, policy)
	case e.Action == moderation.Allow:
		// A block already decided: the allow does not undo it.
	case have.Action == moderation.Allow:
		*have = CombinedEntry{Entry: e, Policies: []string{policy}}
	case e.Action > have.Action:
		e.RejectMedia = e.RejectMedia || have.RejectMedia
		e.RejectReports = e.RejectReports || have.RejectReports
		e.Obfuscate = e.Obfuscate || have.Obfuscate
		*have = CombinedEntry{Entry: e, Policies: append(have.Policies, policy)}
	default:
		have.RejectMedia = have.RejectMedia || e.RejectMedia
		have.RejectReports = have.RejectReports || e.RejectReports
		have.Obfuscate = have.Obfuscate || e.Obfuscate
		have.Policies = append(have.Policies, policy)
		if e.Action == have.Action && !strings.Contains(have.PrivateComment, policy+": ") {
			// Bounded to keep the comment readable in admin UIs; the
			// engine's summaries are 200 bytes at most for the same reason.
			have.PrivateComment = textcut.Prefix(have.PrivateComment+"; "+e.PrivateComment, 200)
		}
	}
}
