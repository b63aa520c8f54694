package drivers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/outbound"
)

func init() { Register("mastodon", NewMastodon) }

// Mastodon paths. The admin domain block API exists since Mastodon 4.0;
// Hometown and glitch-soc inherit it unchanged.
const (
	mastoBlocks = "/api/v1/admin/domain_blocks"
	mastoAllows = "/api/v1/admin/domain_allows"
)

// mastodon drives Mastodon, Hometown and glitch-soc.
type mastodon struct {
	c    *client
	cfg  Config
	mu   sync.Mutex
	caps *Capabilities
}

// NewMastodon returns the driver for Mastodon and its forks.
func NewMastodon(cfg Config) (Driver, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &mastodon{c: c, cfg: cfg}, nil
}

// mastoBlock is REST::Admin::DomainBlockSerializer's shape.
type mastoBlock struct {
	ID             string  `json:"id"`
	Domain         string  `json:"domain"`
	Severity       string  `json:"severity"`
	RejectMedia    bool    `json:"reject_media"`
	RejectReports  bool    `json:"reject_reports"`
	PrivateComment *string `json:"private_comment"`
	PublicComment  *string `json:"public_comment"`
	Obfuscate      bool    `json:"obfuscate"`
}

type mastoAllow struct {
	ID     string `json:"id"`
	Domain string `json:"domain"`
}

// instanceInfo is the part of /api/v1/instance (and v2) we read.
type instanceInfo struct {
	Version string `json:"version"`
}

// maxVersionRunes bounds a version string ("4.3.0+glitch", "0.20.1+git-8f7a3c2").
const maxVersionRunes = 64

// probeVersion reads the version from /api/v1/instance, falling back to v2
// for servers that retired v1.
func probeVersion(ctx context.Context, c *client) (string, error) {
	var lastErr error
	for _, p := range []string{"/api/v1/instance", "/api/v2/instance"} {
		resp, err := c.do(ctx, request{method: http.MethodGet, path: p, call: "GET " + p})
		if err != nil {
			if st := statusOf(err); st == http.StatusNotFound || st == http.StatusGone {
				lastErr = err
				continue
			}
			return "", err
		}
		var info instanceInfo
		if err := json.Unmarshal(resp.body, &info); err != nil {
			return "", fmt.Errorf("%s: GET %s: decoding: %w", c.server, p, err)
		}
		// The version is shown in notes and conditions: the server's
		// words, cleaned and short.
		v := outbound.Clean(info.Version, maxVersionRunes)
		if v == "" {
			return "", fmt.Errorf("%s: GET %s: no version in the answer", c.server, p)
		}
		return v, nil
	}
	return "", lastErr
}

// leadingVersion parses the leading "major.minor" of versions like "4.5.2",
// "4.3.0+glitch", "0.20.1+git-abc" or "0.17.3 git-abc".
func leadingVersion(v string) (major, minor int, ok bool) {
	end := strings.IndexFunc(v, func(r rune) bool { return r != '.' && (r < '0' || r > '9') })
	if end >= 0 {
		v = v[:end]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return 0, 0, false
	}
	maj, err1 := strconv.Atoi(parts[0])
	mnr, err2 := strconv.Atoi(parts[1])
	return maj, mnr, err1 == nil && err2 == nil
}

func (m *mastodon) Probe(ctx context.Context) (Capabilities, error) {
	v, err := probeVersion(ctx, m.c)
	if err != nil {
		return Capabilities{}, err
	}
	if maj, _, ok := leadingVersion(v); ok && maj < 4 {
		return Capabilities{}, fmt.Errorf("%s: Mastodon %s has no admin domain_blocks API (needs 4.0 or later)", m.c.server, v)
	}
	caps := Capabilities{
		Software: "mastodon", Version: v,
		Silence: true, RejectMedia: true, RejectReports: true, Obfuscate: true,
	}
	// One cheap authenticated read tells a bad token from a good one now,
	// rather than halfway through an Apply.
	if _, err := m.c.do(ctx, request{method: http.MethodGet, path: mastoBlocks + "?limit=1", call: "GET " + mastoBlocks}); err != nil {
		if st := statusOf(err); st == http.StatusUnauthorized || st == http.StatusForbidden {
			return Capabilities{}, fmt.Errorf("%w (the token needs admin:read:domain_blocks and admin:write:domain_blocks, and its account the Manage Federation permission)", err)
		}
		return Capabilities{}, err
	}
	_, err = m.c.do(ctx, request{method: http.MethodGet, path: mastoAllows + "?limit=1", call: "GET " + mastoAllows})
	switch st := statusOf(err); {
	case err == nil:
		caps.Allows = true
	case st == http.StatusNotFound:
		caps.Notes = append(caps.Notes, "no domain_allows API: allows cannot be sent")
	case st == http.StatusUnauthorized || st == http.StatusForbidden:
		caps.Notes = append(caps.Notes, "token cannot read domain_allows (needs admin:read:domain_allows / admin:write:domain_allows): allows cannot be sent")
	default:
		return Capabilities{}, err
	}
	if caps.Allows {
		caps.Notes = append(caps.Notes, "Mastodon domain allows hold only the domain, so they cannot carry the ownership marker: fedcommons creates them but never removes them")
	}
	m.mu.Lock()
	m.caps = &caps
	m.mu.Unlock()
	return caps, nil
}

