package moderation

import (
	"bytes"
	"encoding/csv"
	"slices"
	"strings"
	"testing"
)

var publishable = []Entry{
	{Domain: "a.example", Action: Suspend, RejectReports: true, PublicComment: "spam, \"quoted\"\nand a second line", Obfuscate: true, PrivateComment: "ticket 41"},
	{Domain: "b.example", Action: Silence, RejectMedia: true, PublicComment: "loud"},
	{Domain: "c.example", Action: RejectMedia, RejectMedia: true},
	{Domain: "d.example", Action: Noop, RejectReports: true},
	{Domain: "e.example", Action: Allow},
	{Domain: "xn--bcher-kva.example", Action: Suspend, PublicComment: "  #leading hash and space"},
}

func TestWritersRoundTrip(t *testing.T) {
	// What each format can carry of publishable.
	suspendsOnly := func(keepComments bool) []Entry {
		var out []Entry
		for _, e := range publishable {
			if e.Action == Suspend {
				x := Entry{Domain: e.Domain, Action: Suspend}
				if keepComments {
					x.PublicComment = cleanComment(e.PublicComment)
					x.Obfuscate = e.Obfuscate
				}
				out = append(out, x)
			}
		}
		return out
	}
	var blocks []Entry
	for _, e := range publishable {
		if e.Action != Allow {
			e.PrivateComment = ""
			e.PublicComment = cleanComment(e.PublicComment)
			blocks = append(blocks, e.Canonical())
		}
	}
	tests := []struct {
		format Format
		want   []Entry
	}{
		{FormatMastodonCSV, blocks},
		{FormatGoToSocialJSON, suspendsOnly(true)},
		{FormatPlain, suspendsOnly(false)},
	}
	for _, tt := range tests {
		t.Run(string(tt.format), func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(tt.format, &buf, publishable); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(buf.String(), "ticket 41") {
				t.Fatalf("private comment published:\n%s", buf.String())
			}
			res, err := Parse(tt.format, &buf)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Problems) != 0 || res.Obfuscated != 0 {
				t.Fatalf("re-parse problems: %+v", res)
			}
			assertEntries(t, res.Entries, tt.want)
		})
	}
	if err := Write(FormatFediBlockHoleCSV, &bytes.Buffer{}, nil); err == nil {
		t.Error("Write accepted a format it cannot publish")
	}
}

func TestWriteMastodonCSVSpelling(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteMastodonCSV(&buf, publishable[2:4]); err != nil {
		t.Fatal(err)
	}
	want := "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n" +
		"c.example,noop,true,false,,false\n" +
		"d.example,noop,false,true,,false\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// TestPublishedPolicyReadsBack publishes a merged policy and subscribes to
// it, as a neighbouring community would.
func TestPublishedPolicyReadsBack(t *testing.T) {
	p := mustMerge(t, MergeInput{Local: publishable})
	var buf bytes.Buffer
	if err := WriteMastodonCSV(&buf, effective(p)); err != nil {
		t.Fatal(err)
	}
	res, err := Parse(FormatMastodonCSV, &buf)
	if err != nil {
		t.Fatal(err)
	}
	again := mustMerge(t, MergeInput{Sources: []Source{src("neighbour", 1, res.Entries...)}})
	var want []Entry
	for _, e := range effective(p) {
		if e.Action != Allow {
			e.PrivateComment = ""
			want = append(want, e)
		}
	}
	if got := effective(again); !slices.Equal(got, want) {
		t.Errorf("subscribed copy differs:\n got  %+v\n want %+v", got, want)
	}
}

// TestWriteMastodonCSVEscapesFormulas (issue 12 case 11): a published
// comment a spreadsheet would run as a formula gets a leading "'" (OWASP,
// CSV injection), and the parser reads it back as it was written.
func TestWriteMastodonCSVEscapesFormulas(t *testing.T) {
	comments := map[string]string{
		"f1.example": `=HYPERLINK("https://evil.example","click")`,
		"f2.example": "+1+1",
		"f3.example": "-2+3",
		"f4.example": "@SUM(A1)",
		"f5.example": "'=already quoted once",
		"f6.example": "''+twice",
		"f7.example": "'tis spam",
		"f8.example": "spam = bad",
		"f9.example": "'",
	}
	escaped := map[string]bool{"f1.example": true, "f2.example": true, "f3.example": true, "f4.example": true, "f5.example": true, "f6.example": true}
	var entries []Entry
	for d, c := range comments {
		entries = append(entries, Entry{Domain: d, Action: Suspend, PublicComment: c})
	}
	slices.SortFunc(entries, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) })
	var buf bytes.Buffer
	if err := WriteMastodonCSV(&buf, entries); err != nil {
		t.Fatal(err)
	}
	r := csv.NewReader(bytes.NewReader(buf.Bytes()))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows[1:] {
		cell := row[4]
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			t.Errorf("%s: comment cell %q starts a formula", row[0], cell)
		}
		want := comments[row[0]]
		if escaped[row[0]] != (cell == "'"+want) || !escaped[row[0]] && cell != want {
			t.Errorf("%s: cell %q for comment %q", row[0], cell, want)
		}
	}
	res, err := Parse(FormatMastodonCSV, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Entries {
		if e.PublicComment != comments[e.Domain] {
			t.Errorf("%s: read back %q, want %q", e.Domain, e.PublicComment, comments[e.Domain])
		}
	}
	if len(res.Entries) != len(comments) {
		t.Errorf("%d entries read back, want %d", len(res.Entries), len(comments))
	}
}

func TestFormulaEscapeIsInvertible(t *testing.T) {
	for _, s := range []string{"", "'", "''", "=", "'=", "''=", "a", "'a", "\t", "'\t", "-", "@x", "x=y"} {
		if got := UnescapeFormula(EscapeFormula(s)); got != s {
			t.Errorf("UnescapeFormula(EscapeFormula(%q)) = %q", s, got)
		}
		if e := EscapeFormula(s); formulaLike(e) {
			t.Errorf("EscapeFormula(%q) = %q starts a formula", s, e)
		}
	}
}
