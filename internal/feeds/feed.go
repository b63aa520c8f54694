package feeds

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// renderFeed writes entries (already stripped of private comments and,
// for the public audience, of obfuscated entries) in k's format.
func renderFeed(k kind, entries []moderation.Entry) ([]byte, error) {
	var buf bytes.Buffer
	var err error
	switch k {
	case kindCSV:
		err = writeMastodonCSV(&buf, entries)
	case kindJSON:
		err = writeGoToSocialJSON(&buf, entries)
	case kindText:
		err = writePlain(&buf, entries)
	default:
		err = fmt.Errorf("no feed format for %s", k.ext)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeMastodonCSV(buf *bytes.Buffer, entries []moderation.Entry) error {
	w := csv.NewWriter(buf)
	_ = w.Write([]string{"#domain", "#severity", "#reject_media", "#reject_reports", "#public_comment", "#obfuscate"})
	for _, e := range entries {
		sev := ""
		switch e.Action {
		case moderation.Suspend:
			sev = "suspend"
		case moderation.Silence:
			sev = "silence"
		case moderation.RejectMedia, moderation.Noop:
			sev = "noop"
		default:
			continue
		}
		_ = w.Write([]string{e.Domain, sev, strconv.FormatBool(e.RejectMedia || e.Action == moderation.RejectMedia || e.Action == moderation.Suspend),
			strconv.FormatBool(e.RejectReports), e.PublicComment, strconv.FormatBool(e.Obfuscate)})
	}
	w.Flush()
	return w.Error()
}

func writeGoToSocialJSON(buf *bytes.Buffer, entries []moderation.Entry) error {
	type row struct {
		Domain        string `json:"domain"`
		PublicComment string `json:"public_comment,omitempty"`
		Obfuscate     bool   `json:"obfuscate,omitempty"`
	}
	rows := []row{}
	for _, e := range entries {
		if e.Action == moderation.Suspend {
			rows = append(rows, row{e.Domain, e.PublicComment, e.Obfuscate})
		}
	}
	return json.NewEncoder(buf).Encode(rows)
}

func writePlain(buf *bytes.Buffer, entries []moderation.Entry) error {
	for _, e := range entries {
		if e.Action == moderation.Suspend {
			buf.WriteString(e.Domain)
			buf.WriteByte('\n')
		}
	}
	return nil
}
