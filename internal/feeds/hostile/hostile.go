// Package hostile builds blocklist feeds that a hostile or broken publisher
// could serve, each with the outcome fedcommons must give it written next to
// it, and serves them over HTTP.
//
// A subscribed feed is someone else's file fetched from inside the cluster:
// it can be built to exhaust the operator's memory (a gzip bomb, a line of
// millions of commas, JSON nested a million deep), to smuggle bytes to the
// servers (NUL, invalid UTF-8, control characters), or to block what must
// never be blocked (public suffixes, homographs of real names). The
// catalogue here is the single list of those shapes: the benchmarks and
// tests of internal/feeds feed each one through the real fetch and parse
// path, and an envtest suite can serve the same feeds to the real manager.
//
// Nothing here is imported by the operator's binary. Bodies are generated
// as they are served (or compressed once, for gzip feeds), so serving a feed
// costs the serving process little memory: a benchmark measuring the
// fetching side is not disturbed by the server in the same process.
package hostile

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Expect is the outcome a feed must get from fetch and parse.
type Expect struct {
	// Err, when set, means the feed is refused as a whole: the fetch or the
	// parse fails, the last good copy stays in force, and the policy's
	// SourcesHealthy condition is False with a message containing Err
	// (which names the cap or the reason).
	Err string
	// Line, with Err, is the line the error must name ("line 2:"); 0 when
	// the refusal is not about a line (a byte or header limit).
	Line int
	// Entries is how many entries an accepted feed yields.
	Entries int
	// Has are domains (normalised) that must be among the entries, HasNot
	// domains that must not be.
	Has, HasNot []string
	// Skipped is the least number of rows reported as skipped.
	Skipped int
	// Obfuscated is how many rows are counted as obfuscated.
	Obfuscated int
	// Rejected are entries the parser keeps but the merge must refuse
	// (moderation.RefusePublicSuffix): they never reach a server.
	Rejected []string
	// Protected are entries the parser keeps but the merge of a policy
	// whose community runs a server at OwnDomain must refuse: that server's
	// name and the names above it (test/hostile runs one).
	Protected []string
	// NoValidators: the response's ETag and Last-Modified must not be kept
	// for the next conditional request (they are oversized or malformed).
	NoValidators bool
	// CommentsAtMost bounds every kept comment, in bytes; 0 means no check.
	CommentsAtMost int
}

// Feed is one hostile feed.
type Feed struct {
	// Name is unique and is the path the feed is served at ("/" + Name).
	Name string
	// Format is how a FederationPolicy subscribing to it declares it.
	Format moderation.Format
	// Why says what the feed tries to do, and why Expect is right.
	Why string
	// Expect is the outcome it must get.
	Expect Expect
	// Gzip serves the body gzip-compressed (Content-Encoding: gzip), as a
	// compression bomb would be: only the decoded size matters.
	Gzip bool
	// Header holds extra response headers.
	Header http.Header

	write body
}

// WriteBody writes the decoded body to w.
func (f *Feed) WriteBody(w io.Writer) error { return f.write.writeTo(w) }

// Body returns the decoded body. Some bodies are large (up to the fetch
// limit, and the endless ones far beyond it): use it for small feeds.
func (f *Feed) Body() []byte {
	var buf bytes.Buffer
	_ = f.write.writeTo(&buf)
	return buf.Bytes()
}

// compressedBodies caches gzip bodies by feed name: the catalogue's bodies
// are fixed, so each is compressed once per process.
var compressedBodies sync.Map // name → func() ([]byte, error)

// compressed returns the gzip-compressed body, computed once per name.
func (f *Feed) compressed() ([]byte, error) {
	once, _ := compressedBodies.LoadOrStore(f.Name, sync.OnceValues(f.write.gzip))
	return once.(func() ([]byte, error))()
}

