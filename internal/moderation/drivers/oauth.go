package drivers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fedcommons/fedcommons/internal/outbound"
)

// OOBRedirectURI is the out-of-band redirect: the server shows the code (or
// redirects to a page of its own holding it) instead of calling a client
// back, which is what a client with no web endpoint of its own needs.
const OOBRedirectURI = "urn:ietf:wg:oauth:2.0:oob"

// GoToSocialScopes are the scopes of the operator's GoToSocial token:
// admin for domain permissions, read and write because the admin API
// checks the token's user too.
const GoToSocialScopes = "read write admin"

// oauthClientName names the application in the server's admin panel, so a
// human there knows whose token it is.
const oauthClientName = "fedcommons"

func init() { RegisterAuthenticator("gotosocial", newGoToSocialAuthenticator) }

// gotosocialAuthenticator is GoToSocial's Authenticator: the OAuth flow of
// ObtainGoToSocialToken against one server.
type gotosocialAuthenticator struct{ cfg Config }

func newGoToSocialAuthenticator(cfg Config) (Authenticator, error) {
	return gotosocialAuthenticator{cfg: cfg}, nil
}

func (a gotosocialAuthenticator) ObtainToken(ctx context.Context, email, password string) (string, error) {
	return ObtainGoToSocialToken(ctx, a.cfg, email, password)
}