func (m *mastodon) capabilities(ctx context.Context) (Capabilities, error) {
	m.mu.Lock()
	caps := m.caps
	m.mu.Unlock()
	if caps != nil {
		return *caps, nil
	}
	return m.Probe(ctx)
}

func (m *mastodon) Express(caps Capabilities, entries []moderation.Entry, mode Mode) ([]moderation.Entry, []string) {
	var out []moderation.Entry
	var notes []string
	for _, e := range entries {
		switch e.Action {
		case moderation.Allow:
			switch {
			case mode != Allowlist:
				notes = append(notes, fmt.Sprintf("%s: allow not sent: Mastodon only uses allows in limited federation mode (blocklist mode ignores them)", e.Domain))
			case !caps.Allows:
				notes = append(notes, fmt.Sprintf("%s: allow not sent: this server has no usable domain_allows API", e.Domain))
			default:
				// Allows are a bare domain on Mastodon: the canonical form
				// drops what the server would drop, so Diff sees no change.
				out = append(out, moderation.Entry{Domain: e.Domain, Action: moderation.Allow})
			}
		case moderation.Suspend, moderation.Silence:
			out = append(out, e)
		case moderation.RejectMedia:
			e.RejectMedia = true
			out = append(out, e)
		case moderation.Noop:
			switch {
			case e.RejectMedia:
				// Mastodon stores this as severity noop + reject_media,
				// which List reads back as reject-media.
				e.Action = moderation.RejectMedia
				out = append(out, e)
			case e.RejectReports:
				out = append(out, e)
			default:
				notes = append(notes, fmt.Sprintf("%s: noop not sent: without reject-reports it changes nothing on Mastodon", e.Domain))
			}
		default:
			notes = append(notes, fmt.Sprintf("%s: action %s not sent: unknown to the Mastodon driver", e.Domain, e.Action))
		}
	}
	return out, notes
}

func (m *mastodon) List(ctx context.Context) ([]moderation.ServerEntry, error) { return m.list(ctx) }

