package moderation

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// The parsers read a feed as a stream, never as a whole: a fetched body goes
// from the decompressor through the guard below into the parser, so what a
// feed costs is what the parser keeps (bounded by the caps), not its size.

// inputBuffer is the size of the buffered reader every parser reads from:
// one line at MaxLineBytes and its newline must fit, since the plain-text
// parser reads a line at a time out of this buffer.
const inputBuffer = MaxLineBytes + 1

// newInput wraps r for the parsers: at most maxBytes bytes, refused at the
// first NUL byte, and refused outright when it starts like an HTML or XML
// page, so that a captive portal or an error page is one clear error
// instead of hundreds of row problems.
func newInput(r io.Reader, maxBytes int64) (*bufio.Reader, error) {
	in := bufio.NewReaderSize(&guard{r: r, max: maxBytes, line: 1}, inputBuffer)
	head, err := in.Peek(1024)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, err
	}
	if isMarkup(head) {
		return nil, errMarkup
	}
	return in, nil
}

var errMarkup = errors.New("input is HTML or XML, not a blocklist (a login page or an error page?)")

// isMarkup says whether head, the first 1024 bytes of an input (or all of
// a shorter one), starts like an HTML or XML page.
func isMarkup(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	lower := bytes.ToLower(head[:min(len(head), 16)])
	for _, tag := range []string{"<!doctype", "<html", "<?xml", "<head", "<body"} {
		if bytes.HasPrefix(lower, []byte(tag)) {
			return true
		}
	}
	return false
}

// guard passes a stream through, failing it beyond max bytes or at a NUL
// byte (binary data: no feed format has one, and no server should be sent
// one). The bytes before the failure are delivered, then the error.
type guard struct {
	r    io.Reader
	n    int64
	max  int64
	line int // the line of the next byte
	err  error
}

func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if rem := g.max + 1 - g.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	n, err := g.r.Read(p)
	p = p[:n]
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
		g.err = fmt.Errorf("line %d: a NUL byte: binary data, not a blocklist", g.line+bytes.Count(p, []byte{'\n'}))
	}
	if g.n+int64(len(p)) > g.max {
		p = p[:g.max-g.n]
		g.err = &LimitError{Cap: "MaxBytes", Limit: int(g.max), What: "bytes"}
	}
	g.n += int64(len(p))
	g.line += bytes.Count(p, []byte{'\n'})
	if g.err != nil {
		return len(p), g.err
	}
	return len(p), err
}
