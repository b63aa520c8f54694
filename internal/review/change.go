package review

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Change is the change of one domain's decision.
type Change struct {
	Domain string
	// Before is what the servers have now, nil if nothing; After what
	// they get once applied, nil if the domain leaves. Private comments
	// are cleared: a change set is shown to every moderator, and the hash
	// must not move when only provenance wording does.
	Before, After *moderation.Entry
	// Kind is why the change needs review (or would, if asked for).
	Kind v1alpha1.ReviewChange
	// Why is the engine's provenance, in words safe to show the community.
	Why string
	// ClusterOnly: After comes from a source published to the cluster
	// only (kept with the change so that applying it later, when the
	// computation may have moved on, restricts it as it was proposed).
	ClusterOnly bool
}

// Direction says how a change moves a domain's decision.
type Direction uint8

const (
	Added Direction = iota
	Escalated
	Relaxed
	Removed
	// Reworded: as strict as before, yet different (a public comment, or
	// a stricter flag traded for a milder one).
	Reworded
)

// Direction of the change.
func (c Change) Direction() Direction {
	switch {
	case c.Before == nil:
		return Added
	case c.After == nil:
		return Removed
	}
	up, down := stricter(*c.After, *c.Before), stricter(*c.Before, *c.After)
	switch {
	case up && !down:
		return Escalated
	case down && !up:
		return Relaxed
	}
	return Reworded
}

// ChangeSet is the changes that wait for approval, sorted by domain.
type ChangeSet struct {
	Changes []Change
	// Hash identifies the set by content: the same changes give the same
	// hash whenever and however often they are computed.
	Hash string
}

// Empty reports whether there is nothing to review.
func (s ChangeSet) Empty() bool { return len(s.Changes) == 0 }

// hashChanges is "sha256:" over every change, length-prefixed, in domain
// order: before and after with the fields a server compares (as
// moderation.Policy.Hash), never the wording of Why.
func hashChanges(changes []Change) string {
	if len(changes) == 0 {
		return ""
	}
	h := sha256.New()
	var buf []byte
	for _, c := range changes {
		buf = moderation.AppendField(buf[:0], c.Domain)
		buf = appendEntry(buf, c.Before)
		buf = appendEntry(buf, c.After)
		h.Write(buf)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

func appendEntry(buf []byte, e *moderation.Entry) []byte {
	if e == nil {
		return append(buf, 0)
	}
	return moderation.AppendHashed(append(buf, 1), e.Canonical())
}

// Summarize counts a change set by direction. A reworded decision counts
// as escalated when its action is stricter or equal, else as relaxed, so
// the four counts always add up to the set's size.
func Summarize(changes []Change) v1alpha1.ChangeSummary {
	var s v1alpha1.ChangeSummary
	for _, c := range changes {
		switch c.Direction() {
		case Added:
			s.Added++
		case Removed:
			s.Removed++
		case Escalated:
			s.Escalated++
		case Relaxed:
			s.Relaxed++
		default:
			if severity(*c.After) >= severity(*c.Before) {
				s.Escalated++
			} else {
				s.Relaxed++
			}
		}
	}
	return s
}

// Describe writes an entry the way a PolicyChange's before and after read:
// "suspend", "silence+reject-media", "" for none.
func Describe(e *moderation.Entry) string {
	if e == nil {
		return ""
	}
	c := e.Canonical()
	parts := []string{c.Action.String()}
	if c.RejectMedia && c.Action != moderation.RejectMedia && c.Action != moderation.Suspend {
		parts = append(parts, "reject-media")
	}
	if c.RejectReports && c.Action != moderation.Suspend {
		parts = append(parts, "reject-reports")
	}
	if c.Obfuscate {
		parts = append(parts, "obfuscate")
	}
	return strings.Join(parts, "+")
}

// severity orders actions for restriction: an allow restricts least (it
// protects), then nothing, then the blocks by strength.
func severity(e moderation.Entry) int {
	if e.Action == moderation.Allow {
		return -1
	}
	return int(e.Canonical().Action)
}

// stricter reports whether a restricts at least as much as b in every
// respect: severity and each flag.
func stricter(a, b moderation.Entry) bool {
	a, b = a.Canonical(), b.Canonical()
	if severity(a) < severity(b) {
		return false
	}
	if a.Action == moderation.Suspend {
		return true
	}
	return (a.RejectMedia || !b.RejectMedia) && (a.RejectReports || !b.RejectReports)
}
