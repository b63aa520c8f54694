package policytool

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

var forkTime = time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestForkLeavesOutWhatTheOperatorRefuses: a public suffix (the engine
// refuses it), a name the API server refuses although the engine reads it
// ('--' in a label's third and fourth characters), a malformed row and a
// canary are not in the fork, and the report names each with the reason.
// With the API check taken out of admissible, ab--cd.example is kept
// (checked: this test fails), and the API server refuses the whole
// manifest (forkLeavesOut).
func TestForkLeavesOutWhatTheOperatorRefuses(t *testing.T) {
	path := writeFile(t, "list.csv", "#domain,#severity,#reject_media,#reject_reports,#public_comment,#obfuscate\n"+
		"zeta.example,silence,false,true,Spam,false\n"+
		"co.uk,suspend,false,false,too wide,false\n"+
		"ab--cd.example,suspend,false,false,,false\n"+
		"not a domain!,suspend,false,false,,false\n"+
		"000delete.this.line.example,suspend,false,false,,false\n"+
		"alpha.example,noop,true,false,,true\n")
	f, err := Fork(context.Background(), path, ForkOptions{Now: forkTime})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range f.Policy.Spec.Entries {
		got = append(got, fmt.Sprintf("%s %s media=%v reports=%v obf=%v %q", e.Domain, e.Action, e.RejectMedia != nil, e.RejectReports != nil, e.Obfuscate != nil, e.PublicComment))
	}
	want := []string{
		`alpha.example reject-media media=true reports=false obf=true ""`,
		`zeta.example silence media=false reports=true obf=false "Spam"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("entries (sorted by domain):\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var report bytes.Buffer
	if err := WriteForkReport(&report, f); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"as mastodon-csv (format from the extension of list.csv): 2 entries kept, 2 refused",
		"co.uk: public suffix co.uk",
		"ab--cd.example: a label with '--'",
		`line 5: `, "not a domain!",
		"canary row",
	} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if pc := f.Policy.Spec.Entries[0].PrivateComment; pc != "Forked from "+path+" on 2026-12-02T16:00:00Z ("+f.Version+")." || !strings.HasPrefix(f.Version, "sha256:") {
		t.Errorf("private comment %q (version %q)", pc, f.Version)
	}
}

// TestForkKeepsTheRestOfACutComment: a public comment longer than the
// engine keeps is cut, and the private comment carries on where it
// stopped, within the API's 1000.
func TestForkKeepsTheRestOfACutComment(t *testing.T) {
	long := strings.Repeat("word ", 250) + "THE-END-OF-IT"
	path := writeFile(t, "list.csv", "#domain,#severity,#public_comment\nbad.example,suspend,\""+long+"\"\n")
	f, err := Fork(context.Background(), path, ForkOptions{Now: forkTime})
	if err != nil {
		t.Fatal(err)
	}
	e := f.Policy.Spec.Entries[0]
	if len(e.PublicComment) > moderation.MaxCommentBytes || !strings.HasSuffix(e.PublicComment, "…") {
		t.Errorf("public comment not cut: %d bytes", len(e.PublicComment))
	}
	if !strings.Contains(e.PrivateComment, "it went on: ") || !strings.HasSuffix(e.PrivateComment, "THE-END-OF-IT") || len(e.PrivateComment) > 1000 {
		t.Errorf("private comment does not carry the rest (%d bytes): %q", len(e.PrivateComment), e.PrivateComment)
	}
}

// TestForkRefusesWhatDoesNotFit: more entries than spec.entries holds, or
// a manifest past the size the API server stores, is refused with the way
// out; the same list at the limit is forked.
func TestForkRefusesWhatDoesNotFit(t *testing.T) {
	list := func(n, comment int) string {
		var b strings.Builder
		b.WriteString("#domain,#severity,#public_comment\n")
		for i := range n {
			fmt.Fprintf(&b, "host%d.example,suspend,%s\n", i, strings.Repeat("x", comment))
		}
		return b.String()
	}
	ok := writeFile(t, "ok.csv", list(MaxForkEntries, 0))
	f, err := Fork(context.Background(), ok, ForkOptions{Now: forkTime})
	if err != nil {
		t.Fatalf("%d entries: %v", MaxForkEntries, err)
	}
	// Whole, the provenance would not fit 5000 times: each entry has it
	// in short, the object once in full.
	if pc := f.Policy.Spec.Entries[0].PrivateComment; !f.Compact || len(pc) > 130 || !strings.HasPrefix(pc, "Forked from /") ||
		f.Policy.Annotations[AnnotationForkedFrom] != ok || f.Policy.Annotations[AnnotationForkedCopy] != f.Version {
		t.Errorf("compact %v, private comment %q, annotations %v", f.Compact, pc, f.Policy.Annotations)
	}
	// From a URL, the refusal writes the subscription to use instead.
	many := list(MaxForkEntries+1, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, many) }))
	defer srv.Close()
	_, err = Fork(context.Background(), srv.URL+"/feeds/big.csv", ForkOptions{Fetcher: loopbackFetcher()})
	if want := "lists 5001 entries, more than the 5000 a FederationPolicy holds of its own: no manifest written. Subscribe to it as a source instead" +
		" (spec.sources, with a url and a format), or fork a smaller list:\n  sources:\n    - name: big\n      url: " + srv.URL + "/feeds/big.csv\n      format: mastodon-csv\n"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("got %v, want it to end with %q", err, want)
	}
	for name, body := range map[string]string{"many.csv": many, "wordy.csv": list(3000, 300)} {
		_, err := Fork(context.Background(), writeFile(t, name, body), ForkOptions{Now: forkTime})
		var tooMany *TooManyError
		if !errors.As(err, &tooMany) || !strings.Contains(err.Error(), "Subscribe to it as a source instead") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestForkFormats: the format is the one asked for, else the Content-Type,
// else the extension, and the fork says which; JSON with severities is
// Mastodon's API (read as GoToSocial's, its silence would be a
// suspension).
func TestForkFormats(t *testing.T) {
	bodies := map[string]struct{ ctype, body string }{
		"/list":             {"text/csv; charset=utf-8", "domain,severity\nsilenced.example,silence\n"},
		"/api.json":         {"application/json", `[{"domain":"silenced.example","digest":"x","severity":"silence","comment":"c"}]`},
		"/gts":              {"application/json", `[{"domain":"silenced.example"}]`},
		"/raw/list.csv":     {"text/plain; charset=utf-8", "#domain,#severity\nsilenced.example,silence\n"},
		"/plain":            {"text/plain", "silenced.example\n"},
		"/mystery":          {"application/octet-stream", "silenced.example\n"},
		"/policies/a/b.txt": {"text/plain; charset=utf-8", "silenced.example\n"},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := bodies[r.URL.Path]
		w.Header().Set("Content-Type", b.ctype)
		fmt.Fprint(w, b.body)
	}))
	defer srv.Close()
	for path, want := range map[string]string{
		"/list":             "mastodon-csv from Content-Type text/csv: silence",
		"/api.json":         "mastodon-api-json from Content-Type application/json: silence",
		"/gts":              "gotosocial-json from Content-Type application/json: suspend",
		"/raw/list.csv":     "mastodon-csv from the extension of list.csv: silence",
		"/plain":            "plain from Content-Type text/plain: suspend",
		"/policies/a/b.txt": "plain from the extension of b.txt: suspend",
		"/mystery":          `cannot tell the format of http://127.0.0.1`,
	} {
		f, err := Fork(context.Background(), srv.URL+path, ForkOptions{Fetcher: loopbackFetcher(), Now: forkTime})
		got := ""
		switch {
		case err != nil:
			got = err.Error()
		case len(f.Policy.Spec.Entries) == 0:
			got = fmt.Sprintf("%s from %s: no entries", f.Format, f.FormatFrom)
		default:
			got = fmt.Sprintf("%s from %s: %s", f.Format, f.FormatFrom, f.Policy.Spec.Entries[0].Action)
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
	f, err := Fork(context.Background(), srv.URL+"/plain", ForkOptions{Format: moderation.FormatMastodonCSV, Fetcher: loopbackFetcher()})
	if err == nil || !strings.Contains(err.Error(), "format from --format") {
		t.Errorf("a plain list read as CSV because --format said so: %v %v", f, err)
	}
	// The operator's guard: without the loopback allowed, nothing is fetched.
	if _, err := Fork(context.Background(), srv.URL+"/list", ForkOptions{Fetcher: &feeds.Fetcher{}}); err == nil {
		t.Error("fetched a loopback address without --source-allow-cidrs")
	}
}

// TestForkIsDeterministic: the same list read at the same time gives the
// same bytes, whatever the order of its rows.
func TestForkIsDeterministic(t *testing.T) {
	a := writeFile(t, "list.txt", "b.example\na.example\nc.example\n")
	b := writeFile(t, "list.txt", "c.example\na.example\nb.example\n")
	var out [2]bytes.Buffer
	for i, path := range []string{a, b} {
		f, err := Fork(context.Background(), path, ForkOptions{Name: "ours", Now: forkTime})
		if err != nil {
			t.Fatal(err)
		}
		f.Origin, f.Version, f.Policy.Annotations = "list.txt", "v", nil // the two files differ only there
		for j := range f.Policy.Spec.Entries {
			f.Policy.Spec.Entries[j].PrivateComment = ""
		}
		if err := WriteForkManifest(&out[i], f); err != nil {
			t.Fatal(err)
		}
	}
	if out[0].String() != out[1].String() {
		t.Fatalf("two orders, two manifests:\n%s\n---\n%s", out[0].String(), out[1].String())
	}
	if i, j := strings.Index(out[0].String(), "a.example"), strings.Index(out[0].String(), "b.example"); i < 0 || i > j {
		t.Errorf("not sorted by domain:\n%s", out[0].String())
	}
}
