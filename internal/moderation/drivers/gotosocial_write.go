package drivers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// GoToSocial's writes: one create, the bulk import, update and delete.
//
// Two things about them are not in GoToSocial's API documentation and were
// found on a real server (test/conformance/FINDINGS.md):
//   - a create or delete of a domain block or allow starts the "side
//     effects" of that domain in the background, and while they run every
//     other create or delete for the same domain, block or allow, answers
//     409 ("an action (domain/x) is currently running"), after the write
//     itself was made;
//   - the bulk import overwrites the comments and obfuscation of any entry
//     it names that exists already, which would make a human's block ours,
//     and when one of its entries fails it answers nothing at all (the
//     server panics after creating the others).

// gtsBusyBackoff are the waits between tries of a write GoToSocial
// answered 409 while the domain's side effects run: at most 7.75 s for one
// write, which bounds a sync however busy the server is.
var gtsBusyBackoff = []time.Duration{250 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second}

// write sends a create or delete of a block or allow, trying again while
// the server answers 409. The write has taken place by the time the 409
// is sent, so the retry of a create finds the entry (creates are
// idempotent) and the retry of a delete answers 404, which remove takes
// as done.
func (g *gotosocial) write(ctx context.Context, req request) (*response, error) {
	for i := 0; ; i++ {
		resp, err := g.c.do(ctx, req)
		if statusOf(err) != http.StatusConflict || i == len(gtsBusyBackoff) {
			return resp, err
		}
		if serr := g.c.clock.Sleep(ctx, gtsBusyBackoff[i]); serr != nil {
			return nil, fmt.Errorf("%s: %s: waiting for the domain's side effects: %w", g.c.server, req.call, serr)
		}
	}
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
	resp, err := g.write(ctx, request{method: http.MethodPost, path: p, call: "POST " + p, form: form})
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
// unchanged (its single creates are idempotent): without our marker it is
// someone else's entry, which already covers the domain.
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

// createMany imports es, all of one kind, and reads the outcome back from
// the server's list, not from the import's answer: that answer is absent
// when one entry fails, and names domains in Unicode. Because an import
// overwrites entries that exist, only domains the collection does not hold
// right before the import go into it; the others, and any the import did
// not create, are left to the single create (idempotent, never
// overwriting), which also says why one fails.
func (g *gotosocial) createMany(ctx context.Context, kind string, es []moderation.Entry) ([]createOutcome, error) {
	p := g.pathOf(kind)
	call := "POST " + p + "?import=true"
	before, err := g.collection(ctx, kind)
	if err != nil {
		return nil, err
	}
	outs := make([]createOutcome, len(es))
	var file []gtsImportEntry
	var imported []int
	for i, e := range es {
		if _, exists := before[e.Domain]; exists {
			outs[i].single = true
			continue
		}
		imported = append(imported, i)
		file = append(file, gtsImportEntry{Domain: e.Domain, Obfuscate: e.Obfuscate, PublicComment: e.PublicComment, PrivateComment: MarkComment(e.PrivateComment)})
	}
	if len(file) == 0 {
		return outs, nil
	}
	data, err := json.Marshal(file)
	if err != nil {
		return nil, err
	}
	_, err = g.c.do(ctx, request{method: http.MethodPost, path: p + "?import=true", call: call,
		file: &filePart{field: "domains", filename: "domains.json", contentType: "application/json", content: data}})
	if err != nil && !importMayHavePartlyWorked(err) {
		return nil, err
	}
	after, lerr := g.collection(ctx, kind)
	if lerr != nil {
		return nil, lerr
	}
	for _, i := range imported {
		se, ok := after[es[i].Domain]
		switch {
		case !ok:
			outs[i].single = true
		case se.Managed:
			outs[i].created = true
		default:
			// Made by someone else between the two reads.
			outs[i].covered = true
		}
	}
	return outs, nil
}

// importMayHavePartlyWorked tells an import failure after which the
// server's list must be read (a 4xx about the file, a 5xx, an answer
// that never came) from one that ends the Apply (rate limiting, a
// deadline, a refused token).
func importMayHavePartlyWorked(err error) bool {
	if isStop(err) {
		return false
	}
	st := statusOf(err)
	return st != http.StatusUnauthorized && st != http.StatusForbidden
}

// collection lists one block or allow collection by domain.
func (g *gotosocial) collection(ctx context.Context, kind string) (map[string]moderation.ServerEntry, error) {
	out := map[string]moderation.ServerEntry{}
	err := g.listPerms(ctx, g.c.newListBudget(), kind, func(se moderation.ServerEntry) { out[se.Domain] = se })
	return out, err
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
	req := request{method: http.MethodDelete, path: p + "/" + url.PathEscape(id), call: "DELETE " + p + "/:id"}
	var err error
	if kind == "limit" {
		_, err = g.c.do(ctx, req)
	} else {
		_, err = g.write(ctx, req)
	}
	if statusOf(err) == http.StatusNotFound {
		return nil // already gone, which is what we wanted
	}
	return err
}
