package fakeserver

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The fake GoToSocial's sign-in and OAuth endpoints, built to GoToSocial's
// internal/api/auth and internal/api/client/apps: a browser-style
// authorization-code flow with a session cookie bound to the configured
// host (Domain=gotosocial.test, Secure, two minutes), content negotiation
// (pages answer HTML only, the API JSON only), the sign-in form's
// "username" field carrying the email, and the out-of-band redirect
// answered with /oauth/oob?code=. A token it issues is accepted on the
// admin API until RevokeTokens.

// oobURI is the out-of-band redirect URI.
const oobURI = "urn:ietf:wg:oauth:2.0:oob"

// gtsHost is the host the fake GoToSocial believes it serves: its session
// cookie is bound to it, not to the loopback address clients reach it by.
const gtsHost = "gotosocial.test"

const gtsSessionCookie = "gotosocial-" + gtsHost

type oauthState struct {
	email, password string
	apps            map[string]*oauthApp // by client id
	sessions        map[string]*oauthSession
	codes           map[string]*oauthGrant
	// issued are the tokens handed out, in order; revoked ones stay listed.
	issued []string
}

type oauthApp struct {
	name, secret, redirect, scopes string
}

type oauthSession struct {
	clientID, redirect, scope, responseType string
	userSignedIn                            bool
	expires                                 time.Time
}

type oauthGrant struct {
	clientID, redirect, scope string
}

// oauthPaths are the routes that take no bearer token.
var oauthPaths = map[string]bool{
	"POST /api/v1/apps":     true,
	"GET /oauth/authorize":  true,
	"POST /oauth/authorize": true,
	"GET /auth/sign_in":     true,
	"POST /auth/sign_in":    true,
	"GET /oauth/oob":        true,
	"POST /oauth/token":     true,
}

func isOAuthRoute(pattern string) bool { return oauthPaths[pattern] }

// routeOAuth adds the sign-in and OAuth endpoints to a fake GoToSocial.
func (s *Server) routeOAuth() {
	s.oauth = &oauthState{
		email: s.opts.AdminEmail, password: s.opts.AdminPassword,
		apps: map[string]*oauthApp{}, sessions: map[string]*oauthSession{}, codes: map[string]*oauthGrant{},
	}
	s.mux.HandleFunc("POST /api/v1/apps", s.oauthCreateApp)
	s.mux.HandleFunc("GET /oauth/authorize", s.oauthAuthorizeGET)
	s.mux.HandleFunc("POST /oauth/authorize", s.oauthAuthorizePOST)
	s.mux.HandleFunc("GET /auth/sign_in", func(w http.ResponseWriter, r *http.Request) {
		if !accepts(r, "text/html") {
			writeJSON(w, http.StatusNotAcceptable, map[string]string{"error": "Not Acceptable"})
			return
		}
		page(w, http.StatusOK, `<form action="/auth/sign_in" method="POST"><input name="username" type="email"><input name="password" type="password"><button type="submit">Sign in</button></form>`)
	})
	s.mux.HandleFunc("POST /auth/sign_in", s.oauthSignIn)
	s.mux.HandleFunc("GET /oauth/oob", s.oauthOOB)
	s.mux.HandleFunc("POST /oauth/token", s.oauthToken)
}

// SetAdminCredentials sets the email and password the sign-in accepts, as
// creating the admin account on a real server does. Empty ones refuse
// every sign-in.
func (s *Server) SetAdminCredentials(email, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth != nil {
		s.oauth.email, s.oauth.password = email, password
	}
}

// IssuedTokens returns the tokens handed out by POST /oauth/token, oldest
// first, revoked ones included.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth == nil {
		return nil
	}
	return append([]string(nil), s.oauth.issued...)
}

