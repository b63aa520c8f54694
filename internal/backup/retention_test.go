package backup

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// every returns the names of backups taken every step from start, n times.
func every(start string, step time.Duration, n int) []string {
	t, err := ParseName(start)
	if err != nil {
		panic(err)
	}
	var out []string
	for i := 0; i < n; i++ {
		out = append(out, Name(t.Add(time.Duration(i)*step)))
	}
	return out
}

var pruneCases = []struct {
	name  string
	in    []string
	r     Retention
	prune []string
}{
	{"nothing", nil, Retention{KeepLast: 3}, nil},
	{"fewer than keepLast", every("20261201T030000Z", 24*time.Hour, 2), Retention{KeepLast: 3}, nil},
	{"keepLast only", every("20261201T030000Z", 24*time.Hour, 5), Retention{KeepLast: 2},
		[]string{"20261203T030000Z", "20261202T030000Z", "20261201T030000Z"}},
	{"keepLast zero keeps the newest", every("20261201T030000Z", time.Hour, 3), Retention{},
		[]string{"20261201T040000Z", "20261201T030000Z"}},
	// Hourly backups over three days: the newest of each of the two most
	// recent days stays, with the last hour.
	{"daily keeps the newest of each day", every("20261201T000000Z", time.Hour, 72), Retention{KeepLast: 1, KeepDaily: 2},
		without(every("20261201T000000Z", time.Hour, 72), "20261203T230000Z", "20261202T230000Z")},
	// A gap of ten days: days are those that have backups, so the old
	// ones survive (a calendar count would have deleted them all).
	{"daily counts days with backups", []string{"20261120T030000Z", "20261121T030000Z", "20261201T030000Z"}, Retention{KeepLast: 1, KeepDaily: 3}, nil},
	// 2026-11-30 is a Monday: the week of 11-29 (Sunday) is the one before.
	{"weekly: weeks start on Monday", []string{"20261128T030000Z", "20261129T030000Z", "20261130T030000Z", "20261201T030000Z"}, Retention{KeepLast: 1, KeepWeekly: 2},
		[]string{"20261130T030000Z", "20261128T030000Z"}},
	// 30 daily backups to Monday 2026-11-30: the 2 last, the 3 last days,
	// and the newest of 3 weeks (the 30th, Sunday 29th, Sunday 22nd).
	{"daily and weekly together", every("20261101T030000Z", 24*time.Hour, 30), Retention{KeepLast: 2, KeepDaily: 3, KeepWeekly: 3},
		without(every("20261101T030000Z", 24*time.Hour, 30), "20261130T030000Z", "20261129T030000Z", "20261128T030000Z", "20261122T030000Z")},
	{"other names are never pruned", []string{"lost+found", "20261201T030000Z", "20261202T030000Z", "notes.txt"}, Retention{KeepLast: 1},
		[]string{"20261201T030000Z"}},
	// 2026-12-31 (Thursday) and 2027-01-03 (Sunday) are one week (ISO
	// week 53 of 2026): its newest is the Sunday.
	{"a week across the new year", []string{"20261231T030000Z", "20270103T030000Z", "20270104T030000Z"}, Retention{KeepLast: 1, KeepWeekly: 2},
		[]string{"20261231T030000Z"}},
}

// without returns all but keep, newest first (the order Prune answers in).
func without(all []string, keep ...string) []string {
	var out []string
	for _, n := range all {
		if !slices.Contains(keep, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out
}

func TestPrune(t *testing.T) {
	for _, c := range pruneCases {
		t.Run(c.name, func(t *testing.T) {
			got := Prune(c.in, c.r)
			if !slices.Equal(got, c.prune) {
				t.Errorf("Prune(%v, %+v)\n got %v\nwant %v", c.in, c.r, got, c.prune)
			}
		})
	}
}

// TestPruneScriptMatchesPrune runs the shell twin of Prune (what the backup
// Job runs after a backup) on a directory standing for the PVC, under sh
// and bash, and checks it deletes exactly what Prune decides, plus
// incomplete backups older than the newest complete one.
func TestPruneScriptMatchesPrune(t *testing.T) {
	for _, shell := range shells(t) {
		for _, c := range pruneCases {
			t.Run(shell+"/"+c.name, func(t *testing.T) {
				root := t.TempDir()
				for _, n := range c.in {
					mustWrite(t, filepath.Join(root, n, "manifest.json"), "{}")
				}
				// Leftovers of runs cut short: the old one goes, one newer
				// than every complete backup (still being written) stays.
				mustWrite(t, filepath.Join(root, "20200101T000000Z", "database.pgdump"), "partial")
				mustWrite(t, filepath.Join(root, "20991231T000000Z", "database.pgdump"), "in progress")
				if out, err := runScript(t, nil, shell, PruneScript(), "BACKUP_ROOT="+root,
					"KEEP_LAST="+itoa(max(c.r.KeepLast, 1)), "KEEP_DAILY="+itoa(c.r.KeepDaily), "KEEP_WEEKLY="+itoa(c.r.KeepWeekly)); err != nil {
					t.Fatalf("prune: %v\n%s", err, out)
				}
				want := []string{"20991231T000000Z"}
				for _, n := range c.in {
					if !slices.Contains(c.prune, n) {
						want = append(want, n)
					}
				}
				if len(c.in) == 0 || onlyOthers(c.in) {
					want = append(want, "20200101T000000Z") // no complete backup: nothing is a leftover yet
				}
				slices.Sort(want)
				got := ls(t, root)
				if !slices.Equal(got, want) {
					t.Errorf("after the prune script:\n got %v\nwant %v", got, want)
				}
			})
		}
	}
}

func onlyOthers(names []string) bool {
	for _, n := range names {
		if _, err := ParseName(n); err == nil {
			return false
		}
	}
	return true
}

func ls(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out
}
