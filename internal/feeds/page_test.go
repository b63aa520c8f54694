package feeds

import (
	"strings"
	"testing"
)

// TestPageSaysThingsOnce: what a newcomer found on the page (issue 15
// finding 6): a heading about limits over a list of allows, a raw RFC 3339
// time, "reject-media … reject media", a hash as wide as a phone.
func TestPageSaysThingsOnce(t *testing.T) {
	pub, _ := listeners(t, newStore(t, phonePolicy()))
	_, page := get(t, pub.URL+"/policies/riverside/shared-moderation")
	for _, want := range []string{
		"those it explicitly allows",
		"Last changed 3 November 2026, 10:30 UTC.",
		`<td data-label="Decision">reject media</td>`,
		`<td data-label="Decision">suspend, reject media</td>`,
		`<td data-label="Decision">silence, reject media, reject reports</td>`,
		"sha256:0123456789ab…",
		"6 entries: 2 suspend, 2 silence, 1 reject media, 1 allow.",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page does not say %q", want)
		}
	}
	for _, bad := range []string{"2026-11-03T10:30:00Z", "reject-media", ">sha256:" + strings.Repeat("0123456789abcdef", 4) + "<"} {
		if strings.Contains(page, bad) {
			t.Errorf("page still shows %q", bad)
		}
	}

	allows := phonePolicy()
	allows.Entries = allows.Entries[len(allows.Entries)-1:]
	pub, _ = listeners(t, newStore(t, allows))
	_, page = get(t, pub.URL+"/policies/riverside/shared-moderation")
	if strings.Contains(page, "limits or suspends") || !strings.Contains(page, "1 entry: 1 allow.") {
		t.Errorf("a list of allows is introduced as limits, or miscounted:\n%s", page)
	}
}
