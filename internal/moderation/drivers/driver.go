// Package drivers pushes an effective moderation policy into fediverse
// servers through their own admin APIs, one driver per API family
// (Mastodon and its forks, GoToSocial, ...).
//
// A driver does four things: Probe finds out what the server can hold,
// Express maps the engine's entries onto that (reporting, never hiding, what
// does not fit), List reads back everything the server has, and Apply carries
// out a plan computed by moderation.Diff. The shared HTTP behaviour (bearer
// auth, per-request timeouts, bounded bodies, a client-side token bucket,
// 429/Retry-After and X-RateLimit-* handling, errors that name the server and
// the call) lives here so each family only describes its endpoints.
//
// Ownership: every entry fedcommons writes carries Marker at the start of its
// private comment. Entries without it belong to the server's humans (or to
// another tool) and are never updated or deleted; Apply re-checks this
// against the server itself before any update or delete, whatever the plan
// says.
package drivers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Mode is the server's federation mode, which decides what allows mean.
type Mode string

const (
	// Blocklist federates with everyone except blocked domains.
	Blocklist Mode = "blocklist"
	// Allowlist federates only with allowed domains.
	Allowlist Mode = "allowlist"
)

// Driver speaks one admin API family.
type Driver interface {
	// Probe detects the server's version and what it can express.
	Probe(ctx context.Context) (Capabilities, error)
	// Express maps effective entries to what this server can hold. sendable
	// is in the exact form List will later report them (so a Diff of the two
	// is empty once applied); unsupported says, one line per case, what could
	// not be expressed and how it was handled.
	Express(caps Capabilities, entries []moderation.Entry, mode Mode) (sendable []moderation.Entry, unsupported []string)
	// List returns every block, allow (and, where the server has them,
	// limit) on the server, all pages, with managed entries marked and the
	// ownership marker stripped from PrivateComment.
	List(ctx context.Context) ([]moderation.ServerEntry, error)
	// Apply carries out a plan. On a context deadline or persistent rate
	// limiting it stops cleanly and returns what was done with an error
	// matching ErrStopped; a fresh List and Diff then resumes the work.
	Apply(ctx context.Context, plan moderation.Plan, progress func(done, total int)) (ApplyResult, error)
}

// Capabilities is what Probe found out about a server.
type Capabilities struct {
	// Software is the driver family ("mastodon", "gotosocial").
	Software string
	// Version is the version string the server reports.
	Version string
	// Silence, RejectMedia and RejectReports say whether the server can hold
	// those restrictions short of a full suspension.
	Silence       bool
	RejectMedia   bool
	RejectReports bool
	// Obfuscate says whether blocks can be published with obfuscated names.
	Obfuscate bool
	// Allows says whether the server has a domain allow API.
	Allows bool
	// MarkedAllows says whether allows carry a private comment, and so the
	// ownership marker. Without it allows are created but never removed.
	MarkedAllows bool
	// Limits says whether the server has a limit API separate from blocks
	// (GoToSocial's domain_limits).
	Limits bool
	// BulkImport says whether many entries can be created in one call.
	BulkImport bool
	// Notes explains, for humans, anything Probe had to work around.
	Notes []string
}

// ApplyResult reports what Apply did.
type ApplyResult struct {
	// Total is the number of changes in the plan; Done how many of them were
	// settled (written, covered, in conflict or failed).
	Total, Done int
	// Created, Updated and Deleted count entries written.
	Created, Updated, Deleted int
	// Covered are creates the server did not need because an entry at least
	// as strict (on the domain or a parent domain) was already there.
	Covered []moderation.Entry
	// Conflicts are creates the server refused because of an existing entry
	// that is less strict and not ours: a human has to decide.
	Conflicts []Conflict
	// Failed are changes the server rejected for another reason.
	Failed []Failure
	// WriteCalls counts the write requests sent (bulk imports count once).
	WriteCalls int
	// RetryAfter is set when Apply stopped because of rate limiting: the
	// caller should come back no sooner.
	RetryAfter time.Duration
}

// Conflict is a create the server refused because another entry is in the way.
type Conflict struct {
	Entry moderation.Entry
	// Existing is the server's entry that blocks it.
	Existing moderation.Entry
	Reason   string
}

// Failure is one change the server rejected.
type Failure struct {
	Domain string
	// Op is "create", "update" or "delete".
	Op  string
	Err error
}

var (
	// ErrStopped matches errors from an Apply that stopped before the end of
	// the plan for a reason time will fix (deadline, cancellation, rate
	// limiting). The ApplyResult says how far it got.
	ErrStopped = errors.New("stopped before the plan was complete")
	// ErrUnmanaged matches errors from an Apply refusing a plan that would
	// update or delete an entry that is not fedcommons' own.
	ErrUnmanaged = errors.New("plan touches an entry fedcommons does not own")
	// ErrUnknownDriver is returned by New for an unregistered name.
	ErrUnknownDriver = errors.New("unknown moderation driver")
)

