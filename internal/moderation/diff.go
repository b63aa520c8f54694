package moderation

import (
	"slices"
	"strings"
)

// entryKey identifies an entry on a server. Servers keep allows and blocks
// in separate lists, so one domain can have one of each.
type entryKey struct {
	domain string
	allow  bool
}

func keyOf(e Entry) entryKey { return entryKey{domain: e.Domain, allow: e.isAllow()} }

// Diff computes the fewest writes that make a server's managed entries say
// what desired says (desired is normally Policy.Desired()).
//
//   - Entries are matched by (domain, allow or block).
//   - An entry without the ownership marker (Managed == false) is never
//     updated or deleted; all of them are counted in Unmanaged. If one
//     already imposes at least what a desired entry asks, the desired entry
//     is Covered; if it is milder, the desired entry is a Conflict.
//   - A desired block that would be new is Covered when a block on a parent
//     domain that stays on the server (desired, or not ours) is at least as
//     strict: a block covers subdomains, and Mastodon refuses the
//     redundant one with 422.
//   - A managed entry that matches a desired one is kept when it says the
//     same thing and updated otherwise; private comments alone never cause
//     an update (see sameOnServer). A managed entry nothing desired matches
//     is deleted, as are duplicates.
//
// Desired entries should be unique per key; if not, the first one counts.
// Every list in the plan is sorted by domain.
func Diff(desired []Entry, current []ServerEntry) Plan {
	var plan Plan

	// The server's entries by key, managed and unmanaged apart.
	managed := make(map[entryKey][]int, len(current))
	unmanaged := make(map[entryKey][]int)
	for i := range current {
		k := keyOf(current[i].Entry)
		if current[i].Managed {
			managed[k] = append(managed[k], i)
		} else {
			unmanaged[k] = append(unmanaged[k], i)
			plan.Unmanaged++
		}
	}

	// Desired entries in key order, first occurrence of each key.
	order := make([]int, 0, len(desired))
	for i := range desired {
		order = append(order, i)
	}
	compareKeys := func(a, b int) int {
		if c := strings.Compare(desired[a].Domain, desired[b].Domain); c != 0 {
			return c
		}
		return int(flag(desired[a].isAllow())) - int(flag(desired[b].isAllow()))
	}
	if !slices.IsSortedFunc(order, compareKeys) {
		slices.SortStableFunc(order, compareKeys)
	}
	want := make(map[entryKey]int, len(desired))
	unique := order[:0]
	for _, i := range order {
		k := keyOf(desired[i])
		if _, dup := want[k]; dup {
			continue
		}
		want[k] = i
		unique = append(unique, i)
	}
	order = unique

	// conflicted reports whether a desired entry cannot be applied because
	// a milder unmanaged entry holds its key.
	conflicted := func(d Entry, k entryKey) (ServerEntry, bool) {
		if len(managed[k]) > 0 {
			return ServerEntry{}, false
		}
		others := unmanaged[k]
		if len(others) == 0 {
			return ServerEntry{}, false
		}
		for _, j := range others {
			if k.allow || atLeastAsStrict(current[j].Entry, d) {
				return ServerEntry{}, false
			}
		}
		return current[others[0]], true
	}

	// coveredByParent reports whether a block on a parent domain that will
	// be on the server after the plan imposes at least what d asks.
	coveredByParent := func(d Entry) bool {
		covered := false
		parentDomains(d.Domain, func(parent string) bool {
			k := entryKey{domain: parent}
			if i, ok := want[k]; ok && desired[i].Imposes() && atLeastAsStrict(desired[i], d) {
				if _, blocked := conflicted(desired[i].Canonical(), k); !blocked {
					covered = true
					return false
				}
			}
			for _, j := range unmanaged[k] {
				if atLeastAsStrict(current[j].Entry, d) {
					covered = true
					return false
				}
			}
			return true
		})
		return covered
	}

	for _, i := range order {
		d := desired[i].Canonical()
		k := keyOf(d)
		if have := managed[k]; len(have) > 0 {
			keep := pickManaged(current, have, d)
			if !sameOnServer(current[keep].Entry, d) {
				plan.Update = append(plan.Update, Update{ID: current[keep].ID, From: current[keep].Entry, To: d})
			}
			for _, j := range have {
				if j != keep {
					plan.Delete = append(plan.Delete, current[j])
				}
			}
			continue
		}
		if have, blocked := conflicted(d, k); blocked {
			plan.Conflicts = append(plan.Conflicts, Conflict{Want: d, Have: have})
			continue
		}
		if len(unmanaged[k]) > 0 || (!k.allow && coveredByParent(d)) {
			plan.Covered = append(plan.Covered, d)
			continue
		}
		plan.Create = append(plan.Create, d)
	}

	// Managed entries nothing desired matches.
	start := len(plan.Delete)
	for k, have := range managed {
		if _, ok := want[k]; ok {
			continue
		}
		for _, j := range have {
			plan.Delete = append(plan.Delete, current[j])
		}
	}
	if len(plan.Delete) > start || start > 0 {
		slices.SortFunc(plan.Delete, func(a, b ServerEntry) int {
			if c := strings.Compare(a.Domain, b.Domain); c != 0 {
				return c
			}
			if a.isAllow() != b.isAllow() {
				return int(flag(a.isAllow())) - int(flag(b.isAllow()))
			}
			return strings.Compare(a.ID, b.ID)
		})
	}
	return plan
}

// pickManaged chooses which of several managed entries for one key to keep:
// one that already says what is desired, else the one with the smallest ID,
// so the choice does not depend on the order the server listed them in.
func pickManaged(current []ServerEntry, have []int, d Entry) int {
	keep := -1
	for _, j := range have {
		same := sameOnServer(current[j].Entry, d)
		switch {
		case keep < 0:
			keep = j
		case same && !sameOnServer(current[keep].Entry, d):
			keep = j
		case same == sameOnServer(current[keep].Entry, d) && current[j].ID < current[keep].ID:
			keep = j
		}
	}
	return keep
}
