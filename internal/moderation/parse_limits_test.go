package moderation

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestParseCaps: each cap refuses the whole input with a *LimitError that
// names it and the line where the offending line, record or element
// starts, and is an ErrTooLarge.
func TestParseCaps(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes+1)
	tests := []struct {
		name   string
		format Format
		input  string
		opts   ParseOptions
		cap    string
		line   int
	}{
		{"bytes", FormatPlain, "a.example\nb.example\n", ParseOptions{MaxBytes: 10}, "MaxBytes", 0},
		{"rows", FormatPlain, "a.example\nb c\nc.example\n", ParseOptions{MaxEntries: 2}, "MaxEntries", 3},
		{"kept", FormatPlain, "a.example\na.example\nb c\nb.example\nc.example\n", ParseOptions{MaxKept: 2}, "MaxKept", 5},
		{"plain line", FormatPlain, "a.example\n" + long + "\n", ParseOptions{}, "MaxLineBytes", 2},
		{"plain last line", FormatPlain, "a.example\n" + long, ParseOptions{}, "MaxLineBytes", 2},
		{"csv line", FormatMastodonCSV, "#domain\na.example\n" + long + "\n", ParseOptions{}, "MaxLineBytes", 3},
		{"csv fields", FormatMastodonCSV, "#domain\n" + strings.Repeat(",", MaxFieldsPerRecord) + "\n", ParseOptions{}, "MaxFieldsPerRecord", 2},
		{"csv header fields", FormatFediBlockHoleCSV, "domain" + strings.Repeat(",x", MaxFieldsPerRecord) + "\n", ParseOptions{}, "MaxFieldsPerRecord", 1},
		{"csv record over lines", FormatMastodonCSV, "#domain,#public_comment\na.example,\"" + strings.Repeat("short line\n", MaxRecordBytes/10) + "\"\n", ParseOptions{}, "MaxRecordBytes", 2},
		{"csv fields over lines", FormatMastodonCSV, "#domain\n\n\na.example,\"" + strings.Repeat("\",\"\n", MaxFieldsPerRecord) + "\"\n", ParseOptions{}, "MaxFieldsPerRecord", 4},
		{"json element", FormatGoToSocialJSON, "[\n{\"domain\":\"a.example\",\"comment\":\"" + strings.Repeat("x", MaxRecordBytes) + "\"}]", ParseOptions{}, "MaxRecordBytes", 2},
		{"json scalar", FormatGoToSocialJSON, "[\n\n" + strings.Repeat("1", MaxRecordBytes+1) + "]", ParseOptions{}, "MaxRecordBytes", 3},
		{"json depth", FormatGoToSocialJSON, "[" + strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth+1), ParseOptions{}, "MaxJSONDepth", 1},
		{"json tokens", FormatMastodonAPIJSON, `[{"domain":"a.example"},` + "\n" + `{"x":[` + strings.Repeat("0,", MaxJSONTokens) + `0]}]`, ParseOptions{}, "MaxJSONTokens", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := ParseWithOptions(tt.format, strings.NewReader(tt.input), tt.opts)
			var le *LimitError
			if !errors.As(err, &le) {
				t.Fatalf("error = %v (result %+v), want a LimitError", err, res)
			}
			if le.Cap != tt.cap || le.Line != tt.line || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error = %v: cap %s line %d, want cap %s line %d", err, le.Cap, le.Line, tt.cap, tt.line)
			}
			if !strings.Contains(err.Error(), "(cap "+tt.cap+")") {
				t.Errorf("error %q does not name its cap", err)
			}
		})
	}
}

// TestParseAtTheCaps: inputs right at each cap are read, not refused.
func TestParseAtTheCaps(t *testing.T) {
	comment := strings.Repeat("c", MaxLineBytes-len("a.example,"))
	inputs := []struct {
		format Format
		input  string
	}{
		{FormatPlain, "a.example" + strings.Repeat(" ", MaxLineBytes-len("a.example")) + "\n"},
		{FormatFediBlockHoleCSV, "domain,public_comment\r\na.example," + comment + "\n"},
		{FormatFediBlockHoleCSV, "domain" + strings.Repeat(",x", MaxFieldsPerRecord-1) + "\na.example" + strings.Repeat(",", MaxFieldsPerRecord-1) + "\n"},
		{FormatGoToSocialJSON, "[" + strings.Repeat("[", MaxJSONDepth-1) + strings.Repeat("]", MaxJSONDepth-1) + `,{"domain":"a.example"}]`},
	}
	for _, in := range inputs {
		res, err := Parse(in.format, strings.NewReader(in.input))
		if err != nil {
			t.Fatalf("%s at the cap: %v", in.format, err)
		}
		if _, ok := findEntry(res.Entries, "a.example"); !ok {
			t.Fatalf("%s at the cap: entries %+v, problems %v", in.format, res.Entries, res.Problems)
		}
	}
}

