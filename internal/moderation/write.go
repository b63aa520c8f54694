package moderation

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Writers publish a policy so other communities and servers can subscribe
// to it. What they write reads back through Parse in the same format.
//
// Private comments are never written: they are for a community's own
// moderators. Obfuscate is carried, as in Mastodon's own export, so that
// importers hide the name on their public pages. Allow entries are never
// written: these formats are blocklists, and an importer would read an
// allow as a block.

// Write writes entries in one of the publishable formats: mastodon-csv,
// gotosocial-json or plain.
func Write(format Format, w io.Writer, entries []Entry) error {
	switch format {
	case FormatMastodonCSV:
		return WriteMastodonCSV(w, entries)
	case FormatGoToSocialJSON:
		return WriteGoToSocialJSON(w, entries)
	case FormatPlain:
		return WritePlain(w, entries)
	}
	return fmt.Errorf("cannot publish format %q (want mastodon-csv, gotosocial-json or plain)", format)
}

// mastodonCSVHeader is the header Mastodon's export writes and its import
// expects.
var mastodonCSVHeader = []string{"#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment", "#obfuscate"}

// WriteMastodonCSV writes Mastodon's domain-block CSV. Reject-media, which
// Mastodon has as a flag rather than a severity, is written the way
// Mastodon does: severity noop with reject_media true. Comments are
// written clean (see cleanComment) and escaped against formula injection
// (EscapeFormula); the CSV parsers undo the escape. The other cells are
// domains, severities and booleans, which never start with a trigger.
func WriteMastodonCSV(w io.Writer, entries []Entry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(mastodonCSVHeader); err != nil {
		return err
	}
	record := make([]string, len(mastodonCSVHeader))
	for _, e := range entries {
		e = e.Canonical()
		if e.Action == Allow {
			continue
		}
		severity := e.Action.String()
		if e.Action == RejectMedia {
			severity = Noop.String()
		}
		record[0] = e.Domain
		record[1] = severity
		record[2] = boolString(e.RejectMedia)
		record[3] = boolString(e.RejectReports)
		record[4] = EscapeFormula(cleanComment(e.PublicComment))
		record[5] = boolString(e.Obfuscate)
		if err := cw.Write(record); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// formulaTriggers are the first characters that make a spreadsheet read a
// cell as a formula (OWASP, "CSV Injection"): a published comment such as
// =HYPERLINK("https://evil.example","click") would otherwise run in the
// spreadsheet of every moderator who opens the feed.
const formulaTriggers = "=+-@\t\r"

// EscapeFormula returns cell as a spreadsheet shows it as text: a cell
// starting with a formula trigger gets a leading "'", as OWASP advises.
// A cell that already starts with "'"s followed by a trigger gets one
// more, so that UnescapeFormula is its exact inverse and a comment that
// really starts with "'=" survives the round trip.
func EscapeFormula(cell string) string {
	if formulaLike(cell) || cell != "" && cell[0] == '\'' && formulaLike(strings.TrimLeft(cell, "'")) {
		return "'" + cell
	}
	return cell
}

// UnescapeFormula undoes EscapeFormula: it removes one leading "'" when
// what follows the "'"s is a formula trigger, and leaves every other cell
// (a comment like "'tis spam") as it is.
func UnescapeFormula(cell string) string {
	if cell != "" && cell[0] == '\'' && formulaLike(strings.TrimLeft(cell, "'")) {
		return cell[1:]
	}
	return cell
}

func formulaLike(cell string) bool {
	return cell != "" && strings.IndexByte(formulaTriggers, cell[0]) >= 0
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// gotosocialOut is one element of GoToSocial's JSON.
type gotosocialOut struct {
	Domain        string `json:"domain"`
	PublicComment string `json:"public_comment,omitempty"`
	Obfuscate     bool   `json:"obfuscate,omitempty"`
}

// WriteGoToSocialJSON writes GoToSocial's JSON. GoToSocial suspends every
// domain it reads, so only suspensions are written: a silence published
// here would become a suspension on every subscriber.
func WriteGoToSocialJSON(w io.Writer, entries []Entry) error {
	out := make([]gotosocialOut, 0, len(entries))
	for _, e := range entries {
		if e.Action != Suspend {
			continue
		}
		out = append(out, gotosocialOut{Domain: e.Domain, PublicComment: e.PublicComment, Obfuscate: e.Obfuscate})
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	return enc.Encode(out)
}

// WritePlain writes one domain a line. Readers of plain lists suspend every
// domain, so, as for GoToSocial JSON, only suspensions are written.
func WritePlain(w io.Writer, entries []Entry) error {
	bw := bufio.NewWriter(w)
	for _, e := range entries {
		if e.Action != Suspend {
			continue
		}
		bw.WriteString(e.Domain)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}
