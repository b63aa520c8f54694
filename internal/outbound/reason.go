package outbound

import (
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxMessageRunes bounds the server's own words quoted in an error.
const MaxMessageRunes = 160

// maxJSONError bounds the body ErrorMessage is willing to parse: an error
// document is a line or two, not a list page.
const maxJSONError = 64 << 10

// ErrorMessage is the message of a JSON error document, as Mastodon,
// GoToSocial and OAuth servers answer a refused call ({"error": "...",
// "error_description": "..."}), cleaned for a status condition: printable
// characters only, no markup characters, one line, at most MaxMessageRunes,
// with each of secrets replaced by [redacted] (a server may echo a form
// back). Anything else (an HTML page, plain text, a proxy's error page) gives
// "": the status code has to do.
func ErrorMessage(body []byte, secrets ...string) string {
	if len(body) == 0 || len(body) > maxJSONError {
		return ""
	}
	var doc struct {
		Error            any    `json:"error"`
		ErrorDescription string `json:"error_description"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return ""
	}
	msg, _ := doc.Error.(string)
	if doc.ErrorDescription != "" {
		if msg != "" {
			msg += ": "
		}
		msg += doc.ErrorDescription
	}
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return Clean(msg, MaxMessageRunes)
}

// Clean keeps what is safe to show of a remote string: printable
// characters but markup and escapes (< > ` \), whitespace folded into
// single spaces, at most n runes ("…" marks a cut). Terminal escapes,
// bidirectional overrides and other control or format characters go.
func Clean(s string, n int) string {
	out := make([]rune, 0, min(len(s), n+1))
	space := false
	for i, r := range s {
		if len(out) > n {
			break
		}
		switch {
		case r == utf8.RuneError && !validRuneAt(s, i):
			continue
		case unicode.IsSpace(r):
			space = len(out) > 0
			continue
		case !unicode.IsPrint(r) || strings.ContainsRune("<>`\\", r):
			continue
		}
		if space {
			out = append(out, ' ')
			space = false
		}
		out = append(out, r)
	}
	if len(out) > n {
		return strings.TrimRight(string(out[:n]), " ") + "…"
	}
	return string(out)
}

// validRuneAt tells a real U+FFFD in s from the one ranging over invalid
// UTF-8 yields.
func validRuneAt(s string, i int) bool {
	_, size := utf8.DecodeRuneInString(s[i:])
	return size > 1
}
