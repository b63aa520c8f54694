package conformance

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// gtsVersions are the GoToSocial versions the suite has met, with what
// each has. A version not listed fails the real-server test until someone
// has checked it and added it here (and the fake's configuration with it).
var gtsVersions = map[string]struct{ allows, limits bool }{
	"0.20.0-rc1": {allows: true, limits: false},
}

// gtsTarget is a GoToSocial version as the contracts expect it.
func gtsTarget(name, version string) target {
	v := gtsVersions[version]
	return target{
		name: name, driver: "gotosocial", version: version,
		allows: v.allows, limits: v.limits,
		// GoToSocial's defaults (advanced-rate-limit-requests: 300 per
		// 5 minutes per client address).
		rateLimit: 300, rateWindow: 5 * time.Minute,
	}
}

// fakeUserToken is the fake's token of an account without the admin role.
const fakeUserToken = "fake-user-token"

// TestFakeGoToSocial runs the contracts against the fake GoToSocial
// configured as the version the real-server test checks.
func TestFakeGoToSocial(t *testing.T) {
	tg := gtsTarget("fake GoToSocial 0.20.0-rc1", "0.20.0-rc1")
	tg.open = func(t *testing.T, id int) *endpoint {
		srv := fakeserver.NewGoToSocial(fakeserver.Options{
			Version: tg.version, NoDomainLimits: !tg.limits,
			RateLimit: tg.rateLimit, RateWindow: tg.rateWindow,
			// Long enough that two writes at once always meet; the real
			// server's side effects of an empty domain take from
			// microseconds to half a second (SQLite contention).
			ActionDuration: 100 * time.Millisecond,
		})
		t.Cleanup(srv.Close)
		srv.AcceptUserToken(fakeUserToken)
		return &endpoint{url: srv.URL, token: fakeserver.DefaultToken, userToken: fakeUserToken, wire: newWire(""),
			suffix: fmt.Sprintf("c%d.conformance.example", id), fake: srv}
	}
	runContracts(t, tg)
}

// TestRealGoToSocial runs the contracts and the hosted-profile check
// against a real GoToSocial on loopback.
func TestRealGoToSocial(t *testing.T) {
	bin, err := goToSocialBinary()
	if err != nil {
		t.Fatal(err)
	}
	if bin == "" {
		t.Skip(enableHint)
	}
	start := time.Now()
	srv := startContractServer(t, bin)
	t.Logf("GoToSocial %s on %s, admin and user signed in, in %s", srv.version, srv.proc.baseURL(), time.Since(start).Round(100*time.Millisecond))
	if _, known := gtsVersions[srv.version]; !known {
		t.Fatalf("GoToSocial %s is not in gtsVersions: check what it has (run the suite, read its failures) and add it", srv.version)
	}
	tg := gtsTarget("GoToSocial "+srv.version, srv.version)
	tg.open = func(t *testing.T, id int) *endpoint {
		return &endpoint{url: srv.proc.baseURL(), token: srv.adminToken, userToken: srv.userToken, wire: newWire(nextAddr()),
			suffix: fmt.Sprintf("c%d.conformance.example", id)}
	}
	runContracts(t, tg)
	t.Run("hosted-profile", func(t *testing.T) { hostedProfileCheck(t, bin) })
}

// realGTS is the contracts' real server.
type realGTS struct {
	proc                  *gtsProcess
	version               string
	adminToken, userToken string
}

// Accounts of the contracts' server. GoToSocial wants strong passwords.
const (
	contractAdminPassword = "Conformance-admin-9f3c7a1e2b"
	contractUserPassword  = "Conformance-user-4d8e6b2a7c"
)

// startContractServer starts GoToSocial as its README runs it on loopback
// (SQLite in a temp dir), makes an admin and a plain user with its own
// CLI (restarting after the promotion, which the account cache needs),
// and signs both in through the OAuth flow the operator uses.
func startContractServer(t *testing.T, bin string) *realGTS {
	t.Helper()
	dir := t.TempDir()
	p := &gtsProcess{bin: bin, dir: filepath.Dir(bin), port: freePort(t), log: filepath.Join(dir, "gotosocial.log")}
	p.env = append(baseEnv(),
		"GTS_HOST=gts.conformance.test", "GTS_PROTOCOL=http",
		"GTS_BIND_ADDRESS=127.0.0.1", "GTS_PORT="+strconv.Itoa(p.port),
		"GTS_DB_TYPE=sqlite", "GTS_DB_ADDRESS="+filepath.Join(dir, "sqlite.db"),
		"GTS_STORAGE_LOCAL_BASE_PATH="+filepath.Join(dir, "storage"),
		"GTS_LETSENCRYPT_ENABLED=false",
		// The suite reaches it from loopback and names each case's client
		// in X-Forwarded-For: the loopback proxy is trusted.
		"GTS_TRUSTED_PROXIES=127.0.0.1/32",
	)
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("end of the GoToSocial log:\n%s", p.tail())
		}
	})
	p.start(t, "/readyz", "server", "start")
	cli := func(args ...string) { p.run(t, p.env, bin, append([]string{"admin", "account"}, args...)...) }
	cli("create", "--username", "admin", "--email", "admin@gts.conformance.test", "--password", contractAdminPassword)
	cli("confirm", "--username", "admin")
	cli("promote", "--username", "admin")
	cli("create", "--username", "plain", "--email", "plain@gts.conformance.test", "--password", contractUserPassword)
	cli("confirm", "--username", "plain")
	p.stop(t)
	p.start(t, "/readyz", "server", "start")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := &realGTS{proc: p}
	var err error
	// The test's own transport: the operator's guarded stack refuses
	// loopback, which only the operator's own Services may be.
	cfg := drivers.Config{BaseURL: p.baseURL(), HTTPClient: &http.Client{Transport: http.DefaultTransport}}
	if srv.adminToken, err = drivers.ObtainGoToSocialToken(ctx, cfg, "admin@gts.conformance.test", contractAdminPassword); err != nil {
		t.Fatalf("admin sign-in: %v", err)
	}
	if srv.userToken, err = drivers.ObtainGoToSocialToken(ctx, cfg, "plain@gts.conformance.test", contractUserPassword); err != nil {
		t.Fatalf("user sign-in: %v", err)
	}
	resp, err := http.Get(p.baseURL() + "/api/v1/instance")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info struct{ Version string }
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	srv.version = info.Version
	return srv
}
