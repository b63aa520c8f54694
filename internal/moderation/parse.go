package moderation

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/fedcommons/fedcommons/internal/textcut"
)

// Format names a blocklist format, spelled as in FederationPolicy sources.
type Format string

const (
	// FormatMastodonCSV is Mastodon's domain-block export:
	// #domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate.
	FormatMastodonCSV Format = "mastodon-csv"
	// FormatFediBlockHoleCSV is FediBlockHole's CSV: the same columns
	// without '#', in any order, with Python's True/False.
	FormatFediBlockHoleCSV Format = "fediblockhole-csv"
	// FormatGoToSocialJSON is GoToSocial's export and subscription JSON:
	// [{domain, public_comment|comment, obfuscate}], every entry a suspension.
	FormatGoToSocialJSON Format = "gotosocial-json"
	// FormatMastodonAPIJSON is Mastodon's public GET /api/v1/instance/domain_blocks:
	// [{domain, digest, severity, comment}].
	FormatMastodonAPIJSON Format = "mastodon-api-json"
	// FormatPlain is one domain a line, '#' comments, every entry a suspension.
	FormatPlain Format = "plain"
)

// Formats lists every format Parse reads.
var Formats = []Format{FormatMastodonCSV, FormatFediBlockHoleCSV, FormatGoToSocialJSON, FormatMastodonAPIJSON, FormatPlain}

// ParseFormat reads a format name as written in a FederationPolicy source.
func ParseFormat(s string) (Format, error) {
	for _, f := range Formats {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("unknown format %q (want mastodon-csv, fediblockhole-csv, gotosocial-json, mastodon-api-json or plain)", s)
}

// ParseOptions bounds what Parse accepts. Zero values mean the defaults
// (DefaultMaxBytes, DefaultMaxEntries); the other caps in parse_limits.go
// are fixed.
type ParseOptions struct {
	// MaxBytes refuses inputs larger than this many bytes.
	MaxBytes int64
	// MaxEntries refuses inputs with more rows than this, unreadable rows
	// included.
	MaxEntries int
	// MaxKept, when positive, refuses inputs listing more distinct entries
	// than this: a caller that can keep only so many (the feeds Tracker)
	// says so, and parsing stops there instead of building what would be
	// thrown away.
	MaxKept int
	// SizeHint, when positive, is how many bytes the input holds (a file's
	// size), used only to size the result ahead: growing a map and a slice
	// of 100,000 entries step by step was a tenth of parsing (issue 16
	// item 4). It never lets more through than the caps.
	SizeHint int64
	// SortByDomain returns ParseResult.Entries sorted by domain instead of
	// in file order. Merge walks its sources in domain order, and sorts
	// those that are not (most lists are, but not all); sorting as part
	// of parsing does it where each list is parsed, in parallel, and
	// Merge then reads every source in the order it lies in memory
	// (issue 16 item 4). Problems keep their lines.
	SortByDomain bool
	// KeepCutComments keeps, in ParseResult.CutComments, each public
	// comment cut to MaxCommentBytes as the feed had it (cleaned): a fork
	// of the list records the rest where a moderator can read it. The
	// input's MaxBytes bounds what this keeps.
	KeepCutComments bool
}

// bytesPerRow is a low estimate of a row's size in a real feed (the lists
// under shared/data/blocklists average 50 to 80 bytes a row), so that a
// hint sizes for at least as many rows as the input holds.
const bytesPerRow = 40

func (o ParseOptions) withDefaults() ParseOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	// An entry's index is held in 32 bits, signed in the sort's items
	// (see domainSet, domainItem); no feed comes near.
	o.MaxEntries = min(o.MaxEntries, math.MaxInt32)
	return o
}

// Problem is one row that was skipped, and why. Rows are never dropped
// without a Problem (obfuscated rows are counted in ParseResult.Obfuscated
// instead, because large servers publish hundreds of them on purpose).
type Problem struct {
	// Line is the 1-based line the row starts on.
	Line int
	// Record is the row as read, shortened to a readable length.
	Record string
	// Reason says why the row was skipped.
	Reason string
}

func (p Problem) String() string { return fmt.Sprintf("line %d: %s: %s", p.Line, p.Reason, p.Record) }

// ParseResult is what a feed contained.
type ParseResult struct {
	// Entries in file order (by domain with ParseOptions.SortByDomain),
	// domains normalised, no duplicates.
	Entries []Entry
	// Obfuscated counts rows whose domain was masked with '*';
	// ObfuscatedRows are the first MaxProblems of them, so a person can
	// be told which.
	Obfuscated     int
	ObfuscatedRows []Problem
	// Problems describe the first MaxProblems rows that were skipped.
	Problems []Problem
	// Skipped counts every skipped row, described in Problems or not.
	Skipped int
	// TruncatedComments counts comments cut to MaxCommentBytes.
	TruncatedComments int
	// CutComments holds, by domain, the whole comments that were cut,
	// when ParseOptions.KeepCutComments asked for them.
	CutComments map[string]string
}

