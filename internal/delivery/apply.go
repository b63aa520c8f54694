package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/outbound"
)

// server is a connected admin API: its driver, what the server can hold
// and everything it holds now, all pages.
type server struct {
	// key is the driver's (driverKey), under which its probe is kept.
	key     string
	drv     drivers.Driver
	caps    drivers.Capabilities
	current []moderation.ServerEntry
}

// connect builds the driver for the Instance's current token, probes the
// server (unless a pass probed it less than probeTTL ago) and lists its
// entries; any failure ends the pass before a plan exists and makes the
// next pass probe again. A token the operator obtained by signing in that the server
// refuses (revoked in the settings panel, or the server's database
// restored without it) is replaced once and the calls retried; any other
// token is the sysadmin's or generated, and its refusal is reported as it
// is.
func (s *Syncer) connect(ctx, sctx context.Context, p *pass, apiURL string) (*server, error) {
	token, err := s.token(ctx, p, apiURL)
	if err != nil {
		return nil, err
	}
	name := p.profile.ModerationDriver
	trusted := s.trustedFor(p, apiURL)
	for attempt := 0; ; attempt++ {
		drv, err := s.driver(name, apiURL, p.host, token, trusted)
		if err != nil {
			return nil, err
		}
		srv := &server{key: driverKey(name, apiURL, p.host, token, trusted), drv: drv}
		caps, recent := s.recentProbe(srv.key, time.Now())
		if recent {
			srv.caps = caps
		} else if srv.caps, err = drv.Probe(sctx); err == nil {
			s.rememberProbe(srv.key, srv.caps, time.Now())
		}
		if err == nil {
			srv.current, err = drv.List(sctx)
		}
		if err == nil {
			return srv, nil
		}
		s.forgetProbe(srv.key)
		if attempt > 0 || !signsIn(p) || !drivers.Unauthorized(err) {
			return nil, err
		}
		renewed, rerr := s.renewToken(sctx, p, apiURL, token)
		if rerr != nil {
			return nil, fmt.Errorf("the server refused the stored admin token (%v); obtaining a new one failed: %w", err, rerr)
		}
		s.forgetDriver(name, apiURL, p.host, token, trusted)
		// The new token is used as returned: the cache may not show the
		// Secret's new value for a moment.
		token = renewed
	}
}

// applyChanges sends the planned calls. On a deadline or persistent rate
// limiting the driver stops cleanly with an error matching
// drivers.ErrStopped; a fresh List and Diff resumes the work next pass.
func (s *Syncer) applyChanges(sctx context.Context, srv *server, ch changes) (drivers.ApplyResult, error) {
	if ch.plan.Empty() {
		return drivers.ApplyResult{}, nil
	}
	res, err := srv.drv.Apply(sctx, ch.plan, nil)
	if err != nil || len(res.Failed) > 0 {
		s.forgetProbe(srv.key)
	}
	return res, err
}

// driver returns the cached driver of (name, URL, Host, token, trust),
// building it the first time.
func (s *Syncer) driver(name, apiURL, host, token string, trusted []outbound.Trusted) (drivers.Driver, error) {
	key := driverKey(name, apiURL, host, token, trusted)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.drivers[key]; ok {
		return d, nil
	}
	hc, err := s.httpClient(trusted)
	if err != nil {
		return nil, err
	}
	d, err := drivers.New(name, drivers.Config{
		BaseURL:    apiURL,
		Token:      token,
		HTTPClient: asIngress(hc, apiURL, host),
		RateLimit:  s.Options.AdminRateLimit,
	})
	if err != nil {
		return nil, err
	}
	if s.drivers == nil {
		s.drivers = map[string]drivers.Driver{}
	}
	s.drivers[key] = d
	return d, nil
}

// forgetDriver drops the cached driver of a token no longer in use.
func (s *Syncer) forgetDriver(name, apiURL, host, token string, trusted []outbound.Trusted) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := driverKey(name, apiURL, host, token, trusted)
	delete(s.drivers, key)
	delete(s.probes, key)
}

// driverKey identifies a driver by its server, the Host it sends, a digest
// of its token (so the token itself is not kept as a map key) and whether
// its client trusts the server's address: a driver built for a hosted
// Instance's own Service is never handed to a caller for whom that address
// is not trusted.
func driverKey(name, apiURL, host, token string, trusted []outbound.Trusted) string {
	sum := sha256.Sum256([]byte(token))
	key := name + "\x00" + apiURL + "\x00" + host + "\x00" + hex.EncodeToString(sum[:])
	for _, t := range trusted {
		key += "\x00" + t.Host + "=" + t.Resolve
	}
	return key
}