// ObtainGoToSocialToken signs in to a GoToSocial server as an account and
// returns an access token for it, walking the authorization-code flow a
// browser would: register an application, ask to authorize it, sign in
// with email and password, approve, read the out-of-band code and trade it
// for a token. GoToSocial has no command line for tokens, so this is the
// only way to an admin token for a server the operator set up itself.
//
// cfg gives the base URL (the in-cluster Service is fine), the HTTP client,
// the per-request timeout and the response size bound; Token is ignored.
// Errors say which step failed and how the server answered (its status,
// and the message of a JSON error document, cleaned); they never
// contain the password, the client secret, the code or the token.
func ObtainGoToSocialToken(ctx context.Context, cfg Config, email, password string) (string, error) {
	base, err := url.Parse(strings.TrimRight(cfg.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return "", fmt.Errorf("drivers: base URL %q must be http(s)://host[:port]", cfg.BaseURL)
	}
	if base.User != nil {
		return "", fmt.Errorf("drivers: base URL for %s must not carry credentials", base.Host)
	}
	if email == "" || password == "" {
		return "", fmt.Errorf("drivers: %s: obtain GoToSocial token: no admin email or password", base.Redacted())
	}
	f := &oauthFlow{
		base:      base,
		server:    base.Redacted(),
		userAgent: cfg.UserAgent,
		maxBody:   cfg.MaxResponseBytes,
		timeout:   cfg.RequestTimeout,
		secrets:   []string{password},
	}
	if f.userAgent == "" {
		f.userAgent = DefaultUserAgent
	}
	if f.maxBody <= 0 {
		// Every answer of this flow is a small form or JSON document.
		f.maxBody = 1 << 20
	}
	if f.timeout <= 0 {
		f.timeout = 30 * time.Second
	}
	// A client of our own on the caller's guarded transport: redirects are
	// read, not followed (the code is in a Location, and a redirect must
	// never take the password or the session to another host), and the
	// session lives in a jar that ends with this flow.
	hc := guardedClient(cfg.HTTPClient, outbound.NoRedirects)
	hc.Jar = &sessionJar{host: base.Host}
	f.hc = hc
	return f.run(ctx, email, password)
}

type oauthFlow struct {
	base      *url.URL
	server    string
	hc        *http.Client
	userAgent string
	maxBody   int64
	timeout   time.Duration
	// secrets are redacted from every quoted answer, in case a server
	// echoes a form back.
	secrets []string
}

// oauthSteps is the number of requests of a successful flow, for errors
// that say how far it got ("step 3/6").
const oauthSteps = 6

// oauthResponse is one answer of the flow, with the call it answered.
type oauthResponse struct {
	status  int
	header  http.Header
	body    []byte
	request string
}

type oauthApp struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

func (f *oauthFlow) run(ctx context.Context, email, password string) (string, error) {
	// 1. Register the application. Each flow registers a new one: a token
	// is obtained rarely (once, then after a revocation), and keeping a
	// client secret around would be one more secret to store.
	resp, err := f.do(ctx, 1, "register application", http.MethodPost, "/api/v1/apps", url.Values{
		"client_name":   {oauthClientName},
		"redirect_uris": {OOBRedirectURI},
		"scopes":        {GoToSocialScopes},
		"website":       {"https://github.com/fedcommons/fedcommons"},
	}, "application/json")
	if err != nil {
		return "", err
	}
	if err := f.expect(resp, 1, "register application", http.StatusOK); err != nil {
		return "", err
	}
	var app oauthApp
	if err := json.Unmarshal(resp.body, &app); err != nil || app.ClientID == "" || app.ClientSecret == "" {
		return "", f.fail(1, "register application", resp, "the answer has no client_id and client_secret; is this a GoToSocial server?")
	}
	f.secrets = append(f.secrets, app.ClientSecret)

	authorize := "/oauth/authorize?" + url.Values{
		"client_id":     {app.ClientID},
		"redirect_uri":  {OOBRedirectURI},
		"response_type": {"code"},
		"scope":         {GoToSocialScopes},
	}.Encode()

	// 2. Ask to authorize: without a session the server stores the request
	// in a new session and sends us to its sign-in page.
	resp, err = f.do(ctx, 2, "start authorization", http.MethodGet, authorize, nil, "text/html")
	if err != nil {
		return "", err
	}
	if !isRedirect(resp.status) || !strings.HasPrefix(f.locationPath(resp), "/auth/sign_in") {
		return "", f.fail(2, "start authorization", resp, "expected a redirect to /auth/sign_in")
	}

	// 3. Sign in. The form's "username" field takes the email address.
	resp, err = f.do(ctx, 3, "sign in", http.MethodPost, "/auth/sign_in", url.Values{
		"username": {email},
		"password": {password},
	}, "text/html")
	if err != nil {
		return "", err
	}
	if !isRedirect(resp.status) {
		return "", f.fail(3, "sign in as "+email, resp, "the server did not accept the admin's email and password")
	}
	if p := f.locationPath(resp); !strings.HasPrefix(p, "/oauth/authorize") {
		return "", f.fail(3, "sign in as "+email, resp, "signed in, but sent to "+p+" instead of /oauth/authorize"+accountHint(p))
	}

	// 4. The authorization page, now for a signed-in user. A server that
	// still needs something of the account (a confirmed email, approval,
	// a second factor) redirects instead.
	resp, err = f.do(ctx, 4, "show authorization", http.MethodGet, "/oauth/authorize", nil, "text/html")
	if err != nil {
		return "", err
	}
	if resp.status != http.StatusOK {
		why := "expected the authorization page"
		if isRedirect(resp.status) {
			p := f.locationPath(resp)
			why = "sent to " + p + accountHint(p)
		}
		return "", f.fail(4, "show authorization", resp, why)
	}

	// 5. Approve. The server answers with a redirect to the out-of-band
	// page, the code in its query; should it render the code instead,
	// the page is read.
	resp, err = f.do(ctx, 5, "approve", http.MethodPost, "/oauth/authorize", url.Values{}, "text/html")
	if err != nil {
		return "", err
	}
	code := ""
	switch {
	case isRedirect(resp.status):
		if loc, err := url.Parse(resp.header.Get("Location")); err == nil {
			code = loc.Query().Get("code")
		}
	case resp.status == http.StatusOK:
		code = codeInPage(resp.body)
	}
	if code == "" {
		return "", f.fail(5, "approve", resp, "no authorization code in the answer")
	}
	f.secrets = append(f.secrets, code)

	// 6. Trade the code for the token.
	resp, err = f.do(ctx, 6, "exchange code for token", http.MethodPost, "/oauth/token", url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {app.ClientID},
		"client_secret": {app.ClientSecret},
		"redirect_uri":  {OOBRedirectURI},
		"code":          {code},
		"scope":         {GoToSocialScopes},
	}, "application/json")
	if err != nil {
		return "", err
	}
	if err := f.expect(resp, 6, "exchange code for token", http.StatusOK); err != nil {
		return "", err
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
	}
	if err := json.Unmarshal(resp.body, &tok); err != nil || tok.AccessToken == "" {
		// Never quote this body: it may hold a token after all.
		return "", fmt.Errorf("%s: obtain GoToSocial token: step 6/%d exchange code for token (POST /oauth/token): HTTP %d: the answer has no access_token", f.server, oauthSteps, resp.status)
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return "", fmt.Errorf("%s: obtain GoToSocial token: step 6/%d exchange code for token: token type %q, want Bearer", f.server, oauthSteps, tok.TokenType)
	}
	return tok.AccessToken, nil
}

