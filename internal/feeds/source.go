package feeds

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Source is one subscribed blocklist URL (a FederationPolicy source with a
// url).
type Source struct {
	// Name identifies the source in the Tracker and in status.
	Name string
	// URL of the list.
	URL string
	// Format of the list.
	Format moderation.Format
	// Retraction rules of the policy.
	Retraction Retraction
}

// FetchResult is what one FetchSource did.
type FetchResult struct {
	// Status of the source after this fetch, for the policy's status.
	Status SourceStatus
	// Effective are the source's entries in force after this fetch: the
	// last good copy plus the retractions not yet confirmed.
	Effective []EffectiveEntry
	// Outcome says whether the fetch applied, was held or failed.
	Outcome Outcome
	// Problems describe the first rows the parser skipped, Skipped counts
	// them all, and Obfuscated the rows whose domain was starred out: worth
	// an event, not a failure.
	Problems       []moderation.Problem
	Skipped        int
	Obfuscated     int
	ObfuscatedRows []moderation.Problem
	// TruncatedComments counts comments cut to moderation.MaxCommentBytes.
	TruncatedComments int
}

// FetchSource fetches src conditionally, parses it and lets the Tracker
// decide what applies. It never fails as a whole: a fetch or parse error is
// recorded in the status and the last good copy stays in force.
//
// What one call can cost is bounded by construction: the body by the
// Fetcher's MaxBytes (counted while decoding), everything the parser builds
// from it by the caps of moderation's parse_limits.go. The body is never
// held whole: it streams from the decompressor into the parser.
func FetchSource(ctx context.Context, f *Fetcher, t *Tracker, src Source) FetchResult {
	now := time.Now()
	var res FetchResult
	obs := Observation{Time: now}
	var parsed *moderation.ParseResult
	resp, err := f.FetchInto(ctx, src.URL, t.Validators(src.Name), func(body io.Reader) error {
		var err error
		parsed, err = moderation.ParseWithOptions(src.Format, body, moderation.ParseOptions{
			MaxBytes: f.maxBytes(),
			// A source listing more than the Tracker keeps is refused there
			// anyway: stop parsing at that point rather than build it all.
			MaxKept: t.maxEntries(),
		})
		return err
	})
	var unreadable *ReadError
	switch {
	case errors.As(err, &unreadable):
		// The URL is cut short (see shortURL), so that the tracker's clip
		// of the message keeps the reason, which names the cap and line.
		obs.Err = fmt.Errorf("%s is not a readable %s list: %w", unreadable.URL, src.Format, unreadable.Err)
	case err != nil:
		obs.Err = err
	case resp.NotModified:
		obs.NotModified = true
		obs.Validators = resp.Validators
	default:
		obs.Entries = parsed.Entries
		obs.Validators = resp.Validators
		res.Problems, res.Skipped, res.Obfuscated, res.ObfuscatedRows = parsed.Problems, parsed.Skipped, parsed.Obfuscated, parsed.ObfuscatedRows
		res.TruncatedComments = parsed.TruncatedComments
	}
	res.Outcome = t.Observe(src.Name, obs, src.Retraction)
	res.Status = t.Status(src.Name)
	res.Effective = t.Effective(src.Name)
	return res
}
