package drivers_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

const (
	oauthEmail    = "admin@riverside.example"
	oauthPassword = "correct-horse-battery-staple"
)

func TestObtainGoToSocialToken(t *testing.T) {
	srv := fakeserver.NewGoToSocial(fakeserver.Options{AdminEmail: oauthEmail, AdminPassword: oauthPassword})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	token, err := drivers.ObtainGoToSocialToken(ctx, drivers.Config{HTTPClient: trusting(t, srv.URL), BaseURL: srv.URL}, oauthEmail, oauthPassword)
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	if issued := srv.IssuedTokens(); len(issued) != 1 || issued[0] != token {
		t.Fatalf("issued %d tokens, want exactly the one returned", len(issued))
	}
	// The session cookie is bound to gotosocial.test and Secure while the
	// flow runs over plain HTTP on 127.0.0.1: it only works if the flow
	// keeps the cookie anyway. Every step ran once.
	calls := srv.Calls()
	for call, want := range map[string]int{
		"POST /api/v1/apps": 1, "GET /oauth/authorize": 2, "POST /auth/sign_in": 1,
		"POST /oauth/authorize": 1, "POST /oauth/token": 1,
	} {
		if calls[call] != want {
			t.Errorf("%s called %d times, want %d (all calls: %v)", call, calls[call], want, calls)
		}
	}

	// The token works on the admin API, and stops working once revoked.
	drv := newDriver(t, "gotosocial", srv, drivers.Config{Token: token})
	if _, err := drv.List(ctx); err != nil {
		t.Fatalf("list with the obtained token: %v", err)
	}
	srv.RevokeTokens()
	_, err = drv.List(ctx)
	var apiErr *drivers.APIError
	if !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("list with a revoked token: %v, want HTTP 401", err)
	}

	// Credentials changed at runtime (the admin account created later).
	srv.SetAdminCredentials("other@riverside.example", "another-password")
	second, err := drivers.ObtainGoToSocialToken(ctx, drivers.Config{HTTPClient: trusting(t, srv.URL), BaseURL: srv.URL}, "other@riverside.example", "another-password")
	if err != nil {
		t.Fatalf("obtain with new credentials: %v", err)
	}
	if second == token {
		t.Fatal("a second flow returned the revoked token")
	}
}

func TestObtainGoToSocialTokenWrongPassword(t *testing.T) {
	srv := fakeserver.NewGoToSocial(fakeserver.Options{AdminEmail: oauthEmail, AdminPassword: oauthPassword})
	defer srv.Close()
	const wrong = "wrong-password-123"
	_, err := drivers.ObtainGoToSocialToken(context.Background(), drivers.Config{HTTPClient: trusting(t, srv.URL), BaseURL: srv.URL}, oauthEmail, wrong)
	if err == nil {
		t.Fatal("a wrong password obtained a token")
	}
	msg := err.Error()
	for _, want := range []string{"step 3/6", "sign in as " + oauthEmail, "POST /auth/sign_in", "HTTP 401", "did not accept the admin's email and password"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	// The sign-in page says why, in HTML the server controls: not quoted.
	if strings.Contains(msg, wrong) || strings.Contains(msg, "<") || strings.Contains(msg, "password/email combination") {
		t.Errorf("error quotes the password or the page: %q", msg)
	}
	if len(srv.IssuedTokens()) != 0 {
		t.Error("a token was issued")
	}
}

func TestObtainGoToSocialTokenNoAppEndpoint(t *testing.T) {
	// A server that is not GoToSocial (or a wrong apiURL): no /api/v1/apps.
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	_, err := drivers.ObtainGoToSocialToken(context.Background(), drivers.Config{HTTPClient: trusting(t, srv.URL), BaseURL: srv.URL}, oauthEmail, oauthPassword)
	if err == nil {
		t.Fatal("obtained a token from a server without the flow")
	}
	msg := err.Error()
	for _, want := range []string{"step 1/6 register application", "POST /api/v1/apps", "HTTP 404", "no application endpoint"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
}

func TestObtainGoToSocialTokenBounded(t *testing.T) {
	// A server that never answers: each request is cut at RequestTimeout.
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	start := time.Now()
	_, err := drivers.ObtainGoToSocialToken(context.Background(), drivers.Config{HTTPClient: trusting(t, srv.URL), BaseURL: srv.URL, RequestTimeout: 200 * time.Millisecond}, oauthEmail, oauthPassword)
	if err == nil || !strings.Contains(err.Error(), "step 1/6") || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("err = %v, want a deadline at step 1", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}

	// An endless answer is cut at MaxResponseBytes.
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(strings.Repeat(" ", 4096)))
	}))
	defer big.Close()
	_, err = drivers.ObtainGoToSocialToken(context.Background(), drivers.Config{HTTPClient: trusting(t, big.URL), BaseURL: big.URL, MaxResponseBytes: 1024}, oauthEmail, oauthPassword)
	if err == nil || !strings.Contains(err.Error(), "larger than 1024 bytes") {
		t.Fatalf("err = %v, want the body bound", err)
	}
}
