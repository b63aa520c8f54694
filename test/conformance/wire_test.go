package conformance

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runWireContract checks, call by call, the answers the GoToSocial driver
// relies on. Each expectation is what GoToSocial 0.20.0-rc1 answered; the
// fake must answer the same (FINDINGS.md says what it answered before).
func runWireContract(t *testing.T, tg target) {
	runCases(t, tg, []contractCase{
		{"token-check", wireTokenCheck},
		{"ids-that-do-not-exist", wireUnknownIDs},
		{"capabilities", wireCapabilities},
		{"create", wireCreate},
		{"comments", wireComments},
		{"import", wireImport},
		{"busy-domain", wireBusy},
		{"rate-limit", wireRateLimit},
	})
}

// expect fails unless r has status and its body contains every part.
func expect(t *testing.T, what string, r raw, status int, parts ...string) {
	t.Helper()
	if r.hungUp || r.status != status {
		t.Fatalf("%s: %s, want HTTP %d", what, r, status)
	}
	for _, p := range parts {
		if !strings.Contains(r.body, p) {
			t.Fatalf("%s: %s, want it to contain %q", what, r, p)
		}
	}
}

const checkPath = "?export=fedcommons-token-check"

// wireTokenCheck: an export flag that is not a boolean is refused with 400
// only after the token (401) and the admin role (403) were checked.
func wireTokenCheck(t *testing.T, tg target, ep *endpoint) {
	for _, kind := range []string{"blocks", "allows"} {
		p := "/api/v1/admin/domain_" + kind + checkPath
		expect(t, "admin token", ep.call(t, ep.token, http.MethodGet, p, nil), http.StatusBadRequest,
			`error parsing key export with value fedcommons-token-check as bool`)
		expect(t, "unknown token", ep.call(t, "not-a-token", http.MethodGet, p, nil), http.StatusUnauthorized, "Unauthorized")
		expect(t, "no token", ep.call(t, "", http.MethodGet, p, nil), http.StatusUnauthorized, "Unauthorized: token not supplied")
		expect(t, "user token", ep.call(t, ep.userToken, http.MethodGet, p, nil), http.StatusForbidden, "Forbidden: user ", " not an admin")
	}
}

// wireUnknownIDs: reading an id that does not exist is a 500 (what broke
// the old token check); updating or deleting one is a 404.
func wireUnknownIDs(t *testing.T, tg target, ep *endpoint) {
	const none = "00000000000000000000000000"
	for _, kind := range []string{"block", "allow"} {
		p := "/api/v1/admin/domain_" + kind + "s/" + none
		expect(t, "GET "+kind, ep.call(t, ep.token, http.MethodGet, p, nil), http.StatusInternalServerError, `{"error":"Internal Server Error"}`)
		expect(t, "PUT "+kind, ep.call(t, ep.token, http.MethodPut, p, form("public_comment", "x")), http.StatusNotFound,
			"Not Found: no domain "+kind+" entry exists with ID "+none)
		expect(t, "DELETE "+kind, ep.call(t, ep.token, http.MethodDelete, p, nil), http.StatusNotFound,
			"Not Found: no domain "+kind+" entry exists with ID "+none)
	}
}

// wireCapabilities: domain_limits is not a route of this version (404,
// whatever the token), and an unknown route neither carries nor spends
// the rate budget.
func wireCapabilities(t *testing.T, tg target, ep *endpoint) {
	if tg.limits {
		t.Fatalf("target %s has domain_limits; this check is written for a version without", tg.name)
	}
	before := ep.call(t, ep.token, http.MethodGet, "/api/v1/instance", nil)
	for _, token := range []string{ep.token, "not-a-token", ""} {
		r := ep.call(t, token, http.MethodGet, "/api/v1/admin/domain_limits?limit=1", nil)
		expect(t, "domain_limits", r, http.StatusNotFound, `{"error":"Not Found"}`)
		if v := r.header.Get("X-Ratelimit-Remaining"); v != "" {
			t.Fatalf("404 carries X-Ratelimit-Remaining %s", v)
		}
	}
	after := ep.call(t, ep.token, http.MethodGet, "/api/v1/instance", nil)
	b, _ := strconv.Atoi(before.header.Get("X-Ratelimit-Remaining"))
	a, _ := strconv.Atoi(after.header.Get("X-Ratelimit-Remaining"))
	if b-a != 1 {
		t.Fatalf("X-Ratelimit-Remaining went from %d to %d over three 404s and one request: 404s must not count", b, a)
	}
	var info struct{ Version string }
	if err := json.Unmarshal([]byte(after.body), &info); err != nil || info.Version != tg.version {
		t.Fatalf("GET /api/v1/instance: version %q (%v), want %q", info.Version, err, tg.version)
	}
}