// TestParseComments: comments are cut to MaxCommentBytes on a rune
// boundary with a marker, cleaned of invalid UTF-8 and control characters,
// and do not keep the row they were read from.
func TestParseComments(t *testing.T) {
	long := strings.Repeat("é", MaxCommentBytes) // two bytes a rune
	input := "#domain,#public_comment\n" +
		"long.example," + long + "\n" +
		"latin1.example,caf\xe9\n" +
		"esc.example,\x1b[31mred\x07 \u009b\n" +
		"edge.example," + strings.Repeat("a", MaxCommentBytes) + "\n"
	res, err := Parse(FormatMastodonCSV, strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"long.example":   strings.Repeat("é", (MaxCommentBytes-len("…"))/2) + "…",
		"latin1.example": "caf\uFFFD",
		"esc.example":    "\uFFFD[31mred\uFFFD \uFFFD",
		"edge.example":   strings.Repeat("a", MaxCommentBytes),
	}
	for d, c := range want {
		e, ok := findEntry(res.Entries, d)
		if !ok || e.PublicComment != c {
			t.Errorf("%s: comment %q, want %q", d, e.PublicComment, c)
		}
		if len(e.PublicComment) > MaxCommentBytes || !utf8.ValidString(e.PublicComment) {
			t.Errorf("%s: comment of %d bytes, valid %v", d, len(e.PublicComment), utf8.ValidString(e.PublicComment))
		}
	}
	if res.TruncatedComments != 1 {
		t.Errorf("TruncatedComments = %d, want 1", res.TruncatedComments)
	}
}

// TestParseProblemsBounded: every skipped row is counted, only the first
// MaxProblems are described, and what they quote is clean.
func TestParseProblemsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("a.example\n")
	for range MaxProblems * 3 {
		b.WriteString("a.example\nb\xff c\n")
	}
	res, err := Parse(FormatPlain, strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 1 || res.Skipped != MaxProblems*6 || len(res.Problems) != MaxProblems {
		t.Fatalf("entries %d, skipped %d, problems %d", len(res.Entries), res.Skipped, len(res.Problems))
	}
	for _, p := range res.Problems {
		if !utf8.ValidString(p.Record) {
			t.Fatalf("problem quotes invalid UTF-8: %q", p.Record)
		}
	}
}

// TestParseNUL: a NUL byte refuses the input, naming its line, wherever it
// is in the stream.
func TestParseNUL(t *testing.T) {
	input := "#domain\n" + strings.Repeat("a.example\n", 20000) + "b.example\x00\n"
	_, err := Parse(FormatMastodonCSV, strings.NewReader(input))
	if err == nil || !strings.Contains(err.Error(), "line 20002: a NUL byte") {
		t.Fatalf("error = %v", err)
	}
}

// TestParseJSONShapes: the element scanner agrees with encoding/json on
// where elements end, whatever they hold.
func TestParseJSONShapes(t *testing.T) {
	input := "\ufeff[ 1 ,\n\"s]},\\\"\", null,true , [ ] ,{},\n" +
		`{"domain":"a.example","x":{"y":["]","}",{"z":"\\"}]}},` + "\n" +
		`{"domain":"b.example"}` + "\n]\n"
	res, err := Parse(FormatGoToSocialJSON, strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Entries) != 2 || res.Entries[0].Domain != "a.example" || res.Entries[1].Domain != "b.example" {
		t.Fatalf("entries %+v", res.Entries)
	}
	var lines []int
	for _, p := range res.Problems {
		lines = append(lines, p.Line)
	}
	if len(lines) != 6 || lines[0] != 1 || lines[1] != 2 || lines[5] != 2 {
		t.Fatalf("problem lines %v (%v)", lines, res.Problems)
	}
	for _, bad := range []string{"[1,]", "[,1]", "[1 2]", `["a" "b"]`, "[1", "[{]", `["x`, "[1]]", "[{}}]", "[1] 2"} {
		if _, err := Parse(FormatGoToSocialJSON, strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
			t.Errorf("%s: error %v, want invalid JSON", bad, err)
		}
	}
}