// RevokeTokens makes every token issued so far invalid on the admin API,
// as an admin revoking the application in the settings panel does.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.oauth == nil {
		return
	}
	for _, t := range s.oauth.issued {
		delete(s.extraTokens, t)
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// accepts is a loose Accept check, enough to catch a client asking a page
// for JSON or the API for HTML, which GoToSocial answers with 406.
func accepts(r *http.Request, mediaType string) bool {
	a := r.Header.Get("Accept")
	if a == "" || strings.Contains(a, "*/*") {
		return true
	}
	return strings.Contains(a, mediaType)
}

func page(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!DOCTYPE html><html><head><title>Fake GoToSocial</title></head><body><main>%s</main></body></html>", body)
}

// errorPage is GoToSocial's error rendering: JSON to API clients, a page
// to browsers.
func errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if strings.Contains(r.Header.Get("Accept"), "json") {
		writeJSON(w, status, map[string]string{"error": http.StatusText(status) + ": " + msg})
		return
	}
	page(w, status, "<h1>"+http.StatusText(status)+"</h1><p>"+html.EscapeString(msg)+"</p>")
}

const helpfulAdvice = "If you arrived at this error during a sign in/oauth flow, please try clearing your session cookies and signing in again; if problems persist, make sure you're using the correct credentials"

// sessionLocked returns the request's session, starting one if asked.
func (s *Server) sessionLocked(w http.ResponseWriter, r *http.Request, create bool) *oauthSession {
	if c, err := r.Cookie(gtsSessionCookie); err == nil {
		if sess, ok := s.oauth.sessions[c.Value]; ok && time.Now().Before(sess.expires) {
			return sess
		}
	}
	if !create {
		return nil
	}
	id := randomHex(16)
	sess := &oauthSession{expires: time.Now().Add(2 * time.Minute)}
	s.oauth.sessions[id] = sess
	http.SetCookie(w, &http.Cookie{
		Name: gtsSessionCookie, Value: id, Path: "/", Domain: gtsHost, MaxAge: 120,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
	return sess
}

func (s *Server) oauthCreateApp(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "application/json") {
		writeJSON(w, http.StatusNotAcceptable, map[string]string{"error": "Not Acceptable"})
		return
	}
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: " + err.Error()})
		return
	}
	if p["client_name"] == "" || p["redirect_uris"] == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "Bad Request: client_name and redirect_uris are required"})
		return
	}
	scopes := p["scopes"]
	if scopes == "" {
		scopes = "read"
	}
	id, secret := randomHex(13), randomHex(16)
	s.mu.Lock()
	s.oauth.apps[id] = &oauthApp{name: p["client_name"], secret: secret, redirect: p["redirect_uris"], scopes: scopes}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": "01HFAKEAPP" + id[:16], "name": p["client_name"], "website": p["website"],
		"redirect_uri": p["redirect_uris"], "client_id": id, "client_secret": secret,
	})
}

