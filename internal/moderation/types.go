package moderation

import "fmt"

// Action is a moderation decision. The restrictive actions are ordered by
// severity, Noop < RejectMedia < Silence < Suspend, which is what the max
// and min merge rules compare. Allow is not a severity: it protects a domain
// from blocks and, in allowlist mode, is what a server federates with.
//
// It is a byte because a large merge holds millions of them (every entry,
// every contribution to a decision): as an int it padded each of those
// records by 7 bytes.
type Action uint8

const (
	Noop Action = iota
	RejectMedia
	Silence
	Suspend
	Allow
)

var actionNames = [...]string{"noop", "reject-media", "silence", "suspend", "allow"}

// String returns the action's name as written in manifests and feeds.
func (a Action) String() string {
	if int(a) >= len(actionNames) {
		return fmt.Sprintf("action(%d)", int(a))
	}
	return actionNames[a]
}

// ParseAction reads an action name as written in manifests ("suspend",
// "silence", "reject-media", "noop", "allow").
func ParseAction(s string) (Action, error) {
	for i, n := range actionNames {
		if n == s {
			return Action(i), nil
		}
	}
	return Noop, fmt.Errorf("unknown action %q (want suspend, silence, reject-media, noop or allow)", s)
}

// IsBlock reports whether the action restricts federation in any way.
func (a Action) IsBlock() bool { return a == RejectMedia || a == Silence || a == Suspend }

// Entry is one decision about one domain, in the shape every feed format
// and admin API shares. Domain is normalised (see NormalizeDomain).
type Entry struct {
	Domain         string
	Action         Action
	RejectMedia    bool
	RejectReports  bool
	Obfuscate      bool
	PublicComment  string
	PrivateComment string
}

// ServerEntry is an entry as a server's admin API reports it.
type ServerEntry struct {
	// ID is the server's identifier for the entry (used to update or delete it).
	ID string
	Entry
	// Managed is true when the entry carries fedcommons' ownership marker.
	// Entries that are not managed are never modified or removed.
	Managed bool
}

// Update changes a managed server entry in place.
type Update struct {
	// ID is the server's identifier of the entry to change.
	ID string
	// From is the entry as the server has it.
	From Entry
	// To is what it must become.
	To Entry
}

// Plan is the minimal set of changes that brings a server's managed entries
// in line with an effective policy.
type Plan struct {
	Create []Entry
	Update []Update
	Delete []ServerEntry
	// Covered are desired entries not sent because an unmanaged or broader
	// entry on the server already imposes at least as much.
	Covered []Entry
	// Unmanaged counts the server's entries that are not ours.
	Unmanaged int
	// Conflicts are desired entries that cannot be applied: the server
	// already has an entry that is not ours for the same domain and it is
	// milder. It may not be changed, and a second entry for the domain
	// would be refused (Mastodon answers 422), so a person must resolve it.
	Conflicts []Conflict
}

// Conflict is a desired entry blocked by an unmanaged entry on the server.
type Conflict struct {
	Want Entry
	Have ServerEntry
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Create) == 0 && len(p.Update) == 0 && len(p.Delete) == 0 }

// Writes is the number of write calls the plan needs without bulk import.
func (p Plan) Writes() int { return len(p.Create) + len(p.Update) + len(p.Delete) }
