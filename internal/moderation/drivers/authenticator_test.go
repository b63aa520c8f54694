package drivers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// The sign-in capability is asked for by driver name: GoToSocial has it
// (its OAuth flow), Mastodon does not (its token is minted by the admin
// Job), and a token the server revoked reads as Unauthorized.
func TestAuthenticatorCapability(t *testing.T) {
	srv := fakeserver.NewGoToSocial(fakeserver.Options{AdminEmail: oauthEmail, AdminPassword: oauthPassword})
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	auth, err := drivers.NewAuthenticator("gotosocial", drivers.Config{HTTPClient: trusting(t, srv.URL), BaseURL: srv.URL})
	if err != nil {
		t.Fatalf("gotosocial authenticator: %v", err)
	}
	token, err := auth.ObtainToken(ctx, oauthEmail, oauthPassword)
	if err != nil {
		t.Fatalf("obtain: %v", err)
	}
	if issued := srv.IssuedTokens(); len(issued) != 1 || issued[0] != token {
		t.Fatalf("issued %d tokens, want exactly the one returned", len(issued))
	}
	drv := newDriver(t, "gotosocial", srv, drivers.Config{Token: token})
	if _, err := drv.List(ctx); err != nil {
		t.Fatalf("list with the obtained token: %v", err)
	}
	srv.RevokeTokens()
	if _, err := drv.List(ctx); !drivers.Unauthorized(err) {
		t.Fatalf("list with a revoked token: %v, want Unauthorized", err)
	}
	if _, err := auth.ObtainToken(ctx, oauthEmail, "wrong"); err == nil || len(srv.IssuedTokens()) != 1 {
		t.Fatalf("a wrong password signed in (err %v, %d tokens issued)", err, len(srv.IssuedTokens()))
	}

	if _, err := drivers.NewAuthenticator("mastodon", drivers.Config{HTTPClient: trusting(t, srv.URL), BaseURL: srv.URL}); !errors.Is(err, drivers.ErrNoAuthenticator) {
		t.Fatalf("mastodon authenticator: %v, want ErrNoAuthenticator", err)
	}
}
