package drivers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

func init() { Register("gotosocial", NewGoToSocial) }

const (
	gtsBlocks = "/api/v1/admin/domain_blocks"
	gtsAllows = "/api/v1/admin/domain_allows"
	// gtsLimits exists only in versions newer than 0.20 (documented, not
	// yet met on a real server); 0.20.0-rc1 answers 404.
	gtsLimits = "/api/v1/admin/domain_limits"
	// gtsCheck is the value of the export parameter of the probe's reads:
	// not a boolean, so GoToSocial answers 400 once it has checked the
	// token (401) and the admin role (403), before reading a single entry.
	// It names itself in the server's request log.
	gtsCheck = "fedcommons-token-check"
)

// gotosocial drives GoToSocial. Its blocks are always suspensions and
// largely irreversible (statuses, media and relationships are deleted), so
// nothing milder is ever turned into one: silence and reject-media go to
// domain_limits where the server has them and are reported unsupported
// where it does not.
type gotosocial struct {
	c    *client
	cfg  Config
	mu   sync.Mutex
	caps *Capabilities
}

// NewGoToSocial returns the GoToSocial driver.
func NewGoToSocial(cfg Config) (Driver, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &gotosocial{c: c, cfg: cfg}, nil
}

// gtsPerm is GoToSocial's domainPermission (blocks and allows).
type gtsPerm struct {
	ID             string `json:"id"`
	Domain         string `json:"domain"`
	Obfuscate      bool   `json:"obfuscate"`
	PublicComment  string `json:"public_comment"`
	PrivateComment string `json:"private_comment"`
}

// gtsLimit is GoToSocial's domainLimit.
type gtsLimit struct {
	ID             string `json:"id"`
	Domain         string `json:"domain"`
	MediaPolicy    string `json:"media_policy"`
	FollowsPolicy  string `json:"follows_policy"`
	StatusesPolicy string `json:"statuses_policy"`
	AccountsPolicy string `json:"accounts_policy"`
	PublicComment  string `json:"public_comment"`
	PrivateComment string `json:"private_comment"`
}

func (g *gotosocial) Probe(ctx context.Context) (Capabilities, error) {
	v, err := probeVersion(ctx, g.c)
	if err != nil {
		return Capabilities{}, err
	}
	caps := Capabilities{Software: "gotosocial", Version: v, Obfuscate: true, BulkImport: true}
	// The token check must not list every block (tens of thousands on a
	// server subscribed to big lists), and GET /domain_blocks/:id of an id
	// that does not exist answers 500 on 0.20 ("sql: no rows in result
	// set"), not 404: an export flag that is not a boolean is refused (400)
	// only after the token and the admin role passed.
	if err := g.check(ctx, gtsBlocks); err != nil {
		if st := statusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
			return Capabilities{}, fmt.Errorf("%w (the token needs an admin account and, since 0.19, the admin:read:domain_blocks and admin:write:domain_blocks scopes)", err)
		}
		return Capabilities{}, err
	}
	err = g.check(ctx, gtsAllows)
	switch st := statusOf(err); {
	case err == nil:
		caps.Allows, caps.MarkedAllows = true, true
	case st == http.StatusNotFound:
		caps.Notes = append(caps.Notes, "no domain_allows API on this version: allows cannot be sent")
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		caps.Notes = append(caps.Notes, "token cannot read domain_allows (admin:read:domain_allows): allows cannot be sent")
	default:
		return Capabilities{}, err
	}
	_, err = g.c.do(ctx, request{method: http.MethodGet, path: gtsLimits + "?limit=1", call: "GET " + gtsLimits})
	switch st := statusOf(err); {
	case err == nil:
		caps.Limits, caps.Silence, caps.RejectMedia = true, true, true
	case st == http.StatusNotFound:
		caps.Notes = append(caps.Notes, "no domain_limits API on this version: silence and reject-media cannot be expressed (and are never turned into blocks)")
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		caps.Notes = append(caps.Notes, "token cannot read domain_limits (admin:read:domain_limits): silence and reject-media cannot be expressed")
	default:
		return Capabilities{}, err
	}
	g.mu.Lock()
	g.caps = &caps
	g.mu.Unlock()
	return caps, nil
}

