package moderation

// decide settles one domain: rejections are recorded, contributions are
// appended to the part's arena, and ok says whether the domain has an
// effective entry.
func (p *Policy) decide(part *mergePart, domain string, locals []*Entry, group []vote) (a applied, ok bool) {
	// An allow is refused only on a public suffix; blocks are refused on
	// protected names too. Checking the suffix list costs more than the
	// rest of a domain's decision, so it is done only when needed.
	suffix, guarded := "", refusal{}
	if anyImposes(locals, group) {
		suffix = RefusePublicSuffix(domain)
		guarded = p.guard.refuse(domain)
	}
	reasonFor := func(e *Entry, fromSource bool) string {
		switch {
		case suffix != "":
			return suffix
		case e.Action == Allow || !e.Imposes():
			return ""
		case guarded.refuses(fromSource):
			// Another community's instance refuses subscribed entries
			// only (see Protected).
			return guarded.reason
		case fromSource:
			if child := p.guard.allowedChild(domain); child != "" {
				return "would cover " + child + ", which a local entry allows"
			}
		}
		return ""
	}

	var local *Entry
	if len(locals) > 0 {
		var kept []*Entry
		for _, e := range locals {
			if reason := reasonFor(e, false); reason != "" {
				part.rejected = append(part.rejected, Rejection{Domain: domain, Source: LocalSource, Reason: reason})
				continue
			}
			kept = append(kept, e)
		}
		local = p.combineLocal(kept)
	}

	block, start := part.arenaFor(len(group))
	arena := *block
	mark := len(arena)
	weight, count := 0, 0
	for _, v := range group {
		src := &p.sources[v.source]
		c := Contribution{Source: src, Said: v.entry, Action: capAction(v.entry.Action, src.MaxAction)}
		switch reason := reasonFor(v.entry, true); {
		case reason != "":
			part.rejected = append(part.rejected, Rejection{Domain: domain, Source: src.Name, Reason: reason})
		case v.entry.Action == Allow:
			// Subscribed allows are advice only (see Merge).
		case src.Weight > 0 && local == nil:
			c.Counted = true
			weight += src.Weight
			count++
		}
		arena = append(arena, c)
	}
	a.start, a.n = int32(start), int32(len(arena)-mark)
	a.weight, a.count = int32(weight), int32(count)
	switch {
	case local != nil:
		part.locals = append(part.locals, local)
		a.local = int32(len(part.locals))
		*block = arena
		return a, true
	case count > 0 && met(p.settings.threshold, weight, count, p.total):
		a.bySources = true
		a.verdict, a.capped, a.best = combine(p.settings.rule, arena[mark:])
		*block = arena
		return a, true
	}
	// Not applied: the space is not kept; Explain recomputes on demand.
	// Only the length is given back: the block was not reallocated, since
	// it had room for the whole group.
	*block = arena[:mark]
	return a, false
}

func anyImposes(locals []*Entry, group []vote) bool {
	for _, e := range locals {
		if e.Imposes() || e.Action == Allow {
			return true
		}
	}
	for _, v := range group {
		if v.entry.Imposes() {
			return true
		}
	}
	return false
}

// met reports whether the reached agreement satisfies the threshold.
// Percent is compared in integers (weight×100 ≥ P×total) so 2 of 3 at
// 66% passes and at 67% does not, without rounding surprises.
func met(t Threshold, weight, count, total int) bool {
	switch t.Kind {
	case ThresholdCount:
		return count >= t.Value
	case ThresholdPercent:
		return total > 0 && weight*100 >= t.Value*total
	}
	return weight >= t.Value
}

// combineLocal merges the community's own entries for one domain (several
// FederationPolicies can select the same instance): an allow wins,
// otherwise the merge rule decides.
func (p *Policy) combineLocal(entries []*Entry) *Entry {
	switch len(entries) {
	case 0:
		return nil
	case 1:
		return entries[0]
	}
	for _, e := range entries {
		if e.Action == Allow {
			return e
		}
	}
	out := *entries[0]
	for _, e := range entries[1:] {
		out = combinePair(p.settings.rule, out, *e, e.Action)
		if out.PrivateComment == "" {
			out.PrivateComment = e.PrivateComment
		}
	}
	return &out
}
