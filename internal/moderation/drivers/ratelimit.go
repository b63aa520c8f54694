package drivers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock is the time source of the rate limiter and 429 back-off, injectable
// so tests exercise real waits without sleeping.
type Clock interface {
	Now() time.Time
	// Sleep waits for d or until ctx is done, whichever comes first.
	Sleep(ctx context.Context, d time.Duration) error
}

type wallClock struct{}

func (wallClock) Now() time.Time { return time.Now() }

func (wallClock) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RateLimitedError says the server (or our own budget for it) wants us to
// wait longer than we are willing to wait in place.
type RateLimitedError struct {
	Server, Call string
	RetryAfter   time.Duration
	// Reason says why the wait was not taken.
	Reason string
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("%s: %s: rate limited, retry after %s (%s)", e.Server, e.Call, e.RetryAfter.Round(time.Millisecond), e.Reason)
}

// limiter is a token bucket plus a "paused until" instant learnt from the
// server (Retry-After, X-RateLimit-Reset). Waits are reserved up front, so
// concurrent callers queue in order; a wait that is too long is given back
// and reported instead of taken.
type limiter struct {
	mu          sync.Mutex
	clock       Clock
	rate        float64 // tokens per second; 0 means no client-side budget
	burst       float64
	tokens      float64
	last        time.Time
	pausedUntil time.Time
	maxWait     time.Duration
}

func newLimiter(rl RateLimit, clock Clock) *limiter {
	l := &limiter{clock: clock, maxWait: rl.MaxWait}
	if rl.Requests > 0 && rl.Period > 0 {
		l.burst = float64(rl.Requests)
		l.rate = float64(rl.Requests) / rl.Period.Seconds()
		l.tokens = l.burst
	}
	l.last = clock.Now()
	return l
}

// reserve takes one token and returns how long the caller must wait before
// using it.
func (l *limiter) reserve() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.clock.Now()
	var d time.Duration
	if l.rate > 0 {
		if el := now.Sub(l.last).Seconds(); el > 0 {
			l.tokens = min(l.burst, l.tokens+el*l.rate)
		}
		l.last = now
		l.tokens--
		if l.tokens < 0 {
			d = time.Duration(-l.tokens / l.rate * float64(time.Second))
		}
	}
	if p := l.pausedUntil.Sub(now); p > d {
		d = p
	}
	return d
}

func (l *limiter) giveBack() {
	if l.rate == 0 {
		return
	}
	l.mu.Lock()
	l.tokens = min(l.burst, l.tokens+1)
	l.mu.Unlock()
}

// wait blocks until a request may be sent, or says why it will not wait.
func (l *limiter) wait(ctx context.Context) (time.Duration, string, error) {
	d := l.reserve()
	if d <= 0 {
		return 0, "", nil
	}
	if d > l.maxWait {
		l.giveBack()
		return d, fmt.Sprintf("wait exceeds the %s allowed in place", l.maxWait), nil
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		l.giveBack()
		return d, "wait would outlast the deadline", nil
	}
	if err := l.clock.Sleep(ctx, d); err != nil {
		return 0, "", err
	}
	return 0, "", nil
}

// pauseUntil makes every request wait until t.
func (l *limiter) pauseUntil(t time.Time) {
	l.mu.Lock()
	if t.After(l.pausedUntil) {
		l.pausedUntil = t
	}
	l.mu.Unlock()
}

// observe learns from X-RateLimit-Remaining / X-RateLimit-Reset: the server
// counts for the token across every client using it, so its numbers beat
// our bucket's.
func (l *limiter) observe(h http.Header) {
	rem, err := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Remaining")))
	if err != nil {
		return
	}
	now := l.clock.Now()
	if l.rate > 0 {
		l.mu.Lock()
		l.tokens = min(l.tokens, float64(rem))
		l.mu.Unlock()
	}
	if rem <= 0 {
		if reset, ok := parseReset(h.Get("X-RateLimit-Reset"), now); ok {
			l.pauseUntil(reset)
		}
	}
}

// parseReset reads X-RateLimit-Reset, which Mastodon sends as an ISO 8601
// instant and other servers as Unix seconds or seconds from now.
func parseReset(v string, now time.Time) (time.Time, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > 1_000_000_000 {
			return time.Unix(n, 0), true
		}
		return now.Add(time.Duration(n) * time.Second), true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// retryAfter reads how long a 429 asks us to wait: Retry-After in seconds
// or as an HTTP date, else X-RateLimit-Reset (all real Mastodon sends),
// else fallback.
func retryAfter(h http.Header, now time.Time, fallback time.Duration) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			return time.Duration(n) * time.Second
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(0, t.Sub(now))
		}
	}
	if t, ok := parseReset(h.Get("X-RateLimit-Reset"), now); ok {
		return max(0, t.Sub(now))
	}
	return fallback
}
