package moderation

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// Errors a domain can be refused with. They are wrapped with the offending
// input, so test them with errors.Is.
var (
	// ErrEmptyDomain: nothing left after trimming.
	ErrEmptyDomain = errors.New("empty domain")
	// ErrObfuscated: the publisher masked part of the name with '*'
	// (Mastodon's "obfuscate" option). Such a row names no domain we could
	// block, so parsers count it rather than guess.
	ErrObfuscated = errors.New("obfuscated domain")
	// ErrInvalidDomain: not a host name (URL, port, spaces, bad IDNA ...).
	ErrInvalidDomain = errors.New("invalid domain")
)

// lookup is the IDNA profile browsers and resolvers use to turn a typed
// name into the form DNS (and every fediverse server) stores. Hyphen rules
// are not checked: real hosts like "ab--cd.example" exist, and refusing
// them would make a feed's block silently disappear.
var lookup = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.Transitional(false),
	idna.StrictDomainName(false),
)

// NormalizeDomain turns a domain as written in a feed or manifest into the
// form entries are keyed by: trimmed, lower case, without a trailing dot,
// IDNA names in punycode ("bücher.example" → "xn--bcher-kva.example").
//
// A leading "*." is removed and reported as wildcard: a block already
// covers every subdomain, so "*.example.com" and "example.com" are the
// same decision. A '*' anywhere else means the publisher obfuscated the
// name; that is ErrObfuscated.
//
// NormalizeDomain checks syntax only. Whether a domain may be blocked at
// all (public suffixes, our own instances, exceptions) is a policy
// question answered by Merge; see RefusePublicSuffix.
func NormalizeDomain(s string) (domain string, wildcard bool, err error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "*.") {
		wildcard = true
		s = s[2:]
	}
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", wildcard, ErrEmptyDomain
	}
	if strings.IndexByte(s, '*') >= 0 {
		return "", wildcard, fmt.Errorf("%w: %q", ErrObfuscated, s)
	}
	if d, ok := fastASCII(s); ok {
		return d, wildcard, nil
	}
	d, err := lookup.ToASCII(s)
	if err != nil {
		return "", wildcard, fmt.Errorf("%w: %q: %v", ErrInvalidDomain, s, err)
	}
	// The IDNA profile maps but does not enforce host-name syntax on the
	// ASCII result (it lets "a b" or "a/b" through with StrictDomainName
	// off), so the mapped name goes through the same ASCII check.
	d = strings.TrimSuffix(d, ".")
	if out, ok := fastASCII(d); ok {
		return out, wildcard, nil
	}
	return "", wildcard, fmt.Errorf("%w: %q", ErrInvalidDomain, s)
}

// Character classes for fastASCII.
const (
	hostInvalid = iota
	hostLower   // a-z, 0-9
	hostUpper   // A-Z
	hostInner   // '-' and '_': not at the start of a label
	hostDot
)

var hostClass = func() (t [256]byte) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = hostLower
		t[c-'a'+'A'] = hostUpper
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = hostLower
	}
	t['-'], t['_'], t['.'] = hostInner, hostInner, hostDot
	return t
}()

// fastASCII accepts names that are already plain ASCII host names, which is
// nearly every row of every real feed, without going through IDNA; Merge
// runs it on every entry, so it is one table lookup a byte. It lower-cases
// only when needed. Names with "xn--" labels are sent through IDNA so that
// invalid punycode is caught.
//
// Underscores are accepted inside labels: they are not valid in host
// names but occur in real federating names behind lenient resolvers, and
// refusing them would drop real blocks.
func fastASCII(s string) (string, bool) {
	if len(s) == 0 || len(s) > 253 {
		return "", false
	}
	upper, punycode := false, false
	labelStart := 0
	for i := 0; i < len(s); i++ {
		switch hostClass[s[i]] {
		case hostLower:
		case hostUpper:
			upper = true
		case hostInner:
			if i == labelStart {
				return "", false
			}
		case hostDot:
			if i == labelStart || s[i-1] == '-' || i-labelStart > 63 {
				return "", false
			}
			labelStart = i + 1
		default:
			return "", false
		}
		if i == labelStart+3 && s[i] == '-' && s[i-1] == '-' && (s[i-2]|0x20) == 'n' && (s[i-3]|0x20) == 'x' {
			punycode = true
		}
	}
	if labelStart == len(s) || s[len(s)-1] == '-' || len(s)-labelStart > 63 {
		return "", false
	}
	if upper {
		s = strings.ToLower(s)
	}
	if punycode && !validPunycode(s) {
		return "", false
	}
	return s, true
}

// normalClass classifies bytes for isNormalized: like hostClass, but
// upper case is invalid, since a normalised name is lower case.
var normalClass = func() (t [256]byte) {
	t = hostClass
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = hostInvalid
	}
	return t
}()

// isNormalized reports whether s is already what NormalizeDomain returns,
// so Merge can trust parser output without paying for IDNA again. It is
// fastASCII(s) == (s, true) without building a result: Merge asks it of
// every entry of every source (a million names for ten large feeds), so
// the byte loop does only the class lookup and keeps the label checks,
// the "xn--" test included, to label boundaries (measured: a third faster
// than going through fastASCII; skipping 8 bytes at a time with word
// arithmetic was slower still, names being short).
func isNormalized(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labelStart, punycode := 0, false
	for i := 0; i < len(s); i++ {
		switch normalClass[s[i]] {
		case hostLower:
		case hostInner:
			if i == labelStart {
				return false
			}
		case hostDot:
			if i == labelStart || s[i-1] == '-' || i-labelStart > 63 {
				return false
			}
			punycode = punycode || isPunycodeLabel(s[labelStart:i])
			labelStart = i + 1
		default:
			return false
		}
	}
	if labelStart == len(s) || s[len(s)-1] == '-' || len(s)-labelStart > 63 {
		return false
	}
	if punycode || isPunycodeLabel(s[labelStart:]) {
		return validPunycode(s)
	}
	return true
}

func isPunycodeLabel(label string) bool { return strings.HasPrefix(label, "xn--") }

// RefusePublicSuffix says why a domain must not be blocked as a whole
// because it is a public suffix, or "" when it may be.
//
// Only ICANN suffixes ("com", "co.uk", "kawasaki.jp"'s children) and
// single-label names are refused. Private suffixes ("workers.dev",
// "trycloudflare.com", "ngrok.io", "github.io") stay blockable on purpose:
// mastodon.social and mastodon.online block exactly those tunnel and hosting
// suffixes in the feeds under shared/data/blocklists, because spam farms
// spin up throwaway subdomains there. Refusing them would silently drop the
// decisions of the servers we learn from.
func RefusePublicSuffix(domain string) string {
	suffix, icann := publicsuffix.PublicSuffix(domain)
	if suffix != domain {
		return ""
	}
	if icann {
		return "public suffix " + domain + ": blocking it would block every site under it"
	}
	if !strings.Contains(domain, ".") {
		return "single-label name " + domain + " is a top-level domain, not a server"
	}
	return ""
}

// parentDomains calls fn with each proper parent of domain, nearest first:
// "a.b.example" → "b.example", "example".
func parentDomains(domain string, fn func(parent string) bool) {
	for i := 0; i < len(domain); i++ {
		if domain[i] == '.' {
			if !fn(domain[i+1:]) {
				return
			}
		}
	}
}

// isParentOf reports whether parent is a proper parent domain of child.
func isParentOf(parent, child string) bool {
	return len(child) > len(parent)+1 && strings.HasSuffix(child, parent) && child[len(child)-len(parent)-1] == '.'
}
