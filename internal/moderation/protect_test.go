package moderation

import (
	"slices"
	"strings"
	"testing"
)

// TestMergeProtection: names that must never be blocked (public suffixes,
// our instances, exceptions, parents of locally allowed domains).
func TestMergeProtection(t *testing.T) {
	runMergeCases(t, []mergeCase{
		{
			name: "subscribed block on a parent of a local allow is refused",
			in: MergeInput{Local: []Entry{e("good.host.example", Allow)}, Sources: []Source{
				src("a", 1, e("host.example", Suspend))}},
			want:     []Entry{e("good.host.example", Allow)},
			rejected: []Rejection{{"host.example", "a", "would cover good.host.example, which a local entry allows"}},
		},
		{
			name: "exception overrides blocks, local and subscribed",
			in: MergeInput{Exceptions: []string{"friends.example"}, Local: []Entry{e("friends.example", Silence)},
				Sources: []Source{src("a", 1, e("friends.example", Suspend))}},
			want: nil,
			rejected: []Rejection{
				{"friends.example", LocalSource, "exception friends.example"},
				{"friends.example", "a", "exception friends.example"}},
		},
		{
			name: "exception protects against blocks on its parent",
			in: MergeInput{Exceptions: []string{"pals.friends.example"},
				Sources: []Source{src("a", 1, e("friends.example", Suspend), e("other.pals.friends.example", Suspend))}},
			// A subdomain of an exception is another server: still blockable.
			want:     []Entry{e("other.pals.friends.example", Suspend)},
			rejected: []Rejection{{"friends.example", "a", "parent of exception pals.friends.example: a block would cover it"}},
		},
		{
			name: "protected instance domain and its parent",
			in: MergeInput{Protected: []Protected{{Domain: "social.riverside.coop"}}, Sources: []Source{
				src("a", 1, e("social.riverside.coop", Suspend), e("riverside.coop", Silence), e("media.social.riverside.coop", Suspend))}},
			want: []Entry{e("media.social.riverside.coop", Suspend)},
			rejected: []Rejection{
				{"riverside.coop", "a", "parent of our instance social.riverside.coop: a block would cover it"},
				{"social.riverside.coop", "a", "our instance social.riverside.coop"}},
		},
		{
			name: "public suffixes are refused, private suffixes are not",
			in: MergeInput{Local: []Entry{e("co.uk", Suspend)}, Sources: []Source{
				src("a", 1, e("com", Suspend), e("workers.dev", Suspend))}},
			want: []Entry{e("workers.dev", Suspend)},
			rejected: []Rejection{
				{"co.uk", LocalSource, "public suffix co.uk: blocking it would block every site under it"},
				{"com", "a", "public suffix com: blocking it would block every site under it"}},
		},
	})
}

