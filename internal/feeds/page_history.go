package feeds

import (
	"fmt"
	"html/template"
	"strings"

	"github.com/fedcommons/fedcommons/internal/moderation"
)

// historyRow is what the page shows of a HistoryRecord; like pageRow,
// only what may be public reaches the template.
type historyRow struct {
	Outcome    string
	DecidedAt  string
	ProposedAt string
	Cause      string
	Counts     string
	Changes    []historyChangeRow
	// More is how many changes of the set are not listed.
	More       int
	Approvals  []voteRow
	Rejections []voteRow
}

type historyChangeRow struct {
	Domain        string
	Digest        string
	Obfuscated    bool
	Before, After string
	Why           string
}

type voteRow struct {
	User, Comment, At string
}

var outcomeLabels = map[HistoryOutcome]string{
	HistoryApplied: "Applied", HistoryRejected: "Rejected", HistorySuperseded: "Superseded",
}

// historyRows is the history as audience a may see it: the public page
// leaves out the changes of cluster-only entries and stars out obfuscated
// domains, as the entries' table does.
func historyRows(records []HistoryRecord, a Audience) []historyRow {
	rows := make([]historyRow, 0, len(records))
	for _, r := range records {
		label, ok := outcomeLabels[r.Outcome]
		if !ok {
			label = "Decided"
		}
		row := historyRow{
			Outcome: label, DecidedAt: humanTime(r.DecidedAt), ProposedAt: humanTime(r.ProposedAt), Cause: r.Cause,
			Counts:     changeCounts(r),
			Approvals:  voteRows(r.Approvals),
			Rejections: voteRows(r.Rejections),
		}
		for _, c := range r.Changes {
			if c.ClusterOnly && a != ClusterAudience {
				continue
			}
			e := moderation.Entry{Domain: c.Domain, Obfuscate: c.Obfuscate}
			cr := historyChangeRow{Domain: PublicDomain(e), Obfuscated: c.Obfuscate, Before: orNone(c.Before), After: orNone(c.After), Why: c.Why}
			if c.Obfuscate {
				cr.Digest = domainDigest(c.Domain)
			}
			row.Changes = append(row.Changes, cr)
		}
		row.More = max(0, r.Added+r.Escalated+r.Relaxed+r.Removed-len(row.Changes))
		rows = append(rows, row)
	}
	return rows
}

func changeCounts(r HistoryRecord) string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{r.Added, "added"}, {r.Escalated, "made stricter"}, {r.Relaxed, "made milder"}, {r.Removed, "removed"}} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	if len(parts) == 0 {
		return "no entry changed"
	}
	return strings.Join(parts, ", ")
}

func voteRows(votes []HistoryVote) []voteRow {
	out := make([]voteRow, 0, len(votes))
	for _, v := range votes {
		out = append(out, voteRow{User: v.User, Comment: v.PublicComment, At: humanTime(v.At)})
	}
	return out
}

func orNone(d string) string {
	if d == "" {
		return "none"
	}
	return d
}

// historyTemplate is the page's History section. A list, not a table: on
// a phone each decision reads as a short paragraph.
var _ = template.Must(pageTemplate.New("history").Parse(`
{{- if .}}
<section id="history">
<h2>History</h2>
<p class="muted">Changes to this policy wait for the approval of the community's moderators. The last {{len .}} decided, newest first; the comments are those the moderators made public when they decided.</p>
{{- range .}}
<article class="decision">
<h3>{{.Outcome}}{{if .DecidedAt}} on {{.DecidedAt}}{{end}}</h3>
<p>{{.Counts}}.{{if .ProposedAt}} Proposed {{.ProposedAt}}{{if .Cause}}, caused by {{.Cause}}{{end}}.{{end}}</p>
{{- if or .Changes .More}}
<ul>
{{- range .Changes}}
<li>{{if .Obfuscated}}<code class="obf" title="SHA-256 {{.Digest}}">{{.Domain}}</code>{{else}}<code>{{.Domain}}</code>{{end}}: {{.Before}} → {{.After}}{{if .Why}} <span class="muted">({{.Why}})</span>{{end}}</li>
{{- end}}
{{- if .More}}
<li class="muted">and {{.More}} more</li>
{{- end}}
</ul>
{{- end}}
{{- if .Approvals}}
<p>Approved by {{range $i, $v := .Approvals}}{{if $i}}; {{end}}{{$v.User}}{{if $v.Comment}}: <q>{{$v.Comment}}</q>{{end}}{{end}}.</p>
{{- end}}
{{- if .Rejections}}
<p>Rejected by {{range $i, $v := .Rejections}}{{if $i}}; {{end}}{{$v.User}}{{if $v.Comment}}: <q>{{$v.Comment}}</q>{{end}}{{end}}.</p>
{{- end}}
</article>
{{- end}}
</section>
{{- end}}`))
