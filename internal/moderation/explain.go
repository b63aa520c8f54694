package moderation

import (
	"slices"
	"strings"
)

// Explanation answers "why is this domain (not) blocked?" for any domain,
// whether or not the policy has an entry for it.
type Explanation struct {
	// Domain as normalised; Input as asked.
	Domain, Input string
	// Err is set when Input is not a domain at all, or to
	// ErrNotExplainable.
	Err error
	// Entry is the domain's own effective entry, if any.
	Entry *EffectiveEntry
	// CoveredBy is the nearest parent domain's effective block, if any: a
	// block covers subdomains, so it applies to Domain too.
	CoveredBy *EffectiveEntry
	// Local are the community's own entries for the domain.
	Local []Entry
	// Sources lists every source in input order; Said is nil for those
	// that do not list the domain.
	Sources []Contribution
	// Rejected are the refusals recorded for the domain.
	Rejected []Rejection
	// Protection says why blocks on the domain are refused, if they are.
	Protection string
	// What the counting sources reached, and what was needed.
	Weight, Count, TotalWeight int
	Threshold                  Threshold
	Rule                       MergeRule
}

// Explain tells why a domain is or is not blocked. It looks the domain up
// again in the merge input, so it costs a pass over the sources: it is for
// people and the command line, not for hot paths.
func (p *Policy) Explain(domain string) Explanation {
	x := Explanation{Input: domain, TotalWeight: p.total}
	if s := p.settings; s != nil { // nil in a Policy not made by Merge
		x.Threshold, x.Rule = s.threshold, s.rule
	}
	if p.noExplain {
		x.Err = ErrNotExplainable
		return x
	}
	d, _, err := NormalizeDomain(domain)
	if err != nil {
		x.Err = err
		return x
	}
	x.Domain = d
	x.Entry = p.Lookup(d)
	parentDomains(d, func(parent string) bool {
		if e := p.Lookup(parent); e != nil && e.Action.IsBlock() {
			x.CoveredBy = e
			return false
		}
		return true
	})
	for _, e := range p.local {
		if e.Domain == d {
			x.Local = append(x.Local, e)
		}
	}
	for i := range p.sources {
		src := &p.sources[i]
		c := Contribution{Source: src}
		if e := findInSource(src.Entries, d); e != nil {
			c.Said = e
			c.Action = capAction(e.Action, src.MaxAction)
		}
		x.Sources = append(x.Sources, c)
	}
	i, _ := slices.BinarySearchFunc(p.Rejected, d, func(r Rejection, d string) int { return strings.Compare(r.Domain, d) })
	for ; i < len(p.Rejected) && p.Rejected[i].Domain == d; i++ {
		x.Rejected = append(x.Rejected, p.Rejected[i])
	}
	if reason := RefusePublicSuffix(d); reason != "" {
		x.Protection = reason
	} else if r := p.guard.refuse(d); r.reason != "" {
		x.Protection = r.reason
		if r.sourcesOnly {
			x.Protection += "; subscribed blocks are refused, our own entries still apply"
		}
	} else if child := p.guard.allowedChild(d); child != "" {
		x.Protection = "parent of " + child + ", which a local entry allows: subscribed blocks are refused"
	}
	if x.Entry != nil {
		// The merge's own view of who counted.
		counted := map[*Source]bool{}
		for _, c := range x.Entry.Provenance.Sources {
			counted[c.Source] = c.Counted
		}
		for i := range x.Sources {
			x.Sources[i].Counted = counted[x.Sources[i].Source]
		}
	} else {
		rejected := map[string]bool{}
		for _, r := range x.Rejected {
			rejected[r.Source] = true
		}
		for i := range x.Sources {
			c := &x.Sources[i]
			c.Counted = c.Said != nil && c.Said.Action != Allow && c.Source.Weight > 0 && !rejected[c.Source.Name] && len(x.Local) == 0
		}
	}
	for _, c := range x.Sources {
		if c.Counted {
			x.Weight += c.Source.Weight
			x.Count++
		}
	}
	return x
}

// findInSource finds a source's entry for domain; when the source lists it
// more than once, the one Merge counted (the first in compareEntries order).
func findInSource(entries []Entry, domain string) *Entry {
	var found *Entry
	for i := range entries {
		if entries[i].Domain == domain && (found == nil || compareEntries(entries[i], *found) < 0) {
			found = &entries[i]
		}
	}
	return found
}