// Config is what every driver needs to reach one server.
type Config struct {
	// BaseURL is the server's scheme, host and port (e.g. the in-cluster
	// Service URL); pagination links are followed by path against it, so
	// the token never goes to any other host.
	BaseURL string
	// Token is the admin bearer token. It is sent only as an Authorization
	// header and never appears in errors.
	Token string
	// HTTPClient gives the transport (and overall timeout) to send with:
	// a client of the operator's outbound stack (internal/outbound), which
	// may trust this server's own in-cluster address. Nil means the
	// default guarded stack (public addresses only, no proxy). Its
	// redirect policy is not used: a driver follows redirects only within
	// BaseURL's origin, never from https to http.
	HTTPClient *http.Client
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// MaxResponseBytes bounds every response body but list pages
	// (default 16 MiB).
	MaxResponseBytes int64
	// MaxListBytes and MaxListEntries bound one List across all its pages
	// and collections: the entries it keeps (their strings and their place
	// in the list; default 32 MiB), twice that read from the server, and
	// the number of entries (default 500,000). A server over them fails
	// the List with ErrListTooLarge. Pages are decoded as they arrive, so
	// one may be as large as what is left of the budget: GoToSocial answers
	// its whole list in one page.
	MaxListBytes   int64
	MaxListEntries int
	// RequestTimeout bounds each request (default 30s).
	RequestTimeout time.Duration
	// RateLimit configures the client-side token bucket and 429 handling.
	RateLimit RateLimit
	// BulkThreshold is the number of creates of one kind from which a
	// server with bulk import gets them in import calls (default 10);
	// BulkBatchSize is how many entries go in one import call (default 500).
	BulkThreshold int
	BulkBatchSize int
	// Clock defaults to the wall clock; tests inject a fake one.
	Clock Clock
}

// RateLimit is the client-side view of a server's API rate limit.
type RateLimit struct {
	// Requests per Period; zero means Mastodon's default of 300 per 5
	// minutes per token, negative means no client-side limit (429s and
	// X-RateLimit-* are still honoured).
	Requests int
	Period   time.Duration
	// MaxWait is the longest pause taken in place (default 30s). A longer
	// one stops Apply with ErrStopped and ApplyResult.RetryAfter, so a
	// reconcile never sleeps for minutes.
	MaxWait time.Duration
	// MaxRetries is how many 429s in a row one request may get (default 3).
	MaxRetries int
}

// DefaultUserAgent identifies fedcommons to server admins reading their logs.
const DefaultUserAgent = "fedcommons-moderation/1 (+https://github.com/fedcommons/fedcommons)"

// Factory builds a driver for one server.
type Factory func(Config) (Driver, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Factory{}
)

// Register makes a driver family available to New under name. Families
// register themselves from init, so callers only ever name a driver (as the
// software profile says) and adding a family never touches them.
func Register(name string, f Factory) { register(registry, "Register", name, f) }

// register adds f under name to one of the family tables (drivers,
// authenticators), once: a second registration is a programming error.
func register[F any](table map[string]F, what, name string, f F) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := table[name]; dup {
		panic("drivers: " + what + " called twice for " + name)
	}
	table[name] = f
}

// lookup returns what a family table holds under name.
func lookup[F any](table map[string]F, name string) (F, bool) {
	registryMu.RLock()
	defer registryMu.RUnlock()
	f, ok := table[name]
	return f, ok
}

// New builds the named driver.
func New(name string, cfg Config) (Driver, error) {
	f, ok := lookup(registry, name)
	if !ok {
		return nil, fmt.Errorf("%w %q (have %v)", ErrUnknownDriver, name, Names())
	}
	return f(cfg)
}

// Authenticator is the optional capability of a driver family whose servers
// hand out admin tokens only through their own sign-in (GoToSocial has no
// command line for tokens): it signs in as an account and returns an access
// token for it. Callers ask for it by the profile's driver name with
// NewAuthenticator and never branch on a software name.
//
// It is registered apart from the Driver because a Driver is built for a
// token and refuses to exist without one, while an Authenticator is what
// yields the token in the first place.
type Authenticator interface {
	// ObtainToken signs in with email and password. Errors name the step
	// that failed and never contain the password or any token.
	ObtainToken(ctx context.Context, email, password string) (string, error)
}

// AuthenticatorFactory builds a family's Authenticator for one server;
// cfg.Token is ignored.
type AuthenticatorFactory func(Config) (Authenticator, error)

// ErrNoAuthenticator is returned by NewAuthenticator for a family that
// cannot obtain a token by signing in.
var ErrNoAuthenticator = errors.New("moderation driver cannot obtain an admin token by signing in")

var authenticators = map[string]AuthenticatorFactory{}

// RegisterAuthenticator gives the family registered under name the
// Authenticator capability, from init like Register.
func RegisterAuthenticator(name string, f AuthenticatorFactory) {
	register(authenticators, "RegisterAuthenticator", name, f)
}

// NewAuthenticator builds the named family's Authenticator, or returns an
// error matching ErrNoAuthenticator when it has none.
func NewAuthenticator(name string, cfg Config) (Authenticator, error) {
	f, ok := lookup(authenticators, name)
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, ErrNoAuthenticator)
	}
	return f(cfg)
}

// Unauthorized reports whether err is a server refusing the token it was
// sent (HTTP 401): revoked, or unknown to a server restored from a backup.
func Unauthorized(err error) bool { return statusOf(err) == http.StatusUnauthorized }

// Names lists the registered drivers, sorted.
func Names() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
