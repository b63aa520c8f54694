package moderation

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/fedcommons/fedcommons/internal/textcut"
)

// csvColumns are the header names the CSV formats use, after the leading
// '#' of Mastodon's spelling is removed. Unknown columns are ignored;
// private_comment is ignored on purpose: a feed is public material and
// private comments belong to the moderators of the server that wrote them.
type csvColumns struct {
	domain, severity, rejectMedia, rejectReports, publicComment, obfuscate int
	width                                                                  int
}

func readCSVHeader(header []string) (csvColumns, error) {
	cols := csvColumns{domain: -1, severity: -1, rejectMedia: -1, rejectReports: -1, publicComment: -1, obfuscate: -1, width: len(header)}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")), "#")))
		var slot *int
		switch name {
		case "domain":
			slot = &cols.domain
		case "severity":
			slot = &cols.severity
		case "reject_media":
			slot = &cols.rejectMedia
		case "reject_reports":
			slot = &cols.rejectReports
		case "public_comment", "comment":
			slot = &cols.publicComment
		case "obfuscate":
			slot = &cols.obfuscate
		default:
			continue
		}
		if *slot >= 0 {
			return cols, fmt.Errorf("column %q appears twice in the header", name)
		}
		*slot = i
	}
	if cols.domain < 0 {
		return cols, fmt.Errorf("no domain column in the header %q: not a Mastodon or FediBlockHole CSV", textcut.Truncate(strings.Join(header, ","), maxRecordLen))
	}
	return cols, nil
}

// parseCSV reads both CSV formats. Mastodon's export and FediBlockHole's
// differ only in the header ('#domain' vs 'domain'), the spelling of
// booleans and the column order, all of which the header tells, so one
// reader takes either and a mislabelled source still works.
func parseCSV(in io.Reader, b *builder) error {
	r := newCSVReader(&csvShape{r: in, line: 1, recordLine: 1, fields: 1})
	header, err := r.read()
	if errors.Is(err, io.EOF) {
		return nil // an empty list is a list
	}
	if err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	cols, err := readCSVHeader(header)
	if err != nil {
		return err
	}
	for {
		// With lazy quotes, every input is records: the only errors are
		// the stream's (a cap, MaxBytes, a NUL byte), which end parsing.
		record, err := r.read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := addCSVRecord(b, cols, r.line(), record); err != nil {
			return err
		}
	}
}

// csvShape passes a CSV stream to encoding/csv, failing it at the first
// line longer than MaxLineBytes, record longer than MaxRecordBytes or
// record with more than MaxFieldsPerRecord fields. encoding/csv has no such
// bounds: it buffers a whole record, and keeps bookkeeping for every field,
// before returning it; checked here, the bytes beyond a cap never reach it.
//
// The scan follows encoding/csv's reading with LazyQuotes, which is how
// parseCSV reads: a field is quoted only when it starts with '"'; inside
// one, '""' is a quote, '"' followed by ',' or the end of the line (after
// "\r\n" is read as "\n") ends the field, and any other '"' is a literal
// quote; a newline inside quotes continues the record. FuzzCSVShape checks
// that every record encoding/csv returns from an accepted input is within
// the caps.
type csvShape struct {
	r   io.Reader
	err error

	state                         csvState
	line, lineLen                 int
	recordLine, recordLen, fields int
}

type csvState uint8

const (
	fieldStart   csvState = iota // at the start of a field
	unquoted                     // inside a field that does not start with '"'
	quoted                       // inside a quoted field
	quoteInQuote                 // just after a '"' inside a quoted field
	crAfterQuote                 // just after '"' and '\r' inside a quoted field
)

func (c *csvShape) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	for i := 0; i < n; {
		// A run of bytes that are none of '\n', '"', ',', '\r' (nearly
		// every byte of a feed) changes nothing but the lengths, and a
		// state at the start of a field or after a quote once: take it
		// whole. Byte by byte, this scan was a fifth of parsing (issue 16
		// item 4). The run is taken up to the caps; the byte that passes
		// one goes through step, which says where.
		j := i
		for j < n && !csvSpecial[p[j]] {
			j++
		}
		if run := min(j-i, MaxLineBytes-c.lineLen, MaxRecordBytes-c.recordLen); run > 0 && c.state != crAfterQuote {
			c.lineLen += run
			c.recordLen += run
			switch c.state {
			case fieldStart:
				c.state = unquoted
			case quoteInQuote:
				c.state = quoted // a bare quote, kept as text
			}
			i += run
			continue
		}
		if c.err = c.step(p[i]); c.err != nil {
			return i, c.err
		}
		i++
	}
	return n, err
}

