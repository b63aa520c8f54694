package policytool

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/outbound"
)

// `fedcommons policy fork` copies a published policy into a
// FederationPolicy of one's own: the community then owns each decision
// (it can edit, drop or keep it whatever the publisher later does), where
// a subscription would follow the publisher. Each entry says in its
// private comment where it was copied from, so that the decision can be
// traced back long after the fork.

// MaxForkEntries is the most entries a FederationPolicy holds of its own
// (spec.entries, +kubebuilder:validation:MaxItems in api/v1alpha1).
const MaxForkEntries = 5000

// maxForkBytes bounds the manifest as JSON. etcd refuses a request larger
// than 1.5 MiB by default, and the API server stores, besides the object,
// its managedFields: about 75 bytes an entry for a server-side apply
// (5000 entries of 1180 KiB were refused, of 936 KiB stored: measured on
// envtest). A manifest the API server would refuse is refused here, with
// a way out, instead; the margin leaves room for status and later edits.
const maxForkBytes = 900 << 10

// maxOriginBytes bounds the source as recorded in each private comment.
const maxOriginBytes = 300

// maxPrivateComment is the CRD's MaxLength of privateComment, counted in
// bytes so that it holds whatever the characters.
const maxPrivateComment = 1000

// ForkOptions says what to fork and how to name the result.
type ForkOptions struct {
	// Format of the list; "" detects it (see detectFormat).
	Format moderation.Format
	// Name and Namespace of the FederationPolicy written. An empty Name
	// is made from the source's file name.
	Name, Namespace string
	// Fetcher fetches a URL source, with the operator's limits.
	Fetcher *feeds.Fetcher
	// Now is when the list was read; zero means time.Now.
	Now time.Time
}

// LeftOut is an entry of the list that is not in the fork, and why.
type LeftOut struct {
	Domain, Reason string
}

// Forked is a fork and what was made of the list.
type Forked struct {
	Policy *v1alpha1.FederationPolicy
	// Format read, and why that one ("--format", "Content-Type text/csv").
	Format     moderation.Format
	FormatFrom string
	// Origin is the URL (after redirects) or file read.
	Origin string
	// Version identifies the copy read: its ETag, else its Last-Modified,
	// else the sha256 of the body.
	Version   string
	FetchedAt time.Time
	// Compact says the entries' private comments hold the provenance in
	// short, the whole of it being in the annotations (see Fork).
	Compact bool
	// LeftOut are the entries the engine or the API server would refuse,
	// by domain.
	LeftOut []LeftOut
	// Parsed is the parser's account: rows skipped, obfuscated.
	Parsed *moderation.ParseResult
}

// TooManyError is a list that does not fit in a FederationPolicy's own
// entries: it is meant to be subscribed to.
type TooManyError struct {
	Origin  string
	Entries int
	Bytes   int
	// Source, for a URL, is the subscription to write instead.
	Source string
}

func (e *TooManyError) Error() string {
	what := fmt.Sprintf("%d entries, more than the %d a FederationPolicy holds of its own", e.Entries, MaxForkEntries)
	if e.Entries <= MaxForkEntries {
		what = fmt.Sprintf("%d entries making a manifest of %d KiB, more than the %d KiB the API server can be relied on to store", e.Entries, e.Bytes>>10, maxForkBytes>>10)
	}
	msg := fmt.Sprintf("%s lists %s: no manifest written. Subscribe to it as a source instead (spec.sources, with a url and a format), "+
		"or fork a smaller list", e.Origin, what)
	if e.Source != "" {
		msg += ":\n" + e.Source
	}
	return msg
}

// subscription is the spec.sources item that follows the list instead.
func subscription(got *sourceCopy, format moderation.Format) string {
	if !got.url {
		return ""
	}
	return fmt.Sprintf("  sources:\n    - name: %s\n      url: %s\n      format: %s\n", strings.TrimPrefix(defaultName(got.name), "forked-"), got.origin, format)
}

