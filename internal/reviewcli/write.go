package reviewcli

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// What is printed comes from the cluster and, through the sources'
// provenance and the comments, from other people: every string goes
// through clean, so that none can move the cursor, clear the screen or
// retitle the terminal of the moderator reading it.

// WriteReview prints the pending proposals, each with its policy, age,
// summary, decisions so far against those required, and its change set.
// skipped are the namespaces --all could not read.
func WriteReview(w io.Writer, pending []Pending, skipped []string, now time.Time) {
	if len(pending) == 0 {
		fmt.Fprintln(w, "No proposal is waiting for a decision.")
	}
	for i, item := range pending {
		if i > 0 {
			fmt.Fprintln(w)
		}
		writeProposal(w, item, now)
	}
	if len(pending) == MaxPending {
		fmt.Fprintf(w, "\nOnly the first %d pending proposals are shown: name a namespace with -n.\n", MaxPending)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(w, "\n%d namespaces were skipped: you may not list proposals there.\n", len(skipped))
	}
}

func writeProposal(w io.Writer, item Pending, now time.Time) {
	p := item.Proposal
	s := p.Spec
	fmt.Fprintf(w, "%s/%s  policy %s, proposed %s\n", clean(p.Namespace), clean(p.Name), clean(s.Policy), age(s.ProposedAt.Time, now))
	fmt.Fprintf(w, "  hash %s\n", clean(s.Hash))
	if s.ProposedBy != "" {
		fmt.Fprintf(w, "  caused by %s\n", clean(s.ProposedBy))
	}
	fmt.Fprintf(w, "  %d added, %d escalated, %d relaxed, %d removed\n", s.Summary.Added, s.Summary.Escalated, s.Summary.Relaxed, s.Summary.Removed)
	fmt.Fprintf(w, "  approvals: %s\n", tally(p.Status.Approvals, item.Required))
	if len(p.Status.Rejections) > 0 {
		fmt.Fprintf(w, "  rejections: %s\n", tally(p.Status.Rejections, item.RejectionsRequired))
	}
	if item.PolicyProblem != "" {
		fmt.Fprintf(w, "  (%s)\n", clean(item.PolicyProblem))
	}
	total := int(s.Summary.Added + s.Summary.Escalated + s.Summary.Relaxed + s.Summary.Removed)
	if len(s.Changes) > 0 {
		fmt.Fprintln(w, "  changes:")
	}
	for _, c := range s.Changes {
		fmt.Fprintln(w, changeLine(c))
	}
	if s.Truncated || total > len(s.Changes) {
		where := "the operator's feed server has the full set"
		if s.ChangesURL != "" {
			where = "the full set is at " + clean(s.ChangesURL) + " (inside the cluster)"
		}
		fmt.Fprintf(w, "  only the first %d of %d changes are listed here; %s\n", len(s.Changes), total, where)
		fmt.Fprintf(w, "  see them all: fedcommons policy review %s -n %s --changes\n", clean(p.Name), clean(p.Namespace))
	}
	fmt.Fprintf(w, "  decide: fedcommons policy approve %s -n %s   (or reject, with --comment)\n", clean(p.Name), clean(p.Namespace))
}

// changeLine is one change, indented under its proposal.
func changeLine(c v1alpha1.PolicyChange) string {
	line := fmt.Sprintf("    %s: %s → %s", clean(c.Domain), decisionOrNone(c.Before), decisionOrNone(c.After))
	if c.Why != "" {
		line += "  (" + clean(c.Why) + ")"
	}
	return line
}

// tally is "1 of 2 (alice)", or "1 (required unknown)".
func tally(votes []v1alpha1.Vote, required int32) string {
	names := make([]string, 0, len(votes))
	for _, v := range votes {
		names = append(names, clean(v.User))
	}
	s := fmt.Sprint(len(votes))
	if required > 0 {
		s += fmt.Sprintf(" of %d required", required)
	} else {
		s += " (how many are required is unknown)"
	}
	if len(names) > 0 {
		s += " (" + strings.Join(names, ", ") + ")"
	}
	return s
}

func decisionOrNone(d string) string {
	if d == "" {
		return "none"
	}
	return clean(d)
}

// age is "3h ago", "2d ago", said to a person.
func age(t, now time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// WriteDecided says what a decision recorded and what happens next.
func WriteDecided(w io.Writer, d *Decided) {
	a := d.Approval
	verb := "approval"
	if a.Spec.Decision == v1alpha1.DecisionReject {
		verb = "rejection"
	}
	fmt.Fprintf(w, "Recorded your %s of proposal %s/%s (policy %s, hash %s) as %s, in PolicyApproval %s.\n",
		verb, clean(a.Namespace), clean(a.Spec.Proposal), clean(d.Policy), clean(a.Spec.Hash), clean(a.Spec.Approver), clean(a.Name))
	if a.Spec.Comment != "" {
		fmt.Fprintf(w, "Your comment is public: it is shown in the policy's history.\n")
	}
	fmt.Fprintf(w, "Counted before yours: %s. The operator counts yours, and applies or drops the proposal once enough people agree.\n",
		tally(d.Before, d.Required))
}

// clean makes text from the cluster safe to print on a terminal: control
// characters (escape sequences, carriage returns, newlines) are shown as
// their Go escapes instead of acted upon.
func clean(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := fmt.Sprintf("%q", string(r))
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isControl(r rune) bool {
	return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Bidi_Control, r)
}
