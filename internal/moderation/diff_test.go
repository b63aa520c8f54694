package moderation

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

func managedEntry(id string, e Entry) ServerEntry {
	return ServerEntry{ID: id, Entry: e, Managed: true}
}
func foreign(id string, e Entry) ServerEntry { return ServerEntry{ID: id, Entry: e} }

func TestDiff(t *testing.T) {
	tests := []struct {
		name    string
		desired []Entry
		current []ServerEntry
		want    Plan
	}{
		{
			name:    "create what is missing",
			desired: []Entry{e("b.example", Suspend), e("a.example", Silence)},
			want:    Plan{Create: []Entry{e("a.example", Silence), e("b.example", Suspend)}},
		},
		{
			name:    "nothing to do when the server agrees",
			desired: []Entry{e("a.example", Suspend)},
			current: []ServerEntry{managedEntry("1", e("a.example", Suspend))},
			want:    Plan{},
		},
		{
			name:    "update a managed entry that differs",
			desired: []Entry{{Domain: "a.example", Action: Suspend, PublicComment: "spam"}},
			current: []ServerEntry{managedEntry("1", e("a.example", Silence))},
			want: Plan{Update: []Update{{ID: "1", From: e("a.example", Silence),
				To: Entry{Domain: "a.example", Action: Suspend, PublicComment: "spam"}}}},
		},
		{
			name:    "a private comment alone is not worth a write",
			desired: []Entry{{Domain: "a.example", Action: Suspend, PrivateComment: "weight 3 ≥ threshold 2"}},
			current: []ServerEntry{managedEntry("1", Entry{Domain: "a.example", Action: Suspend, PrivateComment: "weight 2 ≥ threshold 2"})},
			want:    Plan{},
		},
		{
			name:    "Mastodon's noop+reject_media is our reject-media",
			desired: []Entry{e("a.example", RejectMedia)},
			current: []ServerEntry{managedEntry("1", Entry{Domain: "a.example", Action: Noop, RejectMedia: true})},
			want:    Plan{},
		},
		{
			name:    "delete managed entries no longer desired, never unmanaged ones",
			desired: nil,
			current: []ServerEntry{managedEntry("2", e("old.example", Suspend)), foreign("3", e("theirs.example", Suspend)), managedEntry("1", e("old.example", Allow))},
			want: Plan{Unmanaged: 1, Delete: []ServerEntry{
				managedEntry("2", e("old.example", Suspend)), managedEntry("1", e("old.example", Allow))}},
		},
		{
			name:    "an unmanaged entry at least as strict covers the desired one",
			desired: []Entry{e("a.example", Silence), e("b.example", Allow)},
			current: []ServerEntry{foreign("1", e("a.example", Suspend)), foreign("2", e("b.example", Allow))},
			want:    Plan{Unmanaged: 2, Covered: []Entry{e("a.example", Silence), e("b.example", Allow)}},
		},
		{
			name:    "a milder unmanaged entry is a conflict, not an update",
			desired: []Entry{e("a.example", Suspend)},
			current: []ServerEntry{foreign("1", e("a.example", Silence))},
			want:    Plan{Unmanaged: 1, Conflicts: []Conflict{{Want: e("a.example", Suspend), Have: foreign("1", e("a.example", Silence))}}},
		},
		{
			name:    "allows and blocks are kept apart",
			desired: []Entry{e("a.example", Allow)},
			current: []ServerEntry{managedEntry("1", e("a.example", Suspend))},
			want:    Plan{Create: []Entry{e("a.example", Allow)}, Delete: []ServerEntry{managedEntry("1", e("a.example", Suspend))}},
		},
		{
			name:    "a subdomain block under a desired parent block is redundant",
			desired: []Entry{e("a.example.com", Suspend), e("example.com", Suspend), e("b.c.example.com", Silence)},
			want:    Plan{Create: []Entry{e("example.com", Suspend)}, Covered: []Entry{e("a.example.com", Suspend), e("b.c.example.com", Silence)}},
		},
		{
			name:    "an unmanaged parent block covers as well",
			desired: []Entry{e("a.example.com", Silence)},
			current: []ServerEntry{foreign("1", e("example.com", Suspend))},
			want:    Plan{Unmanaged: 1, Covered: []Entry{e("a.example.com", Silence)}},
		},
		{
			name:    "a milder parent block does not cover a stricter subdomain block",
			desired: []Entry{e("a.example.com", Suspend), e("example.com", Silence)},
			want:    Plan{Create: []Entry{e("a.example.com", Suspend), e("example.com", Silence)}},
		},
		{
			name: "flags count in coverage",
			desired: []Entry{
				{Domain: "a.example.com", Action: Silence, RejectReports: true},
				e("example.com", Silence)},
			want: Plan{Create: []Entry{
				{Domain: "a.example.com", Action: Silence, RejectReports: true},
				e("example.com", Silence)}},
		},
		{
			name:    "a parent that cannot be applied covers nothing",
			desired: []Entry{e("a.example.com", Suspend), e("example.com", Suspend)},
			current: []ServerEntry{foreign("1", e("example.com", Silence))},
			want: Plan{Unmanaged: 1, Create: []Entry{e("a.example.com", Suspend)},
				Conflicts: []Conflict{{Want: e("example.com", Suspend), Have: foreign("1", e("example.com", Silence))}}},
		},
		{
			name:    "an existing managed subdomain entry under a parent is kept, not churned",
			desired: []Entry{e("a.example.com", Suspend), e("example.com", Suspend)},
			current: []ServerEntry{managedEntry("1", e("a.example.com", Suspend))},
			want:    Plan{Create: []Entry{e("example.com", Suspend)}},
		},
		{
			name:    "allows are exact matches: a parent block does not cover them",
			desired: []Entry{e("example.com", Suspend), e("good.example.com", Allow)},
			want:    Plan{Create: []Entry{e("example.com", Suspend), e("good.example.com", Allow)}},
		},
		{
			name:    "duplicate managed entries: keep the matching one",
			desired: []Entry{e("a.example", Suspend)},
			current: []ServerEntry{managedEntry("1", e("a.example", Silence)), managedEntry("2", e("a.example", Suspend))},
			want:    Plan{Delete: []ServerEntry{managedEntry("1", e("a.example", Silence))}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Diff(tt.desired, tt.current)
			if !plansEqual(got, tt.want) {
				t.Errorf("Diff:\n got  %+v\n want %+v", got, tt.want)
			}
			// The plan does not depend on the order the server lists entries.
			rng := rand.New(rand.NewPCG(3, 4))
			for range 5 {
				cur := slices.Clone(tt.current)
				rng.Shuffle(len(cur), func(i, j int) { cur[i], cur[j] = cur[j], cur[i] })
				des := slices.Clone(tt.desired)
				rng.Shuffle(len(des), func(i, j int) { des[i], des[j] = des[j], des[i] })
				if again := Diff(des, cur); !plansEqual(again, got) {
					t.Fatalf("plan depends on input order:\n %+v\n %+v", again, got)
				}
			}
		})
	}
}

