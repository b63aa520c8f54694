package moderation

import (
	"strconv"
	"strings"

	"github.com/fedcommons/fedcommons/internal/textcut"
)

// Threshold wording is built in this one place: a decision says what the
// sources reached against the threshold ("weight 3 ≥ threshold 2"), an
// explanation how far they fell short ("weight 1 of 2 needed"). Both read
// the same numbers through agreement, so the two can never disagree on
// how a percentage is rounded or a unit named.

// String names the threshold as a manifest does: "weight 2", "count 3", "60%".
func (t Threshold) String() string {
	if t.Kind == ThresholdPercent {
		return t.value()
	}
	return string(t.Kind) + " " + t.value()
}

// value is the threshold's number in its unit: "2", or "60%" for percent.
func (t Threshold) value() string {
	if t.Kind == ThresholdPercent {
		return strconv.Itoa(t.Value) + "%"
	}
	return strconv.Itoa(t.Value)
}

// agreement is what the counting sources of one domain reached, and the
// threshold they had to reach. Its texts are written into a builder, as a
// summary is built for every entry a server receives.
type agreement struct {
	threshold            Threshold
	weight, count, total int
}

// writeShare writes the listed weight as a part of all sources' weight:
// "60% (weight 3 of 5)". The percentage is rounded down, as met compares.
func (a agreement) writeShare(b *strings.Builder) {
	pct := 0
	if a.total > 0 {
		pct = a.weight * 100 / a.total
	}
	b.WriteString(strconv.Itoa(pct))
	b.WriteString("% (weight ")
	b.WriteString(strconv.Itoa(a.weight))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(a.total))
	b.WriteByte(')')
}

// writeMet writes a met threshold in its own unit: "weight 3 ≥ threshold
// 2", "count 2 ≥ threshold 2", "percent 60% (weight 3 of 5) ≥ threshold 60%".
func (a agreement) writeMet(b *strings.Builder) {
	switch a.threshold.Kind {
	case ThresholdCount:
		b.WriteString("count ")
		b.WriteString(strconv.Itoa(a.count))
	case ThresholdPercent:
		b.WriteString("percent ")
		a.writeShare(b)
	default:
		b.WriteString("weight ")
		b.WriteString(strconv.Itoa(a.weight))
	}
	b.WriteString(" ≥ threshold ")
	b.WriteString(a.threshold.value())
}

// writeShortfall writes a threshold not met: "weight 1 of 2 needed", "1 of
// 2 sources needed", "20% (weight 1 of 5) of 60% needed".
func (a agreement) writeShortfall(b *strings.Builder) {
	switch a.threshold.Kind {
	case ThresholdCount:
		b.WriteString(strconv.Itoa(a.count))
		b.WriteString(" of ")
		b.WriteString(a.threshold.value())
		b.WriteString(" sources needed")
		return
	case ThresholdPercent:
		a.writeShare(b)
	default:
		b.WriteString("weight ")
		b.WriteString(strconv.Itoa(a.weight))
	}
	b.WriteString(" of ")
	b.WriteString(a.threshold.value())
	b.WriteString(" needed")
}

// String says what decided the entry: "local decision", or e.g.
// "weight 3 ≥ threshold 2, merge max, capped by maxAction".
func (d Decision) String() string {
	if d.Kind == DecidedLocally {
		return "local decision"
	}
	var b strings.Builder
	agreement{d.Threshold(), d.Weight, d.Count, d.TotalWeight()}.writeMet(&b)
	b.WriteString(", merge ")
	b.WriteString(string(d.Rule()))
	if d.Capped {
		b.WriteString(", capped by maxAction")
	}
	return b.String()
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
		agreement{x.Threshold, x.Weight, x.Count, x.TotalWeight}.writeShortfall(&b)
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
		b.WriteString(strconv.Itoa(c.Source.Weight))
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
			b.WriteString(textcut.Truncate(c.Said.PublicComment, 80))
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
		return textcut.Truncate(b.String(), maxSummary)
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
	return textcut.Truncate(b.String(), maxSummary)
}

func oneLine(s string) string {
	if strings.ContainsAny(s, "\r\n\t") {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}
