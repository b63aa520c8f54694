package moderation

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// parseCSVStdlib is parseCSV as it was before csvReader (issue 16 item 4):
// encoding/csv over the same csvShape. It is kept here as the oracle
// csvReader is checked against.
func parseCSVStdlib(in io.Reader, b *builder) error {
	r := csv.NewReader(&csvShape{r: in, line: 1, recordLine: 1, fields: 1})
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	r.ReuseRecord = true
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the header: %w", err)
	}
	cols, err := readCSVHeader(header)
	if err != nil {
		return err
	}
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				if err := b.skip(pe.StartLine, row{}, pe.Err.Error()); err != nil {
					return err
				}
				continue
			}
			return err
		}
		line, _ := r.FieldPos(0)
		if err := addCSVRecord(b, cols, line, record); err != nil {
			return err
		}
	}
}

// parseCSVWith runs ParseWithOptions' CSV path with the given record
// reader, the input delivered in reads of at most chunk bytes.
func parseCSVWith(parse func(io.Reader, *builder) error, data []byte, chunk int, opts ParseOptions) (*ParseResult, string) {
	opts = opts.withDefaults()
	var r io.Reader = bytes.NewReader(data)
	if chunk == 1 {
		r = iotest.OneByteReader(r)
	} else if chunk > 1 {
		r = &chunkReader{r: r, n: chunk}
	}
	in, err := newInput(r, opts.MaxBytes)
	if err != nil {
		return nil, err.Error()
	}
	b := newBuilder(opts)
	if err := parse(in, b); err != nil {
		return nil, err.Error()
	}
	return &b.result, ""
}

// checkCSVSame fails unless csvReader and encoding/csv give the same
// result, or the same error, for data.
func checkCSVSame(t *testing.T, name string, data []byte, opts ParseOptions) {
	t.Helper()
	want, wantErr := parseCSVWith(parseCSVStdlib, data, 0, opts)
	for _, chunk := range []int{0, 1, 7, 4096} {
		got, gotErr := parseCSVWith(parseCSV, data, chunk, opts)
		if gotErr != wantErr {
			t.Fatalf("%s, reads of %d: error %q, encoding/csv: %q", name, chunk, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s, reads of %d: result differs from encoding/csv's:\n got %+v\nwant %+v", name, chunk, got, want)
		}
	}
}

// csvTrickyInputs are the corners of encoding/csv's lazy-quote reading:
// quotes inside and around fields, newlines and "\r" inside quotes, empty
// lines, a last line without a newline or ending in '\r', the end of the
// input inside quotes.
var csvTrickyInputs = []string{
	"",
	"\n",
	"#domain\n",
	"#domain,#severity\na.example,suspend",
	"#domain,#severity\r\na.example,suspend\r\n",
	"#domain,#severity\r\na.example,suspend\r",
	"#domain,#severity\na.example,suspend\r\r\n",
	"#domain,#public_comment\na.example,\"multi\nline\"\nb.example,x\n",
	"#domain,#public_comment\na.example,\"multi\r\nline\"\r\nb.example,x\r\n",
	"#domain,#public_comment\na.example,\"quote \"\" inside\"\nb.example,\"bare \" quote\"\n",
	"#domain,#public_comment\na.example,\"ends\"x,y\nb.example,unquoted \"quote\"\n",
	"#domain,#public_comment\na.example,\"never closed\nb.example,x\n",
	"#domain,#public_comment\na.example,\"never closed",
	"#domain,#public_comment\na.example,\"closed at the end\"",
	"#domain,#public_comment\na.example,\"\"\n\n\n\nb.example,\"\"\"\"\n",
	"#domain,#public_comment\n\"a.example\",\"x\"\r\"y\"\n",
	"#domain,#public_comment\na.example,\"\r\"\n\"\",\"\"\n",
	"#domain,#public_comment\na.example,\"x\"\r",
	"#domain,#public_comment\na.example,\"x\"\r\n\r\n\r\nb.example\n",
	"#domain,#public_comment\na.example,a\rb\nb.example,\"a\rb\"\n",
	"\ufeff#domain,#severity,#reject_media\nA.Example.,silence,TRUE\n*.b.example,,\nc.example,,maybe\nd.example\n",
	"#domain,#public_comment\na.example,\"x\",\"\nb.example\n",
	"#domain,#severity\n\"\n\",\"\n\"\n\"a.example\"\"\",suspend\n",
	"domain,severity,comment\nfoo.example,suspend,'=cmd\nbar.example,suspend,\"',,\"\n",
	"#domain\n" + strings.Repeat("x", MaxLineBytes) + "\n",
	"#domain\n" + strings.Repeat("x", MaxLineBytes-1) + "\na.example\n",
	"#domain,#c\na.example,\"" + strings.Repeat("y\n", 70_000) + "\"\n",
	"#domain\n" + strings.Repeat(",", MaxFieldsPerRecord) + "\n",
	"#domain\na.example\n\x00\n",
	"#domain\n" + strings.Repeat("a.example\n", 3),
}

// TestCSVReaderLikeEncodingCSV: csvReader reads every tricky input, cut
// into reads of any size, to the same result or error as encoding/csv.
func TestCSVReaderLikeEncodingCSV(t *testing.T) {
	for i, s := range csvTrickyInputs {
		checkCSVSame(t, fmt.Sprintf("input %d", i), []byte(s), ParseOptions{})
		checkCSVSame(t, fmt.Sprintf("input %d, MaxEntries 1", i), []byte(s), ParseOptions{MaxEntries: 1})
	}
}

// TestCSVReaderRealLists: every real list (testdata and, when present,
// shared/data/blocklists) parses to the same result as with encoding/csv.
func TestCSVReaderRealLists(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.csv"))
	shared, _ := filepath.Glob(filepath.Join("..", "..", "..", "shared", "data", "blocklists", "*.csv"))
	if len(shared) == 0 {
		shared, _ = filepath.Glob("/work/shared/data/blocklists/*.csv")
	}
	files = append(files, shared...)
	if len(files) < 5 {
		t.Fatalf("only %d lists found", len(files))
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkCSVSame(t, name, data, ParseOptions{KeepCutComments: true})
	}
}

func FuzzCSVReader(f *testing.F) {
	for _, s := range csvTrickyInputs {
		if len(s) < 4096 {
			f.Add([]byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 8192 {
			return
		}
		checkCSVSame(t, "fuzzed", data, ParseOptions{})
		// A header first, so that the records themselves are read.
		checkCSVSame(t, "fuzzed after a header", append([]byte("#domain,#severity,#public_comment\n"), data...), ParseOptions{MaxEntries: 20})
		checkSortedParse(t, "fuzzed after a header", FormatMastodonCSV, append([]byte("#domain,#severity,#public_comment\n"), data...), ParseOptions{MaxEntries: 20})
	})
}
