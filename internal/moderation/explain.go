package moderation

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"slices"
	"strings"
)

// Explanation answers "why is this domain (not) blocked?" for any domain,
// whether or not the policy has an entry for it.
type Explanation struct {
	// Domain as normalised; Input as asked.
	Domain, Input string
	// Err is set when Input is not a domain at all.
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
	x := Explanation{Input: domain, TotalWeight: p.total, Threshold: p.input.Threshold, Rule: p.input.Rule}
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
	} else if reason := p.guard.refuse(d); reason != "" {
		x.Protection = reason
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

// Lookup returns the effective entry for a normalised domain, or nil.
func (p *Policy) Lookup(domain string) *EffectiveEntry {
	i, ok := slices.BinarySearchFunc(p.Entries, domain, func(e EffectiveEntry, d string) int { return strings.Compare(e.Domain, d) })
	if !ok {
		return nil
	}
	return &p.Entries[i]
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

// String explains in a few lines a person can read, e.g.
//
//	spam.example: not blocked: weight 1 of 2 needed
//	  hillside (weight 1) says silence
//	  iftas-dni (weight 2) says nothing
func (x Explanation) String() string {
	var b strings.Builder
	if x.Err != nil {
		b.WriteString(x.Input)
		b.WriteString(": not a domain: ")
		b.WriteString(x.Err.Error())
		return b.String()
	}
	b.WriteString(x.Domain)
	b.WriteString(": ")
	switch {
	case x.Entry != nil && x.Entry.Action == Allow:
		b.WriteString("allowed (")
		b.WriteString(x.Entry.Provenance.Decision.String())
		b.WriteString(")")
	case x.Entry != nil && x.Entry.Imposes():
		b.WriteString(describe(x.Entry.Entry))
		b.WriteString(" (")
		b.WriteString(x.Entry.Provenance.Decision.String())
		b.WriteString(")")
	case x.Entry != nil:
		b.WriteString("not blocked: noop (")
		b.WriteString(x.Entry.Provenance.Decision.String())
		b.WriteString(")")
	case x.CoveredBy != nil:
		b.WriteString("blocked through its parent ")
		b.WriteString(x.CoveredBy.Domain)
		b.WriteString(": ")
		b.WriteString(describe(x.CoveredBy.Entry))
		b.WriteString(" (")
		b.WriteString(x.CoveredBy.Provenance.Decision.String())
		b.WriteString(")")
	case x.Protection != "":
		b.WriteString("not blocked: ")
		b.WriteString(x.Protection)
	case x.Count == 0:
		b.WriteString("not blocked: no trusted source lists it")
	default:
		b.WriteString("not blocked: ")
		b.WriteString(x.shortfall())
	}
	if x.Entry != nil && x.CoveredBy != nil && x.Entry.Action != Allow {
		b.WriteString("; its parent ")
		b.WriteString(x.CoveredBy.Domain)
		b.WriteString(" is also blocked: ")
		b.WriteString(describe(x.CoveredBy.Entry))
	}
	for _, e := range x.Local {
		b.WriteString("\n  local entry says ")
		b.WriteString(describe(e))
		if e.PrivateComment != "" {
			b.WriteString(": ")
			b.WriteString(e.PrivateComment)
		}
	}
	for _, c := range x.Sources {
		b.WriteString("\n  ")
		b.WriteString(c.Source.Name)
		b.WriteString(" (weight ")
		b.WriteString(itoa(c.Source.Weight))
		if c.Source.Weight == 0 {
			b.WriteString(", watched only")
		}
		b.WriteString(") says ")
		if c.Said == nil {
			b.WriteString("nothing")
			continue
		}
		b.WriteString(describe(*c.Said))
		if c.Capped() {
			b.WriteString(", counted as ")
			b.WriteString(c.Action.String())
			b.WriteString(" (maxAction)")
		}
		if c.Said.PublicComment != "" {
			b.WriteString(": ")
			b.WriteString(truncate(c.Said.PublicComment, 80))
		}
		if c.Said.Action == Allow {
			b.WriteString(" (subscribed allows are advice only)")
		} else if len(x.Local) > 0 {
			b.WriteString(" (overridden by the local entry)")
		}
	}
	for _, r := range x.Rejected {
		b.WriteString("\n  refused from ")
		b.WriteString(r.Source)
		b.WriteString(": ")
		b.WriteString(r.Reason)
	}
	return b.String()
}

// shortfall says how far the sources are from the threshold.
func (x Explanation) shortfall() string {
	switch x.Threshold.Kind {
	case ThresholdCount:
		return itoa(x.Count) + " of " + itoa(x.Threshold.Value) + " sources needed"
	case ThresholdPercent:
		pct := 0
		if x.TotalWeight > 0 {
			pct = x.Weight * 100 / x.TotalWeight
		}
		return itoa(pct) + "% (weight " + itoa(x.Weight) + " of " + itoa(x.TotalWeight) + ") of " + itoa(x.Threshold.Value) + "% needed"
	}
	return "weight " + itoa(x.Weight) + " of " + itoa(x.Threshold.Value) + " needed"
}

// Describe names the entry's action and flags: "suspend", "silence + reject
// reports".
func (e Entry) Describe() string { return describe(e) }

// describe names an entry's action and flags: "suspend", "silence + reject
// reports".
func describe(e Entry) string {
	e = e.Canonical()
	s := e.Action.String()
	if e.RejectMedia && e.Action != RejectMedia && e.Action != Suspend {
		s += " + reject media"
	}
	if e.RejectReports && e.Action != Suspend {
		s += " + reject reports"
	}
	return s
}

// maxSummary bounds Summary: drivers put it in a server's private comment.
const maxSummary = 200

// Summary is one line, at most 200 bytes, saying why the entry exists,
// e.g. "local: decided 2026-11-03, see ticket 41" or
// "weight 3 ≥ threshold 2, merge max: hillside suspend, iftas-dni silence".
// Drivers write it (behind their ownership marker) as the private comment.
func (e *EffectiveEntry) Summary() string {
	var b strings.Builder
	if e.Provenance.Decision.Kind == DecidedLocally {
		b.WriteString("local decision")
		if e.Provenance.Local != nil && e.Provenance.Local.PrivateComment != "" {
			b.WriteString(": ")
			b.WriteString(oneLine(e.Provenance.Local.PrivateComment))
		}
		return truncate(b.String(), maxSummary)
	}
	b.WriteString(e.Provenance.Decision.String())
	sep := ": "
	for _, c := range e.Provenance.Sources {
		if !c.Counted {
			continue
		}
		b.WriteString(sep)
		sep = ", "
		b.WriteString(c.Source.Name)
		b.WriteByte(' ')
		b.WriteString(c.Action.String())
	}
	return truncate(b.String(), maxSummary)
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

// Desired returns the entries a server should hold: every entry that
// imposes something (a bare noop has nothing to write), with the private
// comment set to Summary. This is what drivers pass to Diff.
func (p *Policy) Desired() []Entry {
	out := make([]Entry, 0, len(p.Entries))
	for i := range p.Entries {
		e := &p.Entries[i]
		if !e.Imposes() {
			continue
		}
		entry := e.Entry
		entry.PrivateComment = e.Summary()
		out = append(out, entry)
	}
	return out
}

// Hash identifies what the policy asks of servers: "sha256:" and the hex
// digest of every entry that imposes something, in domain order, with the
// fields Diff compares. It does not depend on the order of the inputs, and
// it does not change when only provenance does (see Diff on private
// comments), so an unchanged hash means there is nothing to apply.
func (p *Policy) Hash() string {
	if p.hashMemo != "" {
		return p.hashMemo
	}
	h := sha256.New()
	var buf []byte
	for i := range p.Entries {
		e := p.Entries[i].Entry.Canonical()
		if !e.Imposes() {
			continue
		}
		buf = buf[:0]
		buf = appendField(buf, e.Domain)
		buf = append(buf, byte(e.Action), flag(e.RejectMedia), flag(e.RejectReports), flag(e.Obfuscate))
		buf = appendField(buf, e.PublicComment)
		h.Write(buf)
	}
	p.hashMemo = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return p.hashMemo
}

// appendField writes a length-prefixed string, so no comment can be
// crafted to look like the start of the next entry.
func appendField(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func flag(b bool) byte {
	if b {
		return 1
	}
	return 0
}
