package backup

import (
	"fmt"
	"sync"
	"time"

	"github.com/robfig/cron/v3"
)

// The schedule is read with the parser kube-controller-manager's CronJob
// controller uses (robfig/cron/v3, standard five fields), so the times in
// status.backup are the times the CronJob fires. The CronJob runs in UTC
// (its timeZone is Etc/UTC), so the times are computed in UTC.

// Bounds of Interval's walk: enough runs and days to see a weekly or
// monthly pattern, few enough that a pass stays cheap whatever the schedule.
const (
	intervalMaxRuns = 2000
	intervalSpan    = 400 * 24 * time.Hour
)

// Next is the first time schedule fires after t.
func Next(schedule string, t time.Time) (time.Time, error) {
	s, err := cron.ParseStandard(schedule)
	if err != nil {
		return time.Time{}, fmt.Errorf("spec.backup.schedule %q: %w", schedule, err)
	}
	n := s.Next(t.UTC())
	if n.IsZero() {
		// robfig gives up after five years: a date that never comes
		// (such as 30 February).
		return time.Time{}, fmt.Errorf("spec.backup.schedule %q never fires", schedule)
	}
	return n, nil
}

// Interval is the longest time between two runs of schedule from t on,
// over the next 400 days or 2000 runs: "0 3 * * 1-5" is 3 days (Friday to
// Monday), not one. The missed-backup alert compares the age of the last
// good backup with twice this. The walk costs milliseconds for a schedule
// that fires every minute, and every reconcile pass asks: the answer is
// kept per schedule for the day (at most maxIntervalMemo schedules).
func Interval(schedule string, t time.Time) (time.Duration, error) {
	day := t.UTC().Unix() / 86400
	intervalMu.Lock()
	m, ok := intervalMemo[schedule]
	intervalMu.Unlock()
	if ok && m.day == day {
		return m.d, nil
	}
	d, err := interval(schedule, t)
	if err == nil {
		intervalMu.Lock()
		if len(intervalMemo) >= maxIntervalMemo {
			clear(intervalMemo)
		}
		intervalMemo[schedule] = memo{day: day, d: d}
		intervalMu.Unlock()
	}
	return d, err
}

type memo struct {
	day int64
	d   time.Duration
}

const maxIntervalMemo = 1024

var (
	intervalMu   sync.Mutex
	intervalMemo = map[string]memo{}
)

func interval(schedule string, t time.Time) (time.Duration, error) {
	s, err := cron.ParseStandard(schedule)
	if err != nil {
		return 0, fmt.Errorf("spec.backup.schedule %q: %w", schedule, err)
	}
	prev := s.Next(t.UTC())
	if prev.IsZero() {
		return 0, fmt.Errorf("spec.backup.schedule %q never fires", schedule)
	}
	end := prev.Add(intervalSpan)
	var longest time.Duration
	for i := 0; i < intervalMaxRuns && prev.Before(end); i++ {
		next := s.Next(prev)
		if next.IsZero() {
			break
		}
		longest = max(longest, next.Sub(prev))
		prev = next
	}
	if longest == 0 {
		return 0, fmt.Errorf("spec.backup.schedule %q fires only once", schedule)
	}
	return longest, nil
}
