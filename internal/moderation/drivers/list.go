package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unsafe"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// ErrListTooLarge matches errors from a List that stopped because the
// server's answers went over the budget of one List (Config.MaxListBytes,
// Config.MaxListEntries): a remote admin API is input like any other, and
// an endless or enormous one must not exhaust the operator's memory.
// Nothing is planned from a List that failed, so nothing is deleted.
var ErrListTooLarge = errors.New("the server's lists exceed what one sync reads")

// Defaults of the List budget: far above any real server (the largest
// public blocklists hold tens of thousands of domains; 32 MiB keeps about
// 100,000 entries), far below the operator's memory limit (an endless
// hostile server peaks at 38 MiB of heap: BenchmarkHostileList).
const (
	defaultMaxListBytes   = 32 << 20
	defaultMaxListEntries = 500_000
	// maxPages stops a server whose Link headers never end even when its
	// pages are empty (the byte budget alone would allow millions).
	maxPages = 10_000
)

// listBudget is what one List may still read and keep, across every page
// of every collection: bytes of answers read (twice what may be kept:
// fields nobody keeps, such as created_at, are read too), bytes of entries
// kept, and entries.
type listBudget struct {
	bytes   int64
	kept    int64
	entries int
	// maxKept and maxEntries are where they started, for errors.
	maxKept    int64
	maxEntries int
}

func (c *client) newListBudget() *listBudget {
	return &listBudget{bytes: 2 * c.maxListBytes, kept: c.maxListBytes, entries: c.maxListEntries,
		maxKept: c.maxListBytes, maxEntries: c.maxListEntries}
}

// entryOverhead is what keeping one entry costs besides its strings: the
// ServerEntry in the List's slice, twice, for the slice's growth.
const entryOverhead = 2 * int64(unsafe.Sizeof(moderation.ServerEntry{}))

// keptSize is what keeping se costs the budget.
func keptSize(se moderation.ServerEntry) int64 {
	return int64(len(se.ID)+len(se.Domain)+len(se.PublicComment)+len(se.PrivateComment)+len(Marker)) + entryOverhead
}

// getAll fetches path and every page its Link rel="next" headers lead to.
// Each page must be a JSON array; decode reads one element from dec, and
// keep takes it. Every byte read and every entry kept is taken from b, and
// going over it stops the listing with ErrListTooLarge before more is
// allocated: a page is decoded as it arrives, one element at a time, and
// read only up to what is left of the budget; no page is ever held whole.
//
// An entry whose id was already listed in this collection is dropped: a
// page that repeats one (entries shifting between pages while a moderator
// edits, or a broken proxy) would otherwise plan two deletes or updates of
// one entry, more than the plan means (issue 14, admin API faults).
func (c *client) getAll(ctx context.Context, b *listBudget, path, call string, decode func(dec *json.Decoder) (moderation.ServerEntry, error), keep func(moderation.ServerEntry)) error {
	seen := map[string]bool{}
	ids := map[string]bool{}
	keepOnce := func(se moderation.ServerEntry) {
		if se.ID != "" {
			if ids[se.ID] {
				return
			}
			ids[se.ID] = true
		}
		keep(se)
	}
	for n := 0; path != ""; n++ {
		if n >= maxPages {
			return fmt.Errorf("%s: GET %s: %w (more than %d pages)", c.server, call, ErrListTooLarge, maxPages)
		}
		if b.bytes <= 0 {
			return fmt.Errorf("%s: GET %s: %w (%d bytes read)", c.server, call, ErrListTooLarge, c.maxListBytes)
		}
		seen[path] = true
		var read int64
		resp, err := c.do(ctx, request{method: http.MethodGet, path: path, call: "GET " + call, maxBody: b.bytes,
			stream: func(body io.Reader) error { return decodeArray(body, b, decode, keepOnce) }, read: &read})
		b.bytes -= read
		if err != nil {
			return err
		}
		path = nextLink(resp.header)
		if seen[path] {
			return fmt.Errorf("%s: GET %s: pagination loops back to %s", c.server, call, path)
		}
	}
	return nil
}

// decodeArray decodes a JSON array element by element as it is read,
// taking each from the budget before keeping it.
func decodeArray(body io.Reader, b *listBudget, decode func(dec *json.Decoder) (moderation.ServerEntry, error), keep func(moderation.ServerEntry)) error {
	dec := json.NewDecoder(body)
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("expected a JSON array, got %v", tok)
	}
	for dec.More() {
		if b.entries <= 0 {
			return fmt.Errorf("%w (more than %d entries)", ErrListTooLarge, b.maxEntries)
		}
		b.entries--
		se, err := decode(dec)
		if err != nil {
			return err
		}
		size := keptSize(se)
		if size > b.kept {
			return fmt.Errorf("%w (more than %d bytes of entries)", ErrListTooLarge, b.maxKept)
		}
		b.kept -= size
		keep(se)
	}
	if _, err := dec.Token(); err != nil {
		return err
	}
	return nil
}

// nextLink returns the path and query of the rel="next" Link, if any. Only
// the path is kept: servers build links from their public name, which from
// inside the cluster may not even resolve, and following a foreign host
// would send it our token.
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range splitLinks(v) {
			open, close := strings.IndexByte(part, '<'), strings.IndexByte(part, '>')
			if open < 0 || close < open {
				continue
			}
			isNext := false
			for _, p := range strings.Split(part[close+1:], ";") {
				k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") {
					for _, r := range strings.Fields(strings.Trim(val, `"`)) {
						isNext = isNext || r == "next"
					}
				}
			}
			if !isNext {
				continue
			}
			u, err := url.Parse(part[open+1 : close])
			if err != nil || u.Path == "" {
				continue
			}
			return u.RequestURI()
		}
	}
	return ""
}

// splitLinks splits a Link header on the commas between entries (URLs are
// inside <> and may themselves contain commas).
func splitLinks(v string) []string {
	var parts []string
	depth, start := 0, 0
	for i, r := range v {
		switch r {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, v[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, v[start:])
}

// listedDomain puts a domain as a server lists it into the form the engine
// keys entries by (moderation.NormalizeDomain: lower case, IDNA names in
// punycode). Servers do not all answer in that form: GoToSocial stores
// "xn--bcher-kva.example" and lists it as "bücher.example", which compared
// as it is would make every sync delete and re-create the entry. A name
// that does not normalise (a wildcard, or something only a human could
// have typed) is kept as listed, lower-cased: it matches nothing desired,
// and only ours are ever deleted.
func listedDomain(d string) string {
	if n, wildcard, err := moderation.NormalizeDomain(d); err == nil && !wildcard {
		return n
	}
	return strings.ToLower(strings.TrimSpace(d))
}
