package policytool

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// TestNotesNameTheRows: a list's note says which rows were skipped and
// which were starred out, by line, not only how many (issue 15).
func TestNotesNameTheRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "list.csv")
	csv := "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n" +
		"ok.example,suspend,false,false,,false\n" +
		"ba*.*t,suspend,false,false,,true\n" +
		"ok.example,silence,false,false,,false\n" +
		"e*.example,suspend,false,false,,true\n" +
		"f*.example,suspend,false,false,,true\n" +
		"g*.example,suspend,false,false,,true\n" +
		"h*.example,suspend,false,false,,true\n"
	if err := os.WriteFile(path, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	note := readFile(path, moderation.FormatMastodonCSV).Note
	for _, want := range []string{
		`1 row skipped (line 4 "ok.example,silence`, "duplicate",
		`5 rows left out because the domain is starred out`, `line 3 "ba*.*t`, "…and 2 more",
	} {
		if !strings.Contains(note, want) {
			t.Errorf("note does not say %q:\n%s", want, note)
		}
	}
}