func (f *oauthFlow) do(ctx context.Context, step int, what, method, path string, form url.Values, accept string) (*oauthResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	target, err := f.base.Parse(path)
	if err != nil {
		return nil, fmt.Errorf("%s: obtain GoToSocial token: step %d/%d %s: bad path: %w", f.server, step, oauthSteps, what, err)
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s: obtain GoToSocial token: step %d/%d %s: %w", f.server, step, oauthSteps, what, err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	// GoToSocial negotiates: its pages answer only to HTML, its API only
	// to JSON (406 otherwise).
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", f.userAgent)
	hresp, err := f.hc.Do(req)
	if err != nil {
		// The URL may hold the client id and, at step 6, nothing secret:
		// codes and secrets travel in bodies only.
		return nil, fmt.Errorf("%s: obtain GoToSocial token: step %d/%d %s (%s %s): %w", f.server, step, oauthSteps, what, method, target.Path, outbound.Unwrap(err))
	}
	defer hresp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(hresp.Body, f.maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("%s: obtain GoToSocial token: step %d/%d %s (%s %s): reading response: %w", f.server, step, oauthSteps, what, method, target.Path, err)
	}
	if int64(len(data)) > f.maxBody {
		return nil, fmt.Errorf("%s: obtain GoToSocial token: step %d/%d %s (%s %s): response larger than %d bytes", f.server, step, oauthSteps, what, method, target.Path, f.maxBody)
	}
	return &oauthResponse{status: hresp.StatusCode, header: hresp.Header, body: data, request: method + " " + target.Path}, nil
}

func (f *oauthFlow) expect(resp *oauthResponse, step int, what string, status int) error {
	if resp.status == status {
		return nil
	}
	hint := ""
	if step == 1 && (resp.status == http.StatusNotFound || resp.status == http.StatusMethodNotAllowed) {
		hint = "the server has no application endpoint; is this a GoToSocial server, and apiURL its address?"
	}
	return f.fail(step, what, resp, hint)
}

// fail builds the error of a step: the call, the status, the server's
// message when it answered with a JSON error document (cleaned, secrets
// redacted; an HTML page is never quoted) and a hint.
func (f *oauthFlow) fail(step int, what string, resp *oauthResponse, hint string) error {
	msg := fmt.Sprintf("%s: obtain GoToSocial token: step %d/%d %s (%s): HTTP %d", f.server, step, oauthSteps, what, resp.request, resp.status)
	if s := outbound.ErrorMessage(resp.body, f.secrets...); s != "" {
		msg += ": " + s
	}
	if hint != "" {
		msg += " (" + hint + ")"
	}
	return errors.New(msg)
}

// locationPath is the path of a redirect's target, resolved against the
// request, or "" when it leaves the server (which the flow never follows).
func (f *oauthFlow) locationPath(resp *oauthResponse) string {
	loc, err := f.base.Parse(resp.header.Get("Location"))
	if err != nil || loc.Host != f.base.Host && loc.Host != "" {
		return ""
	}
	// Errors quote it: the server's words, cleaned and short.
	return outbound.Clean(loc.Path, 200)
}

func isRedirect(status int) bool {
	return status == http.StatusFound || status == http.StatusSeeOther || status == http.StatusMovedPermanently ||
		status == http.StatusTemporaryRedirect || status == http.StatusPermanentRedirect
}

// accountHint explains GoToSocial's account pages in an operator's words.
func accountHint(path string) string {
	switch {
	case strings.HasSuffix(path, "/check_your_email"):
		return ": the admin account's email is not confirmed (did the admin Job's confirm step run?)"
	case strings.HasSuffix(path, "/wait_for_approval"):
		return ": the admin account is not approved"
	case strings.HasSuffix(path, "/account_disabled"):
		return ": the admin account is disabled or suspended"
	case strings.HasSuffix(path, "/2fa"):
		return ": the admin account has two-factor authentication, which the operator cannot answer"
	case strings.HasSuffix(path, "/sign_in"):
		return ": the session was lost (is a proxy in front of the server dropping cookies?)"
	}
	return ""
}

var codePatterns = []*regexp.Regexp{
	regexp.MustCompile(`[?&]code=([A-Za-z0-9._~-]+)`),
	regexp.MustCompile(`<code>\s*([A-Za-z0-9._~-]+)\s*</code>`),
}

// codeInPage finds an authorization code in an out-of-band page.
func codeInPage(b []byte) string {
	for _, p := range codePatterns {
		if m := p.FindSubmatch(b); m != nil {
			return string(m[1])
		}
	}
	return ""
}

// sessionJar keeps the cookies of one server for one flow. GoToSocial binds
// its session cookie to its configured host (Domain=host, Secure under
// https), while the operator talks to it by its in-cluster Service over
// plain HTTP: a standard jar would drop the cookie, and the sign-in would
// be lost between two requests. This jar keeps every cookie the server
// sets, whatever its Domain and Secure say, and sends them back to that
// server only (the flow follows no redirect to another host).
type sessionJar struct {
	host    string
	mu      sync.Mutex
	cookies map[string]*http.Cookie
}

func (j *sessionJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	if u.Host != j.host {
		return
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.cookies == nil {
		j.cookies = map[string]*http.Cookie{}
	}
	for _, c := range cookies {
		if c.MaxAge < 0 || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(j.cookies, c.Name)
			continue
		}
		j.cookies[c.Name] = &http.Cookie{Name: c.Name, Value: c.Value}
	}
}

func (j *sessionJar) Cookies(u *url.URL) []*http.Cookie {
	if u.Host != j.host {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	out := make([]*http.Cookie, 0, len(j.cookies))
	for _, c := range j.cookies {
		out = append(out, c)
	}
	return out
}