// TestMergeProtectionOwners: issue 12 case 3. The policy is riverside's;
// hillside's instances refuse subscribed blocks only, riverside's refuse
// every block.
func TestMergeProtectionOwners(t *testing.T) {
	theirs := func(d string) Protected { return Protected{Domain: d, Owner: "hillside"} }
	ours := func(d string) Protected { return Protected{Domain: d, Owner: "riverside"} }
	runMergeCases(t, []mergeCase{
		{
			name: "another community's instance never removes our local block on its parent",
			in: MergeInput{Owner: "riverside", Protected: []Protected{theirs("x.gab.example")},
				Local:   []Entry{e("gab.example", Suspend)},
				Sources: []Source{src("a", 1, e("gab.example", Suspend), e("x.gab.example", Silence), e("spam.example", Suspend))}},
			want: []Entry{e("gab.example", Suspend), e("spam.example", Suspend)},
			rejected: []Rejection{
				{"gab.example", "a", "parent of another community's instance x.gab.example: a block would cover it"},
				{"x.gab.example", "a", "another community's instance x.gab.example"}},
			decision: "local decision",
		},
		{
			name: "another community's instance never removes our local block on itself",
			in: MergeInput{Owner: "riverside", Protected: []Protected{theirs("x.gab.example")},
				Local: []Entry{{Domain: "x.gab.example", Action: Silence, RejectReports: true}}},
			want: []Entry{{Domain: "x.gab.example", Action: Silence, RejectReports: true}},
		},
		{
			name: "our own instance refuses our local block on its parent",
			in: MergeInput{Owner: "riverside", Protected: []Protected{ours("social.riverside.coop")},
				Local: []Entry{e("riverside.coop", Suspend)}},
			want:     nil,
			rejected: []Rejection{{"riverside.coop", LocalSource, "parent of our instance social.riverside.coop: a block would cover it"}},
		},
		{
			name: "a name both protect: ours decides (theirs listed first)",
			in: MergeInput{Owner: "riverside", Protected: []Protected{theirs("x.gab.example"), theirs("gab.example"), ours("x.gab.example")},
				Local: []Entry{e("gab.example", Suspend), e("x.gab.example", Suspend)}},
			want: nil,
			rejected: []Rejection{
				{"gab.example", LocalSource, "parent of our instance x.gab.example: a block would cover it"},
				{"x.gab.example", LocalSource, "our instance x.gab.example"}},
		},
		{
			name: "a name both protect: ours decides (ours listed first)",
			in: MergeInput{Owner: "riverside", Protected: []Protected{ours("x.gab.example"), theirs("gab.example"), theirs("x.gab.example")},
				Local: []Entry{e("gab.example", Suspend), e("x.gab.example", Suspend)}},
			want: nil,
			rejected: []Rejection{
				{"gab.example", LocalSource, "parent of our instance x.gab.example: a block would cover it"},
				{"x.gab.example", LocalSource, "our instance x.gab.example"}},
		},
		{
			name: "an exception refuses local blocks even where another community's instance is",
			in: MergeInput{Owner: "riverside", Protected: []Protected{theirs("x.friends.example")}, Exceptions: []string{"friends.example"},
				Local: []Entry{e("friends.example", Suspend)}},
			want:     nil,
			rejected: []Rejection{{"friends.example", LocalSource, "exception friends.example"}},
		},
		{
			name: "no owners named: every instance is ours, as before owners existed",
			in: MergeInput{Protected: []Protected{{Domain: "x.gab.example"}},
				Local: []Entry{e("gab.example", Suspend)}},
			want:     nil,
			rejected: []Rejection{{"gab.example", LocalSource, "parent of our instance x.gab.example: a block would cover it"}},
		},
	})
}

// TestMergeSkipsInvalidProtected: issue 12 case 2. A protected name that
// is not a domain is reported and protects nothing; the merge goes on.
func TestMergeSkipsInvalidProtected(t *testing.T) {
	p, err := Merge(MergeInput{Owner: "riverside",
		Protected: []Protected{
			{Domain: "xn--zz.example", Owner: "mallory"}, // passes the CRD pattern, fails IDNA
			{Domain: "social.riverside.coop", Owner: "riverside"},
			{Domain: "x*y.example", Owner: "riverside"},
		},
		Local:   []Entry{e("spam.example", Suspend), e("riverside.coop", Suspend)},
		Sources: []Source{src("a", 1, e("zz.example", Suspend), e("social.riverside.coop", Suspend))},
	})
	if err != nil {
		t.Fatalf("Merge failed on an invalid protected name: %v", err)
	}
	if got := effective(p); !slices.Equal(got, []Entry{e("spam.example", Suspend), e("zz.example", Suspend)}) {
		t.Errorf("entries = %+v", got)
	}
	if len(p.Rejected) != 2 {
		t.Errorf("the valid protected name must still protect: rejected %+v", p.Rejected)
	}
	var skipped []string
	for _, s := range p.SkippedProtected {
		if s.Reason == "" {
			t.Errorf("%s skipped without a reason", s.Domain)
		}
		skipped = append(skipped, s.Owner+"/"+s.Domain)
	}
	if want := []string{"riverside/x*y.example", "mallory/xn--zz.example"}; !slices.Equal(skipped, want) {
		t.Errorf("skipped = %v, want %v", skipped, want)
	}
}

// TestExplainProtectionByOthers: the explanation says that another
// community's instance refuses subscribed blocks only.
func TestExplainProtectionByOthers(t *testing.T) {
	p := mustMerge(t, MergeInput{Owner: "riverside", Protected: []Protected{{Domain: "x.gab.example", Owner: "hillside"}},
		Sources: []Source{src("a", 1, e("gab.example", Suspend))}})
	want := "gab.example: not blocked: parent of another community's instance x.gab.example: a block would cover it; subscribed blocks are refused, our own entries still apply"
	if got, _, _ := strings.Cut(p.Explain("gab.example").String(), "\n"); got != want {
		t.Errorf("Explain =\n%s\nwant\n%s", got, want)
	}
}
