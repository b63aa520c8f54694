package moderation

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// gotosocialRecord is one element of GoToSocial's export. Older exports
// and some list publishers write "comment" instead of "public_comment".
type gotosocialRecord struct {
	Domain        *string `json:"domain"`
	PublicComment *string `json:"public_comment"`
	Comment       *string `json:"comment"`
	Obfuscate     *bool   `json:"obfuscate"`
}

// mastodonAPIRecord is one element of Mastodon's public domain_blocks API.
// Digest (the SHA-256 of an obfuscated name) is not used: matching it
// would need the domain we do not have.
type mastodonAPIRecord struct {
	Domain   *string `json:"domain"`
	Severity *string `json:"severity"`
	Comment  *string `json:"comment"`
}

func parseGoToSocialJSON(in *bufio.Reader, b *builder) error {
	return eachJSONElement(in, func(line int, raw []byte) error {
		var rec gotosocialRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return b.skip(line, textRow(string(raw)), "not a domain block object: "+err.Error())
		}
		if rec.Domain == nil {
			return b.skip(line, textRow(string(raw)), "no domain")
		}
		e := Entry{Domain: *rec.Domain, Action: Suspend}
		switch {
		case rec.PublicComment != nil:
			e.PublicComment = *rec.PublicComment
		case rec.Comment != nil:
			e.PublicComment = *rec.Comment
		}
		if rec.Obfuscate != nil {
			e.Obfuscate = *rec.Obfuscate
		}
		return b.add(line, textRow(string(raw)), e)
	})
}

func parseMastodonAPIJSON(in *bufio.Reader, b *builder) error {
	return eachJSONElement(in, func(line int, raw []byte) error {
		var rec mastodonAPIRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return b.skip(line, textRow(string(raw)), "not a domain block object: "+err.Error())
		}
		if rec.Domain == nil {
			return b.skip(line, textRow(string(raw)), "no domain")
		}
		e := Entry{Domain: *rec.Domain}
		var severity string
		if rec.Severity != nil {
			severity = *rec.Severity
		}
		var err error
		if e.Action, err = parseSeverity(severity); err != nil {
			return b.skip(line, textRow(string(raw)), err.Error())
		}
		if rec.Comment != nil {
			e.PublicComment = *rec.Comment
		}
		return b.add(line, textRow(string(raw)), e)
	})
}

// eachJSONElement walks a top-level JSON array one element at a time, so a
// single malformed element is a Problem with its line number rather than a
// failure of the whole feed. Invalid JSON syntax is a whole-file error: no
// reader can tell where the next element starts.
//
// It does not use json.Decoder: the decoder buffers a whole value (and any
// whitespace before it) before looking at it, so a 16 MiB string or a
// million nested arrays would be copied before any check could refuse
// them. The scan below reads one element's bytes into a buffer it reuses,
// refusing the element beyond MaxRecordBytes, MaxJSONDepth or
// MaxJSONTokens, and only then hands it to json.Unmarshal, which checks the
// syntax inside it. Line numbers are counted as bytes go by, not from an
// index of every line (sixteen million newlines made that 128 MiB).
func eachJSONElement(in *bufio.Reader, fn func(line int, raw []byte) error) error {
	s := jsonScan{in: in, line: 1}
	if head, _ := in.Peek(3); string(head) == "\ufeff" {
		_, _ = in.Discard(3)
	}
	c, err := s.nonSpace()
	if errors.Is(err, io.EOF) {
		return errors.New("empty input: want a JSON array")
	}
	if err != nil {
		return err
	}
	if c != '[' {
		return fmt.Errorf("want a JSON array of domain blocks, found %q", c)
	}
	if c, err = s.nonSpace(); err == nil && c != ']' {
		for {
			line := s.line
			var raw []byte
			if raw, err = s.element(c); err != nil {
				return err
			}
			if !json.Valid(raw) {
				var v json.RawMessage
				return fmt.Errorf("invalid JSON at line %d: %w", line, json.Unmarshal(raw, &v))
			}
			if err := fn(line, raw); err != nil {
				return err
			}
			if c, err = s.nonSpace(); err != nil || c == ']' {
				break
			}
			if c != ',' {
				return fmt.Errorf("invalid JSON at line %d: %q after an array element, want ',' or ']'", s.line, c)
			}
			if c, err = s.nonSpace(); err != nil {
				break
			}
		}
	}
	if errors.Is(err, io.EOF) {
		return fmt.Errorf("invalid JSON at line %d: the input ends before the array is closed", s.line)
	}
	if err != nil {
		return err
	}
	switch _, err := s.nonSpace(); {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return err
	}
	return fmt.Errorf("invalid JSON at line %d: data after the array", s.line)
}