// csvRecordShapes runs csvShape's state machine over data and returns, for
// each record it sees, its first line and field count, leaving out the
// empty lines ("" or "\r" before the newline) encoding/csv skips.
func csvRecordShapes(data []byte) (lines, fields []int) {
	c := &csvShape{line: 1, recordLine: 1, fields: 1}
	start := 0
	record := func(end int, line, n int) {
		if content := string(data[start:end]); content != "" && content != "\r" {
			lines, fields = append(lines, line), append(fields, n)
		}
	}
	for i, b := range data {
		line, n := c.recordLine, c.fields
		if err := c.step(b); err != nil {
			return nil, nil
		}
		if b == '\n' && c.state == fieldStart && c.recordLen == 0 && c.recordLine == c.line {
			record(i, line, n)
			start = i + 1
		}
	}
	record(len(data), c.recordLine, c.fields)
	return lines, fields
}

// FuzzCSVShape: the state machine that enforces the CSV caps sees the same
// records, starting on the same lines with the same number of fields, as
// encoding/csv reading with parseCSV's settings. Were they to disagree, a
// record could get past the caps.
func FuzzCSVShape(f *testing.F) {
	seedFiles(f, "a,\"b\r\nc\"\r\n\r\nd\n", "\"a\"\"b\",\"c\"d,\"\r\"\n", "x,\"y\"\r", "\"\n\"\"\n,\",\n", "a\rb,c\r\n")
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > MaxLineBytes {
			return
		}
		lines, fields := csvRecordShapes(data)
		r := csv.NewReader(bytes.NewReader(data))
		r.FieldsPerRecord, r.LazyQuotes, r.ReuseRecord = -1, true, true
		for i := 0; ; i++ {
			record, err := r.Read()
			if errors.Is(err, io.EOF) {
				if i != len(lines) {
					t.Fatalf("encoding/csv read %d records, the shape scan %d (%v)", i, len(lines), lines)
				}
				return
			}
			if err != nil {
				t.Fatalf("encoding/csv: %v", err)
			}
			line, _ := r.FieldPos(0)
			if i >= len(lines) || lines[i] != line || fields[i] != len(record) {
				t.Fatalf("record %d: encoding/csv line %d with %d fields, the shape scan %v %v", i, line, len(record), lines, fields)
			}
		}
	})
}

// FuzzJSONScan: the element scanner accepts exactly what encoding/json
// accepts as an array, and sees as many elements: it decides where each
// element ends, so a disagreement would misread a feed.
func FuzzJSONScan(f *testing.F) {
	seedFiles(f, `[1,"a",{"b":[2]},null]`, "[ ]", `["\"]\\",{}]`, "[1 ,2\n]\n", "[tru]", `[{"a":}]`)
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := ParseWithOptions(FormatGoToSocialJSON, bytes.NewReader(data), ParseOptions{MaxEntries: 1 << 20})
		if errors.Is(err, ErrTooLarge) || len(data) > MaxRecordBytes || bytes.IndexByte(data, 0) >= 0 {
			return
		}
		var array []json.RawMessage
		valid := json.Unmarshal(bytes.TrimPrefix(data, []byte("\ufeff")), &array) == nil && array != nil
		if head := bytes.ToLower(bytes.TrimLeft(data, " \t\r\n\ufeff")); bytes.HasPrefix(head, []byte("<")) {
			return // refused as HTML before JSON is looked at
		}
		switch {
		case valid && err != nil:
			t.Fatalf("encoding/json reads %d elements, the parser refuses: %v", len(array), err)
		case !valid && err == nil:
			t.Fatalf("encoding/json refuses the input, the parser reads %+v", res)
		case valid:
			if n := len(res.Entries) + res.Skipped + res.Obfuscated; n != len(array) {
				t.Fatalf("encoding/json reads %d elements, the parser %d", len(array), n)
			}
		}
	})
}
