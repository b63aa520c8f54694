package drivers_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
	"github.com/fedcommons/fedcommons/internal/outbound"
)

// trusting is a client of the guarded stack that may reach the test server
// at rawURL (on loopback) as the operator reaches a hosted server's own
// Service: by that origin alone, nothing else on loopback.
func trusting(t testing.TB, rawURL string) *http.Client {
	t.Helper()
	return trustingOn(t, outbound.Default(), rawURL)
}

func trustingOn(t testing.TB, s *outbound.Stack, rawURL string) *http.Client {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.Client(outbound.SameOrigin, outbound.Trusted{Host: outbound.HostPort(u)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Without a client of its own a driver gets the guarded default: a server
// on loopback (as another community's Service or the operator's own
// metrics would be) is not called at all.
func TestDriverRefusesPrivateAddressesByDefault(t *testing.T) {
	srv := fakeserver.NewMastodon(fakeserver.Options{})
	defer srv.Close()
	d, err := drivers.New("mastodon", drivers.Config{BaseURL: srv.URL, Token: fakeserver.DefaultToken, RateLimit: drivers.RateLimit{Requests: -1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = d.Probe(context.Background())
	var re *outbound.RefusedError
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "127.0.0.1 is a loopback address") {
		t.Fatalf("Probe: %v, want a refused loopback address", err)
	}
	if srv.Requests() != 0 {
		t.Fatalf("%d requests reached the server", srv.Requests())
	}
}

// A redirect off the server (here to another port of the same host, which
// net/http's own rule lets the Authorization header follow) is refused,
// and the token goes nowhere.
func TestDriverRedirectOffOriginRefused(t *testing.T) {
	var mu sync.Mutex
	var stolen []string
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		stolen = append(stolen, r.Header.Get("Authorization"))
		mu.Unlock()
	}))
	defer elsewhere.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.Path+"?\u202egnp", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	// Both origins trusted: only the redirect policy stands in the way.
	u1, _ := url.Parse(srv.URL)
	u2, _ := url.Parse(elsewhere.URL)
	hc, err := outbound.Default().Client(outbound.PublicOrigins,
		outbound.Trusted{Host: outbound.HostPort(u1)}, outbound.Trusted{Host: outbound.HostPort(u2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mastodon", "gotosocial"} {
		d, err := drivers.New(name, drivers.Config{BaseURL: srv.URL, Token: "tok-SECRET", HTTPClient: hc, RateLimit: drivers.RateLimit{Requests: -1}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Probe(context.Background())
		if err == nil || !strings.Contains(err.Error(), "to another server (http://"+u2.Host+")") {
			t.Fatalf("%s Probe: %v, want the redirect refused", name, err)
		}
		if strings.ContainsRune(err.Error(), '\u202e') || strings.Contains(err.Error(), "gnp") {
			t.Errorf("%s: the error quotes the Location: %q", name, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(stolen) != 0 {
		t.Fatalf("the other port got %d requests (Authorization %q)", len(stolen), stolen)
	}
}

// The OAuth sign-in sends the admin's password: never through the proxy
// the environment names.
func TestObtainGoToSocialTokenIgnoresEnvironmentProxy(t *testing.T) {
	srv := fakeserver.NewGoToSocial(fakeserver.Options{AdminEmail: oauthEmail, AdminPassword: oauthPassword})
	defer srv.Close()
	var proxied int
	var mu sync.Mutex
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		proxied++
		mu.Unlock()
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer proxy.Close()
	t.Setenv("HTTP_PROXY", proxy.URL)
	t.Setenv("NO_PROXY", "")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	base := "http://social.riverside.test:" + port
	s, err := outbound.New(outbound.Config{Resolver: table{"social.riverside.test": netip.MustParseAddr("127.0.0.1")}})
	if err != nil {
		t.Fatal(err)
	}
	token, err := drivers.ObtainGoToSocialToken(context.Background(), drivers.Config{BaseURL: base, HTTPClient: trustingOn(t, s, base)}, oauthEmail, oauthPassword)
	if err != nil || token == "" {
		t.Fatalf("sign-in: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if proxied != 0 {
		t.Fatalf("the environment's proxy got %d requests of the sign-in", proxied)
	}
}

// table resolves names from a map.
type table map[string]netip.Addr

func (tb table) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := tb[host]; ok {
		return []netip.Addr{a}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}
