package moderation

import (
	"fmt"
	"strings"
)

// The parser's caps, in one place. A feed is someone else's file: every
// dimension the parser allocates for is bounded here, and checked on the
// raw bytes before the allocation it bounds, so that what one feed can cost
// is fixed by construction (measured per shape by BenchmarkHostileFeeds in
// internal/feeds, against a budget of 64 MiB above baseline).
//
// A feed beyond a structural cap (bytes, rows, line, record, fields, JSON
// depth or tokens) is refused as a whole with a *LimitError naming the cap
// and the line: such a file is broken or built to hurt, and reading part of
// it would make a truncated list look like retractions. A comment beyond its
// cap is only shortened: the block is what matters, and refusing a whole
// list over one wordy row would freeze it at its last good copy.
const (
	// DefaultMaxBytes bounds a feed's decoded size. The largest public
	// lists are a few MiB; the fetcher applies the same limit while
	// decoding, so no more than this is ever held.
	DefaultMaxBytes = 16 << 20
	// DefaultMaxEntries bounds the rows of a feed, unreadable ones included
	// (a file of junk must not cost more than a file of entries). Mastodon's
	// own import stops at 20,000; ten times that leaves room for any real
	// list and bounds the entries, the duplicate index and the CPU.
	DefaultMaxEntries = 200_000

	// MaxLineBytes bounds one line (CSV and plain text). Real rows are under
	// 300 bytes; a row with a comment at MaxCommentBytes, written in a
	// four-byte script and CSV-quoted, stays well under it. encoding/csv
	// would otherwise buffer a line of any length, twice.
	MaxLineBytes = 64 << 10
	// MaxRecordBytes bounds one CSV record (a quoted field may span lines,
	// so a record is not a line) and one element of a JSON array, before
	// the JSON decoder copies it.
	MaxRecordBytes = 64 << 10
	// MaxFieldsPerRecord bounds the fields of a CSV record, header included.
	// The formats have six or seven columns; encoding/csv keeps about 40
	// bytes of bookkeeping per field, which is how one line of 16 million
	// commas cost 1.1 GiB (issue 12 case 1).
	MaxFieldsPerRecord = 256
	// MaxJSONDepth bounds nesting in a JSON feed, the top-level array
	// counting as 1. A domain block is an object in the array (depth 2);
	// unknown fields may nest a little.
	MaxJSONDepth = 16
	// MaxJSONTokens bounds the structural tokens of one JSON element
	// (brackets, braces, commas, colons and strings). A domain block has
	// about twenty; the bound keeps decoding an element cheap whatever
	// unknown fields carry.
	MaxJSONTokens = 1024
	// MaxCommentBytes bounds a kept public comment: longer ones are cut on a
	// UTF-8 boundary and end with "…". It is the API's own bound on a
	// moderator's publicComment, so a subscribed comment is never longer
	// than a local one; comments go to every server and into the saved
	// fetch state, which must fit a ConfigMap (issue 12 case 7).
	MaxCommentBytes = 1000
	// MaxProblems bounds the skipped rows described in a ParseResult; the
	// rest are only counted (ParseResult.Skipped). A hundred thousand
	// duplicate rows must not become a hundred thousand messages.
	MaxProblems = 100
)

// LimitError is a feed refused because it goes beyond one of the caps
// above. It wraps ErrTooLarge.
type LimitError struct {
	// Cap is the name of the constant (or option) exceeded, e.g.
	// "MaxFieldsPerRecord": the error text names it so that whoever reads
	// the condition can find the bound and its reason.
	Cap string
	// Limit is the cap's value.
	Limit int
	// Line is the line the offending line, record or element starts on;
	// 0 when the limit is not about a line.
	Line int
	// What is exceeded, as a phrase: "fields in one CSV record".
	What string
}

func (e *LimitError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	fmt.Fprintf(&b, "more than %d %s (cap %s)", e.Limit, e.What, e.Cap)
	return b.String()
}

// Unwrap makes every LimitError an ErrTooLarge.
func (e *LimitError) Unwrap() error { return ErrTooLarge }
