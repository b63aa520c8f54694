package moderation

import (
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// validPunycode reports whether lookup.ToUnicode(s) succeeds, for s a
// lower-case ASCII host name with at least one "xn--" label (fastASCII
// and isNormalized ask it). It answers from a cache of labels where it
// can, and asks IDNA otherwise, so IDNA stays the judge.
//
// Why a cache (issue 16 item 4): lists name many hosts under a few IDN
// labels (".рф" is "xn--p1ai" on every one of them), and IDNA on each whole
// name, twice (parse, then merge), was a tenth of parsing and merging ten
// large lists.
//
// Why by label: for such a name, IDNA checks each label on its own, and
// looks across labels only when one of them is right-to-left (the Bidi
// rule). So the name passes when every "xn--" label passed alone and has
// only code points below U+0590 (no right-to-left script starts below
// Hebrew), and every other label is plain letters, digits and hyphens
// that IDNA's hyphen rule lets through. Anything else goes to IDNA whole.
// TestValidPunycodeLikeIDNA checks the two answers agree.
func validPunycode(s string) bool {
	if fastPunycode(s) {
		return true
	}
	_, err := lookup.ToUnicode(s)
	return err == nil
}

func fastPunycode(s string) bool {
	for s != "" {
		label := s
		if i := strings.IndexByte(s, '.'); i >= 0 {
			label, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if isPunycodeLabel(label) {
			if !goodIDNLabel(label) {
				return false
			}
			continue
		}
		if !plainLabel(label) {
			return false
		}
	}
	return true
}

// plainLabel: letters, digits and inner hyphens, and no "--" at the third
// and fourth characters, which IDNA's hyphen rule refuses.
func plainLabel(l string) bool {
	if l == "" || l[0] == '-' || l[len(l)-1] == '-' || len(l) > 4 && l[2] == '-' && l[3] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// goodLabels holds "xn--" labels that pass IDNA alone and decode to code
// points below U+0590; at most maxGoodLabels, the first seen.
var (
	goodLabels     sync.Map
	goodLabelCount atomic.Int32
)

const maxGoodLabels = 4096

func goodIDNLabel(label string) bool {
	if _, ok := goodLabels.Load(label); ok {
		return true
	}
	u, err := lookup.ToUnicode(label)
	if err != nil {
		return false
	}
	for _, r := range u {
		if r >= 0x590 || r == utf8.RuneError {
			return false
		}
	}
	if goodLabelCount.Load() < maxGoodLabels {
		if _, loaded := goodLabels.LoadOrStore(strings.Clone(label), struct{}{}); !loaded {
			goodLabelCount.Add(1)
		}
	}
	return true
}