func (s *Server) oauthAuthorizeGET(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "text/html") {
		writeJSON(w, http.StatusNotAcceptable, map[string]string{"error": "Not Acceptable"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionLocked(w, r, true)
	if !sess.userSignedIn {
		q := r.URL.Query()
		for _, k := range []string{"response_type", "client_id", "redirect_uri"} {
			if q.Get(k) == "" {
				errorPage(w, r, http.StatusBadRequest, "field "+k+" was not set on OAuthAuthorize form: "+helpfulAdvice)
				return
			}
		}
		sess.clientID, sess.redirect, sess.responseType = q.Get("client_id"), q.Get("redirect_uri"), q.Get("response_type")
		sess.scope = q.Get("scope")
		if sess.scope == "" {
			sess.scope = "read"
		}
		http.Redirect(w, r, "/auth/sign_in", http.StatusSeeOther)
		return
	}
	app, ok := s.oauth.apps[sess.clientID]
	if !ok {
		errorPage(w, r, http.StatusBadRequest, "application for client_id "+sess.clientID+" could not be retrieved: "+helpfulAdvice)
		return
	}
	page(w, http.StatusOK, fmt.Sprintf(`<p>%s wants to act for admin with scope %s</p><form action="/oauth/authorize" method="POST"><button type="submit">Allow</button></form>`,
		html.EscapeString(app.name), html.EscapeString(sess.scope)))
}

func (s *Server) oauthSignIn(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		errorPage(w, r, http.StatusBadRequest, helpfulAdvice)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	email, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	if email == "" || password == "" || s.oauth.email == "" ||
		!strings.EqualFold(email, s.oauth.email) || password != s.oauth.password {
		errorPage(w, r, http.StatusUnauthorized, "password/email combination was incorrect: "+helpfulAdvice)
		return
	}
	sess := s.sessionLocked(w, r, true)
	sess.userSignedIn = true
	http.Redirect(w, r, "/oauth/authorize", http.StatusFound)
}

func (s *Server) oauthAuthorizePOST(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.sessionLocked(w, r, false)
	if sess == nil || sess.clientID == "" || sess.responseType == "" || sess.redirect == "" || !sess.userSignedIn {
		errorPage(w, r, http.StatusBadRequest, "one or more missing keys on session during AuthorizePOSTHandler: "+helpfulAdvice)
		return
	}
	app, ok := s.oauth.apps[sess.clientID]
	if !ok || sess.responseType != "code" || !redirectAllowed(app.redirect, sess.redirect) || !scopesAllowed(app.scopes, sess.scope) {
		errorPage(w, r, http.StatusBadRequest, "invalid authorization request: "+helpfulAdvice)
		return
	}
	code := randomHex(16)
	s.oauth.codes[code] = &oauthGrant{clientID: sess.clientID, redirect: sess.redirect, scope: sess.scope}
	target := sess.redirect
	if target == oobURI {
		target = "/oauth/oob"
	}
	http.Redirect(w, r, target+"?"+url.Values{"code": {code}}.Encode(), http.StatusFound)
}

func (s *Server) oauthOOB(w http.ResponseWriter, r *http.Request) {
	code := r.URL.Query().Get("code")
	if code == "" {
		errorPage(w, r, http.StatusBadRequest, "no 'code' query value provided in callback redirect: "+helpfulAdvice)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, err := r.Cookie(gtsSessionCookie); err == nil {
		delete(s.oauth.sessions, c.Value) // done with the session, as GoToSocial is
	}
	page(w, http.StatusOK, "<h1>Here's your out-of-band token</h1><p>Copy it:</p><code>"+html.EscapeString(code)+"</code>")
}

func (s *Server) oauthToken(w http.ResponseWriter, r *http.Request) {
	if !accepts(r, "application/json") {
		writeJSON(w, http.StatusNotAcceptable, map[string]string{"error": "Not Acceptable"})
		return
	}
	p, err := params(r)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": err.Error()})
		return
	}
	var missing []string
	for _, k := range []string{"grant_type", "client_id", "client_secret", "redirect_uri"} {
		if p[k] == "" {
			missing = append(missing, k+" was not set in the token request form")
		}
	}
	if p["grant_type"] == "authorization_code" && p["code"] == "" {
		missing = append(missing, "code was not set in the token request form, but must be set since grant_type is authorization_code")
	}
	if len(missing) > 0 {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Bad Request: " + strings.Join(missing, ": ")})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	app, ok := s.oauth.apps[p["client_id"]]
	if !ok || app.secret != p["client_secret"] {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "client authentication failed"})
		return
	}
	if p["grant_type"] != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	grant, ok := s.oauth.codes[p["code"]]
	if !ok || grant.clientID != p["client_id"] || grant.redirect != p["redirect_uri"] {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "the provided authorization grant is invalid, expired or revoked"})
		return
	}
	delete(s.oauth.codes, p["code"]) // a code is good once
	scope := grant.scope
	if p["scope"] != "" {
		if !scopesAllowed(grant.scope, p["scope"]) {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_scope"})
			return
		}
		scope = p["scope"]
	}
	token := strings.ToUpper(randomHex(20))
	s.oauth.issued = append(s.oauth.issued, token)
	if s.extraTokens == nil {
		s.extraTokens = map[string]bool{}
	}
	s.extraTokens[token] = true
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token, "token_type": "Bearer", "scope": scope, "created_at": time.Now().Unix(),
	})
}

// redirectAllowed is GoToSocial's exact match against the app's
// newline-separated redirect URIs.
func redirectAllowed(has, wants string) bool {
	for _, h := range strings.Split(has, "\n") {
		if strings.TrimSpace(h) == wants {
			return true
		}
	}
	return false
}

// scopesAllowed says whether every wanted scope is within the granted ones
// ("admin" covers "admin:write", "write" covers "write:statuses").
func scopesAllowed(has, wants string) bool {
	granted := strings.Fields(has)
	for _, w := range strings.Fields(wants) {
		ok := false
		for _, g := range granted {
			if w == g || strings.HasPrefix(w, g+":") {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}
