package moderation

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// shapeByBytes is csvShape as it was before runs of plain bytes were taken
// whole (issue 16 item 4): every byte through step. It says how many bytes
// were let through, the error and where the scan stands.
func shapeByBytes(data []byte) (int, error, csvShape) {
	c := &csvShape{line: 1, recordLine: 1, fields: 1}
	for i, b := range data {
		if err := c.step(b); err != nil {
			return i, err, *c
		}
	}
	return len(data), nil, *c
}

func shapeByReads(data []byte, chunk int) (int, error, csvShape) {
	c := &csvShape{r: iotest.OneByteReader(bytes.NewReader(data)), line: 1, recordLine: 1, fields: 1}
	if chunk > 1 {
		c.r = &chunkReader{r: bytes.NewReader(data), n: chunk}
	}
	n, err := io.Copy(io.Discard, c)
	c.r, c.err = nil, nil
	return int(n), err, *c
}

type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func checkShapeSame(t *testing.T, data []byte, chunk int) {
	t.Helper()
	wantN, wantErr, want := shapeByBytes(data)
	gotN, gotErr, got := shapeByReads(data, chunk)
	if gotN != wantN || (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()) {
		t.Fatalf("chunk %d: %d bytes, %v; byte by byte: %d bytes, %v", chunk, gotN, gotErr, wantN, wantErr)
	}
	if wantErr == nil && got != want {
		t.Fatalf("chunk %d: the scan ends at %+v; byte by byte at %+v", chunk, got, want)
	}
}

// TestCSVShapeRunsAtTheCaps: lines and records just at and just past the
// caps, quoted and not, fail at the same byte with the same error as the
// byte-by-byte scan, however the input is cut into reads.
func TestCSVShapeRunsAtTheCaps(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	inputs := []string{
		long(MaxLineBytes) + "\n",
		long(MaxLineBytes+1) + "\n",
		"x," + long(MaxLineBytes-2) + "\nb\n",
		"x," + long(MaxLineBytes-1) + "\nb\n",
		"\"" + long(MaxRecordBytes/2) + "\n" + long(MaxRecordBytes/2) + "\"\n",
		"\"" + long(MaxRecordBytes/2) + "\"x\r\n" + long(MaxRecordBytes/2) + "\"\n",
		"\"a\"\r" + long(MaxLineBytes-4) + "\n",
		"\"a\"\r" + long(MaxLineBytes-3) + "\n",
		strings.Repeat("a,", MaxFieldsPerRecord) + "b\n",
	}
	for _, in := range inputs {
		for _, chunk := range []int{1, 7, 4096, 1 << 20} {
			checkShapeSame(t, []byte(in), chunk)
		}
	}
	if _, err, _ := shapeByReads([]byte(inputs[1]), 4096); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("a line past MaxLineBytes: %v, want ErrTooLarge", err)
	}
}

// FuzzCSVShapeRuns: taking runs of plain bytes whole lets through the
// same bytes, and fails with the same error, as stepping byte by byte.
// pad lengthens the input towards the caps.
func FuzzCSVShapeRuns(f *testing.F) {
	for _, s := range []string{"a,\"b\r\nc\"\r\n\r\nd\n", "\"a\"\"b\",\"c\"d,\"\r\"\n", "x,\"y\"\r", "\"\n\"\"\n,\",\n", "a\rb,c\r\n", "\"a\"\rb"} {
		f.Add([]byte(s), uint16(0), uint8(3))
		f.Add([]byte(s), uint16(MaxLineBytes-3), uint8(200))
	}
	f.Fuzz(func(t *testing.T, data []byte, pad uint16, chunk uint8) {
		if len(data) > 4096 {
			return
		}
		in := append(bytes.Repeat([]byte("a"), int(pad)), data...)
		checkShapeSame(t, in, int(chunk)+1)
		checkShapeSame(t, in, 64<<10)
	})
}
