package policytool

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/url"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/textcut"
)

// sourceCopy is one read of the list to fork.
type sourceCopy struct {
	body        []byte
	contentType string
	// origin is the URL (after redirects, without any password) or the
	// file, as recorded; name is its last path element.
	origin, name string
	url          bool
	validators   feeds.Validators
}

// version identifies this copy: the publisher's own validator when it
// gave one (it is what a later conditional fetch compares), else the
// digest of what was read.
func (s *sourceCopy) version() string {
	switch {
	case s.validators.ETag != "":
		return "ETag " + s.validators.ETag
	case s.validators.LastModified != "":
		return "Last-Modified " + s.validators.LastModified
	}
	return sha256Of(s.body)
}

// readSource fetches an http(s) URL with the operator's Fetcher (its
// address guard, size and time limits), or reads a file with the same
// size limit.
func readSource(ctx context.Context, source string, f *feeds.Fetcher) (*sourceCopy, error) {
	lower := strings.ToLower(source)
	if strings.HasPrefix(lower, "http://") || strings.HasPrefix(lower, "https://") {
		if f == nil {
			return nil, errNoFetcher
		}
		resp, err := f.Fetch(ctx, source, feeds.Validators{})
		if err != nil {
			return nil, err
		}
		name := ""
		if u, err := url.Parse(source); err == nil {
			name = path.Base(u.Path)
		}
		return &sourceCopy{body: resp.Body, contentType: resp.ContentType, origin: outbound.Clean(resp.URL, maxOriginBytes),
			name: name, url: true, validators: resp.Validators}, nil
	}
	if strings.Contains(source, "://") {
		return nil, fmt.Errorf("%s: only http and https URLs are fetched; give a local file otherwise", outbound.Clean(source, maxOriginBytes))
	}
	body, err := readBounded(source, feeds.DefaultMaxBytes)
	if err != nil {
		return nil, err
	}
	return &sourceCopy{body: body, origin: outbound.Clean(source, maxOriginBytes), name: filepath.Base(source)}, nil
}

// detectFormat is the format asked for, else the one the Content-Type
// names, else the one the extension names (.csv, .json, .txt: what the
// operator's feed server publishes). Generic types (text/plain, as many
// hosts serve any file) defer to the extension. JSON is Mastodon's API
// when its elements have a severity, else GoToSocial's.
func detectFormat(asked moderation.Format, s *sourceCopy) (moderation.Format, string, error) {
	if asked != "" {
		return asked, "--format", nil
	}
	media := ""
	if s.contentType != "" {
		media, _, _ = mime.ParseMediaType(s.contentType)
	}
	switch {
	case media == "text/csv":
		return moderation.FormatMastodonCSV, "Content-Type " + media, nil
	case media == "application/json" || strings.HasSuffix(media, "+json"):
		return jsonFormat(s.body), "Content-Type " + media, nil
	}
	from := "the extension of " + s.name
	switch strings.ToLower(path.Ext(s.name)) {
	case ".csv":
		return moderation.FormatMastodonCSV, from, nil
	case ".json":
		return jsonFormat(s.body), from, nil
	case ".txt":
		return moderation.FormatPlain, from, nil
	}
	if media == "text/plain" {
		return moderation.FormatPlain, "Content-Type " + media, nil
	}
	what := "no .csv, .json or .txt extension"
	if s.url {
		what = fmt.Sprintf("Content-Type %q and %s", s.contentType, what)
	}
	return "", "", fmt.Errorf("cannot tell the format of %s (%s): give it with --format (one of %s)", s.origin, what, formatNames())
}

// jsonFormat tells Mastodon's public API JSON (each element with a
// severity) from GoToSocial's (every entry a suspension): reading the
// first as the second would turn its silences into suspensions.
func jsonFormat(body []byte) moderation.Format {
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') || !dec.More() {
		return moderation.FormatGoToSocialJSON
	}
	var first map[string]json.RawMessage
	if dec.Decode(&first) == nil {
		if _, ok := first["severity"]; ok {
			return moderation.FormatMastodonAPIJSON
		}
	}
	return moderation.FormatGoToSocialJSON
}

func formatNames() string {
	names := make([]string, len(moderation.Formats))
	for i, f := range moderation.Formats {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// The API server's rules for a Domain (api/v1alpha1 common_types.go),
// which the engine's normalisation does not all imply.
var (
	crdDomain   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$`)
	crdReserved = regexp.MustCompile(`(^|\.)([a-wyz0-9][a-z0-9]|x[a-mo-z0-9])--`)
)

// refusedByAPI says why the API server would refuse e's domain, or "".
func refusedByAPI(e moderation.Entry) string {
	d := e.Domain
	switch {
	case len(d) < 3 || len(d) > 253:
		return "the API server takes domains of 3 to 253 characters"
	case !crdDomain.MatchString(d):
		return "not a domain the API server takes (lower-case letters, digits and '-', at least one dot)"
	case crdReserved.MatchString(d):
		return "a label with '--' in its third and fourth characters is reserved for punycode"
	}
	return ""
}

// defaultName names the fork after the list's file: forked-NAME.
func defaultName(file string) string {
	base := strings.TrimSuffix(file, path.Ext(file))
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim("forked-"+strings.Trim(b.String(), "-"), "-")
	name = strings.TrimRight(textcut.Prefix(name, 63), "-")
	if len(validation.IsDNS1123Label(name)) > 0 {
		return "forked-policy"
	}
	return name
}

// CheckNames says what is wrong with a name and namespace given for a
// fork, before anything is fetched.
func CheckNames(name, namespace string) error {
	if name != "" {
		if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
			return fmt.Errorf("--name %q: %s", name, strings.Join(errs, "; "))
		}
	}
	if namespace != "" {
		if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
			return fmt.Errorf("--namespace %q: %s", namespace, strings.Join(errs, "; "))
		}
	}
	return nil
}

func truncate(s string, n int) string { return textcut.Truncate(s, n) }
