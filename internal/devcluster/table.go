package devcluster

import (
	"bytes"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

// Snapshot is everything the demo's table shows, gathered in one pass.
// Rendering and the readiness verdict are pure functions of it.
type Snapshot struct {
	Communities []CommunityRow
	Instances   []InstanceRow
	Policies    []PolicyRow
	Servers     []ServerRow
	// Backups are the Instances with spec.backup.
	Backups []BackupRow
	// Applying is what the demo itself is doing while its objects are not
	// all created (e.g. waiting for a new ResourceQuota's status, which
	// only kube-controller-manager fills); empty once they are.
	Applying string
}

// CommunityRow is one Community.
type CommunityRow struct {
	Name, Namespace      string
	ReadyInstances, Inst int32
	Ready                bool
	Reason               string
}

// InstanceRow is one Instance.
type InstanceRow struct {
	Namespace, Name, Software, Domain, Version string
	Ready                                      bool
	Reason                                     string
}

// PolicyRow is one FederationPolicy and a few of its effective entries.
type PolicyRow struct {
	Namespace, Name string
	Entries         int32
	Ready           bool
	Reason          string
	// Examples are effective entries with their public provenance, as the
	// policy's transparency page shows them.
	Examples []EntryRow
}

// BackupRow is one Instance's scheduled backups: Done once one has
// completed, Summary as status.backup says it.
type BackupRow struct {
	Instance, Summary string
	Done              bool
}

// EntryRow is one moderation entry and why it is there.
type EntryRow struct {
	Domain, Action, Why string
}

// ServerRow is what one fake admin API holds.
type ServerRow struct {
	Instance, Software, URL string
	// Managed are entries written by fedcommons (private comment marked),
	// HandMade the others.
	Managed, HandMade int
	// Expected is how many managed entries the operator reports having put
	// there (status.federation.entries); -1 when it does not sync.
	Expected int
	// Synced is the Instance's FederationSynced condition.
	Synced bool
	// HandMadeKept is false when a hand-made entry went missing.
	HandMadeKept bool
	SyncOff      string
	Examples     []EntryRow
}

// ServerDone reports whether a server holds what it should.
func (r ServerRow) ServerDone() bool {
	if r.SyncOff != "" {
		return r.HandMadeKept
	}
	return r.Synced && r.Expected > 0 && r.Managed == r.Expected && r.HandMadeKept
}

// Pending names what is not Ready yet, one line each; empty when all is.
func (s Snapshot) Pending() []string {
	var out []string
	switch {
	case s.Applying != "":
		out = append(out, s.Applying)
	case len(s.Communities) == 0 || len(s.Instances) == 0 || len(s.Policies) == 0:
		out = append(out, "the demo's objects are not all created yet")
	}
	for _, c := range s.Communities {
		if !c.Ready {
			out = append(out, fmt.Sprintf("Community %s: %s", c.Name, orDash(c.Reason)))
		}
	}
	for _, i := range s.Instances {
		if !i.Ready {
			out = append(out, fmt.Sprintf("Instance %s/%s: %s", i.Namespace, i.Name, orDash(i.Reason)))
		}
	}
	for _, p := range s.Policies {
		if !p.Ready {
			out = append(out, fmt.Sprintf("FederationPolicy %s/%s: %s", p.Namespace, p.Name, orDash(p.Reason)))
		}
	}
	for _, b := range s.Backups {
		if !b.Done {
			out = append(out, fmt.Sprintf("Backup of %s: %s", b.Instance, b.Summary))
		}
	}
	for _, r := range s.Servers {
		if r.ServerDone() {
			continue
		}
		switch {
		case !r.HandMadeKept:
			out = append(out, fmt.Sprintf("fake %s server of %s: a hand-made entry is gone", r.Software, r.Instance))
		default:
			out = append(out, fmt.Sprintf("fake %s server of %s: holds %d entries from fedcommons, the operator reports %d", r.Software, r.Instance, r.Managed, max(r.Expected, 0)))
		}
	}
	return out
}

// Ready reports whether everything is.
func (s Snapshot) Ready() bool { return len(s.Pending()) == 0 }

func orDash(s string) string {
	if s == "" {
		return "no status yet"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// clip shortens s to n runes, marking the cut.
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// Render draws the table. elapsed is shown in the title when non-zero.
func Render(s Snapshot, elapsed time.Duration) string {
	var b bytes.Buffer
	title := "fedcommons-dev"
	if elapsed > 0 {
		title += fmt.Sprintf(" — %s", elapsed.Round(time.Second))
	}
	pending := s.Pending()
	if len(pending) == 0 {
		title += " — everything is Ready"
	} else {
		// Say what is awaited, not who (issue 15: "waiting for the
		// operator" while the API server was waiting for quota status).
		title += fmt.Sprintf(" — %s not Ready yet (WAITING FOR, below)", plural(len(pending), "thing", "things"))
	}
	fmt.Fprintln(&b, title)

	fmt.Fprintln(&b)
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "COMMUNITY\tNAMESPACE\tINSTANCES\tREADY\t")
	for _, c := range s.Communities {
		ready := yesNo(c.Ready)
		if !c.Ready {
			ready += "  " + clip(orDash(c.Reason), 70)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d ready\t%s\t\n", c.Name, c.Namespace, c.ReadyInstances, c.Inst, ready)
	}
	_ = tw.Flush()

	fmt.Fprintln(&b)
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tSOFTWARE\tDOMAIN\tVERSION\tREADY\t")
	for _, i := range s.Instances {
		v := i.Version
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "%s/%s\t%s\t%s\t%s\t%s  %s\t\n", i.Namespace, i.Name, i.Software, i.Domain, v, yesNo(i.Ready), clip(i.Reason, 70))
	}
	_ = tw.Flush()

	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "FEDERATION POLICIES (effective entries; why, as the transparency page says)")
	for _, p := range s.Policies {
		line := fmt.Sprintf("  %s/%s: %d entries, Ready %s", p.Namespace, p.Name, p.Entries, yesNo(p.Ready))
		if !p.Ready {
			line += " — " + clip(orDash(p.Reason), 70)
		}
		fmt.Fprintln(&b, line)
		writeEntries(&b, p.Examples)
		writeMore(&b, len(p.Examples), int(p.Entries))
	}

	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "WHAT EACH SERVER RECEIVED (in-process fake admin APIs, over HTTP)")
	for _, r := range s.Servers {
		fmt.Fprintf(&b, "  %s — fake %s at %s: ", r.Instance, r.Software, r.URL)
		switch {
		case r.SyncOff != "":
			fmt.Fprintf(&b, "%s; %d entries\n", r.SyncOff, r.Managed+r.HandMade)
		default:
			fmt.Fprintf(&b, "%d managed by fedcommons, %d hand-made (left alone)\n", r.Managed, r.HandMade)
		}
		writeEntries(&b, r.Examples)
		if r.SyncOff == "" {
			writeMore(&b, len(r.Examples), r.Managed+r.HandMade)
		}
	}
	for _, r := range s.Backups {
		fmt.Fprintf(&b, "\nBackups: %s %s\n", r.Instance, r.Summary)
	}
	if len(s.Backups) > 0 {
		fmt.Fprintln(&b, "  (each backup Job's own script, run on this machine by the demo's stand-in for the kubelet, in .demo/volumes;")
		fmt.Fprintln(&b, "   kwok runs no GoToSocial, so what it copies is a placeholder SQLite database the stand-in made)")
	}
	if len(pending) > 0 {
		fmt.Fprintln(&b)
		fmt.Fprintln(&b, "WAITING FOR")
		shown := pending[:min(len(pending), maxPendingShown)]
		for _, p := range shown {
			fmt.Fprintf(&b, "  %s\n", clip(p, 160))
		}
		if len(pending) > len(shown) {
			fmt.Fprintf(&b, "  …and %d more\n", len(pending)-len(shown))
		}
	}
	return b.String()
}

// maxPendingShown keeps the frame to a screen while much is pending.
const maxPendingShown = 8

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func writeEntries(b *bytes.Buffer, rows []EntryRow) {
	if len(rows) == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, e := range rows {
		fmt.Fprintf(tw, "      %s\t%s\t— %s\t\n", e.Domain, e.Action, clip(strings.TrimSpace(e.Why), 90))
	}
	_ = tw.Flush()
}

// writeMore says how many entries the examples above leave out (issue 15:
// lists were cut without saying so).
func writeMore(b *bytes.Buffer, shown, total int) {
	if shown > 0 && total > shown {
		fmt.Fprintf(b, "      …and %d more\n", total-shown)
	}
}
