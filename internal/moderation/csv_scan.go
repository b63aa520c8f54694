package moderation

import (
	"bytes"
	"io"
	"strings"
)

// csvScanner reads CSV records with exactly the grammar of csvReader
// (encoding/csv's with LazyQuotes; see csvReader for the rules), for
// ParseSeekable.
//
// It exists for speed (issue 16 item 4): csvReader copies every byte four
// times on its way (guard, bufio, its own buffer, the record, the row's
// string) behind csvShape's separate pass over the bytes for the caps.
// Here the input is read in chunks, each copied once into a string (the
// window), and a field is a substring of it: a record costs no copy and
// no allocation. Only a quoted field that is not its text as written
// (an escaped '""', a bare quote or a "\r\n" inside it) is rebuilt, in a
// shared arena. Chunks rather than the whole input: a window of a few
// megabytes is fresh memory for the kernel to hand out page by page,
// where chunks are recycled by the heap (whole files cost a quarter more
// page faults than the stream path).
//
// The caps are checked while scanning, on each record before its fields
// are handed on: a record whose span (its lines, newlines included) is
// over half of MaxRecordBytes, or with more than half of
// MaxFieldsPerRecord fields, stops the scan with ok false, as do a NUL
// byte, more than MaxBytes and a read error (failed). Such a record is
// far beyond any real row, and it is within the caps with room to spare
// when the scan accepts it, so csvShape would accept it too; the caller
// then reads the input again through the stream path, which refuses or
// reads it with the same errors, line numbers and results as ever.
// FuzzParseSeekableSameAsStream checks the two paths agree.
type csvScanner struct {
	src      io.Reader
	scratch  []byte // a chunk as read
	maxBytes int64
	nread    int64 // bytes read from src
	eof      bool  // src is drained (or failed)
	failed   bool  // NUL, over maxBytes, a read error, a line too long

	s    string // the window: the unread end of the last one and a chunk
	base int64  // the offset of s in the input
	pos  int    // the start of the next line in s

	numLine    int // lines read so far
	recordLine int // the line the last record started on
	fields     []string
	// piece is a quoted field being rebuilt; rows holds rebuilt fields.
	piece []byte
	rows  stringArena
}

// scanChunk is how much the scanner reads at a time.
const scanChunk = 256 << 10

func newCSVScanner(src io.Reader, maxBytes int64, chunk int) *csvScanner {
	return &csvScanner{src: src, scratch: make([]byte, chunk), maxBytes: maxBytes}
}

// Margins for the caps, see csvScanner.
const (
	scanMaxRecordSpan = MaxRecordBytes / 2
	scanMaxFields     = MaxFieldsPerRecord / 2
)

// fill reads the next chunk into a new window after what is unread.
func (c *csvScanner) fill() {
	rest := c.s[c.pos:]
	if len(rest) > scanMaxRecordSpan {
		c.fail() // no newline in sight: a line beyond the margin
		return
	}
	var n int
	var err error
	for range 100 { // io.Reader may return 0, nil; bufio gives up after 100
		if n, err = c.src.Read(c.scratch); n > 0 || err != nil {
			break
		}
	}
	chunk := c.scratch[:n]
	c.nread += int64(n)
	switch {
	case c.nread > c.maxBytes || bytes.IndexByte(chunk, 0) >= 0:
		c.fail()
		return
	case err == io.EOF:
		c.eof = true
	case err != nil || n == 0:
		c.fail()
		return
	}
	var w strings.Builder
	w.Grow(len(rest) + n)
	w.WriteString(rest)
	w.Write(chunk)
	c.base += int64(c.pos)
	c.s, c.pos = w.String(), 0
}

func (c *csvScanner) fail() { c.failed, c.eof = true, true }

// offset is where the next line starts in the input.
func (c *csvScanner) offset() int64 { return c.base + int64(c.pos) }