func (m *mastodon) list(ctx context.Context) ([]moderation.ServerEntry, error) {
	caps, err := m.capabilities(ctx)
	if err != nil {
		return nil, err
	}
	b := m.c.newListBudget()
	var out []moderation.ServerEntry
	keep := func(se moderation.ServerEntry) { out = append(out, se) }
	err = m.c.getAll(ctx, b, mastoBlocks+"?limit=200", mastoBlocks, func(dec *json.Decoder) (moderation.ServerEntry, error) {
		var blk mastoBlock
		err := dec.Decode(&blk)
		return blk.serverEntry(), err
	}, keep)
	if err != nil {
		return nil, err
	}
	if !caps.Allows {
		return out, nil
	}
	err = m.c.getAll(ctx, b, mastoAllows+"?limit=200", mastoAllows, func(dec *json.Decoder) (moderation.ServerEntry, error) {
		var a mastoAllow
		err := dec.Decode(&a)
		return moderation.ServerEntry{ID: a.ID, Entry: moderation.Entry{Domain: listedDomain(a.Domain), Action: moderation.Allow}}, err
	}, keep)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (b mastoBlock) entry() moderation.Entry {
	e := moderation.Entry{
		Domain:        b.Domain,
		RejectMedia:   b.RejectMedia,
		RejectReports: b.RejectReports,
		Obfuscate:     b.Obfuscate,
	}
	if b.PublicComment != nil {
		e.PublicComment = *b.PublicComment
	}
	if b.PrivateComment != nil {
		e.PrivateComment = *b.PrivateComment
	}
	switch b.Severity {
	case "suspend":
		e.Action = moderation.Suspend
	case "silence":
		e.Action = moderation.Silence
	default:
		if b.RejectMedia {
			e.Action = moderation.RejectMedia
		} else {
			e.Action = moderation.Noop
		}
	}
	return e
}

func (b mastoBlock) serverEntry() moderation.ServerEntry {
	se := moderation.ServerEntry{ID: b.ID, Entry: b.entry()}
	se.Domain = listedDomain(se.Domain)
	se.PrivateComment, se.Managed = ParseComment(se.PrivateComment)
	return se
}

func (m *mastodon) Apply(ctx context.Context, plan moderation.Plan, progress func(done, total int)) (ApplyResult, error) {
	if _, err := m.capabilities(ctx); err != nil {
		return ApplyResult{Total: plan.Writes()}, err
	}
	return execute(ctx, m, m.cfg, plan, progress)
}

// family implementation.

func (m *mastodon) client() *client { return m.c }

func (m *mastodon) kind(a moderation.Action) string {
	if a == moderation.Allow {
		return "allow"
	}
	return "block"
}

func (m *mastodon) expressible(e moderation.Entry) string {
	if e.Action == moderation.Noop && !e.RejectMedia && !e.RejectReports {
		return e.Domain + ": a noop without flags changes nothing on Mastodon"
	}
	if e.Action == moderation.Allow {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.caps != nil && !m.caps.Allows {
			return e.Domain + ": this server has no usable domain_allows API"
		}
	}
	return ""
}

func blockForm(e moderation.Entry) url.Values {
	severity := "noop"
	switch e.Action {
	case moderation.Suspend:
		severity = "suspend"
	case moderation.Silence:
		severity = "silence"
	}
	return url.Values{
		"severity":        {severity},
		"reject_media":    {strconv.FormatBool(e.RejectMedia || e.Action == moderation.RejectMedia)},
		"reject_reports":  {strconv.FormatBool(e.RejectReports)},
		"obfuscate":       {strconv.FormatBool(e.Obfuscate)},
		"private_comment": {MarkComment(e.PrivateComment)},
		"public_comment":  {e.PublicComment},
	}
}

// mastoExisting is REST::Admin::ExistingDomainBlockErrorSerializer: the 422
// Mastodon answers when any block already applies to the domain (on it or
// on a parent domain), whatever its severity.
type mastoExisting struct {
	Error    string      `json:"error"`
	Existing *mastoBlock `json:"existing_domain_block"`
}

func (m *mastodon) createOne(ctx context.Context, e moderation.Entry) (createOutcome, error) {
	if e.Action == moderation.Allow {
		_, err := m.c.do(ctx, request{method: http.MethodPost, path: mastoAllows, call: "POST " + mastoAllows,
			form: url.Values{"domain": {e.Domain}}})
		return createOutcome{created: err == nil}, err
	}
	form := blockForm(e)
	form.Set("domain", e.Domain)
	resp, err := m.c.do(ctx, request{method: http.MethodPost, path: mastoBlocks, call: "POST " + mastoBlocks, form: form})
	if err == nil {
		return createOutcome{created: true}, nil
	}
	if statusOf(err) != http.StatusUnprocessableEntity || resp == nil {
		return createOutcome{}, err
	}
	var ex mastoExisting
	if json.Unmarshal(resp.body, &ex) != nil || ex.Existing == nil {
		return createOutcome{}, err // a validation error, not an existing block
	}
	existing := ex.Existing.entry()
	existing.PrivateComment, _ = ParseComment(existing.PrivateComment)
	if mastoStricterOrEqual(existing, e) {
		return createOutcome{covered: true}, nil
	}
	return createOutcome{conflict: &Conflict{
		Entry:    e,
		Existing: existing,
		Reason: fmt.Sprintf("Mastodon refuses a block on %s while the %s block on %s exists (less strict); change or remove that one by hand",
			e.Domain, existing.Action, existing.Domain),
	}}, nil
}

// mastoStricterOrEqual mirrors Mastodon's DomainBlock#stricter_than?: does
// the existing block impose at least what e asks for?
func mastoStricterOrEqual(existing, e moderation.Entry) bool {
	if existing.Action == moderation.Suspend {
		return true
	}
	if e.Action == moderation.Suspend {
		return false
	}
	if e.Action == moderation.Silence && existing.Action != moderation.Silence {
		return false
	}
	wantMedia := e.RejectMedia || e.Action == moderation.RejectMedia
	return (existing.RejectMedia || !wantMedia) && (existing.RejectReports || !e.RejectReports)
}

func (m *mastodon) bulkKinds() map[string]bool { return nil }

func (m *mastodon) createMany(context.Context, string, []moderation.Entry) ([]createOutcome, error) {
	return nil, fmt.Errorf("%s: Mastodon has no bulk import API for domain blocks", m.c.server)
}

func (m *mastodon) update(ctx context.Context, id string, from, to moderation.Entry) error {
	if to.Action == moderation.Allow {
		return nil // an allow is only its domain: nothing to change
	}
	p := mastoBlocks + "/" + url.PathEscape(id)
	_, err := m.c.do(ctx, request{method: http.MethodPut, path: p, call: "PUT " + mastoBlocks + "/:id", form: blockForm(to)})
	return err
}

func (m *mastodon) remove(ctx context.Context, kind, id string) error {
	base := mastoBlocks
	if kind == "allow" {
		base = mastoAllows
	}
	_, err := m.c.do(ctx, request{method: http.MethodDelete, path: base + "/" + url.PathEscape(id), call: "DELETE " + base + "/:id"})
	if statusOf(err) == http.StatusNotFound {
		return nil // already gone, which is what we wanted
	}
	return err
}
