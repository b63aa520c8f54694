package moderation

// capAction lowers a block to the source's cap. Allows are not capped: a
// cap limits what a source can impose.
func capAction(a Action, limit *Action) Action {
	if limit != nil && a != Allow && a > *limit {
		return *limit
	}
	return a
}

// combine applies the merge rule to the counted contributions (there is at
// least one): it returns the entry's action and flags (canonical), whether
// the result is capped, and the index of the contribution whose public
// comment the entry takes, -1 for none. The comment comes from the most
// trusted source whose action won and that gave one (ties: the first name
// in alphabetical order). The result is reported as capped when merging
// what the sources said, without their caps, would have given another
// action.
//
// It runs for every effective entry a consensus decides, so it combines
// verdicts (action and flags) rather than copying whole entries.
func combine(rule MergeRule, contributions []Contribution) (v verdict, capped bool, best int32) {
	var out verdict
	var uncapped Action
	first := true
	for i := range contributions {
		c := &contributions[i]
		if !c.Counted {
			continue
		}
		said := verdictOf(c.Said).canonical()
		if first {
			out, uncapped, first = said.capped(c.Action), said.action, false
			continue
		}
		out = out.with(rule, said, c.Action)
		if (rule == MergeMin) == (said.action < uncapped) {
			uncapped = said.action
		}
	}
	// The comment is chosen without regard to input order, so reordering
	// sources does not change the policy or its hash.
	best = -1
	for i := range contributions {
		c := &contributions[i]
		if !c.Counted || c.Action != out.action || c.Said.PublicComment == "" {
			continue
		}
		if best < 0 || c.Source.Weight > contributions[best].Source.Weight ||
			(c.Source.Weight == contributions[best].Source.Weight && c.Source.Name < contributions[best].Source.Name) {
			best = int32(i)
		}
	}
	return out.canonical(), uncapped != out.action, best
}

// verdict is the part of an entry the merge rules combine.
type verdict struct {
	action                                Action
	rejectMedia, rejectReports, obfuscate bool
}

func verdictOf(e *Entry) verdict {
	return verdict{e.Action, e.RejectMedia, e.RejectReports, e.Obfuscate}
}

func (v verdict) setOn(e *Entry) {
	e.Action, e.RejectMedia, e.RejectReports, e.Obfuscate = v.action, v.rejectMedia, v.rejectReports, v.obfuscate
}

// canonical holds the rules of Entry.Canonical: reject-media is spelled
// one way, and an allow, which restricts nothing, carries no flags.
func (v verdict) canonical() verdict {
	switch {
	case v.action == RejectMedia:
		v.rejectMedia = true
	case v.action == Noop && v.rejectMedia:
		v.action = RejectMedia
	case v.action == Allow:
		v.rejectMedia, v.rejectReports = false, false
	}
	return v
}

// capped applies a cap: the action is lowered, and a cap at noop clears
// the flags too, since the source may then impose nothing.
func (v verdict) capped(to Action) verdict {
	if to != v.action {
		v.action = to
		if to == Noop {
			v.rejectMedia, v.rejectReports = false, false
		}
	}
	return v.canonical()
}

// with merges b (counted as action bAction) into v.
func (v verdict) with(rule MergeRule, b verdict, bAction Action) verdict {
	b = b.capped(bAction).canonical()
	a := v.canonical()
	if rule == MergeMin {
		if b.action < a.action {
			a.action = b.action
		}
		a.rejectMedia = a.rejectMedia && b.rejectMedia
		a.rejectReports = a.rejectReports && b.rejectReports
	} else {
		if b.action > a.action {
			a.action = b.action
		}
		a.rejectMedia = a.rejectMedia || b.rejectMedia
		a.rejectReports = a.rejectReports || b.rejectReports
	}
	a.obfuscate = a.obfuscate || b.obfuscate
	return a
}

// combinePair merges b (counted as action bAction) into a.
func combinePair(rule MergeRule, a, b Entry, bAction Action) Entry {
	verdictOf(&a).with(rule, verdictOf(&b), bAction).setOn(&a)
	return a
}
