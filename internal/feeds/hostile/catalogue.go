package hostile

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Sizes the feeds are built around. nearLimit is just under the fetch and
// parse limit on a feed's decoded size, so that a shape reaches the parser
// instead of being stopped by the byte limit; endless is "for ever" for a
// feed served until the client hangs up.
const (
	nearLimit       = moderation.DefaultMaxBytes - 64<<10
	endless   int64 = 1 << 30
)

// OwnDomain is the domain of a server of the subscribing community, in the
// suites that run one (test/hostile): a feed blocking it, or a name above
// it, must not cut the community off from its own server.
const OwnDomain = "social.victim.example"

const mastodonHeader = "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"

// csvRow is a Mastodon CSV row: domain, severity, comment.
func csvRow(domain, severity, comment string) string {
	return domain + "," + severity + ",false,false," + comment + ",false\n"
}

// Feeds returns the catalogue, in a stable order. Each call builds new
// values, so callers may serve them concurrently in separate tests.
func Feeds() []*Feed {
	mcsv, fcsv, gts, api, plain := moderation.FormatMastodonCSV, moderation.FormatFediBlockHoleCSV,
		moderation.FormatGoToSocialJSON, moderation.FormatMastodonAPIJSON, moderation.FormatPlain
	return []*Feed{
		// --- memory: shapes that made the parser allocate without bound ---
		{
			Name: "csv-commas-gzip.csv", Format: mcsv, Gzip: true,
			Why: "issue 12 case 1: 16 KB on the wire, one line of 16 million commas once decoded; " +
				"encoding/csv keeps per-field bookkeeping (~1.1 GiB) before any cap on the body could help",
			Expect: Expect{Err: "MaxFieldsPerRecord", Line: 2},
			write:  text(mastodonHeader, fill(",", nearLimit)),
		},
		{
			Name: "csv-million-columns.csv", Format: fcsv,
			Why:    "a header of 10^6 columns: the field cap applies to the header as to any record",
			Expect: Expect{Err: "MaxFieldsPerRecord", Line: 1},
			write: text("domain", func(w io.Writer) error {
				return rows(w, 1_000_000, func(b []byte, i int) []byte { return fmt.Appendf(b, ",c%d", i) })
			}, "\nspam.example\n"),
		},
		{
			Name: "csv-huge-field.csv", Format: mcsv,
			Why:    "one quoted field of 16 MiB on one line: refused at the line cap before encoding/csv buffers it",
			Expect: Expect{Err: "MaxLineBytes", Line: 2},
			write:  text(mastodonHeader, `big.example,suspend,false,false,"`, fill("x", nearLimit-200), "\",false\n"),
		},
		{
			Name: "csv-multiline-field.csv", Format: mcsv,
			Why: "a quoted field that never closes, over 16 MiB of short lines: every line is short, " +
				"so only a cap on the whole record (which the CSV quote rules let span lines) stops it",
			Expect: Expect{Err: "MaxRecordBytes", Line: 2},
			write:  text(mastodonHeader, `open.example,suspend,false,false,"`, fill("just one more line\n", nearLimit-200)),
		},
		{
			Name: "csv-quote-hopping.csv", Format: mcsv,
			Why: "a record whose quoted fields close and reopen across lines, adding separators on each: " +
				"short lines, short fields, but one record with ever more fields",
			Expect: Expect{Err: "MaxFieldsPerRecord", Line: 2},
			write:  text(mastodonHeader, `hop.example,"`, fill("\",,,,\"\n", nearLimit-200)),
		},
		{
			Name: "plain-endless-line.txt", Format: plain,
			Why: "a line that never ends, served for ever: the body streams into the parser, " +
				"which refuses the line at its cap, 64 KiB in, long before the byte limit",
			Expect: Expect{Err: "MaxLineBytes", Line: 1},
			write:  text(fill("a", endless)),
		},
		{
			Name: "plain-long-line.txt", Format: plain,
			Why:    "a 1 MiB line between two good ones: refused at the line cap, naming the line",
			Expect: Expect{Err: "MaxLineBytes", Line: 2},
			write:  text("a.example\n", fill("b", 1<<20), "\nc.example\n"),
		},
		{
			Name: "csv-gzip-bomb.csv", Format: mcsv, Gzip: true,
			Why: "64 MiB of rows, each a 30 KB run of one letter, compressed about 1000:1 (64 KB on the wire): " +
				"each row is within every cap, so only the byte limit, counted on decoded bytes as they " +
				"leave the decompressor, stops it; no more than the limit is ever read, and none of it held",
			Expect: Expect{Err: "MaxBytes"},
			write:  text(mastodonHeader, fill(csvRow("bomb.example", "suspend", strings.Repeat("a", 30_000)), 64<<20)),
		},
		{
			Name: "plain-gzip-bomb-comments.txt", Format: plain, Gzip: true,
			Why: "64 MiB of comment lines compressed about 1000:1: no rows, so only the byte limit, " +
				"counted while decoding, stops it",
			Expect: Expect{Err: "MaxBytes"},
			write:  text(fill("#\n", 64<<20)),
		},
		{
			Name: "json-deep-arrays.json", Format: gts,
			Why:    "a million nested arrays: refused at the depth cap, no recursion, no stack of a million frames",
			Expect: Expect{Err: "MaxJSONDepth", Line: 1},
			write:  text(fill("[", 1_000_000)),
		},
		{
			Name: "json-deep-objects.json", Format: gts,
			Why:    "an unknown field nesting 100k objects inside a domain block",
			Expect: Expect{Err: "MaxJSONDepth", Line: 2},
			write:  text("[\n{\"domain\":\"a.example\",\"x\":", fill(`{"a":`, 500_000), "1"),
		},
		{
			Name: "json-huge-string.json", Format: api,
			Why:    "one 16 MiB comment string: refused at the element cap before the JSON decoder copies it",
			Expect: Expect{Err: "MaxRecordBytes", Line: 1},
			write:  text(`[{"domain":"a.example","severity":"suspend","comment":"`, fill("x", nearLimit-200), `"}]`),
		},
		{
			Name: "json-many-tokens.json", Format: gts,
			Why:    "a small element (20 KB) holding 10,000 values: refused at the token cap",
			Expect: Expect{Err: "MaxJSONTokens", Line: 1},
			write:  text(`[{"domain":"a.example","x":[`, fill("0,", 20_000), `0]}]`),
		},
		{
			Name: "json-blank-lines.json", Format: gts,
			Why: "16 million newlines before the only element: valid JSON, accepted, and reporting its line " +
				"must not cost an index of every line (128 MiB before)",
			Expect: Expect{Entries: 1, Has: []string{"a.example"}},
			write:  text("[", fill("\n", nearLimit-100), `{"domain":"a.example"}]`),
		},
		{
			Name: "json-million-elements.json", Format: gts,
			Why:    "eight million tiny elements: refused at the row cap, which counts unreadable rows too",
			Expect: Expect{Err: "MaxEntries", Line: 1},
			write:  text("[", fill("0,", nearLimit-100), "0]"),
		},
		{
			Name: "plain-many-entries.txt", Format: plain,
			Why: "250,000 distinct domains: refused where the 20,001st entry is read (the tracker keeps " +
				"20,000 per source, Mastodon's own import limit), naming its line",
			Expect: Expect{Err: "MaxKept", Line: 20_001},
			write: text(func(w io.Writer) error {
				return rows(w, 250_000, func(b []byte, i int) []byte { return fmt.Appendf(b, "d%07d.example\n", i) })
			}),
		},
		{
			Name: "csv-150k-entries.csv", Format: mcsv, Gzip: true,
			Why: "150,000 distinct blocks, gzipped: refused once more entries are read than the tracker " +
				"keeps, so the parser never holds more than that",
			Expect: Expect{Err: "MaxKept", Line: 20_002},
			write: text(mastodonHeader, func(w io.Writer) error {
				return rows(w, 150_000, func(b []byte, i int) []byte {
					return fmt.Appendf(b, "host-%07d.spam.example,suspend,false,false,spam,false\n", i)
				})
			}),
		},
		{
			Name: "csv-duplicates-100k.csv", Format: mcsv,
			Why: "the same domain 100,000 times: one entry; every duplicate is counted as skipped, " +
				"but only the first few are kept as Problems",
			Expect: Expect{Entries: 1, Has: []string{"dup.example"}, Skipped: 99_999},
			write:  text(mastodonHeader, fill(csvRow("dup.example", "suspend", "again"), int64(len(csvRow("dup.example", "suspend", "again")))*100_000)),
		},
		{
			Name: "csv-junk-rows.csv", Format: mcsv,
			Why: "150,000 rows with an unknown severity: all skipped and counted, memory bounded by the kept-problem cap; " +
				"an empty result the tracker then holds as a shrink",
			Expect: Expect{Entries: 0, Skipped: 150_000},
			write:  text(mastodonHeader, fill(csvRow("junk.example", "obliterate", ""), int64(len(csvRow("junk.example", "obliterate", "")))*150_000)),
		},
		// --- comments and validators: what ends up in the saved state ---
		{
			Name: "csv-huge-comment.csv", Format: mcsv,
			Why:    "issue 12 case 7: a 1 MiB comment; beyond the line cap, so the feed is refused",
			Expect: Expect{Err: "MaxLineBytes", Line: 3},
			write:  text(mastodonHeader, csvRow("ok.example", "suspend", "fine"), `big.example,suspend,false,false,"`, fill("words ", 1<<20), "\",false\n"),
		},
		{
			Name: "csv-long-comments.csv", Format: mcsv,
			Why: "3,000 rows with 4 KB comments (within the line cap): accepted, every comment cut to MaxCommentBytes " +
				"on a UTF-8 boundary with a marker, so 12 MB of comments cannot reach the saved state",
			Expect: Expect{Entries: 3000, CommentsAtMost: moderation.MaxCommentBytes},
			write: text(mastodonHeader, func(w io.Writer) error {
				long := strings.Repeat("é", 2000) // 4000 bytes, two bytes a rune: a cut must not split one
				return rows(w, 3000, func(b []byte, i int) []byte {
					return fmt.Appendf(b, "c%04d.example,suspend,false,false,%s,false\n", i, long)
				})
			}),
		},
		{
			Name: "csv-20k-long-comments.csv", Format: mcsv,
			Why: "the largest feed that is accepted: 20,000 entries (all the tracker keeps) with 750-byte comments, " +
				"16 MB, each value within its cap: the most memory an accepted feed costs",
			Expect: Expect{Entries: 20_000, CommentsAtMost: moderation.MaxCommentBytes},
			write: text(mastodonHeader, func(w io.Writer) error {
				return rows(w, 20_000, func(b []byte, i int) []byte {
					b = fmt.Appendf(b, "c%05d.example,suspend,false,false,", i)
					for j := range 50 { // 750 bytes, varied so that they compress like text, not like one repeat
						b = fmt.Appendf(b, "%03d-%010d ", j, i*7919+j*104729)
					}
					return append(b, ",false\n"...)
				})
			}),
		},
		{
			Name: "csv-state-overflow.csv", Format: mcsv,
			Why: "issue 12 case 7: 20,000 entries with 160-byte comments, every value within its cap, " +
				"whose saved state alone (1.2 MB compressed) is beyond a ConfigMap's 1 MiB: " +
				"only the bound on the whole saved state catches it (Tracker.SaveWithin leaves the source out and names it)",
			Expect: Expect{Entries: 20_000},
			write: text(mastodonHeader, func(w io.Writer) error {
				return rows(w, 20_000, func(b []byte, i int) []byte {
					b = fmt.Appendf(b, "s%05d.example,silence,false,false,", i)
					for j := range 16 {
						b = fmt.Appendf(b, "%09d ", (i*7919+j*104729)%1_000_000_007)
					}
					return append(b, ",false\n"...)
				})
			}),
		},
		{
			Name: "csv-huge-etag.csv", Format: mcsv,
			Header: http.Header{"Etag": {`"` + strings.Repeat("e", 16<<10) + `"`}, "Last-Modified": {strings.Repeat("Mon, ", 4<<10)}},
			Why: "a 16 KB ETag and a 20 KB Last-Modified (within the header limit): they would be saved and sent back on every fetch; " +
				"the feed is accepted but the validators are not kept (the next fetch is unconditional)",
			Expect: Expect{Entries: 1, Has: []string{"etag.example"}, NoValidators: true},
			write:  text(mastodonHeader, csvRow("etag.example", "suspend", "")),
		},
		{
			Name: "csv-huge-headers.csv", Format: mcsv,
			Header: http.Header{"X-Padding": {strings.Repeat("p", 1<<20)}},
			Why:    "1 MiB of response headers: refused by the fetch's header limit before the body",
			Expect: Expect{Err: "response headers exceeded"},
			write:  text(mastodonHeader, csvRow("hdr.example", "suspend", "")),
		},
		// --- bytes that must never reach a server ---
		{
			Name: "csv-invalid-utf8.csv", Format: mcsv,
			Why: "Latin-1 and overlong/surrogate byte sequences: comments are repaired (U+FFFD), " +
				"domains that are not valid UTF-8 are skipped rows; nothing invalid is kept",
			Expect: Expect{Entries: 3, Skipped: 2, Has: []string{"good.example", "overlong.example", "surrogate.example"}},
			write: text(mastodonHeader,
				csvRow("good.example", "suspend", "caf\xe9 cr\xe8me"),
				csvRow("b\xe9d.example", "suspend", ""),
				csvRow("overlong.example", "suspend", "\xc0\xaf"),
				csvRow("surrogate.example", "silence", "\xed\xa0\x80"),
				csvRow("\xff\xfe.example", "suspend", "")),
		},
		{
			Name: "csv-nul-bytes.csv", Format: mcsv,
			Why:    "a NUL byte in a comment: binary data, refused as a whole and the line named",
			Expect: Expect{Err: "NUL", Line: 3},
			write:  text(mastodonHeader, csvRow("a.example", "suspend", ""), csvRow("b.example", "suspend", "nul\x00here")),
		},
		{
			Name: "csv-control-chars.csv", Format: mcsv,
			Why: "terminal escapes, BEL, backspace, DEL and C1 controls in comments: replaced, so a comment " +
				"shown in a terminal or an admin page cannot rewrite what is around it",
			Expect: Expect{Entries: 2, Has: []string{"esc.example", "c1.example"}},
			write: text(mastodonHeader,
				csvRow("esc.example", "suspend", "\x1b[2J\x1b[31mred\x07\x08\x7f"),
				csvRow("c1.example", "suspend", "\u0085next\u009bline")),
		},
		// --- names that must not be blocked, or not as they look ---
		{
			Name: "csv-public-suffixes.csv", Format: mcsv,
			Why: "blocks of whole public suffixes and a single label: parsed (they are well-formed names) " +
				"and refused by the merge, so they never reach a server; a private suffix stays blockable",
			Expect: Expect{Entries: 6, Has: []string{"github.io"}, Rejected: []string{"com", "co.uk", "uk", "foo.kawasaki.jp", "example"}},
			write: text(mastodonHeader, csvRow("com", "suspend", ""), csvRow("co.uk", "suspend", ""), csvRow("uk", "silence", ""),
				csvRow("foo.kawasaki.jp", "suspend", ""), csvRow("example", "suspend", ""), csvRow("github.io", "silence", "")),
		},
		{
			Name: "csv-own-domain.csv", Format: mcsv,
			Why: "blocks of the subscriber's own server (OwnDomain) and of the name above it: well-formed names the parser keeps, " +
				"refused by the merge of a policy whose community runs that server, so no feed can cut a community off from itself",
			Expect: Expect{Entries: 3, Has: []string{OwnDomain, "victim.example", "other.example"}, Protected: []string{OwnDomain, "victim.example"}},
			write: text(mastodonHeader, csvRow(OwnDomain, "suspend", "cut them off"), csvRow("victim.example", "suspend", ""),
				csvRow("other.example", "silence", "")),
		},
		{
			Name: "plain-wildcards.txt", Format: plain,
			Why: "'*' alone, '*.*', '**' and '*example.net' are obfuscated (counted, never guessed); " +
				"'*.com' is 'com', refused by the merge; '*.example.org' is example.org",
			Expect: Expect{Entries: 2, Obfuscated: 4, Has: []string{"example.org"}, Rejected: []string{"com"}},
			write:  text("*\n*.*\n**\n*example.net\n*.com\n*.example.org\n"),
		},
		{
			Name: "csv-homographs.csv", Format: mcsv,
			Why: "Cyrillic and mixed-script look-alikes of real names are kept as their own punycode, " +
				"never as the name they imitate; full-width Latin and a zero-width space map to the plain name " +
				"(UTS 46: the same name a resolver would look up)",
			Expect: Expect{Entries: 5,
				Has:    []string{"xn--80ak6aa92e.com", "xn--pypal-4ve.com", "xn--ggle-55da.com", "example.com", "gab.example"},
				HasNot: []string{"apple.com", "paypal.com", "google.com"}},
			write: text(mastodonHeader, csvRow("аррӏе.com", "suspend", ""), csvRow("pаypal.com", "suspend", ""),
				csvRow("gооgle.com", "suspend", ""), csvRow("ｅｘａｍｐｌｅ.com", "suspend", ""), csvRow("gab\u200b.example", "suspend", "")),
		},
		{
			Name: "csv-bad-punycode.csv", Format: mcsv,
			Why:    "punycode labels that decode to nothing valid: skipped rows, the good row kept",
			Expect: Expect{Entries: 1, Skipped: 3, Has: []string{"ok.example"}},
			write: text(mastodonHeader, csvRow("xn--zz.example", "suspend", ""), csvRow("xn--.example", "suspend", ""),
				csvRow("xn--a-ecp.xn--zz", "suspend", ""), csvRow("ok.example", "suspend", "")),
		},
		{
			Name: "csv-overlong-labels.csv", Format: mcsv,
			Why:    "a 64-byte label, a 254-byte name, a 10 KB name: skipped rows, not truncated into another name",
			Expect: Expect{Entries: 1, Skipped: 3, Has: []string{"ok.example"}},
			write: text(mastodonHeader, csvRow(strings.Repeat("a", 64)+".example", "suspend", ""),
				csvRow(strings.Repeat("abcdefghi.", 25)+"examp", "suspend", ""),
				csvRow(strings.Repeat("x", 10<<10)+".example", "suspend", ""), csvRow("ok.example", "suspend", "")),
		},
		{
			Name: "plain-ip-literals.txt", Format: plain,
			Why: "an IPv4 literal is a well-formed host name and is kept (a server stores it as any other); " +
				"bracketed and bare IPv6 literals and an address with a port are skipped rows",
			Expect: Expect{Entries: 1, Skipped: 3, Has: []string{"192.0.2.1"}},
			write:  text("192.0.2.1\n[2001:db8::1]\n2001:db8::1\n192.0.2.1:80\n"),
		},
		{
			Name: "plain-ports-urls.txt", Format: plain,
			Why:    "a port, a URL, an address with a user: skipped rows, never a guess at the host",
			Expect: Expect{Entries: 1, Skipped: 3, Has: []string{"ok.example"}},
			write:  text("example.com:443\nhttps://example.com/\nuser@example.com\nok.example\n"),
		},
		{
			Name: "csv-formula-injection.csv", Format: mcsv,
			Why: "spreadsheet formulas in comments: a comment is text and the parser keeps it as written; " +
				"escaping it on the way out is the CSV writer's job (issue 12 case 11)",
			Expect: Expect{Entries: 3, Has: []string{"f1.example", "f2.example", "f3.example"}},
			write: text(mastodonHeader, csvRow("f1.example", "suspend", `"=HYPERLINK(""https://evil.example"",""click"")"`),
				csvRow("f2.example", "suspend", "+1+1"), csvRow("f3.example", "suspend", "@SUM(A1)")),
		},
		// --- encodings and framing that real exporters get wrong ---
		{
			Name: "csv-bom.csv", Format: mcsv,
			Why:    "a UTF-8 byte order mark before the header (spreadsheet exports): read as if absent",
			Expect: Expect{Entries: 1, Has: []string{"bom.example"}},
			write:  text("\ufeff"+mastodonHeader, csvRow("bom.example", "suspend", "")),
		},
		{
			Name: "json-bom.json", Format: gts,
			Why:    "a UTF-8 byte order mark before the JSON array: read as if absent",
			Expect: Expect{Entries: 1, Has: []string{"bom.example"}},
			write:  text("\ufeff[{\"domain\":\"bom.example\"}]"),
		},
		{
			Name: "plain-bom.txt", Format: plain,
			Why:    "a UTF-8 byte order mark before the first domain: read as if absent",
			Expect: Expect{Entries: 2, Has: []string{"bom.example", "two.example"}},
			write:  text("\ufeffbom.example\ntwo.example\n"),
		},
		{
			Name: "csv-crlf-mix.csv", Format: fcsv,
			Why: "CRLF, LF, a blank CRLF line and no final newline are all line ends; a lone CR is not, " +
				"so the row holding one has too many fields and is skipped",
			Expect: Expect{Entries: 4, Skipped: 1, Has: []string{"a.example", "b.example", "e.example", "f.example"}},
			write: text("domain,severity\r\na.example,suspend\r\nb.example,silence\nc.example,suspend\rd.example,suspend\n" +
				"e.example,suspend\r\n\r\nf.example,suspend"),
		},
		{
			Name: "csv-header-only.csv", Format: mcsv,
			Why: "a header and nothing else: an empty list is a list (zero entries, no error); " +
				"the tracker holds it as a shrink when the source listed entries before",
			Expect: Expect{Entries: 0},
			write:  text(mastodonHeader),
		},
		{
			Name: "csv-html-page.csv", Format: mcsv,
			Why:    "a login or error page served with 200: refused as a whole, not read as rows",
			Expect: Expect{Err: "HTML"},
			write:  text("<!DOCTYPE html>\n<html><body>Please log in</body></html>\n"),
		},
		{
			Name: "csv-double-gzip.csv", Format: mcsv, Gzip: true,
			Why:    "a body gzip-compressed twice: decoded once, the rest is binary, refused as such",
			Expect: Expect{Err: "NUL"},
			write: text(func(w io.Writer) error {
				inner := &Feed{Name: "csv-double-gzip.csv (inner)", Gzip: true, write: text(mastodonHeader, csvRow("a.example", "suspend", ""))}
				gz, err := inner.compressed()
				if err != nil {
					return err
				}
				_, err = w.Write(gz)
				return err
			}),
		},
		{
			Name: "json-syntax-error-late.json", Format: api,
			Why:    "a thousand good elements, then a syntax error: refused as a whole, naming its line",
			Expect: Expect{Err: "invalid JSON", Line: 1002},
			write: text("[\n", func(w io.Writer) error {
				return rows(w, 1000, func(b []byte, i int) []byte {
					return fmt.Appendf(b, `{"domain":"j%d.example","severity":"silence"},`+"\n", i)
				})
			}, `{"domain": oops}]`),
		},
	}
}

// Line is how a refusal names a line in its error ("line 2:").
func Line(n int) string { return "line " + strconv.Itoa(n) + ":" }
