package drivers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

func init() { Register("gotosocial", NewGoToSocial) }

const (
	gtsBlocks = "/api/v1/admin/domain_blocks"
	gtsAllows = "/api/v1/admin/domain_allows"
	// gtsLimits exists only in newer versions; older ones answer 404.
	gtsLimits = "/api/v1/admin/domain_limits"
	// gtsNoSuchID is a well-formed ULID no entry has: asking for it checks
	// the token without downloading every block.
	gtsNoSuchID = "00000000000000000000000000"
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
	_, err = g.c.do(ctx, request{method: http.MethodGet, path: gtsBlocks + "/" + gtsNoSuchID, call: "GET " + gtsBlocks + "/:id"})
	if st := statusOf(err); err != nil && st != http.StatusNotFound {
		if st == http.StatusUnauthorized || st == http.StatusForbidden {
			return Capabilities{}, fmt.Errorf("%w (the token needs an admin account and, since 0.19, the admin:read:domain_blocks and admin:write:domain_blocks scopes)", err)
		}
		return Capabilities{}, err
	}
	_, err = g.c.do(ctx, request{method: http.MethodGet, path: gtsAllows, call: "GET " + gtsAllows})
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
	var out []moderation.ServerEntry
	perms := func(path string, action moderation.Action) error {
		return g.c.getAll(ctx, path, path, func(body []byte) error {
			var page []gtsPerm
			if err := json.Unmarshal(body, &page); err != nil {
				return err
			}
			for _, p := range page {
				se := moderation.ServerEntry{ID: p.ID, Entry: moderation.Entry{
					Domain: p.Domain, Action: action, Obfuscate: p.Obfuscate, PublicComment: p.PublicComment}}
				se.PrivateComment, se.Managed = ParseComment(p.PrivateComment)
				out = append(out, se)
			}
			return nil
		})
	}
	if err := perms(gtsBlocks, moderation.Suspend); err != nil {
		return nil, err
	}
	if caps.Allows {
		if err := perms(gtsAllows, moderation.Allow); err != nil {
			return nil, err
		}
	}
	if caps.Limits {
		err := g.c.getAll(ctx, gtsLimits, gtsLimits, func(body []byte) error {
			var page []gtsLimit
			if err := json.Unmarshal(body, &page); err != nil {
				return err
			}
			for _, l := range page {
				out = append(out, l.serverEntry())
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// serverEntry reads a limit back as the action it expresses: muted
// accounts are a silence, rejected media alone is reject-media; anything
// else (hand-made fine tuning) is listed as noop.
func (l gtsLimit) serverEntry() moderation.ServerEntry {
	se := moderation.ServerEntry{ID: l.ID, Entry: moderation.Entry{Domain: l.Domain, PublicComment: l.PublicComment,
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

func limitForm(e moderation.Entry) url.Values {
	f := url.Values{
		"media_policy":    {"no_action"},
		"follows_policy":  {"no_action"},
		"statuses_policy": {"no_action"},
		"accounts_policy": {"no_action"},
		"public_comment":  {e.PublicComment},
		"private_comment": {MarkComment(e.PrivateComment)},
	}
	if e.RejectMedia || e.Action == moderation.RejectMedia {
		f.Set("media_policy", "reject")
	}
	if e.Action == moderation.Silence {
		// Mastodon's silence: non-followers do not see the domain's
		// accounts, and following us takes approval.
		f.Set("accounts_policy", "mute")
		f.Set("follows_policy", "manual_approval")
	}
	return f
}

func permForm(e moderation.Entry) url.Values {
	return url.Values{
		"obfuscate":       {strconv.FormatBool(e.Obfuscate)},
		"public_comment":  {e.PublicComment},
		"private_comment": {MarkComment(e.PrivateComment)},
	}
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

func (g *gotosocial) createOne(ctx context.Context, e moderation.Entry) (createOutcome, error) {
	k := g.kind(e.Action)
	p := g.pathOf(k)
	if k == "limit" {
		form := limitForm(e)
		form.Set("domain", e.Domain)
		_, err := g.c.do(ctx, request{method: http.MethodPost, path: p, call: "POST " + p, form: form})
		if statusOf(err) == http.StatusConflict {
			return createOutcome{conflict: &Conflict{Entry: e, Existing: moderation.Entry{Domain: e.Domain},
				Reason: "GoToSocial already has a limit for " + e.Domain + " (made since the plan was computed); the next sync will see it"}}, nil
		}
		return createOutcome{created: err == nil}, err
	}
	form := permForm(e)
	form.Set("domain", e.Domain)
	resp, err := g.c.do(ctx, request{method: http.MethodPost, path: p, call: "POST " + p, form: form})
	if err != nil {
		return createOutcome{}, err
	}
	var got gtsPerm
	if err := json.Unmarshal(resp.body, &got); err != nil {
		return createOutcome{}, fmt.Errorf("%s: POST %s: decoding: %w", g.c.server, p, err)
	}
	return gtsOutcome(got), nil
}

// gtsOutcome tells a new entry from an existing one GoToSocial handed back
// unchanged (its creates are idempotent): without our marker it is someone
// else's entry, which already covers the domain.
func gtsOutcome(p gtsPerm) createOutcome {
	if _, ours := ParseComment(p.PrivateComment); ours {
		return createOutcome{created: true}
	}
	return createOutcome{covered: true}
}

func (g *gotosocial) bulkKinds() map[string]bool {
	return map[string]bool{"block": true, "allow": true}
}

// gtsImportEntry is one element of the JSON file a bulk import uploads.
type gtsImportEntry struct {
	Domain         string `json:"domain"`
	Obfuscate      bool   `json:"obfuscate"`
	PublicComment  string `json:"public_comment"`
	PrivateComment string `json:"private_comment"`
}

func (g *gotosocial) createMany(ctx context.Context, kind string, es []moderation.Entry) ([]createOutcome, error) {
	p := g.pathOf(kind)
	call := "POST " + p + "?import=true"
	file := make([]gtsImportEntry, len(es))
	for i, e := range es {
		file[i] = gtsImportEntry{Domain: e.Domain, Obfuscate: e.Obfuscate, PublicComment: e.PublicComment, PrivateComment: MarkComment(e.PrivateComment)}
	}
	data, err := json.Marshal(file)
	if err != nil {
		return nil, err
	}
	resp, err := g.c.do(ctx, request{method: http.MethodPost, path: p + "?import=true", call: call,
		file: &filePart{field: "domains", filename: "domains.json", contentType: "application/json", content: data}})
	if err != nil {
		return nil, err
	}
	var got []gtsPerm
	if err := json.Unmarshal(resp.body, &got); err != nil {
		return nil, fmt.Errorf("%s: %s: decoding: %w", g.c.server, call, err)
	}
	byDomain := make(map[string]gtsPerm, len(got))
	for _, p := range got {
		byDomain[p.Domain] = p
	}
	outs := make([]createOutcome, len(es))
	for i, e := range es {
		p, ok := byDomain[e.Domain]
		if !ok {
			// Not pretending: the per-entry fallback will find out.
			return nil, fmt.Errorf("%s: %s: %s missing from the import answer", g.c.server, call, e.Domain)
		}
		outs[i] = gtsOutcome(p)
	}
	return outs, nil
}

func (g *gotosocial) update(ctx context.Context, id string, from, to moderation.Entry) error {
	k := g.kind(to.Action)
	p := g.pathOf(k)
	form := permForm(to)
	if k == "limit" {
		form = limitForm(to)
	}
	_, err := g.c.do(ctx, request{method: http.MethodPut, path: p + "/" + url.PathEscape(id), call: "PUT " + p + "/:id", form: form})
	return err
}

func (g *gotosocial) remove(ctx context.Context, kind, id string) error {
	p := g.pathOf(kind)
	_, err := g.c.do(ctx, request{method: http.MethodDelete, path: p + "/" + url.PathEscape(id), call: "DELETE " + p + "/:id"})
	if statusOf(err) == http.StatusNotFound {
		return nil // already gone, which is what we wanted
	}
	return err
}