// check asks a domain permission collection for an export it refuses:
// nil when the server refused it as it does for a good admin token (400),
// or when it ignored the flag and answered (200); the error otherwise.
func (g *gotosocial) check(ctx context.Context, path string) error {
	_, err := g.c.do(ctx, request{method: http.MethodGet, path: path + "?export=" + gtsCheck, call: "GET " + path + "?export=" + gtsCheck})
	if statusOf(err) == http.StatusBadRequest {
		return nil
	}
	return err
}

func (g *gotosocial) capabilities(ctx context.Context) (Capabilities, error) {
	g.mu.Lock()
	caps := g.caps
	g.mu.Unlock()
	if caps != nil {
		return *caps, nil
	}
	return g.Probe(ctx)
}

func (g *gotosocial) Express(caps Capabilities, entries []moderation.Entry, _ Mode) ([]moderation.Entry, []string) {
	var out []moderation.Entry
	var notes []string
	limited := func(e moderation.Entry) {
		if !caps.Limits {
			notes = append(notes, fmt.Sprintf("%s: %s not sent: GoToSocial %s has no domain_limits, and a block would be far harsher and largely irreversible", e.Domain, e.Action, caps.Version))
			return
		}
		if e.RejectReports {
			notes = append(notes, fmt.Sprintf("%s: reject-reports dropped: GoToSocial has no equivalent", e.Domain))
		}
		if e.Obfuscate {
			notes = append(notes, fmt.Sprintf("%s: obfuscate dropped: GoToSocial domain limits have no obfuscation", e.Domain))
		}
		c := moderation.Entry{Domain: e.Domain, Action: e.Action, RejectMedia: e.RejectMedia,
			PublicComment: e.PublicComment, PrivateComment: e.PrivateComment}
		if c.Action == moderation.RejectMedia {
			c.RejectMedia = true
		}
		out = append(out, c)
	}
	for _, e := range entries {
		switch e.Action {
		case moderation.Suspend:
			// A block is total: media and reports flags are implied.
			out = append(out, moderation.Entry{Domain: e.Domain, Action: moderation.Suspend, Obfuscate: e.Obfuscate,
				PublicComment: e.PublicComment, PrivateComment: e.PrivateComment})
		case moderation.Silence, moderation.RejectMedia:
			limited(e)
		case moderation.Noop:
			if e.RejectMedia {
				e.Action = moderation.RejectMedia
				limited(e)
			} else {
				notes = append(notes, fmt.Sprintf("%s: noop not sent: GoToSocial has nothing to hold it", e.Domain))
			}
		case moderation.Allow:
			// Sent in both modes: in blocklist mode an allow overrides a
			// block (protecting friends from subscribed lists), in
			// allowlist mode it is what the server federates with.
			if !caps.Allows {
				notes = append(notes, fmt.Sprintf("%s: allow not sent: this server has no usable domain_allows API", e.Domain))
				continue
			}
			out = append(out, moderation.Entry{Domain: e.Domain, Action: moderation.Allow, Obfuscate: e.Obfuscate,
				PublicComment: e.PublicComment, PrivateComment: e.PrivateComment})
		default:
			notes = append(notes, fmt.Sprintf("%s: action %s not sent: unknown to the GoToSocial driver", e.Domain, e.Action))
		}
	}
	return out, notes
}

func (g *gotosocial) List(ctx context.Context) ([]moderation.ServerEntry, error) { return g.list(ctx) }

