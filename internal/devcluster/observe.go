package devcluster

import (
	"context"
	"html"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// observer gathers Snapshots: the API objects' status, the operator's
// cluster feed (for provenance) and the fake servers' contents.
type observer struct {
	c       client.Reader
	feedURL string // http://127.0.0.1:port of the operator's cluster feed
	fakes   []*fakeAPI
	http    *http.Client
	// applying is what applyDemo waits for (see Snapshot.Applying).
	applying atomic.Pointer[string]
}

func (o *observer) setApplying(what string) { o.applying.Store(&what) }

func snapshot(ctx context.Context, o *observer) (Snapshot, error) {
	var s Snapshot
	if what := o.applying.Load(); what != nil {
		s.Applying = *what
	}
	comms := &v1alpha1.CommunityList{}
	if err := o.c.List(ctx, comms); err != nil {
		return s, err
	}
	for _, c := range comms.Items {
		ready, why := readyCond(c.Status.Conditions)
		s.Communities = append(s.Communities, CommunityRow{
			Name: c.Name, Namespace: c.Status.Namespace, ReadyInstances: c.Status.ReadyInstances, Inst: c.Status.Instances,
			Ready: ready, Reason: why,
		})
	}
	insts := &v1alpha1.InstanceList{}
	if err := o.c.List(ctx, insts); err != nil {
		return s, err
	}
	byKey := map[string]*v1alpha1.Instance{}
	for i := range insts.Items {
		in := &insts.Items[i]
		byKey[in.Namespace+"/"+in.Name] = in
		ready, why := readyCond(in.Status.Conditions)
		v := in.Status.Version
		if in.Spec.External != nil && v == "" {
			v = "external"
		}
		s.Instances = append(s.Instances, InstanceRow{
			Namespace: in.Namespace, Name: in.Name, Software: string(in.Spec.Software), Domain: string(in.Spec.Domain),
			Version: v, Ready: ready, Reason: why,
		})
		if in.Spec.Backup != nil {
			s.Backups = append(s.Backups, backupRow(in))
		}
	}
	pols := &v1alpha1.FederationPolicyList{}
	if err := o.c.List(ctx, pols); err != nil {
		return s, err
	}
	for _, p := range pols.Items {
		ready, why := readyCond(p.Status.Conditions)
		row := PolicyRow{Namespace: p.Namespace, Name: p.Name, Entries: p.Status.Entries, Ready: ready, Reason: why}
		if ready {
			row.Examples = pickExamples(o.feedEntries(ctx, p.Namespace, p.Name), 4)
		}
		s.Policies = append(s.Policies, row)
	}
	for _, f := range o.fakes {
		s.Servers = append(s.Servers, serverRow(f, byKey[f.Instance]))
	}
	return s, nil
}

func readyCond(cs []metav1.Condition) (bool, string) {
	c := meta.FindStatusCondition(cs, v1alpha1.ConditionReady)
	if c == nil {
		return false, ""
	}
	return c.Status == "True", c.Message
}

// serverRow reads a fake server the way its admin would see it.
func serverRow(f *fakeAPI, inst *v1alpha1.Instance) ServerRow {
	r := ServerRow{Instance: f.Instance, Software: f.Software, URL: f.Server.URL, Expected: -1, HandMadeKept: true, SyncOff: f.SyncOff}
	if inst != nil && f.SyncOff == "" {
		if st := inst.Status.Federation; st != nil {
			r.Expected = int(st.Entries)
		}
		c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
		r.Synced = c != nil && c.Status == "True"
	}
	records := append(f.Server.Blocks(), f.Server.Limits()...)
	allows := map[string]bool{}
	if f.Software == "GoToSocial" {
		// GoToSocial's allows carry a private comment, so fedcommons writes
		// and marks them; Mastodon's have none and are never ours.
		for _, a := range f.Server.Allows() {
			allows[a.ID] = true
			records = append(records, a)
		}
	}
	present := map[string]bool{}
	var managed, handMade []EntryRow
	for _, rec := range records {
		present[rec.Domain] = true
		summary, ours := drivers.ParseComment(rec.PrivateComment)
		e := EntryRow{Domain: rec.Domain, Action: recordAction(rec)}
		if allows[rec.ID] {
			e.Action = "allow"
		}
		if ours {
			r.Managed++
			e.Why = "fedcommons: " + summary
			managed = append(managed, e)
		} else {
			r.HandMade++
			e.Why = "hand-made, left alone"
			handMade = append(handMade, e)
		}
	}
	for _, d := range f.HandMade {
		if !present[d] {
			r.HandMadeKept = false
		}
	}
	// A few of ours (local decisions and subscribed ones both), then the
	// hand-made ones: those are the point of the external server.
	r.Examples = append(pickServerExamples(managed, 3), handMade...)
	return r
}

func recordAction(r fakeserver.Record) string {
	switch {
	case r.Severity == "noop" && r.RejectMedia:
		return "reject-media"
	case r.Severity != "":
		return r.Severity
	case r.MediaPolicy != "" || r.FollowsPolicy != "" || r.StatusesPolicy != "" || r.AccountsPolicy != "":
		return "limit"
	}
	return "suspend" // a GoToSocial domain block
}

// pickServerExamples prefers variety: a local decision and a consensus one.
func pickServerExamples(rows []EntryRow, n int) []EntryRow {
	sort.SliceStable(rows, func(i, j int) bool {
		li, lj := strings.Contains(rows[i].Why, "local"), strings.Contains(rows[j].Why, "local")
		if li != lj {
			return !li // subscribed ones first: they show consensus at work
		}
		return rows[i].Domain < rows[j].Domain
	})
	var local, other []EntryRow
	for _, r := range rows {
		if strings.Contains(r.Why, "local") {
			local = append(local, r)
		} else {
			other = append(other, r)
		}
	}
	return interleave(local, other, n)
}

// pickExamples chooses up to n entries, alternating our own decisions and
// subscribed ones so both kinds of provenance show.
func pickExamples(rows []EntryRow, n int) []EntryRow {
	var local, other []EntryRow
	for _, r := range rows {
		if r.Why == "our own decision" {
			local = append(local, r)
		} else {
			other = append(other, r)
		}
	}
	return interleave(local, other, n)
}

func interleave(a, b []EntryRow, n int) []EntryRow {
	var out []EntryRow
	for i := 0; len(out) < n && (i < len(a) || i < len(b)); i++ {
		if i < len(a) {
			out = append(out, a[i])
		}
		if i < len(b) && len(out) < n {
			out = append(out, b[i])
		}
	}
	return out
}

// pageRow matches one entry of a transparency page (internal/feeds'
// pageTemplate): domain, decision, public reason, provenance.
var pageRow = regexp.MustCompile(`(?s)<tr><td><code[^>]*>(.*?)</code></td>\s*<td data-label="Decision">(.*?)</td>\s*<td data-label="Reason">.*?</td>\s*<td data-label="Source" class="muted">(.*?)</td></tr>`)

// feedEntries reads a policy's transparency page from the operator's
// cluster feed: the provenance shown there is what other communities see.
func (o *observer) feedEntries(ctx context.Context, ns, name string) []EntryRow {
	if o.feedURL == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.feedURL+"/policies/"+ns+"/"+name+".html", nil)
	if err != nil {
		return nil
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil
	}
	return parsePage(string(body))
}

func parsePage(page string) []EntryRow {
	var out []EntryRow
	for _, m := range pageRow.FindAllStringSubmatch(page, -1) {
		out = append(out, EntryRow{Domain: html.UnescapeString(m[1]), Action: html.UnescapeString(m[2]), Why: html.UnescapeString(m[3])})
	}
	return out
}

// backupRow says where an Instance's last backup went, from its status,
// and what the first one waits for until there is one.
func backupRow(in *v1alpha1.Instance) BackupRow {
	r := BackupRow{Instance: in.Name}
	st := in.Status.Backup
	switch {
	case st != nil && st.LastSuccessfulTime != nil:
		r.Done, r.Summary = true, backup.Summary(st)
	case st != nil && st.LastFailure != "":
		r.Summary = "the last backup failed: " + st.LastFailure
	case st != nil && st.NextScheduleTime != nil:
		r.Summary = "waiting for the first scheduled backup, due at " + st.NextScheduleTime.UTC().Format("15:04 MST")
	default:
		r.Summary = "backups are scheduled once the server is installed"
	}
	return r
}
