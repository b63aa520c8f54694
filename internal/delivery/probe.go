package delivery

import (
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
)

// probeTTL is how long what a server's probe found is reused by the next
// passes of the same driver. A probe is 3 to 4 calls in a row (version,
// then a token and capability check per collection) before the server's
// lists are read: reused, a pass after a policy change is 2 or 3 reads and
// the writes, and a change reaches many servers sooner (make
// bench-propagation). A server upgraded meanwhile is found out at most
// probeTTL later: a pass more than probeTTL after the last probe probes
// again, so drift checks (every 30 minutes by default) always do.
const probeTTL = 10 * time.Minute

// probed is a successful probe of one driver (see driverKey).
type probed struct {
	caps drivers.Capabilities
	at   time.Time
}

// recentProbe returns the capabilities the driver's last probe found,
// when that was less than probeTTL ago and no pass failed since.
func (s *Syncer) recentProbe(key string, now time.Time) (drivers.Capabilities, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pr, ok := s.probes[key]
	if !ok || now.Sub(pr.at) >= probeTTL || now.Before(pr.at) {
		return drivers.Capabilities{}, false
	}
	return pr.caps, true
}

// rememberProbe keeps a successful probe for the next passes.
func (s *Syncer) rememberProbe(key string, caps drivers.Capabilities, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.probes == nil {
		s.probes = map[string]probed{}
	}
	s.probes[key] = probed{caps: caps, at: now}
}

// forgetProbe makes the next pass probe again: after any failure the
// server may have changed (a revoked token, a downgrade, a new proxy), and
// the probe's messages say best what is wrong.
func (s *Syncer) forgetProbe(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.probes, key)
}
