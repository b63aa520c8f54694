//go:build scalegen

package policytool

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// A tool rather than a test, behind its own tag so that `go test ./...`
// never meets it: it writes the generated lists for timing the CLI by hand.

// TestWriteScaleLists writes the generated lists into
// $FEDCOMMONS_SCALE_DIR, to time the CLI on them:
//
//	FEDCOMMONS_SCALE_DIR=/tmp/scale go test -tags scalegen -run TestWriteScaleLists ./internal/policytool/
//	fedcommons policy explain --offline -f /tmp/scale/policy.yaml \
//	  --source list-0=/tmp/scale/list-0.csv ... spam.example
func TestWriteScaleLists(t *testing.T) {
	dir := os.Getenv("FEDCOMMONS_SCALE_DIR")
	if dir == "" {
		t.Fatal("set FEDCOMMONS_SCALE_DIR to the directory to write the lists into")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	_, files := writeGeneratedLists(t, dir, 1, genLists, genPerList)
	var args []string
	for l := range genLists {
		name := "list-" + strconv.Itoa(l)
		args = append(args, "--source", name+"="+files[name])
	}
	if err := os.WriteFile(filepath.Join(dir, "args"), []byte(strings.Join(args, " ")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
