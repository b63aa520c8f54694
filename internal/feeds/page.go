package feeds

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"strings"
	"time"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// The transparency page and the index are read by people, on a phone as
// often as not: at 400 px the table becomes one card per entry, long
// names and hashes wrap instead of running off the edge, and times are
// written for people. TestPageFitsAPhone checks it in a real browser.

// pageRow is what the transparency page shows of an entry: public fields
// only, so no template change can ever reach a private comment.
type pageRow struct {
	Domain     string
	Digest     string
	Obfuscated bool
	// Decision is the action and what comes with it, said once:
	// "suspend", "silence, reject media", "reject media", "allow".
	Decision      string
	PublicComment string
	Summary       string
}

type pageData struct {
	Title     string
	Community string
	Namespace string
	Name      string
	Hash      string
	// ShortHash is what is shown of Hash (all of it is in the tooltip).
	ShortHash string
	UpdatedAt string
	// Intro says what the list holds, from what it holds.
	Intro  string
	Counts []actionCount
	Rows   []pageRow
	Feeds  []feedLink
	// FullFeeds: the feeds linked name obfuscated domains in full (the
	// cluster audience's, for the co-op's own policies).
	FullFeeds bool
	// Obfuscated counts the entries shown starred out.
	Obfuscated int
	// History is the decided changes (reviewed policies), newest first.
	History []historyRow
}

type actionCount struct {
	Action string
	N      int
}

type feedLink struct {
	Label, Href string
}

// humanTime is how the pages write a time: "3 November 2026, 10:30 UTC".
func humanTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2 January 2006, 15:04 MST")
}

// decision says an entry's action and its flags once each.
func decision(e moderation.Entry) string {
	parts := []string{e.Action.String()}
	if e.Action == moderation.RejectMedia {
		parts[0] = "reject media"
	} else if e.RejectMedia {
		parts = append(parts, "reject media")
	}
	if e.RejectReports {
		parts = append(parts, "reject reports")
	}
	return strings.Join(parts, ", ")
}

// intro says what the list is about from the actions it holds, so a page
// listing allows does not claim to list only limits.
func intro(counts map[moderation.Action]int) string {
	limits := counts[moderation.Suspend] + counts[moderation.Silence] + counts[moderation.RejectMedia] + counts[moderation.Noop]
	switch {
	case limits > 0 && counts[moderation.Allow] > 0:
		return "The servers this community limits or suspends federation with, those it explicitly allows, and why."
	case counts[moderation.Allow] > 0:
		return "The servers this community explicitly allows federation with, and why."
	case limits > 0:
		return "The servers this community limits or suspends federation with, and why."
	}
	return "This community has published no decision about other servers yet."
}

