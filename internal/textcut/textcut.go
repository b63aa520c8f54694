// Package textcut cuts text to a byte budget without splitting a UTF-8
// sequence. Text from tenants and remote servers (comments, error bodies,
// feed errors) is bounded before it goes into status, ConfigMaps and
// admin APIs; a cut in the middle of a character would put invalid UTF-8
// there. It depends on the standard library only, so the engine
// (internal/moderation, which imports no Kubernetes) and everything else
// share it.
package textcut

import "unicode/utf8"

// Ellipsis marks a cut.
const Ellipsis = "…"

// Prefix returns s if it fits in n bytes, otherwise its longest prefix of
// at most n bytes that ends on a character boundary.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Truncate returns s if it fits in n bytes, otherwise a Prefix of s
// followed by Ellipsis, n bytes at most in all (Ellipsis alone when n is
// smaller than it).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Prefix(s, n-len(Ellipsis)) + Ellipsis
}
