package delivery

import (
	"errors"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"

	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/requeue"
)

// Durable backoff. A failed pass (or one a 429 stopped) records in
// status.federation how many passes failed in a row and when the server
// may be called again; plan reads them back before contacting the server.
// Keeping them in the Instance's status rather than in a workqueue's
// memory is what makes the backoff survive a restart, a leader change or
// a reconcile for an unrelated reason (a child's status): none of them
// calls a struggling server early.
//
// This is cert-manager's model for certificate issuance: the trigger
// controller (cert-manager pkg/controller/certificates/trigger,
// shouldBackoffReissuingOnFailure, design 20220118.exponential-backoff)
// keeps status.failedIssuanceAttempts and status.lastFailureTime on the
// Certificate and does not re-issue before lastFailureTime + 1h·2^(n-1)
// (capped at 32h), unless the Certificate's spec changed. Our base and cap
// are shorter (an admin API recovers in minutes, not a CA's rate window)
// and a server's own Retry-After is honoured when longer.
const (
	// backoffBase is the wait after the first failure; it doubles with
	// each further one up to backoffCap.
	backoffBase = time.Minute
	backoffCap  = time.Hour
	// maxRetryAfter bounds a Retry-After the server sends: a hostile or
	// broken server cannot park delivery for a year.
	maxRetryAfter = 6 * time.Hour
)

// backoffFor is the wait after the failures-th failure in a row, at least
// retryAfter (bounded) when the server asked for one.
func backoffFor(failures int32, retryAfter time.Duration) time.Duration {
	d := backoffBase
	for i := int32(1); i < failures && d < backoffCap; i++ {
		d *= 2
	}
	d = requeue.Jitter(min(d, backoffCap))
	return max(d, min(retryAfter, maxRetryAfter))
}

// retryAfterOf is how long a rate-limited server asked us to wait, or 0.
func retryAfterOf(err error) time.Duration {
	var rl *drivers.RateLimitedError
	if errors.As(err, &rl) {
		return rl.RetryAfter
	}
	return 0
}

// backingOff tells whether the server must not be called yet, and for how
// long: the last pass failed or was rate limited and its nextRetryTime has
// not come. A change to the Instance's spec (a sysadmin fixing the URL or
// the token reference) is not held back: it retries at once, as
// cert-manager re-issues at once when the Certificate's spec changed. A
// change of policy is held back: the struggling server gets it when it may
// be called again.
func (p *pass) backingOff(now time.Time) (time.Duration, bool) {
	if p.prev == nil || p.prev.NextRetryTime == nil || p.inst.Status.ObservedGeneration != p.inst.Generation {
		return 0, false
	}
	wait := p.prev.NextRetryTime.Sub(now)
	return wait, wait > 0
}

// backoffOutcome leaves condition and status as the failed pass wrote
// them and comes back at nextRetryTime.
func (p *pass) backoffOutcome(wait time.Duration) Outcome {
	return p.finish(Outcome{RequeueAfter: wait + time.Second})
}

// nextRetry is the time the server may be called again after waiting d.
func nextRetry(now time.Time, d time.Duration) *metav1.Time {
	t := metav1.NewTime(now.Add(d).Truncate(time.Second).Add(time.Second))
	return &t
}

// wait is a backoff this process decided for an Instance's generation.
type wait struct {
	generation int64
	status     v1alpha1.FederationSyncStatus
}

// rememberWait keeps the status of a pass that set a nextRetryTime, and
// forgets it once a pass clears it. The Instance reconciler writes that
// status, but a pass queued meanwhile may start from the cache before the
// write shows there: without this it would see no backoff and call the
// failing server again at once (seen in the backoff spec under load).
// The status in the API server stays the durable record; this only covers
// the moment until the cache has it.
func (s *Syncer) rememberWait(p *pass, out Outcome) Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case out.Status != nil && out.Status.NextRetryTime != nil:
		if s.waits == nil {
			s.waits = map[types.UID]wait{}
		}
		s.waits[p.inst.UID] = wait{generation: p.inst.Generation, status: *out.Status.DeepCopy()}
	case out.Status != nil || out.RemoveCondition:
		delete(s.waits, p.inst.UID)
	}
	return out
}

// recallWait puts the remembered backoff in place of the cached status
// when the cache has not caught up with it yet: same generation, and the
// cached status has no later nextRetryTime.
func (s *Syncer) recallWait(p *pass) {
	s.mu.Lock()
	w, ok := s.waits[p.inst.UID]
	s.mu.Unlock()
	if !ok || w.generation != p.inst.Generation {
		return
	}
	if prev := p.prev; prev != nil && prev.NextRetryTime != nil && !prev.NextRetryTime.Before(w.status.NextRetryTime) {
		return
	}
	st := w.status
	p.prev = &st
}
