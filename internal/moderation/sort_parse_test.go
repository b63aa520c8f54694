package moderation

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// sortTrickyInputs add, to the CSV corners, what normalisation and
// duplicates make of names: case, trailing dots, wildcards, IDNA in
// Unicode and in punycode (valid and not), one domain spelled several
// ways, starred-out names, comments past MaxCommentBytes, a BOM.
var sortTrickyInputs = []string{
	"\ufeff#domain,#severity,#public_comment\r\nB.Example.,silence,x\r\n*.b.example,suspend,dup\r\nbücher.example,,\r\nxn--bcher-kva.example,,dup\r\nXN--BCHER-KVA.EXAMPLE.,,dup\r\n",
	"#domain,#severity\nxn--zz-invalid.example,suspend\nxn--p1ai,suspend\nпример.рф,suspend\nm**.example,suspend\n*.*.example,suspend\n\"a.example\",\"suspend\"\n",
	"#domain,#public_comment\nlong.example,\"" + strings.Repeat("é", MaxCommentBytes) + "\"\nlong.example,short\nother.example,\"" + strings.Repeat("x", 2*MaxCommentBytes) + "\"\n",
	"#domain\nz.example\ny.example\nx.example\nmastodon.social.host1.example\nmastodon.social.host10.example\nmastodon.social.host1.example\nmastodon.social\nmastodon\n",
}

// checkSortedParse fails unless parsing data with SortByDomain gives the
// result without it, entries sorted by domain, and both merge to the
// same policy.
func checkSortedParse(t *testing.T, name string, format Format, data []byte, opts ParseOptions) {
	t.Helper()
	want, wantErr := ParseWithOptions(format, bytes.NewReader(data), opts)
	opts.SortByDomain = true
	got, gotErr := ParseWithOptions(format, bytes.NewReader(data), opts)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: error %v, in file order %v", name, gotErr, wantErr)
	}
	if wantErr != nil {
		return
	}
	fileOrder := slices.Clone(want.Entries)
	slices.SortFunc(want.Entries, func(a, b Entry) int { return strings.Compare(a.Domain, b.Domain) })
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: the sorted parse differs from the parse in file order, sorted:\n got %+v\nwant %+v", name, got, want)
	}
	merge := func(entries []Entry) *Policy {
		p, err := Merge(MergeInput{Sources: []Source{{Name: "feed", Weight: 1, Entries: entries}}, Threshold: Threshold{ThresholdWeight, 1}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return p
	}
	// Compared as the policy reads: a contribution points at its source,
	// whose entries are in a different order.
	said := func(p *Policy) string {
		var b strings.Builder
		for i := range p.Entries {
			e := &p.Entries[i]
			fmt.Fprintf(&b, "%+v %s %s\n", e.Entry, e.Provenance.Decision, e.Summary())
			for _, c := range e.Provenance.Sources {
				fmt.Fprintf(&b, "  %s %+v %s %t\n", c.Source.Name, *c.Said, c.Action, c.Counted)
			}
		}
		fmt.Fprintf(&b, "%+v", p.Rejected)
		return b.String()
	}
	if a, b := said(merge(got.Entries)), said(merge(fileOrder)); a != b {
		t.Fatalf("%s: the sorted parse merges to a different policy:\n%s\nin file order:\n%s", name, a, b)
	}
}

// TestSortByDomainSameParse: every tricky input and every real list
// parses, with ParseOptions.SortByDomain, to the same result in domain
// order, and merges to the same policy.
func TestSortByDomainSameParse(t *testing.T) {
	for i, s := range append(slices.Clone(csvTrickyInputs), sortTrickyInputs...) {
		checkSortedParse(t, fmt.Sprintf("input %d", i), FormatMastodonCSV, []byte(s), ParseOptions{})
		checkSortedParse(t, fmt.Sprintf("input %d, MaxEntries 3", i), FormatMastodonCSV, []byte(s), ParseOptions{MaxEntries: 3})
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "*.*"))
	shared, _ := filepath.Glob("/work/shared/data/blocklists/*.csv")
	for _, name := range append(files, shared...) {
		format := map[string]Format{".csv": FormatMastodonCSV, ".txt": FormatPlain, ".json": FormatGoToSocialJSON}[filepath.Ext(name)]
		if strings.Contains(name, "mastodon-api") {
			format = FormatMastodonAPIJSON
		}
		if format == "" {
			continue
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		checkSortedParse(t, name, format, data, ParseOptions{KeepCutComments: true})
	}
}
