package moderation

import (
	"fmt"
	"io"
)

// headBytes is how much of an input newInput looks at for markup.
const headBytes = 1024

// ParseSeekable is ParseWithOptions on an input that can be read twice, as
// a local file can, from where r stands: the same results and the same errors, for every input.
// The CSV formats are read by csvScanner, whose fields are substrings of
// the chunk they were read in, instead of through the stream path's
// copies, which were most of the cost of reading a list outside the
// builder (issue 16 item 4). The other formats, and any CSV input the
// scanner does not take on its own (over MaxBytes, a NUL byte, a record
// near a cap, a row past MaxEntries or MaxKept, no usable header, a read
// error), are read again from the start through the stream path, which
// gives every error as it always has.
//
// The result holds nothing of what was read: everything kept is copied,
// as the stream path copies what it keeps out of its buffers.
func ParseSeekable(format Format, r io.ReadSeeker, opts ParseOptions) (*ParseResult, error) {
	return parseSeekable(format, r, opts, scanChunk)
}

func parseSeekable(format Format, r io.ReadSeeker, opts ParseOptions, chunk int) (*ParseResult, error) {
	opts = opts.withDefaults()
	if format == FormatMastodonCSV || format == FormatFediBlockHoleCSV {
		start, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", format, err)
		}
		if res, ok := parseCSVScan(newCSVScanner(r, opts.MaxBytes, chunk), opts); ok {
			return res, nil
		}
		if _, err := r.Seek(start, io.SeekStart); err != nil {
			return nil, fmt.Errorf("%s: %w", format, err)
		}
	}
	return ParseWithOptions(format, r, opts)
}

// parseCSVScan is the CSV path of ParseSeekable. It gives up (ok false)
// on anything that would make the stream path fail or refuse, so that
// every error comes from one place; an input given up costs a second
// read, which only broken or hostile inputs pay.
func parseCSVScan(c *csvScanner, opts ParseOptions) (res *ParseResult, ok bool) {
	for len(c.s) < headBytes && !c.eof {
		c.fill()
	}
	// What newInput checks before parsing (guard's checks are the
	// scanner's: MaxBytes and NUL bytes fail it).
	if c.failed || isMarkup([]byte(c.s[:min(len(c.s), headBytes)])) {
		return nil, false
	}
	b := newBuilder(opts)
	if !scanCSV(c, b) {
		return nil, false
	}
	if opts.SortByDomain {
		sortByDomain(b.result.Entries)
	}
	return &b.result, true
}

// scanCSV is parseCSV over csvScanner; false means the stream path must
// read the input instead.
func scanCSV(c *csvScanner, b *builder) bool {
	header, eof, ok := c.read()
	if eof {
		return true // an empty list is a list
	}
	if !ok {
		return false
	}
	cols, err := readCSVHeader(header)
	if err != nil {
		return false
	}
	for {
		record, eof, ok := c.read()
		if eof {
			return true
		}
		if !ok {
			return false
		}
		if err := addCSVRecord(b, cols, c.recordLine, record); err != nil {
			return false // MaxEntries or MaxKept: the stream path says which
		}
	}
}
