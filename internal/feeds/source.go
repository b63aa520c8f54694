package feeds

import (
	"bytes"
	"context"
	"fmt"
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
	// Problems are rows the parser skipped, and Obfuscated the rows whose
	// domain was starred out: worth an event, not a failure.
	Problems   []moderation.Problem
	Obfuscated int
}

// FetchSource fetches src conditionally, parses it and lets the Tracker
// decide what applies. It never fails as a whole: a fetch or parse error is
// recorded in the status and the last good copy stays in force.
func FetchSource(ctx context.Context, f *Fetcher, t *Tracker, src Source) FetchResult {
	now := time.Now()
	var res FetchResult
	obs := Observation{Time: now}
	resp, err := f.Fetch(ctx, src.URL, t.Validators(src.Name))
	switch {
	case err != nil:
		obs.Err = err
	case resp.NotModified:
		obs.NotModified = true
		obs.Validators = resp.Validators
	default:
		parsed, perr := moderation.Parse(src.Format, bytes.NewReader(resp.Body))
		if perr != nil {
			obs.Err = fmt.Errorf("%s is not a readable %s list: %w", resp.URL, src.Format, perr)
			break
		}
		obs.Entries = parsed.Entries
		obs.Validators = resp.Validators
		res.Problems, res.Obfuscated = parsed.Problems, parsed.Obfuscated
	}
	res.Outcome = t.Observe(src.Name, obs, src.Retraction)
	res.Status = t.Status(src.Name)
	res.Effective = t.Effective(src.Name)
	return res
}
