package moderation

import (
	"bytes"
	"io"
)

// csvReader reads CSV records exactly as encoding/csv's Reader does with
// LazyQuotes, FieldsPerRecord -1, ReuseRecord and ',' as the separator,
// which is how the CSV parsers read: a field is quoted only when it starts
// with '"'; inside one, '""' is a quote, '"' before ',' or the end of the
// line ends the field, any other '"' is kept as text, and a newline inside
// quotes continues the record; "\r\n" at the end of a line reads as "\n",
// a '\r' just before the end of the input is dropped, and empty lines
// between records are skipped.
//
// It exists for speed (issue 16 item 4): encoding/csv reads lines through a
// second buffered reader and keeps a position for every field, which was
// a quarter of parsing ten 100,000-row lists. The behaviour is checked
// against encoding/csv itself, on crafted, fuzzed and every real list
// (csv_read_test.go). It enforces no caps of its own: it reads from
// csvShape, which fails the stream at the first line, record or field
// count past its cap, before any of those bytes reach the reader.
type csvReader struct {
	r io.Reader
	// buf[start:end] is read and not yet consumed. It grows only for a
	// line longer than the buffer, as encoding/csv's does; csvShape bounds
	// lines, and the input's MaxBytes everything else.
	buf        []byte
	start, end int
	err        error // the stream's error, returned when buf is drained

	numLine    int    // lines read so far
	recordLine int    // the line the last record started on
	record     []byte // the fields of the record being read, unquoted
	ends       []int  // where each field ends in record
	fields     []string
	rows       stringArena
}

// csvReadBuffer is the reader's buffer: a few typical lines are read per
// call, and a line up to MaxLineBytes fits without growing.
const csvReadBuffer = 2 * MaxLineBytes

func newCSVReader(r io.Reader) *csvReader {
	return &csvReader{r: r, buf: make([]byte, csvReadBuffer)}
}

// line reports the line the last record read started on, as
// encoding/csv's FieldPos(0) does.
func (c *csvReader) line() int { return c.recordLine }

// readSlice returns the input up to and including the next '\n', or what
// is left with the stream's error when there is no further '\n', as
// bufio.Reader.ReadSlice does. The slice is valid until the next call.
func (c *csvReader) readSlice() ([]byte, error) {
	scanned := 0 // of buf[start:end], known to hold no '\n'
	for {
		if i := bytes.IndexByte(c.buf[c.start+scanned:c.end], '\n'); i >= 0 {
			line := c.buf[c.start : c.start+scanned+i+1]
			c.start += scanned + i + 1
			return line, nil
		}
		scanned = c.end - c.start
		if c.err != nil {
			line := c.buf[c.start:c.end]
			c.start = c.end
			return line, c.err
		}
		c.fill()
	}
}

// fill reads more of the stream after what is unread, making room first.
func (c *csvReader) fill() {
	if c.start > 0 {
		c.end = copy(c.buf, c.buf[c.start:c.end])
		c.start = 0
	}
	if c.end == len(c.buf) {
		c.buf = append(c.buf, make([]byte, len(c.buf))...)
	}
	for range 100 { // io.Reader may return 0, nil; bufio gives up after 100
		n, err := c.r.Read(c.buf[c.end:])
		c.end += n
		if err != nil {
			c.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	c.err = io.ErrNoProgress
}

// readLine is encoding/csv's readLine: a line with its '\n', "\r\n"
// normalised to "\n", a last line's trailing '\r' dropped.
func (c *csvReader) readLine() ([]byte, error) {
	line, err := c.readSlice()
	if len(line) > 0 && err == io.EOF {
		err = nil
		if line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	}
	c.numLine++
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line[n-2] = '\n'
		line = line[:n-1]
	}
	return line, err
}

func lengthNL(b []byte) int {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		return 1
	}
	return 0
}

// read returns the next record, io.EOF at the end of the input, or the
// stream's error with whatever record was being read (which the caller
// drops, as it drops encoding/csv's). The fields share one string, and the
// slice is reused by the next call.
func (c *csvReader) read() ([]string, error) {
	var line []byte
	var errRead error
	for errRead == nil {
		line, errRead = c.readLine()
		if errRead == nil && len(line) == lengthNL(line) {
			continue // an empty line
		}
		break
	}
	if errRead == io.EOF {
		return nil, errRead
	}
	c.recordLine = c.numLine
	c.record, c.ends = c.record[:0], c.ends[:0]
parseField:
	for {
		if len(line) == 0 || line[0] != '"' {
			i := bytes.IndexByte(line, ',')
			field := line
			if i >= 0 {
				field = field[:i]
			} else {
				field = field[:len(field)-lengthNL(field)]
			}
			c.record = append(c.record, field...)
			c.ends = append(c.ends, len(c.record))
			if i >= 0 {
				line = line[i+1:]
				continue parseField
			}
			break parseField
		}
		line = line[1:]
		for {
			i := bytes.IndexByte(line, '"')
			switch {
			case i >= 0:
				c.record = append(c.record, line[:i]...)
				line = line[i+1:]
				switch {
				case len(line) > 0 && line[0] == '"': // '""': a quote
					c.record = append(c.record, '"')
					line = line[1:]
				case len(line) > 0 && line[0] == ',': // the end of the field
					line = line[1:]
					c.ends = append(c.ends, len(c.record))
					continue parseField
				case lengthNL(line) == len(line): // the end of the line
					c.ends = append(c.ends, len(c.record))
					break parseField
				default: // a bare quote, kept
					c.record = append(c.record, '"')
				}
			case len(line) > 0: // the record goes on on the next line
				c.record = append(c.record, line...)
				if errRead != nil {
					break parseField
				}
				line, errRead = c.readLine()
				if errRead == io.EOF {
					errRead = nil
				}
			default: // the end of the input inside quotes
				c.ends = append(c.ends, len(c.record))
				break parseField
			}
		}
	}
	// One string for the record, as encoding/csv makes, but cut from a
	// shared block rather than allocated a row at a time: the fields are
	// slices of it, and the parser copies whatever it keeps.
	s := c.rows.cloneBytes(c.record)
	c.fields = c.fields[:0]
	from := 0
	for _, to := range c.ends {
		c.fields = append(c.fields, s[from:to])
		from = to
	}
	return c.fields, errRead
}