func decodePerm(t *testing.T, r raw) perm {
	t.Helper()
	var p perm
	if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.ID == "" {
		t.Fatalf("%s: not a domain permission (%v)", r, err)
	}
	return p
}

// wireCreate: creates are idempotent (an existing entry comes back
// unchanged), names are stored in punycode and answered in Unicode, and
// what GoToSocial cannot store is a 500.
func wireCreate(t *testing.T, tg target, ep *endpoint) {
	const blocks = "/api/v1/admin/domain_blocks"
	expect(t, "no domain", ep.call(t, ep.token, http.MethodPost, blocks, form("domain", "")), http.StatusBadRequest, "Bad Request: no domain provided")
	expect(t, "invalid domain", ep.call(t, ep.token, http.MethodPost, blocks, form("domain", "not a domain")), http.StatusInternalServerError, `{"error":"Internal Server Error"}`)

	puny := "xn--bcher-kva." + ep.suffix
	first := decodePerm(t, ep.call(t, ep.token, http.MethodPost, blocks, form("domain", puny, "private_comment", "first", "obfuscate", "true")))
	if first.Domain != "bücher."+ep.suffix || first.PrivateComment != "first" || !first.Obfuscate {
		t.Fatalf("create: %+v, want the name in Unicode and the fields as sent", first)
	}
	again := decodePerm(t, ep.write(t, http.MethodPost, blocks, form("domain", "Bücher."+ep.suffix, "private_comment", "second")))
	if again != first {
		t.Fatalf("second create of the same name (in Unicode, capitalised): %+v, want the first one unchanged %+v", again, first)
	}
	if got := ep.rawList(t, "block")["bücher."+ep.suffix]; got != first {
		t.Fatalf("listed %+v, want %+v", got, first)
	}
	al := decodePerm(t, ep.write(t, http.MethodPost, "/api/v1/admin/domain_allows", form("domain", puny)))
	if al.ID == first.ID || al.Domain != first.Domain {
		t.Fatalf("allow of a blocked name: %+v", al)
	}
	// An update changes only the fields it names.
	upd := decodePerm(t, ep.call(t, ep.token, http.MethodPut, blocks+"/"+first.ID, form("public_comment", "changed")))
	want := first
	want.PublicComment = "changed"
	if upd != want {
		t.Fatalf("partial update: %+v, want %+v", upd, want)
	}
}

