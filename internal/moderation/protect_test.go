package moderation

import (
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
			in: MergeInput{Protected: []string{"social.riverside.coop"}, Sources: []Source{
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
