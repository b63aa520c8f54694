package moderation

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
)

// parsePlain reads one domain a line. Everything from '#' to the end of a
// line is a comment; blank lines are ignored. Every domain is a
// suspension, which is how GoToSocial and Misskey read such lists. A line
// is looked at only once it is known to be within MaxLineBytes.
func parsePlain(in *bufio.Reader, b *builder) error {
	for line := 1; ; line++ {
		text, err := in.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(bytes.TrimSuffix(text, []byte("\n"))) > MaxLineBytes {
			return &LimitError{Cap: "MaxLineBytes", Limit: MaxLineBytes, Line: line, What: "bytes in one line"}
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if perr := plainLine(b, line, bytes.TrimSuffix(text, []byte("\n"))); perr != nil {
			return perr
		}
		if err != nil {
			return nil // io.EOF: the last line had no newline, or was empty
		}
	}
}

func plainLine(b *builder, line int, text []byte) error {
	if i := bytes.IndexByte(text, '#'); i >= 0 {
		text = text[:i]
	}
	s := strings.TrimSpace(string(bytes.TrimPrefix(text, []byte("\ufeff"))))
	if s == "" {
		return nil
	}
	if strings.ContainsAny(s, " \t,;") {
		return b.skip(line, textRow(s), "more than one word on the line: want one domain a line")
	}
	return b.add(line, textRow(s), Entry{Domain: s, Action: Suspend})
}
