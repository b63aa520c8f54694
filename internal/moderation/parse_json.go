package moderation

import (
	"bytes"
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

func parseGoToSocialJSON(data []byte, b *builder) error {
	return eachJSONElement(data, b, func(line int, raw []byte) error {
		var rec gotosocialRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return b.skip(line, string(raw), "not a domain block object: "+err.Error())
		}
		if rec.Domain == nil {
			return b.skip(line, string(raw), "no domain")
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
		return b.add(line, string(raw), e)
	})
}

func parseMastodonAPIJSON(data []byte, b *builder) error {
	return eachJSONElement(data, b, func(line int, raw []byte) error {
		var rec mastodonAPIRecord
		if err := json.Unmarshal(raw, &rec); err != nil {
			return b.skip(line, string(raw), "not a domain block object: "+err.Error())
		}
		if rec.Domain == nil {
			return b.skip(line, string(raw), "no domain")
		}
		e := Entry{Domain: *rec.Domain}
		var severity string
		if rec.Severity != nil {
			severity = *rec.Severity
		}
		var err error
		if e.Action, err = parseSeverity(severity); err != nil {
			return b.skip(line, string(raw), err.Error())
		}
		if rec.Comment != nil {
			e.PublicComment = *rec.Comment
		}
		return b.add(line, string(raw), e)
	})
}

// eachJSONElement walks a top-level JSON array one element at a time, so a
// single malformed element is a Problem with its line number rather than a
// failure of the whole feed. Invalid JSON syntax is a whole-file error: the
// decoder cannot find where the next element starts.
func eachJSONElement(data []byte, b *builder, fn func(line int, raw []byte) error) error {
	lines := newLineIndex(data)
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if errors.Is(err, io.EOF) {
		return errors.New("empty input: want a JSON array")
	}
	if err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return fmt.Errorf("want a JSON array of domain blocks, found %v", tok)
	}
	for dec.More() {
		offset := skipJSONSpace(data, dec.InputOffset())
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("invalid JSON at line %d: %w", lines.line(offset), err)
		}
		if err := fn(lines.line(offset), raw); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: data after the array")
	}
	return nil
}

// skipJSONSpace moves past whitespace and the separating comma, so the line
// reported is the one the element starts on.
func skipJSONSpace(data []byte, offset int64) int64 {
	for offset < int64(len(data)) {
		switch data[offset] {
		case ' ', '\t', '\r', '\n', ',':
			offset++
		default:
			return offset
		}
	}
	return offset
}
