package fakeserver

import (
	"html"
	"strings"

	xhtml "golang.org/x/net/html"
)

// gtsPlaintext is what GoToSocial 0.20.0-rc1 stores of a comment sent to a
// create (text.SanitizeToPlaintext): entities decoded, then every tag
// removed with what script and style elements hold, entities decoded
// again, spaces around trimmed. "  <b>spam</b> &amp; abuse  " is stored as
// "spam & abuse", "&lt;b&gt;" as "" and "a<b" as "a" (an unclosed tag
// runs to the end). Updates store comments as sent.
func gtsPlaintext(s string) string {
	z := xhtml.NewTokenizer(strings.NewReader(html.UnescapeString(s)))
	var b strings.Builder
	skip := 0
	for {
		switch z.Next() {
		case xhtml.ErrorToken:
			return strings.TrimSpace(b.String())
		case xhtml.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		case xhtml.StartTagToken:
			if name, _ := z.TagName(); isRawText(name) {
				skip++
			}
		case xhtml.EndTagToken:
			if name, _ := z.TagName(); isRawText(name) && skip > 0 {
				skip--
			}
		}
	}
}

func isRawText(tag []byte) bool {
	t := string(tag)
	return t == "script" || t == "style"
}
