// Package requeue spreads periodic work: every reconciler and the
// moderation delivery ask to be woken with RequeueAfter, and objects
// created together (a cluster restored, a chart installed) must not all
// wake together, every time, forever.
package requeue

import (
	"math/rand/v2"
	"time"
)

// Jitter returns d spread by up to ±10%. Zero and negative durations (no
// requeue) are returned as they are.
func Jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := int64(d) / 10
	return d + time.Duration(rand.Int64N(2*spread+1)-spread)
}