func renderPage(p *Published, a Audience) ([]byte, error) {
	d := pageData{
		FullFeeds: a == ClusterAudience,
		Title:     p.Namespace + "/" + p.Name,
		Community: p.Community,
		Namespace: p.Namespace,
		Name:      p.Name,
		Hash:      p.Hash,
		ShortHash: shortHash(p.Hash),
		UpdatedAt: humanTime(p.UpdatedAt),
	}
	counts := map[moderation.Action]int{}
	for _, pe := range p.Entries {
		e := pe.Entry
		counts[e.Action]++
		row := pageRow{
			Domain:        PublicDomain(e),
			Obfuscated:    e.Obfuscate,
			Decision:      decision(e),
			PublicComment: e.PublicComment,
			Summary:       pe.Summary,
		}
		if e.Obfuscate {
			d.Obfuscated++
			// Mastodon publishes the SHA-256 of an obfuscated domain so
			// that someone who knows the domain can check it is listed.
			row.Digest = domainDigest(e.Domain)
		}
		d.Rows = append(d.Rows, row)
	}
	d.Intro = intro(counts)
	d.History = historyRows(p.History, a)
	for _, a := range []moderation.Action{moderation.Suspend, moderation.Silence, moderation.RejectMedia, moderation.Noop, moderation.Allow} {
		if counts[a] > 0 {
			label := a.String()
			if a == moderation.RejectMedia {
				label = "reject media"
			}
			d.Counts = append(d.Counts, actionCount{label, counts[a]})
		}
	}
	for _, k := range []struct{ label, ext string }{{"Mastodon CSV", ".csv"}, {"GoToSocial JSON", ".json"}, {"plain text", ".txt"}} {
		d.Feeds = append(d.Feeds, feedLink{k.label, p.Name + k.ext})
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// domainDigest is the SHA-256 Mastodon publishes of an obfuscated domain.
func domainDigest(domain string) string {
	sum := sha256.Sum256([]byte(domain))
	return hex.EncodeToString(sum[:])
}

// shortHash keeps the algorithm and the first 12 hex digits: enough to
// compare two versions by eye, short enough for a phone.
func shortHash(h string) string {
	algo, hex, ok := strings.Cut(h, ":")
	if !ok {
		algo, hex = "", h
	}
	if len(hex) > 12 {
		hex = hex[:12] + "…"
	}
	if algo == "" {
		return hex
	}
	return algo + ":" + hex
}

type indexRow struct {
	Community, Namespace, Name, Href, UpdatedAt string
	Entries                                     int
	Visibility                                  string
}

func renderIndex(ps []*Published, a Audience, count func(*Published) int) ([]byte, error) {
	rows := make([]indexRow, 0, len(ps))
	for _, p := range ps {
		rows = append(rows, indexRow{
			Community: p.Community, Namespace: p.Namespace, Name: p.Name,
			Href: p.Namespace + "/" + p.Name + ".html", Entries: count(p), Visibility: string(p.Visibility),
			UpdatedAt: humanTime(p.UpdatedAt),
		})
	}
	var buf bytes.Buffer
	err := indexTemplate.Execute(&buf, struct {
		Cluster bool
		Rows    []indexRow
	}{a == ClusterAudience, rows})
	return buf.Bytes(), err
}

// pageStyle: on a narrow screen (under 40rem) each table row becomes a
// card whose cells are labelled by their data-label; long words (domains,
// hashes, comments without spaces) wrap anywhere rather than widen the page.
const pageStyle = `<style>
*{box-sizing:border-box}
body{font-family:system-ui,sans-serif;max-width:70rem;margin:1.5rem auto;padding:0 1rem;color:#222;line-height:1.45;overflow-wrap:anywhere}
h1{font-size:1.5rem;line-height:1.25}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}code{font-size:.95em}.muted{color:#595959}.obf{font-style:italic}
h2{font-size:1.2rem;margin-top:2rem}h3{font-size:1rem;margin:1rem 0 .25rem}.decision{border-top:1px solid #ddd}.decision ul{margin:.25rem 0;padding-left:1.25rem}
@media (max-width:40rem){
 table,thead,tbody,tr,th,td{display:block;width:100%}
 thead{position:absolute;left:-9999px}
 tr{border:1px solid #ddd;border-radius:.4rem;margin:0 0 .75rem;padding:.25rem .5rem}
 td{border:0;padding:.15rem 0}
 td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#444}
 td:first-child code{font-weight:600}
}
</style>`

var pageTemplate = template.Must(template.New("page").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Federation policy {{.Title}}</title>` + pageStyle + `</head>
<body>
<p class="muted"><a href="../">All published policies</a></p>
<h1>{{if .Community}}{{.Community}}: {{end}}federation policy <code>{{.Namespace}}/{{.Name}}</code></h1>
<p>{{.Intro}}
{{- if .UpdatedAt}} Last changed {{.UpdatedAt}}.{{end}}
{{- if .Hash}} Version <code title="{{.Hash}}">{{.ShortHash}}</code>.{{end}}</p>
<p>{{len .Rows}} {{if eq (len .Rows) 1}}entry{{else}}entries{{end}}{{range $i, $c := .Counts}}{{if eq $i 0}}: {{else}}, {{end}}{{$c.N}} {{$c.Action}}{{end}}.
Feeds: {{range $i, $f := .Feeds}}{{if $i}}, {{end}}<a href="{{$f.Href}}">{{$f.Label}}</a>{{end}}.</p>
{{- if .Rows}}
<table>
<thead><tr><th>Domain</th><th>Decision</th><th>Reason</th><th>Source</th></tr></thead>
<tbody>
{{- range .Rows}}
<tr><td>{{if .Obfuscated}}<code class="obf" title="SHA-256 {{.Digest}}">{{.Domain}}</code>{{else}}<code>{{.Domain}}</code>{{end}}</td>
<td data-label="Decision">{{.Decision}}</td>
<td data-label="Reason">{{if .PublicComment}}{{.PublicComment}}{{else}}<span class="muted">none given</span>{{end}}</td>
<td data-label="Source" class="muted">{{.Summary}}</td></tr>
{{- end}}
</tbody></table>
{{- end}}
{{- if .Obfuscated}}
<p class="muted">Domains partly starred out are listed on purpose without naming them; the SHA-256 of the full domain is in the tooltip.
{{- if .FullFeeds}} The feeds at this address are for the co-op's own policies: they name these domains in full, flagged obfuscate, so that subscribers enforce them and keep them hidden in turn.
{{- else}} The feeds star them out the same way.{{end}}</p>
{{- end}}
{{- template "history" .History}}
</body></html>
`))

var indexTemplate = template.Must(template.New("index").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Published federation policies</title>` + pageStyle + `</head>
<body>
<h1>Published federation policies</h1>
{{- if .Cluster}}
<p class="muted">Inside the cluster: policies published to the cluster are listed too.</p>
{{- end}}
{{- if .Rows}}
<table>
<thead><tr><th>Community</th><th>Policy</th><th>Entries</th><th>Last changed</th>{{if .Cluster}}<th>Visibility</th>{{end}}</tr></thead>
<tbody>
{{- range .Rows}}
<tr><td>{{.Community}}</td><td data-label="Policy"><a href="{{.Href}}">{{.Namespace}}/{{.Name}}</a></td><td data-label="Entries">{{.Entries}}</td><td data-label="Last changed">{{.UpdatedAt}}</td>{{if $.Cluster}}<td data-label="Visibility">{{.Visibility}}</td>{{end}}</tr>
{{- end}}
</tbody></table>
{{- else}}
<p>No policy is published here.</p>
{{- end}}
</body></html>
`))
