package moderation

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func parseFile(t *testing.T, format Format, path string) *ParseResult {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Parse(format, f)
	if err != nil {
		t.Fatalf("Parse(%s, %s): %v", format, path, err)
	}
	return res
}

func findEntry(entries []Entry, domain string) (Entry, bool) {
	for _, e := range entries {
		if e.Domain == domain {
			return e, true
		}
	}
	return Entry{}, false
}

func TestParseRealExcerpts(t *testing.T) {
	tests := []struct {
		file       string
		format     Format
		entries    int
		obfuscated int
		problems   int
		check      func(t *testing.T, res *ParseResult)
	}{
		{
			file: "seirdy-tier0.csv", format: FormatFediBlockHoleCSV, entries: 14, problems: 1,
			check: func(t *testing.T, res *ParseResult) {
				p := res.Problems[0]
				if p.Line != 2 || !strings.Contains(p.Reason, "canary") {
					t.Errorf("canary row not reported: %+v", p)
				}
				if _, ok := findEntry(res.Entries, "000delete.this.line.if.you.have.read.the.documentation.on.seirdy.one"); ok {
					t.Error("canary row kept as an entry")
				}
				want := Entry{Domain: "076.ne.jp", Action: Suspend}
				if res.Entries[0] != want {
					t.Errorf("first entry = %+v, want %+v", res.Entries[0], want)
				}
			},
		},
		{
			file: "dni.csv", format: FormatMastodonCSV, entries: 15,
			check: func(t *testing.T, res *ParseResult) {
				want := Entry{Domain: "13bells.com", Action: Suspend, Obfuscate: true, PublicComment: "iftas:hate-speech;online-harassment"}
				if res.Entries[0] != want {
					t.Errorf("first entry = %+v, want %+v", res.Entries[0], want)
				}
			},
		},
		{
			file: "mastodon-dni.csv", format: FormatMastodonCSV, entries: 12,
			check: func(t *testing.T, res *ParseResult) {
				// Mastodon's spelling and IFTAS's spelling are the same list.
				other := parseFile(t, FormatMastodonCSV, "testdata/dni.csv")
				for i, e := range res.Entries {
					if e != other.Entries[i] {
						t.Errorf("entry %d: %+v (mastodon spelling) != %+v (IFTAS spelling)", i, e, other.Entries[i])
					}
				}
			},
		},
		{
			file: "mastodon.online.csv", format: FormatFediBlockHoleCSV, entries: 13, obfuscated: 2,
			check: func(t *testing.T, res *ParseResult) {
				want := Entry{Domain: "ac.akirin.xyz", Action: Silence, PublicComment: "Unmanaged spam"}
				if got, _ := findEntry(res.Entries, "ac.akirin.xyz"); got != want {
					t.Errorf("silence row = %+v, want %+v", got, want)
				}
				if got, _ := findEntry(res.Entries, "baraag.net"); got.PublicComment != "" || got.Action != Suspend {
					t.Errorf("row with empty comment = %+v", got)
				}
			},
		},
		{
			file: "mastodon.social.csv", format: FormatFediBlockHoleCSV, entries: 14, obfuscated: 1,
			check: func(t *testing.T, res *ParseResult) {
				if _, ok := findEntry(res.Entries, "workers.dev"); !ok {
					t.Error("private-suffix block workers.dev dropped by the parser")
				}
			},
		},
		{
			file: "gotosocial.json", format: FormatGoToSocialJSON, entries: 4, obfuscated: 1, problems: 2,
			check: func(t *testing.T, res *ParseResult) {
				want := []Entry{
					{Domain: "spam.example", Action: Suspend, PublicComment: "spam waves"},
					{Domain: "harass.example", Action: Suspend, PublicComment: "harassment"},
					{Domain: "xn--bcher-kva.example", Action: Suspend, Obfuscate: true},
					{Domain: "com", Action: Suspend}, // refused later by Merge, with the source named
				}
				assertEntries(t, res.Entries, want)
				if res.Problems[0].Line != 6 || res.Problems[1].Line != 7 {
					t.Errorf("problem lines = %d, %d; want 6, 7", res.Problems[0].Line, res.Problems[1].Line)
				}
			},
		},
		{
			file: "mastodon-api.json", format: FormatMastodonAPIJSON, entries: 2, obfuscated: 1, problems: 1,
			check: func(t *testing.T, res *ParseResult) {
				assertEntries(t, res.Entries, []Entry{
					{Domain: "spam.example", Action: Suspend, PublicComment: "Spam"},
					{Domain: "loud.example", Action: Silence},
				})
				if p := res.Problems[0]; p.Line != 5 || !strings.Contains(p.Reason, "obliterate") {
					t.Errorf("problem = %+v", p)
				}
			},
		},
		{
			file: "plain.txt", format: FormatPlain, entries: 4, obfuscated: 1, problems: 1,
			check: func(t *testing.T, res *ParseResult) {
				assertEntries(t, res.Entries, []Entry{
					{Domain: "spam.example", Action: Suspend},
					{Domain: "harass.example", Action: Suspend},
					{Domain: "wild.example", Action: Suspend},
					{Domain: "xn--bcher-kva.example", Action: Suspend},
				})
				if p := res.Problems[0]; p.Line != 7 {
					t.Errorf("problem = %+v, want line 7", p)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			res := parseFile(t, tt.format, filepath.Join("testdata", tt.file))
			if len(res.Entries) != tt.entries || res.Obfuscated != tt.obfuscated || len(res.Problems) != tt.problems {
				t.Fatalf("entries=%d obfuscated=%d problems=%d (%v); want %d, %d, %d",
					len(res.Entries), res.Obfuscated, len(res.Problems), res.Problems, tt.entries, tt.obfuscated, tt.problems)
			}
			tt.check(t, res)
		})
	}
}

func assertEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d entries %+v, want %d %+v", len(got), got, len(want), want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestParseSharedFeeds parses the complete real feeds kept beside the
// repository. Its assertions live in TestParseRealExcerpts, which always
// runs; this only checks that no row of a full feed goes unaccounted for.
func TestParseSharedFeeds(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "data", "blocklists")
	feeds := map[string]Format{
		"dni.csv":             FormatMastodonCSV,
		"mastodon-dni.csv":    FormatMastodonCSV,
		"mastodon.online.csv": FormatFediBlockHoleCSV,
		"mastodon.social.csv": FormatFediBlockHoleCSV,
		"seirdy-tier0.csv":    FormatFediBlockHoleCSV,
	}
	if _, err := os.Stat(dir); err != nil {
		t.Logf("full feeds not checked: %s is not beside this checkout (%v)", dir, err)
		return
	}
	for name, format := range feeds {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			res, err := Parse(format, bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			rows := bytes.Count(bytes.TrimSpace(data), []byte("\n")) // every line but the header
			if got := len(res.Entries) + res.Obfuscated + len(res.Problems); got != rows {
				t.Errorf("%d entries + %d obfuscated + %d problems = %d, want %d rows", len(res.Entries), res.Obfuscated, len(res.Problems), got, rows)
			}
			for _, p := range res.Problems {
				if !strings.Contains(p.Reason, "canary") {
					t.Errorf("unexpected problem in a real feed: %v", p)
				}
			}
		})
	}
}