// plansEqual compares plans treating nil and empty lists alike.
func plansEqual(a, b Plan) bool {
	norm := func(p Plan) Plan {
		if len(p.Create) == 0 {
			p.Create = nil
		}
		if len(p.Update) == 0 {
			p.Update = nil
		}
		if len(p.Delete) == 0 {
			p.Delete = nil
		}
		if len(p.Covered) == 0 {
			p.Covered = nil
		}
		if len(p.Conflicts) == 0 {
			p.Conflicts = nil
		}
		return p
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

// TestDiffAppliedConverges checks that applying a plan yields a server on
// which the next Diff has nothing left to write.
func TestDiffAppliedConverges(t *testing.T) {
	desired := []Entry{e("a.example", Suspend), e("b.example", Silence), e("x.a.example", Suspend), e("c.example", Allow)}
	current := []ServerEntry{managedEntry("1", e("b.example", Suspend)), managedEntry("2", e("gone.example", Suspend)), foreign("3", e("d.example", Silence))}
	plan := Diff(desired, current)
	server := map[string]ServerEntry{}
	for _, s := range current {
		server[s.ID] = s
	}
	for _, d := range plan.Delete {
		delete(server, d.ID)
	}
	for _, u := range plan.Update {
		s := server[u.ID]
		s.Entry = u.To
		server[u.ID] = s
	}
	for i, c := range plan.Create {
		server["new"+strconv.Itoa(i)] = managedEntry("new"+strconv.Itoa(i), c)
	}
	var after []ServerEntry
	for _, s := range server {
		after = append(after, s)
	}
	if again := Diff(desired, after); !again.Empty() {
		t.Fatalf("second Diff not empty: %+v", again)
	}
}