// readLine returns the next line without its end: "\n" or "\r\n", or at
// the end of the input one trailing '\r', as csvReader.readLine drops
// them. nl says whether the line ended with a newline; eof is true when
// no line was left.
func (c *csvScanner) readLine() (line string, nl, eof bool) {
	for {
		rest := c.s[c.pos:]
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			c.numLine++
			c.pos += i + 1
			line = rest[:i]
			if i > 0 && line[i-1] == '\r' {
				line = line[:i-1]
			}
			return line, true, false
		}
		if c.eof {
			if rest == "" || c.failed {
				return "", false, true
			}
			c.numLine++
			c.pos = len(c.s)
			return strings.TrimSuffix(rest, "\r"), false, false
		}
		c.fill()
	}
}

// read returns the next record's fields (valid until the next call),
// eof at the end of the input, or ok false for a record beyond the
// scanner's margins.
func (c *csvScanner) read() (fields []string, eof, ok bool) {
	var line string
	var nl bool
	for {
		line, nl, eof = c.readLine()
		if eof {
			return nil, !c.failed, !c.failed
		}
		if line != "" {
			break
		}
		// An empty line, skipped as csvReader skips it.
	}
	c.recordLine = c.numLine
	start := c.offset() - int64(len(line)) - 2 // at or before where the record starts
	c.fields = c.fields[:0]
	for {
		if len(c.fields) >= scanMaxFields || c.offset()-start > scanMaxRecordSpan {
			return nil, false, false
		}
		if line == "" || line[0] != '"' {
			i := strings.IndexByte(line, ',')
			if i < 0 {
				c.fields = append(c.fields, line)
				break
			}
			c.fields = append(c.fields, line[:i])
			line = line[i+1:]
			continue
		}
		// A quoted field. The common case, '"text"' then ',' or the end
		// of the line with no other quote, is a substring; anything else
		// is rebuilt in piece.
		line = line[1:]
		if i := strings.IndexByte(line, '"'); i >= 0 {
			if after := line[i+1:]; after == "" || after[0] == ',' {
				c.fields = append(c.fields, line[:i])
				if after == "" {
					break
				}
				line = after[1:]
				continue
			}
		}
		var more bool
		if line, nl, more = c.quoted(line, nl, start); !more {
			break
		}
	}
	if c.failed || c.offset()-start > scanMaxRecordSpan {
		return nil, false, false
	}
	return c.fields, false, true
}

// quoted reads the rest of a quoted field that is not a plain substring,
// from line (just after the opening quote), rebuilding its text as
// csvReader does. It returns what follows the field on its last line, and
// more when the record goes on with another field.
func (c *csvScanner) quoted(line string, nl bool, start int64) (rest string, restNL, more bool) {
	c.piece = c.piece[:0]
	for {
		i := strings.IndexByte(line, '"')
		switch {
		case i >= 0:
			c.piece = append(c.piece, line[:i]...)
			line = line[i+1:]
			switch {
			case line != "" && line[0] == '"': // '""': a quote
				c.piece = append(c.piece, '"')
				line = line[1:]
			case line != "" && line[0] == ',': // the end of the field
				c.fields = append(c.fields, c.rows.cloneBytes(c.piece))
				return line[1:], nl, true
			case line == "": // the end of the line
				c.fields = append(c.fields, c.rows.cloneBytes(c.piece))
				return "", nl, false
			default: // a bare quote, kept
				c.piece = append(c.piece, '"')
			}
		case line != "" || nl: // the record goes on on the next line
			c.piece = append(c.piece, line...)
			if nl {
				c.piece = append(c.piece, '\n')
			}
			if c.offset()-start > scanMaxRecordSpan {
				// Over the margin: the caller stops at the check after
				// this field; what is kept does not matter.
				c.fields = append(c.fields, "")
				return "", false, false
			}
			var eof bool
			if line, nl, eof = c.readLine(); eof {
				line, nl = "", false
			}
		default: // the end of the input inside quotes
			c.fields = append(c.fields, c.rows.cloneBytes(c.piece))
			return "", false, false
		}
	}
}
