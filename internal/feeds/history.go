package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"time"

	"github.com/fedcommons/fedcommons/internal/textcut"
)

// A reviewed policy (FederationPolicy spec.review) changes only when its
// community's moderators approve a proposal. Its transparency page then
// says what was decided, when and by whom: the History section, fed by
// MemoryStore.SetHistory from the decided PolicyProposals. Everything in
// it is public: the comments are the approvals' comments, which the API
// documents as public, and the types have no field for anything else.
//
// The history comes from people (comments) and from subscribed sources
// (provenance): every string is cut to a bound here, and the page's
// template escapes it.

// Bounds on the history a page shows.
const (
	// MaxHistory is how many decided changes a page shows, newest first.
	MaxHistory = 20
	// MaxHistoryChanges is how many domains of each change set are listed
	// (the counts say how many there were).
	MaxHistoryChanges = 10
	// MaxHistoryVotes is how many approvals and rejections of each are named.
	MaxHistoryVotes = 20
	// Byte bounds on the strings of a record.
	maxHistoryComment  = 280
	maxHistoryWhy      = 200
	maxHistoryUser     = 100
	maxHistoryDecision = 64
	maxHistoryDomain   = 253
	maxHistoryCause    = 200
)

// HistoryOutcome is how a proposal was decided.
type HistoryOutcome string

const (
	// HistoryApplied: approved, and the servers were given it.
	HistoryApplied HistoryOutcome = "applied"
	// HistoryRejected: rejected, nothing changed.
	HistoryRejected HistoryOutcome = "rejected"
	// HistorySuperseded: a newer change replaced it before it was decided.
	HistorySuperseded HistoryOutcome = "superseded"
)

// HistoryRecord is one decided change to a policy.
type HistoryRecord struct {
	Outcome    HistoryOutcome
	ProposedAt time.Time
	DecidedAt  time.Time
	// Cause says what caused the change (the sources, the spec edit).
	Cause string
	// Added, Escalated, Relaxed and Removed count the whole change set,
	// as the public may see it: whoever fills them leaves out the changes
	// of entries that must stay in the cluster (HistoryChange.ClusterOnly),
	// since the page cannot recount what it was not given.
	Added, Escalated, Relaxed, Removed int
	// Changes are the first changes of the set; the page lists
	// MaxHistoryChanges of them.
	Changes []HistoryChange
	// Approvals and Rejections are who decided, in order.
	Approvals, Rejections []HistoryVote
}

// HistoryChange is one domain's change.
type HistoryChange struct {
	Domain string
	// Before and After are the decisions ("" when there was none or is
	// none), e.g. "suspend".
	Before, After string
	// Why is the public provenance, like PublishedEntry.Summary: it must
	// not quote private comments.
	Why string
	// Obfuscate: the entry is obfuscated, and the page stars out its
	// domain as everywhere else (PublicDomain).
	Obfuscate bool
	// ClusterOnly: the public listener's page leaves this change out.
	ClusterOnly bool
}

// HistoryVote is one person's counted decision.
type HistoryVote struct {
	// User as the API server authenticated them.
	User string
	At   time.Time
	// PublicComment is the approval's comment (public by the API's terms).
	PublicComment string
}

// boundHistory returns a private copy of records, newest first, cut to the
// page's bounds, and a tag that changes whenever the copy does (it goes
// into the page's ETag and render key, since the policy's hash does not
// change when only its history does).
func boundHistory(records []HistoryRecord) ([]HistoryRecord, string) {
	if len(records) == 0 {
		return nil, ""
	}
	sorted := slices.Clone(records)
	slices.SortStableFunc(sorted, func(a, b HistoryRecord) int { return b.DecidedAt.Compare(a.DecidedAt) })
	sorted = sorted[:min(len(sorted), MaxHistory)]
	out := make([]HistoryRecord, len(sorted))
	for i, r := range sorted {
		r.Cause = textcut.Truncate(r.Cause, maxHistoryCause)
		changes := r.Changes[:min(len(r.Changes), MaxHistoryChanges)]
		r.Changes = make([]HistoryChange, len(changes))
		for j, c := range changes {
			c.Domain = textcut.Truncate(c.Domain, maxHistoryDomain)
			c.Before = textcut.Truncate(c.Before, maxHistoryDecision)
			c.After = textcut.Truncate(c.After, maxHistoryDecision)
			c.Why = textcut.Truncate(c.Why, maxHistoryWhy)
			r.Changes[j] = c
		}
		r.Approvals = boundVotes(r.Approvals)
		r.Rejections = boundVotes(r.Rejections)
		out[i] = r
	}
	b, _ := json.Marshal(out) // plain data: cannot fail
	sum := sha256.Sum256(b)
	return out, hex.EncodeToString(sum[:8])
}

func boundVotes(votes []HistoryVote) []HistoryVote {
	if len(votes) == 0 {
		return nil
	}
	out := make([]HistoryVote, min(len(votes), MaxHistoryVotes))
	for i := range out {
		v := votes[i]
		v.User = textcut.Truncate(v.User, maxHistoryUser)
		v.PublicComment = textcut.Truncate(v.PublicComment, maxHistoryComment)
		out[i] = v
	}
	return out
}