// csvSpecial marks the bytes csvShape.step does more than count.
var csvSpecial = [256]bool{'\n': true, '"': true, ',': true, '\r': true}

func (c *csvShape) step(b byte) error {
	if b != '\n' {
		if c.lineLen++; c.lineLen > MaxLineBytes {
			return &LimitError{Cap: "MaxLineBytes", Limit: MaxLineBytes, Line: c.line, What: "bytes in one line"}
		}
		if c.recordLen++; c.recordLen > MaxRecordBytes {
			return &LimitError{Cap: "MaxRecordBytes", Limit: MaxRecordBytes, Line: c.recordLine, What: "bytes in one CSV record"}
		}
	}
	if c.state == crAfterQuote {
		// '"' then "\r\n" ends the field like '"' then "\n"; '"' then '\r'
		// and anything else was a bare quote and a '\r', both text.
		c.state = quoted
		if b == '\n' {
			c.state = quoteInQuote
		}
	}
	switch b {
	case '\n':
		c.line, c.lineLen = c.line+1, 0
		if c.state != quoted { // a newline inside quotes: the record goes on
			c.state, c.recordLine, c.recordLen, c.fields = fieldStart, c.line, 0, 1
		}
	case '"':
		switch c.state {
		case fieldStart:
			c.state = quoted
		case quoted:
			c.state = quoteInQuote
		case quoteInQuote:
			c.state = quoted // '""': an escaped quote
		}
	case ',':
		if c.state == quoted {
			return nil
		}
		if c.fields++; c.fields > MaxFieldsPerRecord {
			return &LimitError{Cap: "MaxFieldsPerRecord", Limit: MaxFieldsPerRecord, Line: c.recordLine, What: "fields in one CSV record"}
		}
		c.state = fieldStart
	case '\r':
		if c.state == quoteInQuote {
			c.state = crAfterQuote
			return nil
		}
		fallthrough
	default:
		switch c.state {
		case fieldStart:
			c.state = unquoted
		case quoteInQuote:
			c.state = quoted // a bare quote, kept as text
		}
	}
	return nil
}

func addCSVRecord(b *builder, cols csvColumns, line int, record []string) error {
	text := row{fields: record}
	if len(record) != cols.width {
		return b.skip(line, text, fmt.Sprintf("%d fields where the header has %d", len(record), cols.width))
	}
	field := func(i int) string {
		if i < 0 {
			return ""
		}
		return strings.TrimSpace(record[i])
	}
	// A comment escaped against formula injection (by WriteMastodonCSV or
	// any careful exporter) reads back as written.
	e := Entry{Domain: field(cols.domain), PublicComment: UnescapeFormula(field(cols.publicComment))}
	var err error
	if e.Action, err = parseSeverity(field(cols.severity)); err != nil {
		return b.skip(line, text, err.Error())
	}
	// One flag at a time rather than a loop over pointers into e: the
	// pointers moved e to the heap, an allocation a row (issue 16 item 4).
	var ok bool
	if e.RejectMedia, ok = parseBool(field(cols.rejectMedia)); !ok {
		return b.skip(line, text, badFlag("reject_media", field(cols.rejectMedia)))
	}
	if e.RejectReports, ok = parseBool(field(cols.rejectReports)); !ok {
		return b.skip(line, text, badFlag("reject_reports", field(cols.rejectReports)))
	}
	if e.Obfuscate, ok = parseBool(field(cols.obfuscate)); !ok {
		return b.skip(line, text, badFlag("obfuscate", field(cols.obfuscate)))
	}
	return b.add(line, text, e)
}

func badFlag(name, value string) string {
	return fmt.Sprintf("%s is %q, not true or false", name, value)
}

// parseSeverity reads a feed's severity. An empty severity means suspend:
// a row in a blocklist is a block, and GoToSocial reads every CSV row the
// same way.
func parseSeverity(s string) (Action, error) {
	switch strings.ToLower(s) {
	case "", "suspend":
		return Suspend, nil
	case "silence", "limit":
		return Silence, nil
	case "noop", "none":
		return Noop, nil
	case "reject-media", "reject_media":
		return RejectMedia, nil
	}
	return Noop, fmt.Errorf("unknown severity %q (want suspend, silence or noop)", s)
}

// parseBool reads the booleans of every exporter: Mastodon's true/false,
// IFTAS's TRUE/FALSE, Python's True/False, and empty for false.
func parseBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "", "false", "0", "no":
		return false, true
	case "true", "1", "yes":
		return true, true
	}
	return false, false
}