// Prepare does the one-off work of serving (compressing gzip feeds), so
// that a measurement taken afterwards sees only the fetching side.
func Prepare(feeds []*Feed) error {
	for _, f := range feeds {
		if f.Gzip {
			if _, err := f.compressed(); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
	}
	return nil
}

// CompressedSize is what goes over the wire for a gzip feed (0 for others).
func (f *Feed) CompressedSize() int {
	if !f.Gzip {
		return 0
	}
	gz, _ := f.compressed()
	return len(gz)
}

func contentType(format moderation.Format) string {
	switch format {
	case moderation.FormatGoToSocialJSON, moderation.FormatMastodonAPIJSON:
		return "application/json"
	case moderation.FormatPlain:
		return "text/plain; charset=utf-8"
	}
	return "text/csv; charset=utf-8"
}

// ServeHTTP serves the feed.
func (f *Feed) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	for k, vs := range f.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", contentType(f.Format))
	if f.Gzip {
		gz, err := f.compressed()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", fmt.Sprint(len(gz)))
		_, _ = w.Write(gz)
		return
	}
	// A write error is the client hanging up, which is what a bounded
	// client does to an endless feed.
	_ = f.write.writeTo(w)
}

// Handler serves each feed at "/" + its Name.
func Handler(feeds []*Feed) http.Handler {
	mux := http.NewServeMux()
	for _, f := range feeds {
		mux.Handle("/"+f.Name, f)
	}
	return mux
}

// Lookup returns the feed of the given name, or nil.
func Lookup(feeds []*Feed, name string) *Feed {
	for _, f := range feeds {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// chunk is how much a generator writes at once: large enough to be quick,
// small enough not to matter in a heap measurement.
const chunk = 32 << 10

// repeat writes pattern over and over until n bytes are written (the last
// copy cut short), in chunk-sized writes.
func repeat(w io.Writer, pattern string, n int64) error {
	if n <= 0 {
		return nil
	}
	buf := []byte(strings.Repeat(pattern, max(1, chunk/len(pattern))))
	for n > 0 {
		b := buf
		if int64(len(b)) > n {
			b = b[:n]
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		n -= int64(len(b))
	}
	return nil
}

// rows writes n rows made by row(i), buffered in chunk-sized writes.
func rows(w io.Writer, n int, row func(buf []byte, i int) []byte) error {
	buf := make([]byte, 0, chunk+1024)
	for i := range n {
		buf = row(buf, i)
		if len(buf) >= chunk {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// body is a feed's content: parts written in order, each a string, a
// fillPart or a func(io.Writer) error.
type body []any

// text returns a body of the given parts.
func text(parts ...any) body {
	for _, p := range parts {
		switch p.(type) {
		case string, fillPart, func(io.Writer) error:
		default:
			panic(fmt.Sprintf("hostile: part of type %T", p))
		}
	}
	return body(parts)
}

func (b body) writeTo(w io.Writer) error {
	for _, p := range b {
		var err error
		switch p := p.(type) {
		case string:
			_, err = io.WriteString(w, p)
		case fillPart:
			err = repeat(w, p.pattern, p.n)
		case func(io.Writer) error:
			err = p(w)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// fillPart is a pattern repeated up to n bytes.
type fillPart struct {
	pattern string
	n       int64
}

// fill returns a part writing pattern repeated up to n bytes.
func fill(pattern string, n int64) fillPart { return fillPart{pattern, n} }

// memberSize is about how much of a fill one gzip member holds: large
// enough that a member's start-up costs little of the ratio.
const memberSize = 4 << 20

// gzip compresses the body as a series of gzip members (RFC 1952 allows
// any number; every decoder, net/http's included, reads them as one
// stream). A fill is one member of about memberSize, compressed once and
// repeated, so a 64 MiB bomb costs compressing 4 MiB, at nearly the same ratio.
func (b body) gzip() ([]byte, error) {
	var out bytes.Buffer
	member := func(write func(io.Writer) error) error {
		zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
		if err := write(zw); err != nil {
			return err
		}
		return zw.Close()
	}
	for _, p := range b {
		f, ok := p.(fillPart)
		if !ok {
			if err := member(body{p}.writeTo); err != nil {
				return nil, err
			}
			continue
		}
		k := max(1, memberSize/len(f.pattern))
		blockLen := int64(k * len(f.pattern))
		if full := f.n / blockLen; full > 0 {
			start := out.Len()
			if err := member(func(w io.Writer) error { return repeat(w, f.pattern, blockLen) }); err != nil {
				return nil, err
			}
			block := bytes.Clone(out.Bytes()[start:])
			for range full - 1 {
				out.Write(block)
			}
		}
		if rest := f.n % blockLen; rest > 0 {
			if err := member(func(w io.Writer) error { return repeat(w, f.pattern, rest) }); err != nil {
				return nil, err
			}
		}
	}
	return out.Bytes(), nil
}