func (g *gotosocial) list(ctx context.Context) ([]moderation.ServerEntry, error) {
	caps, err := g.capabilities(ctx)
	if err != nil {
		return nil, err
	}
	b := g.c.newListBudget()
	var out []moderation.ServerEntry
	if err := g.listPerms(ctx, b, "block", func(se moderation.ServerEntry) { out = append(out, se) }); err != nil {
		return nil, err
	}
	if caps.Allows {
		if err := g.listPerms(ctx, b, "allow", func(se moderation.ServerEntry) { out = append(out, se) }); err != nil {
			return nil, err
		}
	}
	if caps.Limits {
		err := g.c.getAll(ctx, b, gtsLimits, gtsLimits, func(dec *json.Decoder) (moderation.ServerEntry, error) {
			var l gtsLimit
			err := dec.Decode(&l)
			return l.serverEntry(), err
		}, func(se moderation.ServerEntry) { out = append(out, se) })
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listPerms lists one domain permission collection ("block" or "allow").
// GoToSocial answers it whole, in one page, with domains in Unicode.
func (g *gotosocial) listPerms(ctx context.Context, b *listBudget, kind string, each func(moderation.ServerEntry)) error {
	action := moderation.Suspend
	if kind == "allow" {
		action = moderation.Allow
	}
	p := g.pathOf(kind)
	return g.c.getAll(ctx, b, p, p, func(dec *json.Decoder) (moderation.ServerEntry, error) {
		var perm gtsPerm
		if err := dec.Decode(&perm); err != nil {
			return moderation.ServerEntry{}, err
		}
		se := moderation.ServerEntry{ID: perm.ID, Entry: moderation.Entry{
			Domain: listedDomain(perm.Domain), Action: action, Obfuscate: perm.Obfuscate, PublicComment: perm.PublicComment}}
		se.PrivateComment, se.Managed = ParseComment(perm.PrivateComment)
		return se, nil
	}, each)
}

// serverEntry reads a limit back as the action it expresses: muted
// accounts are a silence, rejected media alone is reject-media; anything
// else (hand-made fine tuning) is listed as noop.
func (l gtsLimit) serverEntry() moderation.ServerEntry {
	se := moderation.ServerEntry{ID: l.ID, Entry: moderation.Entry{Domain: listedDomain(l.Domain), PublicComment: l.PublicComment,
		RejectMedia: l.MediaPolicy == "reject"}}
	switch {
	case l.AccountsPolicy == "mute":
		se.Action = moderation.Silence
	case se.RejectMedia:
		se.Action = moderation.RejectMedia
	default:
		se.Action = moderation.Noop
	}
	se.PrivateComment, se.Managed = ParseComment(l.PrivateComment)
	return se
}

func (g *gotosocial) Apply(ctx context.Context, plan moderation.Plan, progress func(done, total int)) (ApplyResult, error) {
	if _, err := g.capabilities(ctx); err != nil {
		return ApplyResult{Total: plan.Writes()}, err
	}
	return execute(ctx, g, g.cfg, plan, progress)
}

// family implementation.

func (g *gotosocial) client() *client { return g.c }

func (g *gotosocial) kind(a moderation.Action) string {
	switch a {
	case moderation.Allow:
		return "allow"
	case moderation.Suspend:
		return "block"
	}
	return "limit"
}

func (g *gotosocial) pathOf(kind string) string {
	switch kind {
	case "allow":
		return gtsAllows
	case "block":
		return gtsBlocks
	}
	return gtsLimits
}

func (g *gotosocial) expressible(e moderation.Entry) string {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case e.Action == moderation.Noop && !e.RejectMedia:
		return e.Domain + ": a noop has nothing to hold on GoToSocial"
	case g.kind(e.Action) == "limit" && g.caps != nil && !g.caps.Limits:
		return fmt.Sprintf("%s: %s needs domain_limits, which this GoToSocial does not have (never sent as a block)", e.Domain, e.Action)
	case e.Action == moderation.Allow && g.caps != nil && !g.caps.Allows:
		return e.Domain + ": this server has no usable domain_allows API"
	}
	return ""
}
