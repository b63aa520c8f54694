package hostile

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"io"
	"testing"
)

// TestGzipBodiesDecodeToTheBody: a gzip feed's compressed body, built as a
// series of members, decodes to exactly its body.
func TestGzipBodiesDecodeToTheBody(t *testing.T) {
	for _, f := range Feeds() {
		if !f.Gzip {
			continue
		}
		gz, err := f.compressed()
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(gz))
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		decoded, want := sha256.New(), sha256.New()
		n, err := io.Copy(decoded, zr)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		if err := f.WriteBody(want); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(decoded.Sum(nil), want.Sum(nil)) {
			t.Errorf("%s: %d decoded bytes differ from the body", f.Name, n)
		}
	}
}

// TestCatalogue: names are unique, and every feed says why and what.
func TestCatalogue(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Feeds() {
		if seen[f.Name] || f.Name == "" || f.Why == "" || f.Format == "" || f.write == nil {
			t.Errorf("feed %q: duplicate or incomplete", f.Name)
		}
		seen[f.Name] = true
		if f.Expect.Err == "" && f.Expect.Line != 0 {
			t.Errorf("%s: a line without an error", f.Name)
		}
	}
}
