package reviewcli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/review"
)

// The approval's name is what makes the API server refuse a second
// decision by the same person: the same user must always give the same
// name, and usual user names must give valid ones.
func TestApprovalName(t *testing.T) {
	for _, tc := range []struct{ proposal, user, want string }{
		{"shared-7f3a", "Alice@Example.org", "shared-7f3a.alice.example.org"},
		{"shared-7f3a", "oidc:bob_m", "shared-7f3a.oidc.bob-m"},
		{"shared-7f3a", "system:serviceaccount:riverside:ci", "shared-7f3a.system.serviceaccount.riverside.ci"},
	} {
		got, err := approvalName(tc.proposal, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("approvalName(%q, %q) = %q, %v; want %q", tc.proposal, tc.user, got, err, tc.want)
		}
	}
	for _, user := range []string{"Jane Doe", "_x", strings.Repeat("a", 250)} {
		if got, err := approvalName("shared-7f3a", user); err == nil || !strings.Contains(err.Error(), "ask the co-op's admins") {
			t.Errorf("approvalName(%q) = %q, %v; want a clear refusal", user, got, err)
		}
	}
}

// clean keeps text readable and inert on a terminal.
func TestClean(t *testing.T) {
	for in, want := range map[string]string{
		"spam.example":                 "spam.example",
		"≥ 2, déjà":                    "≥ 2, déjà",
		"a\x1b]0;title\x07b":           `a\x1b]0;title\ab`,
		"line\nforged: approved\r":     `line\nforged: approved\r`,
		"evil\u202egnp.exe":            `evil\u202egnp.exe`,
		"\u2028next paragraph\u009b2J": `\u2028next paragraph\u009b2J`,
	} {
		if got := clean(in); got != want {
			t.Errorf("clean(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	for d, want := range map[time.Duration]string{
		10 * time.Second: "just now", 5 * time.Minute: "5m ago", 3 * time.Hour: "3h ago", 47 * time.Hour: "47h ago", 72 * time.Hour: "3d ago",
	} {
		if got := age(now.Add(-d), now); got != want {
			t.Errorf("age(%v) = %q, want %q", d, got, want)
		}
	}
	if got := age(time.Time{}, now); got != "at an unknown time" {
		t.Errorf("age(zero) = %q", got)
	}
}

// --changes stops at its limit and says so; every line is cleaned.
func TestWriteChangeSetIsBounded(t *testing.T) {
	changes := []review.Change{
		{Domain: "a.example", After: &moderation.Entry{Action: moderation.Suspend}, Why: "list \x1b[2J"},
		{Domain: "b.example", Before: &moderation.Entry{Action: moderation.Silence}},
		{Domain: "c.example", After: &moderation.Entry{Action: moderation.Suspend}},
	}
	var out bytes.Buffer
	writeChangeSet(&out, changes, 2)
	want := "  all 3 changes:\n    a.example: none → suspend  (list \\x1b[2J)\n    b.example: silence → none\n  only the first 2 of 3 changes are printed\n"
	if out.String() != want {
		t.Errorf("writeChangeSet:\n%s\nwant:\n%s", out.String(), want)
	}
}