func TestParseWholeFileErrors(t *testing.T) {
	tests := []struct {
		name   string
		format Format
		input  string
		opts   ParseOptions
		want   string
	}{
		{"binary", FormatMastodonCSV, "#domain\x00\x01\x02", ParseOptions{}, "NUL"},
		{"html", FormatFediBlockHoleCSV, "\n  <!DOCTYPE html><html><body>Log in</body></html>", ParseOptions{}, "HTML"},
		{"html to plain", FormatPlain, "<html><body>oops</body></html>", ParseOptions{}, "HTML"},
		{"no domain column", FormatMastodonCSV, "spam.example,suspend\nother.example,silence\n", ParseOptions{}, "no domain column"},
		{"twice the same column", FormatMastodonCSV, "#domain,#domain\na.example,b.example\n", ParseOptions{}, "twice"},
		{"invalid json", FormatGoToSocialJSON, `[{"domain": "a.example"},`, ParseOptions{}, "invalid JSON"},
		{"json object", FormatMastodonAPIJSON, `{"domain": "a.example"}`, ParseOptions{}, "JSON array"},
		{"json trailing", FormatGoToSocialJSON, `[] []`, ParseOptions{}, "after the array"},
		{"empty json", FormatGoToSocialJSON, ``, ParseOptions{}, "empty input"},
		{"too many bytes", FormatPlain, "a.example\nb.example\n", ParseOptions{MaxBytes: 10}, "more than 10 bytes (cap MaxBytes)"},
		{"too many entries", FormatPlain, "a.example\nb.example\nc.example\n", ParseOptions{MaxEntries: 2}, "more than 2"},
		{"too many bad rows", FormatPlain, "a b\nc d\ne f\n", ParseOptions{MaxEntries: 2}, "more than 2"},
		{"unknown format", Format("xml"), "a.example", ParseOptions{}, "unknown format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseWithOptions(tt.format, strings.NewReader(tt.input), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v (result %+v), want one mentioning %q", err, res, tt.want)
			}
			if strings.HasPrefix(tt.name, "too many") && !errors.Is(err, ErrTooLarge) {
				t.Errorf("error %v is not ErrTooLarge", err)
			}
		})
	}
}

func TestParseCSVRows(t *testing.T) {
	input := strings.Join([]string{
		"obfuscate,public_comment,domain,severity,reject_reports,reject_media,private_comment",
		`False,"quoted, with comma",a.example,silence,True,False,secret`,
		"true,,b.example,noop,false,true,",      // noop + reject_media is Mastodon's reject-media
		"false,,c.example,,false,false,",        // empty severity: a blocklist row is a block
		"false,,d.example,suspend,maybe,false,", // bad boolean
		"false,,e.example,suspend",              // short row
		"false,,a.example,suspend,false,false,", // duplicate
		"false,,-bad-.example,suspend,false,false,",
	}, "\n")
	res, err := Parse(FormatFediBlockHoleCSV, strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	assertEntries(t, res.Entries, []Entry{
		{Domain: "a.example", Action: Silence, RejectReports: true, PublicComment: "quoted, with comma"},
		{Domain: "b.example", Action: RejectMedia, RejectMedia: true, Obfuscate: true},
		{Domain: "c.example", Action: Suspend},
	})
	var lines []int
	for _, p := range res.Problems {
		lines = append(lines, p.Line)
	}
	if want := []int{5, 6, 7, 8}; len(lines) != len(want) || lines[0] != 5 || lines[1] != 6 || lines[2] != 7 || lines[3] != 8 {
		t.Fatalf("problem lines = %v, want %v (%v)", lines, want, res.Problems)
	}
	if !strings.Contains(res.Problems[2].Reason, "duplicate of line 2") {
		t.Errorf("duplicate reason = %q", res.Problems[2].Reason)
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		got, err := ParseFormat(string(f))
		if err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	if _, err := ParseFormat("csv"); err == nil {
		t.Error(`ParseFormat("csv") accepted`)
	}
}