// ErrTooLarge is returned when an input exceeds one of the caps: its
// MaxBytes or MaxEntries option, or a cap of parse_limits.go. The error is
// then a *LimitError, which says which cap and where.
var ErrTooLarge = errors.New("input too large")

// Parse reads a blocklist in the given format with the default limits.
// Bad rows become Problems; an input that is not the format at all
// (binary, HTML, no domain column, invalid JSON, too large) is an error.
func Parse(format Format, r io.Reader) (*ParseResult, error) {
	return ParseWithOptions(format, r, ParseOptions{})
}

// ParseWithOptions is Parse with explicit limits. It reads r as a stream,
// never holding it whole: what parsing costs is bounded by what it keeps,
// which the caps of parse_limits.go bound, whatever r's size.
func ParseWithOptions(format Format, r io.Reader, opts ParseOptions) (*ParseResult, error) {
	opts = opts.withDefaults()
	in, err := newInput(r, opts.MaxBytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	b := newBuilder(opts)
	switch format {
	case FormatMastodonCSV, FormatFediBlockHoleCSV:
		err = parseCSV(in, b)
	case FormatGoToSocialJSON:
		err = parseGoToSocialJSON(in, b)
	case FormatMastodonAPIJSON:
		err = parseMastodonAPIJSON(in, b)
	case FormatPlain:
		err = parsePlain(in, b)
	default:
		_, err = ParseFormat(string(format))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	if opts.SortByDomain {
		sortByDomain(b.result.Entries)
	}
	return &b.result, nil
}

// builder collects entries with the rules every format shares:
// normalisation, obfuscation counting, duplicates, canaries, the limit.
type builder struct {
	result     ParseResult
	seen       domainSet // the kept domains, by entry
	lines      []int     // the line each entry was read on
	comments   map[string]string
	domains    stringArena
	maxEntries int
	maxKept    int
	rows       int
	keepCut    bool
}

func newBuilder(opts ParseOptions) *builder {
	rows := int(min(opts.SizeHint/bytesPerRow, int64(opts.MaxEntries)))
	if opts.MaxKept > 0 {
		rows = min(rows, opts.MaxKept)
	}
	rows = max(rows, 0)
	b := &builder{seen: newDomainSet(rows), maxEntries: opts.MaxEntries, maxKept: opts.MaxKept, keepCut: opts.KeepCutComments}
	if rows > 0 {
		b.result.Entries = make([]Entry, 0, rows)
		b.lines = make([]int, 0, rows)
	}
	return b
}

// maxRecordLen bounds the record quoted in a Problem.
const maxRecordLen = 200

// count counts a row against the row cap.
func (b *builder) count(line int) error {
	if b.rows++; b.rows > b.maxEntries {
		return &LimitError{Cap: "MaxEntries", Limit: b.maxEntries, Line: line, What: "rows"}
	}
	return nil
}

// row is a row as read, for a Problem to quote: the text itself, or the
// fields of a CSV record, joined only when a Problem quotes them. Joining
// every record up front cost an allocation a row for the rare row that is
// skipped (issue 16 item 4).
type row struct {
	text   string
	fields []string
}

func textRow(s string) row { return row{text: s} }

func (r row) String() string {
	if r.fields != nil {
		return strings.Join(r.fields, ",")
	}
	return r.text
}

// quote is the row as a Problem quotes it: cut, cleaned and copied, since
// the row as read shares its memory with the rows around it (see
// stringArena).
func (r row) quote() string {
	return strings.Clone(cleanText(textcut.Truncate(r.String(), maxRecordLen)))
}

// skip records a row that cannot be read at all; it counts like add.
func (b *builder) skip(line int, record row, reason string) error {
	if err := b.count(line); err != nil {
		return err
	}
	b.problem(line, record, reason)
	return nil
}

// problem counts a skipped row and describes the first MaxProblems. The
// record quoted is cut and cleaned: it ends up in events and logs.
func (b *builder) problem(line int, record row, reason string) {
	b.result.Skipped++
	if len(b.result.Problems) >= MaxProblems {
		return
	}
	text := record.quote()
	b.result.Problems = append(b.result.Problems, Problem{Line: line, Record: text, Reason: reason})
}

// add normalises e.Domain and keeps the entry, or records why not. It
// returns an error only when the entry limit is exceeded.
func (b *builder) add(line int, record row, e Entry) error {
	// Every row counts against the limit, skipped ones too: a file of
	// junk must not cost more memory than a file of entries.
	if err := b.count(line); err != nil {
		return err
	}
	domain, _, err := NormalizeDomain(e.Domain)
	switch {
	case errors.Is(err, ErrObfuscated):
		b.result.Obfuscated++
		if len(b.result.ObfuscatedRows) < MaxProblems {
			b.result.ObfuscatedRows = append(b.result.ObfuscatedRows, Problem{Line: line, Record: record.quote(),
				Reason: "the domain is starred out, so it cannot be matched to a server"})
		}
		return nil
	case err != nil:
		b.problem(line, record, err.Error())
		return nil
	}
	if isCanary(domain) {
		b.problem(line, record, "canary row: the publisher asks that it be deleted by whoever has read their documentation, so it is never applied")
		return nil
	}
	first, hash := b.seen.find(b.result.Entries, domain)
	if first >= 0 {
		b.problem(line, record, fmt.Sprintf("duplicate of line %d (%s), first one kept", b.lines[first], domain))
		return nil
	}
	if b.maxKept > 0 && len(b.result.Entries) >= b.maxKept {
		return &LimitError{Cap: "MaxKept", Limit: b.maxKept, Line: line, What: "entries, the most kept per source"}
	}
	// Copied: the parsed strings are cut from the row as read, and an
	// entry holding a slice of it would keep the whole row (comment,
	// unknown columns) alive for as long as the entry.
	domain = b.domains.clone(domain)
	e.Domain = domain
	if e.PublicComment = cleanComment(e.PublicComment); len(e.PublicComment) > MaxCommentBytes {
		if b.keepCut {
			if b.result.CutComments == nil {
				b.result.CutComments = map[string]string{}
			}
			b.result.CutComments[domain] = strings.Clone(e.PublicComment)
		}
		// Copied, like every string kept: the comment is cut from the row.
		e.PublicComment = strings.Clone(strings.TrimSpace(textcut.Truncate(e.PublicComment, MaxCommentBytes)))
		b.result.TruncatedComments++
	} else {
		e.PublicComment = b.intern(e.PublicComment)
	}
	e.PrivateComment = ""
	b.result.Entries = append(b.result.Entries, e.Canonical())
	b.lines = append(b.lines, line)
	b.seen.add(b.result.Entries, len(b.result.Entries)-1, hash)
	return nil
}

// stringArena copies strings into shared blocks: one allocation per
// arenaBlock bytes instead of one per string. Each block is a
// strings.Builder that is only ever appended to, so the strings cut from
// it stay valid and immutable; a block is freed when no string cut from it
// is left. The builder's arena holds only what it keeps (normalised
// domains); csvReader's holds the rows as read, so nothing cut from a row
// is kept without a copy (Problem records, cut comments; interned
// comments and domains are copies already).
type stringArena struct {
	block strings.Builder
}

const arenaBlock = 16 << 10

func (a *stringArena) clone(s string) string {
	if len(s) > arenaBlock/4 {
		return strings.Clone(s)
	}
	a.room(len(s))
	at := a.block.Len()
	a.block.WriteString(s)
	return a.block.String()[at:]
}

// cloneBytes is clone for bytes: string(b) without an allocation of its own.
func (a *stringArena) cloneBytes(b []byte) string {
	if len(b) > arenaBlock/4 {
		return string(b)
	}
	a.room(len(b))
	at := a.block.Len()
	a.block.Write(b)
	return a.block.String()[at:]
}

func (a *stringArena) room(n int) {
	if a.block.Cap()-a.block.Len() < n {
		a.block = strings.Builder{}
		a.block.Grow(arenaBlock)
	}
}

// maxInterned bounds how many distinct comments a builder shares: past it,
// each new comment is its own copy, as before.
const maxInterned = 4096

// intern returns a copy of comment, shared with every earlier entry of the
// feed with the same comment. Feeds repeat a few reasons ("Spam", "Hate
// speech") over thousands of rows; one copy each saves an allocation a row
// (issue 16 item 4) and the memory of every repeat.
func (b *builder) intern(comment string) string {
	if comment == "" {
		return ""
	}
	if c, ok := b.comments[comment]; ok {
		return c
	}
	c := strings.Clone(comment)
	if len(b.comments) < maxInterned {
		if b.comments == nil {
			b.comments = make(map[string]string)
		}
		b.comments[c] = c
	}
	return c
}

// isCanary recognises rows like Seirdy's
// "000delete.this.line.if.you.have.read.the.documentation.on.seirdy.one":
// a publisher's check that a list is not applied blindly. Subscribing with
// an explicit weight is the reading; the row itself is never a real server.
func isCanary(domain string) bool {
	return strings.Contains(domain, "delete.this.line") || strings.Contains(domain, "deletethisline")
}

// cleanComment makes comments survive every writer and reader unchanged,
// and harmless wherever they are shown: valid UTF-8 (invalid bytes become
// U+FFFD), one newline convention, no other control characters (a terminal
// escape or a C1 control becomes U+FFFD), no surrounding space. Parsers
// also cut what a feed says to MaxCommentBytes; a local comment is bounded
// by the API instead.
func cleanComment(s string) string {
	if s == "" {
		return s
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return strings.TrimSpace(cleanText(s))
}

// cleanText replaces invalid UTF-8 and control characters other than
// newline and tab with U+FFFD. It returns s itself when there is nothing
// to replace, which is nearly always.
func cleanText(s string) string {
	dirty := !utf8.ValidString(s)
	for i := 0; i < len(s) && !dirty; i++ {
		c := s[i]
		dirty = c < 0x20 && c != '\n' && c != '\t' || c == 0x7f || c == 0xc2 && i+1 < len(s) && s[i+1] < 0xa0
	}
	if !dirty {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			r = utf8.RuneError
		}
		b.WriteRune(r)
	}
	return b.String()
}
