package feeds

import (
	"bytes"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// formatOf maps a feed's extension to the engine's publishable format.
var formatOf = map[kind]moderation.Format{
	kindCSV:  moderation.FormatMastodonCSV,
	kindJSON: moderation.FormatGoToSocialJSON,
	kindText: moderation.FormatPlain,
}

// renderFeed writes entries (already stripped of private comments and,
// for the public audience, of obfuscated entries) with the engine's
// writers, so that what is published is exactly what Parse reads back.
func renderFeed(k kind, entries []moderation.Entry) ([]byte, error) {
	var buf bytes.Buffer
	if err := moderation.Write(formatOf[k], &buf, entries); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