// Fork reads the list at source (an http(s) URL, else a file) and makes
// it a FederationPolicy whose entries are the list's, sorted by domain.
func Fork(ctx context.Context, source string, opts ForkOptions) (*Forked, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	got, err := readSource(ctx, source, opts.Fetcher)
	if err != nil {
		return nil, err
	}
	f := &Forked{Origin: got.origin, FetchedAt: opts.Now.UTC().Truncate(time.Second), Version: got.version()}
	if f.Format, f.FormatFrom, err = detectFormat(opts.Format, got); err != nil {
		return nil, err
	}
	f.Parsed, err = moderation.ParseWithOptions(f.Format, bytes.NewReader(got.body), moderation.ParseOptions{
		MaxBytes: feeds.DefaultMaxBytes, SizeHint: int64(len(got.body)), KeepCutComments: true})
	if err != nil {
		return nil, fmt.Errorf("%s is not a readable %s list (format from %s; choose another with --format): %w", f.Origin, f.Format, f.FormatFrom, err)
	}
	kept, left, err := admissible(f.Parsed.Entries)
	if err != nil {
		return nil, err
	}
	f.LeftOut = left
	if len(kept) > MaxForkEntries {
		return nil, &TooManyError{Origin: f.Origin, Entries: len(kept), Source: subscription(got, f.Format)}
	}
	name := opts.Name
	if name == "" {
		name = defaultName(got.name)
	}
	f.Policy = &v1alpha1.FederationPolicy{
		TypeMeta:   metav1.TypeMeta{APIVersion: v1alpha1.GroupVersion.String(), Kind: "FederationPolicy"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: opts.Namespace},
	}
	// The whole provenance goes on the object once, and on each entry as
	// long as the manifest stays within what the API server stores; past
	// that, each entry says it in short (the source cut, the version
	// abbreviated), and the reader finds the rest in the annotations.
	f.Policy.Annotations = map[string]string{
		AnnotationForkedFrom: f.Origin,
		AnnotationForkedAt:   f.FetchedAt.Format(time.RFC3339),
		AnnotationForkedCopy: f.Version,
	}
	size := 0
	for _, compact := range []bool{false, true} {
		f.Compact = compact
		prefix := provenance(f, compact)
		f.Policy.Spec.Entries = make([]v1alpha1.PolicyEntry, 0, len(kept))
		for _, e := range kept {
			f.Policy.Spec.Entries = append(f.Policy.Spec.Entries, policyEntry(e, prefix, f.Parsed.CutComments[e.Domain]))
		}
		raw, err := json.Marshal(f.Policy)
		if err != nil {
			return nil, err
		}
		if size = len(raw); size <= maxForkBytes {
			return f, nil
		}
	}
	return nil, &TooManyError{Origin: f.Origin, Entries: len(kept), Bytes: size, Source: subscription(got, f.Format)}
}

// admissible keeps the entries the engine would apply as local entries
// and the API server would store, sorted by domain; the others are left
// out with the reason. The engine's own merge decides, so that a fork
// never holds an entry its policy would then show as refused.
func admissible(entries []moderation.Entry) (kept []moderation.Entry, left []LeftOut, err error) {
	eff, err := moderation.Merge(moderation.MergeInput{Local: entries})
	if err != nil {
		return nil, nil, err
	}
	refused := make(map[string]string, len(eff.Rejected))
	for _, r := range eff.Rejected {
		refused[r.Domain] = r.Reason
	}
	for _, e := range entries {
		reason, bad := refused[e.Domain]
		if !bad {
			reason = refusedByAPI(e)
		}
		if reason != "" {
			left = append(left, LeftOut{Domain: e.Domain, Reason: reason})
			continue
		}
		kept = append(kept, e)
	}
	slices.SortFunc(kept, func(a, b moderation.Entry) int { return strings.Compare(a.Domain, b.Domain) })
	slices.SortFunc(left, func(a, b LeftOut) int { return strings.Compare(a.Domain, b.Domain) })
	return kept, left, nil
}

// policyEntry is e as the forker's own entry, its provenance in the
// private comment.
func policyEntry(e moderation.Entry, prefix, cut string) v1alpha1.PolicyEntry {
	action := v1alpha1.Action(e.Action.String())
	pe := v1alpha1.PolicyEntry{Domain: v1alpha1.Domain(e.Domain), Action: action, PublicComment: e.PublicComment}
	// Flags are written only when set, as a person would write them; an
	// allow never carries them (the API server refuses that).
	if e.RejectMedia && e.Action != moderation.Allow {
		pe.RejectMedia = ptrTrue()
	}
	if e.RejectReports && e.Action != moderation.Allow {
		pe.RejectReports = ptrTrue()
	}
	if e.Obfuscate {
		pe.Obfuscate = ptrTrue()
	}
	private := prefix
	if cut != "" {
		// The public comment kept is the cut one; the private comment
		// carries on where it stopped, as far as it has room.
		rest := cut
		if kept := strings.TrimSuffix(e.PublicComment, "…"); strings.HasPrefix(cut, kept) {
			rest = strings.TrimSpace(cut[len(kept):])
		}
		private += fmt.Sprintf(" The public comment was cut at %d bytes; it went on: %s", moderation.MaxCommentBytes, rest)
	}
	pe.PrivateComment = truncate(private, maxPrivateComment)
	return pe
}

func ptrTrue() *bool { t := true; return &t }

// provenance is what every entry's private comment starts with; compact,
// about half as long for a typical URL.
func provenance(f *Forked, compact bool) string {
	if compact {
		return fmt.Sprintf("Forked from %s on %s (%s).",
			outbound.Clean(f.Origin, compactOrigin), f.FetchedAt.Format(time.RFC3339), truncate(f.Version, compactVersion))
	}
	return fmt.Sprintf("Forked from %s on %s (%s).", f.Origin, f.FetchedAt.Format(time.RFC3339), f.Version)
}

// Annotations on a fork: the whole provenance, once.
const (
	AnnotationForkedFrom = "fedcommons.io/forked-from"
	AnnotationForkedAt   = "fedcommons.io/forked-at"
	AnnotationForkedCopy = "fedcommons.io/forked-copy"
)

// The compact provenance: the source's first 32 characters and the
// version's first 18 bytes (sha256: and 8 hex digits, or an ETag's
// start), enough to tell copies apart.
const (
	compactOrigin  = 32
	compactVersion = 18
)

// sha256Of is the body's digest as recorded when the source gave no
// validator.
func sha256Of(body []byte) string {
	sum := sha256.Sum256(body)
	return "sha256:" + hex.EncodeToString(sum[:])
}

var errNoFetcher = errors.New("fetching URLs is turned off")
