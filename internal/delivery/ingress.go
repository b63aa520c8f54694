package delivery

import (
	"net/http"
	"net/url"
)

// asIngress returns the HTTP client for an admin API at apiURL. When host
// is set (a hosted Instance reached through its own Service, see
// resources.AdminEndpoint), requests to apiURL's host carry Host: host and
// X-Forwarded-Proto: https, as they do when the Instance's ingress forwards
// them: the server then routes them to the name it is configured with, and
// Mastodon, which redirects whatever it believes arrived over plain HTTP
// to https://<domain>, answers in place. Requests to any other host (a
// redirect elsewhere) go out untouched. Without host, hc is returned as it
// is.
func asIngress(hc *http.Client, apiURL, host string) *http.Client {
	if host == "" {
		return hc
	}
	u, err := url.Parse(apiURL)
	if err != nil {
		// The driver refuses the URL with a clear error of its own.
		return hc
	}
	c := &http.Client{}
	if hc != nil {
		*c = *hc
	}
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = ingressHeaders{base: base, service: u.Host, host: host}
	return c
}

type ingressHeaders struct {
	base          http.RoundTripper
	service, host string
}

func (t ingressHeaders) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != t.service {
		return t.base.RoundTrip(req)
	}
	// A RoundTripper must not modify the caller's request.
	r := req.Clone(req.Context())
	r.Host = t.host
	r.Header.Set("X-Forwarded-Proto", "https")
	return t.base.RoundTrip(r)
}