// write is a write that is not about busy domains: tried again while the
// domain's side effects from the previous write still run (409), as
// GoToSocial asks ("wait until this action is complete and try again").
func (e *endpoint) write(t *testing.T, method, path string, f map[string][]string) raw {
	t.Helper()
	for i := 0; ; i++ {
		r := e.call(t, e.token, method, path, f)
		if r.status != http.StatusConflict || i == 20 {
			return r
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// wireComments: a create stores comments as plain text (tags and what
// script and style hold removed, entities decoded, spaces around trimmed);
// an update stores them as sent.
func wireComments(t *testing.T, tg target, ep *endpoint) {
	cases := []struct{ sent, created string }{
		{"  <b>spam</b> &amp; abuse  ", "spam & abuse"},
		{"Spam & abuse <script>x</script> >_< 😀", "Spam & abuse  >_< 😀"},
		{"1<2 tab\tx\nnewline ünï", "1<2 tab\tx\nnewline ünï"},
		{"x > y and a<b", "x > y and a"},
		{"&lt;b&gt;", ""},
		{"&#39;q&#39;", "'q'"},
		{"<br>x<br/>y", "xy"},
		{"fedcommons: shared: consensus 2/3 (mastodon.social.csv)", "fedcommons: shared: consensus 2/3 (mastodon.social.csv)"},
	}
	for i, c := range cases {
		p := decodePerm(t, ep.call(t, ep.token, http.MethodPost, "/api/v1/admin/domain_blocks",
			form("domain", ep.dom(fmt.Sprintf("c%d", i)), "public_comment", c.sent, "private_comment", c.sent)))
		if p.PublicComment != c.created || p.PrivateComment != c.created {
			t.Errorf("create with %q: stored %q / %q, want %q", c.sent, p.PublicComment, p.PrivateComment, c.created)
			continue
		}
		u := decodePerm(t, ep.call(t, ep.token, http.MethodPut, "/api/v1/admin/domain_blocks/"+p.ID,
			form("public_comment", c.sent, "private_comment", c.sent)))
		if u.PublicComment != c.sent || u.PrivateComment != c.sent {
			t.Errorf("update with %q: stored %q / %q, want it verbatim", c.sent, u.PublicComment, u.PrivateComment)
		}
	}
}

// importFile uploads a bulk import of blocks.
func (e *endpoint) importFile(t *testing.T, content string, withFile bool) raw {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	if withFile {
		h := map[string][]string{
			"Content-Disposition": {`form-data; name="domains"; filename="domains.json"`},
			"Content-Type":        {"application/json"},
		}
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write([]byte(content))
	}
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, e.url+"/api/v1/admin/domain_blocks?import=true", &buf)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r, err := e.do(e.token, req)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// wireImport: the bulk import overwrites an entry that exists (a human's
// too), answers its entries in Unicode, and when one entry fails it
// creates the others and answers nothing at all.
func wireImport(t *testing.T, tg target, ep *endpoint) {
	human := ep.handMade(t, "block", ep.dom("human"), "blocked by hand")
	file := fmt.Sprintf(`[{"domain":%q,"obfuscate":false,"public_comment":"imported","private_comment":"fedcommons: import"},
		{"domain":%q,"public_comment":"","private_comment":"fedcommons: import"}]`, ep.dom("human"), "xn--mnchen-3ya."+ep.suffix)
	r := ep.importFile(t, file, true)
	expect(t, "import", r, http.StatusOK)
	var answer []perm
	if err := json.Unmarshal([]byte(r.body), &answer); err != nil || len(answer) != 2 {
		t.Fatalf("import answer %s (%v)", r, err)
	}
	if answer[0].ID != human.ID || answer[0].PrivateComment != "fedcommons: import" || answer[0].Obfuscate || answer[1].Domain != "münchen."+ep.suffix {
		t.Fatalf("import answer %+v: want the existing entry overwritten and the new name in Unicode", answer)
	}
	if got := ep.rawList(t, "block")[human.Domain]; got.PrivateComment != "fedcommons: import" || got.PublicComment != "imported" {
		t.Fatalf("after the import the hand-made block is %+v, want it overwritten (what GoToSocial does)", got)
	}

	file = fmt.Sprintf(`[{"domain":%q,"private_comment":"fedcommons: ok"},{"domain":"not a domain","private_comment":"fedcommons: bad"}]`, ep.dom("partial"))
	if r := ep.importFile(t, file, true); !r.hungUp {
		t.Fatalf("import with a bad entry: %s, want no answer at all", r)
	}
	if _, ok := ep.rawList(t, "block")[ep.dom("partial")]; !ok {
		t.Fatal("import with a bad entry: the good one was not created")
	}
	expect(t, "empty import", ep.importFile(t, "[]", true), http.StatusBadRequest, "0 entries provided")
	if r := ep.importFile(t, "", false); !r.hungUp {
		t.Fatalf("import without a file: %s, want no answer at all", r)
	}
	expect(t, "import=maybe", ep.call(t, ep.token, http.MethodPost, "/api/v1/admin/domain_blocks?import=maybe", form("domain", ep.dom("x"))),
		http.StatusBadRequest, "error parsing key import with value maybe as bool")
}

// wireBusy: two writes for one domain at the same moment (a block and an
// allow, then their deletes): while the first one's side effects run the
// other is answered 409, after it was made. On 0.20.0-rc1 a round of
// simultaneous creates met a 409 in 25 of 40 rounds, of deletes in 10.
func wireBusy(t *testing.T, tg target, ep *endpoint) {
	d := ep.dom("busy")
	var createdConflict, deletedConflict string
	for round := 0; round < 40 && (createdConflict == "" || deletedConflict == ""); round++ {
		if round%10 == 9 {
			// A round is up to 8 requests: keep within one client's budget.
			ep = ep.other()
		}
		rs := both(t, ep, func(kind string) (string, string) {
			return http.MethodPost, "/api/v1/admin/domain_" + kind + "s"
		}, form("domain", d))
		ids := map[string]string{}
		for kind, r := range rs {
			if r.status == http.StatusConflict {
				expect(t, "create on a busy domain", r, http.StatusConflict, "is currently running", "wait until this action is complete and try again")
				if _, made := ep.rawList(t, kind)[d]; !made {
					t.Fatalf("create of a %s answered 409 and not made", kind)
				}
				createdConflict = r.body
			}
		}
		for _, kind := range []string{"block", "allow"} {
			p, ok := ep.rawList(t, kind)[d]
			if !ok {
				t.Fatalf("round %d: no %s of %s after its create (%v)", round, kind, d, rs)
			}
			ids[kind] = p.ID
		}
		rs = both(t, ep, func(kind string) (string, string) {
			return http.MethodDelete, "/api/v1/admin/domain_" + kind + "s/" + ids[kind]
		}, nil)
		for kind, r := range rs {
			if r.status == http.StatusConflict {
				if _, still := ep.rawList(t, kind)[d]; still {
					t.Fatalf("delete of a %s answered 409 and not made", kind)
				}
				deletedConflict = r.body
			} else if r.status != http.StatusOK {
				t.Fatalf("delete of a %s: %s", kind, r)
			}
		}
		// Let the side effects end before the next round.
		time.Sleep(500 * time.Millisecond)
	}
	if createdConflict == "" || deletedConflict == "" {
		t.Fatalf("no 409 for a create (%q) or a delete (%q) in 40 rounds of simultaneous writes", createdConflict, deletedConflict)
	}
	t.Logf("409 on a create: %s", createdConflict)
	t.Logf("409 on a delete: %s", deletedConflict)
}

// both sends the block's and the allow's request at the same moment.
func both(t *testing.T, ep *endpoint, req func(kind string) (method, path string), f map[string][]string) map[string]raw {
	t.Helper()
	out := map[string]raw{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, kind := range []string{"block", "allow"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			method, path := req(kind)
			<-start
			r, err := ep.send(ep.token, method, path, f)
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			out[kind] = r
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	return out
}

// wireRateLimit: every answer of a route carries the budget; once spent,
// 429 with the reset instant and no Retry-After.
func wireRateLimit(t *testing.T, tg target, ep *endpoint) {
	r := ep.call(t, ep.token, http.MethodGet, "/api/v1/admin/domain_blocks"+checkPath, nil)
	limit, remaining, reset := r.header.Get("X-Ratelimit-Limit"), r.header.Get("X-Ratelimit-Remaining"), r.header.Get("X-Ratelimit-Reset")
	if limit != strconv.Itoa(tg.rateLimit) || remaining == "" {
		t.Fatalf("rate-limit headers %q %q %q, want limit %d", limit, remaining, reset, tg.rateLimit)
	}
	left, _ := strconv.Atoi(remaining)
	for range left {
		ep.call(t, "", http.MethodGet, "/api/v1/instance", nil)
	}
	r = ep.call(t, ep.token, http.MethodGet, "/api/v1/admin/domain_blocks"+checkPath, nil)
	expect(t, "over the budget", r, http.StatusTooManyRequests, `{"error":"rate limit reached"}`)
	if v := r.header.Get("Retry-After"); v != "" {
		t.Fatalf("429 carries Retry-After %q", v)
	}
	at, err := time.Parse("2006-01-02T15:04:05.000Z07:00", r.header.Get("X-Ratelimit-Reset"))
	if err != nil || r.header.Get("X-Ratelimit-Remaining") != "0" {
		t.Fatalf("429 headers %v (%v)", r.header, err)
	}
	if until := time.Until(at); until <= 0 || until > tg.rateWindow {
		t.Fatalf("X-Ratelimit-Reset %s is %s away, want within the %s window", at, until, tg.rateWindow)
	}
}
