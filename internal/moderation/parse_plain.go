package moderation

import (
	"bytes"
	"strings"
)

// parsePlain reads one domain a line. Everything from '#' to the end of a
// line is a comment; blank lines are ignored. Every domain is a
// suspension, which is how GoToSocial and Misskey read such lists.
func parsePlain(data []byte, b *builder) error {
	line := 0
	for len(data) > 0 {
		line++
		var text []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			text, data = data[:i], data[i+1:]
		} else {
			text, data = data, nil
		}
		if i := bytes.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		s := strings.TrimSpace(string(bytes.TrimPrefix(text, []byte("\ufeff"))))
		if s == "" {
			continue
		}
		if strings.ContainsAny(s, " \t,;") {
			if err := b.skip(line, s, "more than one word on the line: want one domain a line"); err != nil {
				return err
			}
			continue
		}
		if err := b.add(line, s, Entry{Domain: s, Action: Suspend}); err != nil {
			return err
		}
	}
	return nil
}
