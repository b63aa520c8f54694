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
)

// scanRecords reads every record of s with csvScanner, each with the line
// it starts on; ok false if the scanner gave up.
func scanRecords(s string, chunk int) (records [][]string, lines []int, ok bool) {
	c := newCSVScanner(strings.NewReader(s), DefaultMaxBytes, chunk)
	for {
		fields, eof, ok := c.read()
		if eof {
			return records, lines, true
		}
		if !ok {
			return records, lines, false
		}
		records = append(records, append([]string(nil), fields...))
		lines = append(lines, c.recordLine)
	}
}

// stdlibRecords is scanRecords with encoding/csv, read as parseCSV reads.
func stdlibRecords(t *testing.T, s string) (records [][]string, lines []int) {
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	for {
		record, err := r.Read()
		if errors.Is(err, io.EOF) {
			return records, lines
		}
		if err != nil {
			t.Fatalf("encoding/csv: %v", err)
		}
		line, _ := r.FieldPos(0)
		records = append(records, record)
		lines = append(lines, line)
	}
}

// scanTrickyInputs add to csvTrickyInputs the shapes of real lists: a
// BOM, empty fields, quoted fields with commas, CRLF everywhere.
var scanTrickyInputs = append([]string{
	"\ufeff#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\r\n" +
		"a.example,suspend,false,false,\"spam, and \"\"more\"\"\",false\r\n" +
		"b.example,,,,,\r\n\r\n\"c.example\",\"silence\",\"\",\"\",\"two\r\nlines\",\"\"\r\n",
	",,,\n,\n\"\",\"\"\n\"\n\"\n",
	"a,\"b\"c,\"d\"\"\",\"\"\"\"\"\"",
	"\"a\"\r\n\"b\"\r",
	"\"a\r\r\n\"\r\n",
	"x\r\r\r",
	"\"\"\"",
}, csvTrickyInputs...)

// TestCSVScannerLikeEncodingCSV: csvScanner reads every tricky input to
// the same records, starting on the same lines, as encoding/csv, when it
// does not give up; it gives up only on records near a cap.
func TestCSVScannerLikeEncodingCSV(t *testing.T) {
	for i, s := range scanTrickyInputs {
		for _, chunk := range scanChunks {
			if chunk < 4096 && len(s) > 4096 {
				continue
			}
			got, gotLines, ok := scanRecords(s, chunk)
			if !ok {
				if len(s) < scanMaxRecordSpan && strings.Count(s, ",") < scanMaxFields && !strings.Contains(s, "\x00") {
					t.Errorf("input %d, chunks of %d: the scanner gave up on a small input", i, chunk)
				}
				continue
			}
			want, wantLines := stdlibRecords(t, s)
			if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotLines, wantLines) {
				t.Errorf("input %d %q, chunks of %d:\n got %q at %v\nwant %q at %v", i, s, chunk, got, gotLines, want, wantLines)
			}
		}
	}
}

// scanChunks are the chunk sizes the scanner is tested with: records and
// lines cut anywhere, "\r\n" cut in two, and the size it runs with.
var scanChunks = []int{1, 2, 7, 4096, scanChunk}

// checkStringSame fails unless ParseSeekable, reading in chunks of any
// size, and the stream path give the same result, or the same error, for
// data; it reports whether the scanner read the input itself.
func checkStringSame(t *testing.T, name string, format Format, data []byte, opts ParseOptions) (fast bool) {
	t.Helper()
	want, wantErr := ParseWithOptions(format, bytes.NewReader(data), opts)
	for _, chunk := range scanChunks {
		if chunk < 4096 && len(data) > 4096 {
			continue // a long line read a byte at a time is copied at each byte
		}
		got, gotErr := parseSeekable(format, bytes.NewReader(data), opts, chunk)
		if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
			t.Fatalf("%s, chunks of %d: error %v, stream path: %v", name, chunk, gotErr, wantErr)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s, chunks of %d: result differs from the stream path's:\n got %+v\nwant %+v", name, chunk, got, want)
		}
	}
	_, fast = parseCSVScan(newCSVScanner(bytes.NewReader(data), opts.withDefaults().MaxBytes, scanChunk), opts.withDefaults())
	return fast
}

