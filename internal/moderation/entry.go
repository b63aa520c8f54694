package moderation

// Canonical returns the entry in the one spelling the engine compares.
//
// Mastodon has no "reject-media" severity: it writes severity noop with
// reject_media=true. The engine's RejectMedia action and that spelling are
// the same decision, so both become Action RejectMedia with the RejectMedia
// flag set. Without this a driver listing Mastodon's spelling would see a
// difference from the policy's spelling on every pass and rewrite the entry
// forever.
//
// The rules live in verdict.canonical, which Merge applies to the part of
// an entry it combines.
func (e Entry) Canonical() Entry {
	verdictOf(&e).canonical().setOn(&e)
	return e
}

// Imposes reports whether applying the entry changes anything on a server:
// a block, an allow, or a noop that still rejects reports. A bare noop is a
// recorded decision ("we chose not to block this") with nothing to write.
func (e Entry) Imposes() bool {
	// Canonical() spelled out: a noop with reject_media is reject-media.
	// Merge asks this of every entry, so it avoids copying the entry.
	return e.Action != Noop || e.RejectMedia || e.RejectReports
}

// isAllow reports whether the entry belongs in a server's allow list rather
// than its block list; servers keep the two apart.
func (e Entry) isAllow() bool { return e.Action == Allow }

// atLeastAsStrict reports whether a restricts at least as much as b: a
// suspension stops everything, otherwise the severity must be no milder
// and every flag b sets must be set on a too.
func atLeastAsStrict(a, b Entry) bool {
	a, b = a.Canonical(), b.Canonical()
	if a.Action == Allow || b.Action == Allow {
		return false
	}
	if a.Action == Suspend {
		return true
	}
	if a.Action < b.Action {
		return false
	}
	return (a.RejectMedia || !b.RejectMedia) && (a.RejectReports || !b.RejectReports)
}

// sameOnServer reports whether a server entry already says what the desired
// entry says. Private comments are deliberately not compared: they carry a
// provenance summary that changes whenever a source's weight or the set of
// sources changes, and rewriting thousands of entries for a comment would
// use up Mastodon's 300 writes per 5 minutes for nothing the federation
// sees. An entry gets the current summary whenever it is written for a real
// reason.
func sameOnServer(a, b Entry) bool {
	a, b = a.Canonical(), b.Canonical()
	return a.Domain == b.Domain && a.Action == b.Action &&
		a.RejectMedia == b.RejectMedia && a.RejectReports == b.RejectReports &&
		a.Obfuscate == b.Obfuscate && a.PublicComment == b.PublicComment
}
