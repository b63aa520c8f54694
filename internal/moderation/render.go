package moderation

import (
	"fmt"
	"strings"
)

func (t Threshold) String() string {
	if t.Kind == ThresholdPercent {
		return fmt.Sprintf("%d%%", t.Value)
	}
	return fmt.Sprintf("%s %d", t.Kind, t.Value)
}

func (d Decision) String() string {
	if d.Kind == DecidedLocally {
		return "local decision"
	}
	t := d.Threshold()
	var b strings.Builder
	b.WriteString(reached(t, d.Weight, d.Count, d.TotalWeight()))
	b.WriteString(" ≥ threshold ")
	b.WriteString(itoa(t.Value))
	if t.Kind == ThresholdPercent {
		b.WriteByte('%')
	}
	b.WriteString(", merge ")
	b.WriteString(string(d.Rule()))
	if d.Capped {
		b.WriteString(", capped by maxAction")
	}
	return b.String()
}

// reached says what the sources reached in the threshold's own unit.
func reached(t Threshold, weight, count, total int) string {
	switch t.Kind {
	case ThresholdCount:
		return "count " + itoa(count)
	case ThresholdPercent:
		pct := 0
		if total > 0 {
			pct = weight * 100 / total
		}
		return "percent " + itoa(pct) + "% (weight " + itoa(weight) + " of " + itoa(total) + ")"
	}
	return "weight " + itoa(weight)
}

// itoa formats small integers without fmt.
func itoa(n int) string {
	if n >= 0 && n < 10 {
		return string(rune('0' + n))
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var buf [20]byte
	i := len(buf)
	for n > 0 {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
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