// jsonScan reads JSON values from a stream without decoding them.
type jsonScan struct {
	in   *bufio.Reader
	line int    // the line of the last byte read
	elem []byte // the element being read, reused
}

func (s *jsonScan) next() (byte, error) {
	c, err := s.in.ReadByte()
	if c == '\n' && err == nil {
		s.line++
	}
	return c, err
}

// nonSpace skips JSON whitespace and returns the byte after it.
func (s *jsonScan) nonSpace() (byte, error) {
	for {
		c, err := s.next()
		if err != nil {
			return 0, err
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		}
		return c, nil
	}
}

// element reads the array element starting with c. It follows strings and
// nesting only, leaving the rest of the syntax to json.Valid: for valid
// JSON its extent is exact, and for invalid JSON any extent it finds fails
// that check. The byte ending a number, true, false or null is given back.
func (s *jsonScan) element(c byte) ([]byte, error) {
	line := s.line
	limit := func(cap string, n int, what string) error {
		return &LimitError{Cap: cap, Limit: n, Line: line, What: what}
	}
	s.elem = s.elem[:0]
	depth, tokens := 1, 0 // the top-level array is depth 1
	for {
		if len(s.elem) >= MaxRecordBytes {
			return nil, limit("MaxRecordBytes", MaxRecordBytes, "bytes in one JSON element")
		}
		switch c {
		case '"':
			if tokens++; tokens > MaxJSONTokens {
				return nil, limit("MaxJSONTokens", MaxJSONTokens, "tokens in one JSON element")
			}
			if err := s.readString(line); err != nil {
				return nil, err
			}
			if depth == 1 {
				return s.elem, nil
			}
		case '[', '{':
			if depth++; depth > MaxJSONDepth {
				return nil, limit("MaxJSONDepth", MaxJSONDepth, "levels of JSON nesting")
			}
			if tokens++; tokens > MaxJSONTokens {
				return nil, limit("MaxJSONTokens", MaxJSONTokens, "tokens in one JSON element")
			}
			s.elem = append(s.elem, c)
		case ']', '}', ',', ':':
			if depth == 1 {
				if len(s.elem) == 0 {
					return nil, fmt.Errorf("invalid JSON at line %d: %q where an array element should be", s.line, c)
				}
				_ = s.in.UnreadByte() // the end of a number, true, false or null
				return s.elem, nil
			}
			s.elem = append(s.elem, c)
			if c == ']' || c == '}' {
				if depth--; depth == 1 {
					return s.elem, nil
				}
			} else if tokens++; tokens > MaxJSONTokens {
				return nil, limit("MaxJSONTokens", MaxJSONTokens, "tokens in one JSON element")
			}
		case ' ', '\t', '\r', '\n':
			if depth == 1 {
				return s.elem, nil // the end of a number, true, false or null
			}
			s.elem = append(s.elem, c)
		default:
			s.elem = append(s.elem, c)
		}
		var err error
		if c, err = s.next(); err != nil {
			if errors.Is(err, io.EOF) && depth == 1 {
				return s.elem, nil // a number, true, false or null at the end
			}
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("invalid JSON at line %d: the input ends inside an element", line)
			}
			return nil, err
		}
	}
}

// readString appends a string, its opening quote included, to s.elem.
func (s *jsonScan) readString(line int) error {
	s.elem = append(s.elem, '"')
	escaped := false
	for {
		c, err := s.next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("invalid JSON at line %d: a string is not closed", line)
		}
		if err != nil {
			return err
		}
		if len(s.elem) >= MaxRecordBytes {
			return &LimitError{Cap: "MaxRecordBytes", Limit: MaxRecordBytes, Line: line, What: "bytes in one JSON element"}
		}
		s.elem = append(s.elem, c)
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			return nil
		}
	}
}
