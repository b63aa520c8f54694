package feeds

import (
	"errors"
	"io"

	"github.com/fedcommons/fedcommons/internal/outbound"
)

// bodyReader is a response body as Fetch and FetchInto hand it on: at most
// limit bytes (counted on what the transport decoded, so on the output of
// the decompressor: a compression bomb stops at the limit), its failures
// turned into the Fetcher's errors. The first failure is kept in err: the
// reader of the body may wrap or lose it, the fetch reports it as it is.
type bodyReader struct {
	r        io.Reader
	n, limit int64
	fail     func(error) error
	tooLarge error
	err      error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if rem := b.limit + 1 - b.n; int64(len(p)) > rem {
		p = p[:rem] // one byte more than allowed shows the body goes on
	}
	n, err := b.r.Read(p)
	if b.n += int64(n); b.n > b.limit {
		b.err = b.tooLarge
		return n - int(b.n-b.limit), b.err
	}
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = b.fail(err)
		return n, b.err
	}
	return n, err
}

// readChunk is the largest unit readBody reads a body of unknown length in.
const readChunk = 256 << 10

// readBody reads a whole body (bounded by the bodyReader). With a declared
// size (one the transport did not decode), the buffer is allocated once,
// at that size. Otherwise the body is read in chunks and joined once at
// the end, so that a body that turns out too large (an endless line, a
// bomb) never costs more than the limit, where a growing slice would
// briefly hold its old and new copies.
func readBody(r io.Reader, size int64) ([]byte, error) {
	if size >= 0 {
		// net/http ends the body at Content-Length; the byte more only
		// makes the end certain.
		buf := make([]byte, size+1)
		n, err := io.ReadFull(r, buf)
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
		rest, err := io.ReadAll(r)
		return append(buf, rest...), err
	}
	var chunks [][]byte
	total := 0
	for size := 4 << 10; ; size = min(2*size, readChunk) {
		c := make([]byte, size)
		n, err := io.ReadFull(r, c)
		chunks, total = append(chunks, c[:n]), total+n
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// validator keeps an ETag or Last-Modified only when it is short and plain
// printable ASCII: anything else would be saved, grow the fetch state, and
// be sent back in a header net/http refuses to write (failing every fetch).
func validator(v string) string {
	if len(v) > MaxValidatorBytes {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return ""
		}
	}
	return v
}

// maxShownURL bounds a URL quoted in an error. Errors end up in a status
// condition, clipped; a long URL must not push the reason out.
const maxShownURL = 200

// shortURL is a URL shown in an error: at most maxShownURL characters, and
// only printable ones (after a redirect, it is the source's Location).
func shortURL(u string) string { return outbound.Clean(u, maxShownURL) }
