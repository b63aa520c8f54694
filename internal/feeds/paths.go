package feeds

import (
	"net/http"
	"strconv"
)

// Paths documents what a feed server serves, for people: `fedcommons
// manager --help`, the page at / and the docs all print it, so the feeds
// can be found without reading the code (issue 15 finding 5).
const Paths = `  /                                  this list, with links
  /policies/                         the published policies (HTML)
  /policies/NAMESPACE/NAME           a policy's transparency page (HTML; also NAME.html)
  /policies/NAMESPACE/NAME.csv       the policy as Mastodon CSV (domain blocks import)
  /policies/NAMESPACE/NAME.json      the policy as GoToSocial JSON (domain permissions import)
  /policies/NAMESPACE/NAME.txt       its suspensions, one domain a line
`

var rootPage = []byte(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>fedcommons feeds</title>` + pageStyle + `</head>
<body>
<h1>fedcommons feeds</h1>
<p>This address serves the federation policies communities publish: what they decided about other servers, and why.</p>
<p><a href="policies/">The published policies</a></p>
<pre>` + Paths + `</pre>
</body></html>
`)

// serveRoot answers / with what is served here, instead of a 404 that
// leaves a person guessing.
func (s *Server) serveRoot(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	s.setCaching(h, nil)
	h.Set("Content-Type", kindPage.contentType)
	h.Set("Content-Length", strconv.Itoa(len(rootPage)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rootPage)
	}
}
