package backup

import (
	"testing"
	"time"
)

func TestNextAndInterval(t *testing.T) {
	at := time.Date(2026, 12, 2, 18, 4, 0, 0, time.UTC) // a Wednesday
	cases := []struct {
		schedule string
		next     time.Time
		interval time.Duration
	}{
		{"0 3 * * *", time.Date(2026, 12, 3, 3, 0, 0, 0, time.UTC), 24 * time.Hour},
		{"*/15 * * * *", time.Date(2026, 12, 2, 18, 15, 0, 0, time.UTC), 15 * time.Minute},
		// Weekdays only: the weekend makes the longest gap, Friday to Monday.
		{"30 2 * * 1-5", time.Date(2026, 12, 3, 2, 30, 0, 0, time.UTC), 72 * time.Hour},
		// Monthly: the longest gap is after a 31-day month.
		{"0 4 1 * *", time.Date(2027, 1, 1, 4, 0, 0, 0, time.UTC), 31 * 24 * time.Hour},
	}
	for _, c := range cases {
		n, err := Next(c.schedule, at)
		if err != nil || !n.Equal(c.next) {
			t.Errorf("Next(%q) = %v, %v; want %v", c.schedule, n, err, c.next)
		}
		d, err := Interval(c.schedule, at)
		if err != nil || d != c.interval {
			t.Errorf("Interval(%q) = %v, %v; want %v", c.schedule, d, err, c.interval)
		}
	}
	// A time given in another zone is the same instant: the CronJob runs in UTC.
	paris := at.In(time.FixedZone("CET", 3600))
	if n, _ := Next("0 3 * * *", paris); !n.Equal(cases[0].next) {
		t.Errorf("Next in another zone = %v", n)
	}
	for _, bad := range []string{"0 3 30 2 *", "61 * * * *", "0 3 * *"} {
		if _, err := Next(bad, at); err == nil {
			t.Errorf("Next(%q) accepted", bad)
		}
		if _, err := Interval(bad, at); err == nil {
			t.Errorf("Interval(%q) accepted", bad)
		}
	}
}
