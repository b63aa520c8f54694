package outbound

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Redirects is what a client does with a redirect.
type Redirects int

const (
	// SameOrigin follows redirects within the origin of the first request
	// (scheme, host and port) and refuses any other: a call that carries
	// a token or a password must not carry it elsewhere, not even to
	// another port of the same host. The default.
	SameOrigin Redirects = iota
	// NoRedirects hands the redirect itself back as the response, for a
	// caller that reads Location (the OAuth flow).
	NoRedirects
	// PublicOrigins may leave the origin, for calls that carry no
	// credentials (a feed fetch: published lists move to CDNs). Every hop
	// is guarded at dial time like the first, and credential headers are
	// dropped when the origin changes.
	PublicOrigins
)

// CheckRedirect is an http.Client CheckRedirect func for a policy. Whatever
// the policy, a redirect from https to http, to a scheme other than http
// and https, or past max hops (0: DefaultMaxRedirects; negative: none) is
// refused with a *RefusedError.
func CheckRedirect(policy Redirects, max int) func(req *http.Request, via []*http.Request) error {
	switch {
	case max == 0:
		max = DefaultMaxRedirects
	case max < 0:
		max = 0
	}
	return func(req *http.Request, via []*http.Request) error {
		if policy == NoRedirects {
			return http.ErrUseLastResponse
		}
		if len(via) > max {
			return &RefusedError{Why: fmt.Sprintf("more than %d redirects (the last one to %s)", max, ShownURL(req.URL))}
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
			return &RefusedError{Why: fmt.Sprintf("a redirect to scheme %q (%s): only http and https are followed", Clean(req.URL.Scheme, 16), ShownURL(req.URL))}
		}
		if req.URL.Scheme == "http" {
			for _, v := range via {
				if v.URL.Scheme == "https" {
					return &RefusedError{Why: fmt.Sprintf("a redirect from https to plain http (%s)", Origin(req.URL))}
				}
			}
		}
		if Origin(req.URL) == Origin(via[0].URL) {
			return nil
		}
		if policy == SameOrigin {
			return &RefusedError{Why: fmt.Sprintf("a redirect from %s to another server (%s): calls that carry credentials follow redirects only within the server they were sent to",
				Origin(via[0].URL), Origin(req.URL))}
		}
		for _, h := range []string{"Authorization", "Cookie", "Proxy-Authorization"} {
			req.Header.Del(h)
		}
		return nil
	}
}

// Origin is u's scheme://host:port, the port always written, cleaned for
// an error message.
func Origin(u *url.URL) string {
	return Clean(strings.ToLower(u.Scheme)+"://"+HostPort(u), maxShownURL)
}

// maxShownURL bounds a URL quoted in an error. Errors end up in a status
// condition, clipped; a long URL must not push the reason out.
const maxShownURL = 200

// ShownURL is u without credentials, cleaned and clipped for an error
// message: a redirect's target comes from the remote server.
func ShownURL(u *url.URL) string { return Clean(u.Redacted(), maxShownURL) }

// Unwrap strips the *url.Error net/http wraps every failure in: its text
// quotes the URL, which after a refused redirect is the remote server's
// Location header, verbatim. What is left is the cause, in our words or
// the network's.
func Unwrap(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
