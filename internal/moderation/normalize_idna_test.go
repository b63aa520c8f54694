package moderation

import (
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// idnaLabels mixes labels IDNA takes and refuses: plain ones, ones its
// hyphen rule refuses, left-to-right IDN labels (Latin, Cyrillic),
// right-to-left ones (Arabic, Hebrew) under which the Bidi rule refuses a
// label starting with a digit, CJK, and broken punycode.
var idnaLabels = []string{
	"example", "a", "1abc", "123", "a-b", "ab--cd", "abc-", "x_y", "_dmarc",
	"xn--bcher-kva", "xn--p1ai", "xn--mnchen-3ya", "xn--caf-dma", "xn--e1afmkfd", "xn--strae-oqa",
	"xn--mgbh0fb", "xn--4dbrk0ce", "xn--wgv71a119e", "xn--fiqs8s",
	"xn--", "xn--a", "xn--abc", "xn--zz-", "xn--ls8h", "xn--bcher-kva0", "xn--0ca", "xn--a-ecp.ru",
	"xn--1ca", "xn--ab--cd", "xn--n3h",
}

// TestValidPunycodeLikeIDNA: for every name of one to three of those
// labels that contains an "xn--" label, validPunycode answers what IDNA
// answers for the whole name, whatever the cache already holds.
func TestValidPunycodeLikeIDNA(t *testing.T) {
	profile := idna.New(idna.MapForLookup(), idna.BidiRule(), idna.Transitional(false), idna.StrictDomainName(false))
	var names []string
	for _, a := range idnaLabels {
		names = append(names, a)
		for _, b := range idnaLabels {
			names = append(names, a+"."+b)
			for _, c := range idnaLabels {
				names = append(names, a+"."+b+"."+c)
			}
		}
	}
	checked, fast := 0, 0
	for round := range 2 { // the second round answers from a full cache
		for _, name := range names {
			if !strings.Contains(name, "xn--") {
				continue
			}
			_, err := profile.ToUnicode(name)
			if got := validPunycode(name); got != (err == nil) {
				t.Fatalf("round %d: validPunycode(%q) = %t, IDNA says %v", round, name, got, err)
			}
			checked++
			if fastPunycode(name) {
				fast++
			}
		}
	}
	if fast == 0 || fast == checked {
		t.Fatalf("%d of %d names answered from the cache: the test does not exercise both paths", fast, checked)
	}
}
