package drivers

import "strings"

// Marker starts the private comment of every entry fedcommons writes. It is
// how ownership survives restarts without any state outside the server: an
// entry is ours if and only if its private comment starts with it.
const Marker = "fedcommons:"

// MarkComment returns the private comment to store for a provenance summary.
func MarkComment(summary string) string {
	if summary == "" {
		return Marker
	}
	return Marker + " " + summary
}

// ParseComment splits a stored private comment into the provenance summary
// and whether the entry is fedcommons' own. It inverts MarkComment exactly
// (one separating space is removed, nothing else), so listed entries compare
// equal to the desired ones.
func ParseComment(stored string) (summary string, managed bool) {
	rest, ok := strings.CutPrefix(stored, Marker)
	if !ok {
		return stored, false
	}
	return strings.TrimPrefix(rest, " "), true
}
