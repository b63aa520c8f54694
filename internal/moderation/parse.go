package moderation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
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

// Defaults for ParseOptions. A feed is fetched from someone else's server:
// without bounds a hostile or broken one could make the operator hold an
// arbitrary amount of memory. The largest real lists are a few thousand
// rows (Mastodon's own import stops at 20,000).
const (
	DefaultMaxBytes   = 16 << 20
	DefaultMaxEntries = 200_000
)

// ParseOptions bounds what Parse accepts. Zero values mean the defaults.
type ParseOptions struct {
	// MaxBytes refuses inputs larger than this many bytes.
	MaxBytes int64
	// MaxEntries refuses inputs with more entries than this.
	MaxEntries int
}

func (o ParseOptions) withDefaults() ParseOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
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
	// Entries in file order, domains normalised, no duplicates.
	Entries []Entry
	// Obfuscated counts rows whose domain was masked with '*'.
	Obfuscated int
	// Problems are the rows that were skipped.
	Problems []Problem
}

// ErrTooLarge is returned when an input exceeds ParseOptions.MaxBytes or
// MaxEntries.
var ErrTooLarge = errors.New("input too large")

// Parse reads a blocklist in the given format with the default limits.
// Bad rows become Problems; an input that is not the format at all
// (binary, HTML, no domain column, invalid JSON, too large) is an error.
func Parse(format Format, r io.Reader) (*ParseResult, error) {
	return ParseWithOptions(format, r, ParseOptions{})
}

// ParseWithOptions is Parse with explicit limits.
func ParseWithOptions(format Format, r io.Reader, opts ParseOptions) (*ParseResult, error) {
	opts = opts.withDefaults()
	data, err := io.ReadAll(io.LimitReader(r, opts.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", format, err)
	}
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("%w: %s input is over %d bytes", ErrTooLarge, format, opts.MaxBytes)
	}
	if err := checkText(data); err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	b := newBuilder(opts.MaxEntries)
	switch format {
	case FormatMastodonCSV, FormatFediBlockHoleCSV:
		err = parseCSV(data, b)
	case FormatGoToSocialJSON:
		err = parseGoToSocialJSON(data, b)
	case FormatMastodonAPIJSON:
		err = parseMastodonAPIJSON(data, b)
	case FormatPlain:
		err = parsePlain(data, b)
	default:
		_, err = ParseFormat(string(format))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", format, err)
	}
	return &b.result, nil
}

// checkText refuses inputs that are plainly not a text feed, so that a
// captive portal or an error page is one clear error instead of hundreds
// of row problems.
func checkText(data []byte) error {
	if bytes.IndexByte(data, 0) >= 0 {
		return errors.New("input contains NUL bytes: binary data, not a blocklist")
	}
	head := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(head) > 512 {
		head = head[:512]
	}
	lower := bytes.ToLower(head)
	if bytes.HasPrefix(lower, []byte("<!doctype")) || bytes.HasPrefix(lower, []byte("<html")) ||
		bytes.HasPrefix(lower, []byte("<?xml")) || bytes.HasPrefix(lower, []byte("<head")) || bytes.HasPrefix(lower, []byte("<body")) {
		return errors.New("input is HTML or XML, not a blocklist (a login page or an error page?)")
	}
	return nil
}

// builder collects entries with the rules every format shares:
// normalisation, obfuscation counting, duplicates, canaries, the limit.
type builder struct {
	result     ParseResult
	seen       map[string]int // domain → line of first occurrence
	maxEntries int
	rows       int
}

func newBuilder(maxEntries int) *builder {
	return &builder{seen: make(map[string]int), maxEntries: maxEntries}
}

const maxRecordLen = 200

// skip records a row that cannot be read at all; it counts like add.
func (b *builder) skip(line int, record, reason string) error {
	if b.rows++; b.rows > b.maxEntries {
		return fmt.Errorf("%w: more than %d rows", ErrTooLarge, b.maxEntries)
	}
	b.problem(line, record, reason)
	return nil
}

func (b *builder) problem(line int, record, reason string) {
	if len(record) > maxRecordLen {
		record = truncate(record, maxRecordLen)
	}
	b.result.Problems = append(b.result.Problems, Problem{Line: line, Record: record, Reason: reason})
}

// add normalises e.Domain and keeps the entry, or records why not. It
// returns an error only when the entry limit is exceeded.
func (b *builder) add(line int, record string, e Entry) error {
	// Every row counts against the limit, skipped ones too: a file of
	// junk must not cost more memory than a file of entries.
	if b.rows++; b.rows > b.maxEntries {
		return fmt.Errorf("%w: more than %d rows", ErrTooLarge, b.maxEntries)
	}
	domain, _, err := NormalizeDomain(e.Domain)
	switch {
	case errors.Is(err, ErrObfuscated):
		b.result.Obfuscated++
		return nil
	case err != nil:
		b.problem(line, record, err.Error())
		return nil
	}
	if isCanary(domain) {
		b.problem(line, record, "canary row: the publisher asks that it be deleted by whoever has read their documentation, so it is never applied")
		return nil
	}
	if first, dup := b.seen[domain]; dup {
		b.problem(line, record, fmt.Sprintf("duplicate of line %d (%s), first one kept", first, domain))
		return nil
	}
	b.seen[domain] = line
	e.Domain = domain
	e.PublicComment = cleanComment(e.PublicComment)
	e.PrivateComment = ""
	b.result.Entries = append(b.result.Entries, e.Canonical())
	return nil
}

// isCanary recognises rows like Seirdy's
// "000delete.this.line.if.you.have.read.the.documentation.on.seirdy.one":
// a publisher's check that a list is not applied blindly. Subscribing with
// an explicit weight is the reading; the row itself is never a real server.
func isCanary(domain string) bool {
	return strings.Contains(domain, "delete.this.line") || strings.Contains(domain, "deletethisline")
}

// cleanComment makes comments survive every writer and reader unchanged:
// valid UTF-8, one newline convention, no surrounding space.
func cleanComment(s string) string {
	if s == "" {
		return s
	}
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	return strings.TrimSpace(s)
}

// truncate shortens s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ellipsis = "…"
	cut := n - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// lineIndex maps byte offsets to 1-based line numbers.
type lineIndex []int

func newLineIndex(data []byte) lineIndex {
	idx := lineIndex{0}
	for i, c := range data {
		if c == '\n' {
			idx = append(idx, i+1)
		}
	}
	return idx
}

func (l lineIndex) line(offset int64) int {
	lo, hi := 0, len(l)
	for lo+1 < hi {
		mid := (lo + hi) / 2
		if int64(l[mid]) <= offset {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo + 1
}
