package backup

import (
	"fmt"
	"regexp"
	"sort"
	"time"
)

// NameLayout is the layout of a backup's name: the UTC time it was started.
// Names sort in time order, which the shell scripts rely on.
const NameLayout = "20060102T150405Z"

var nameRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)

// Name is the name of a backup started at t.
func Name(t time.Time) string { return t.UTC().Format(NameLayout) }

// ParseName reads the time out of a backup's name.
func ParseName(name string) (time.Time, error) {
	if !nameRE.MatchString(name) {
		return time.Time{}, fmt.Errorf("%q is not a backup name such as 20261202T030000Z", name)
	}
	return time.Parse(NameLayout, name)
}

// Retention is spec.backup.retention, with its defaults applied.
type Retention struct {
	KeepLast, KeepDaily, KeepWeekly int
}

// Prune decides which complete backups to delete: all but the KeepLast
// newest, the newest of each of the KeepDaily most recent days that have a
// backup, and the newest of each of the KeepWeekly most recent weeks
// (Monday to Sunday, UTC) that have one. Days and weeks are counted among
// those that have backups, not back from today: if backups stop, pruning
// never eats the last good ones. Names that are not backup names are never
// deleted. KeepLast below 1 counts as 1: the newest is always kept. The
// result is sorted, newest first. The shell function prune in
// scripts/lib.sh is its twin (TestPruneScriptMatchesPrune).
func Prune(names []string, r Retention) []string {
	type b struct {
		name      string
		day, week int64
	}
	var bs []b
	seen := map[string]bool{}
	for _, n := range names {
		t, err := ParseName(n)
		if err != nil || seen[n] {
			continue
		}
		seen[n] = true
		y, w := t.ISOWeek()
		bs = append(bs, b{name: n, day: t.Unix() / 86400, week: int64(y)*100 + int64(w)})
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].name > bs[j].name })
	keepLast := max(r.KeepLast, 1)
	var out []string
	lastDay, lastWeek := int64(-1), int64(-1)
	days, weeks := 0, 0
	for i, x := range bs {
		keep := i < keepLast
		if x.day != lastDay {
			lastDay = x.day
			if days < r.KeepDaily {
				days++
				keep = true
			}
		}
		if x.week != lastWeek {
			lastWeek = x.week
			if weeks < r.KeepWeekly {
				weeks++
				keep = true
			}
		}
		if !keep {
			out = append(out, x.name)
		}
	}
	return out
}

// PruneFunc is Prune with a retention given as counts (KEEP_LAST,
// KEEP_DAILY, KEEP_WEEKLY): the decision the backup agent applies in a
// bucket, as the scripts' prune does on a volume.
func PruneFunc(keepLast, keepDaily, keepWeekly int) func(complete []string) []string {
	r := Retention{KeepLast: keepLast, KeepDaily: keepDaily, KeepWeekly: keepWeekly}
	return func(names []string) []string { return Prune(names, r) }
}