// TestParseSeekableSameAsStream: on every tricky input, with and without
// a row cap, sorted or not, ParseSeekable gives what ParseWithOptions
// gives; and it reads the small well-formed ones itself, so that the
// comparison is of the scanner and not of the stream path with itself.
func TestParseSeekableSameAsStream(t *testing.T) {
	fast := 0
	for i, s := range scanTrickyInputs {
		for _, opts := range []ParseOptions{{}, {MaxEntries: 1}, {SortByDomain: true, KeepCutComments: true}, {MaxKept: 1}, {MaxBytes: 40}} {
			for _, format := range []Format{FormatMastodonCSV, FormatFediBlockHoleCSV} {
				if checkStringSame(t, fmt.Sprintf("input %d, %+v", i, opts), format, []byte(s), opts) {
					fast++
				}
			}
		}
		small := len(s) < 4096 && !strings.Contains(s, "\x00")
		if fastOK := checkStringSame(t, fmt.Sprint("input ", i), FormatMastodonCSV, []byte(s), ParseOptions{}); small && !fastOK {
			if _, err := ParseSeekable(FormatMastodonCSV, strings.NewReader(s), ParseOptions{}); err == nil {
				t.Errorf("input %d: read through the stream path, though it is small and readable", i)
			}
		}
	}
	if fast < len(scanTrickyInputs) {
		t.Errorf("the scanner read only %d of the inputs itself", fast)
	}
	// Inputs the scanner must leave to the stream path, for its errors.
	for _, s := range []string{
		"<!DOCTYPE html><html>",
		"#domain\na.example\n\x00\n",
		"#severity\na.example\n",
		"#domain\n" + strings.Repeat(",", MaxFieldsPerRecord) + "\n",
	} {
		checkStringSame(t, fmt.Sprintf("%.20q", s), FormatMastodonCSV, []byte(s), ParseOptions{})
	}
	checkStringSame(t, "plain", FormatPlain, []byte("a.example\nB.example.\n"), ParseOptions{})
}

// TestParseSeekableRealLists: every real list parses the same through
// ParseSeekable, by the scanner itself.
func TestParseSeekableRealLists(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.csv"))
	shared, _ := filepath.Glob("/work/shared/data/blocklists/*.csv")
	for _, name := range append(files, shared...) {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, opts := range []ParseOptions{{KeepCutComments: true}, {SortByDomain: true}} {
			if !checkStringSame(t, name, FormatMastodonCSV, data, opts) {
				if _, err := ParseSeekable(FormatMastodonCSV, bytes.NewReader(data), opts); err == nil {
					t.Errorf("%s: read through the stream path", name)
				}
			}
		}
	}
}

func FuzzParseSeekableSameAsStream(f *testing.F) {
	for _, s := range scanTrickyInputs {
		if len(s) < 4096 {
			f.Add([]byte(s), uint8(0))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, maxEntries uint8) {
		if len(data) > 8192 {
			return
		}
		opts := ParseOptions{MaxEntries: int(maxEntries), SortByDomain: maxEntries%2 == 1}
		checkStringSame(t, "fuzzed", FormatMastodonCSV, data, opts)
		withHeader := append([]byte("#domain,#severity,#public_comment\n"), data...)
		checkStringSame(t, "fuzzed after a header", FormatMastodonCSV, withHeader, opts)
		if got, _, ok := scanRecords(string(data), 7); ok {
			if want, err := stdlibRecordsOrNil(string(data)); err == nil && len(got)+len(want) > 0 && !reflect.DeepEqual(got, want) {
				t.Fatalf("records %q, encoding/csv: %q", got, want)
			}
		}
	})
}

// stdlibRecordsOrNil is stdlibRecords for the fuzzer, which cannot stop
// on encoding/csv's errors.
func stdlibRecordsOrNil(s string) ([][]string, error) {
	r := csv.NewReader(strings.NewReader(s))
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	return r.ReadAll()
}

// TestParseSeekableFromWhereItStands: an input the scanner gives up on is
// read again from where it stood, not from the start of the file.
func TestParseSeekableFromWhereItStands(t *testing.T) {
	list := "#domain\na.example\n\x00\n" // a NUL byte: the stream path's error
	r := strings.NewReader("junk before the list\n" + list)
	if _, err := r.Seek(int64(len("junk before the list\n")), io.SeekStart); err != nil {
		t.Fatal(err)
	}
	_, got := ParseSeekable(FormatMastodonCSV, r, ParseOptions{})
	_, want := ParseWithOptions(FormatMastodonCSV, strings.NewReader(list), ParseOptions{})
	if got == nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("error %v, want %v", got, want)
	}
}
