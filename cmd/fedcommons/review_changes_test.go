package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/review"
)

// saveReviewState writes policy shared's review state into riverside as
// the operator does: review.Save cut into the ConfigMaps review.Layout
// names. The pending change set is what review.Decide makes of a new
// subscription listing n domains, proposed as proposal.
func (rc *reviewCluster) saveReviewState(proposal string, n int) review.ChangeSet {
	rc.t.Helper()
	listed := make([]moderation.Entry, n)
	for i := range listed {
		listed[i] = moderation.Entry{Domain: fmt.Sprintf("spam%04d.example", i), Action: moderation.Suspend}
	}
	candidate, err := moderation.Merge(moderation.MergeInput{Sources: []moderation.Source{{Name: "big-blocklist", Weight: 1, Entries: listed}}})
	if err != nil {
		rc.t.Fatal(err)
	}
	cs := review.Decide(nil, candidate, nil, nil).Review
	if len(cs.Changes) != n {
		rc.t.Fatalf("Decide proposes %d changes, want %d", len(cs.Changes), n)
	}
	chunks, digest, err := review.Save(review.State{Pending: &review.Pending{Proposal: proposal, ChangeSet: cs}})
	if err != nil {
		rc.t.Fatal(err)
	}
	for _, s := range review.Layout("shared", chunks, digest) {
		rc.create(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: s.Name}, Data: s.Data, BinaryData: s.Binary})
	}
	return cs
}

// bigProposal creates the PolicyProposal the operator writes for cs: the
// first 200 changes listed, truncated.
func (rc *reviewCluster) bigProposal(name, hash string, cs review.ChangeSet) {
	rc.t.Helper()
	var listed []v1alpha1.PolicyChange
	for _, c := range cs.Changes[:min(200, len(cs.Changes))] {
		listed = append(listed, v1alpha1.PolicyChange{Domain: c.Domain, Before: review.Describe(c.Before), After: review.Describe(c.After), Why: c.Why})
	}
	rc.create(&v1alpha1.PolicyProposal{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: name},
		Spec: v1alpha1.PolicyProposalSpec{
			Policy: "shared", Hash: hash, ProposedAt: metav1.NewTime(time.Now().Add(-time.Hour)),
			ProposedBy: "source big-blocklist", Summary: review.Summarize(cs.Changes),
			Changes: listed, Truncated: len(cs.Changes) > len(listed),
			ChangesURL: "http://fedcommons-feeds.fedcommons-system.svc/proposals/riverside/shared/" + name + ".json",
		},
	})
}

// TestReviewChanges: `policy review NAME --changes` prints a proposal's
// whole change set, read from the operator's saved state with the user's
// own RBAC, and only when that state still holds this proposal.
func TestReviewChanges(t *testing.T) {
	rc := startReviewCluster(t)
	alice, victor := rc.kubeconfig("Alice@Example.org"), rc.kubeconfig("victor")
	cs := rc.saveReviewState("shared-big", 1000)
	rc.bigProposal("shared-big", cs.Hash, cs)

	// The default listing says how to see them all.
	out, err := policyCmd("review", "-n", "riverside", "--kubeconfig", alice)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  only the first 200 of 1000 changes are listed here;",
		"  see them all: fedcommons policy review shared-big -n riverside --changes\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("review does not say %q:\n%s", want, out)
		}
	}

	// A moderator sees all 1,000, in order.
	out, err = policyCmd("review", "shared-big", "-n", "riverside", "--changes", "--kubeconfig", alice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "riverside/shared-big  policy shared\n  hash "+cs.Hash+"\n  all 1000 changes:\n") {
		t.Errorf("review --changes begins:\n%.300s", out)
	}
	var lines []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "    spam") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1000 || !strings.HasPrefix(lines[0], "    spam0000.example: none → suspend  (") ||
		!strings.HasPrefix(lines[999], "    spam0999.example: none → suspend  (") {
		t.Errorf("review --changes prints %d changes, want 1000 from spam0000 to spam0999:\n%.500s", len(lines), out)
	}

	// A viewer may not read the ConfigMaps: said plainly, with who they are.
	_, err = policyCmd("review", "shared-big", "-n", "riverside", "--changes", "--kubeconfig", victor)
	for _, want := range []string{
		"cannot read the full change set of proposal shared-big: the operator keeps it in ConfigMap shared-review, and you may not read ConfigMaps in namespace riverside",
		`cannot get resource "configmaps"`, "(you are authenticated as victor)",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("a viewer's --changes: %v; want %q", err, want)
		}
	}

	// An older proposal of the same policy: the saved state holds
	// shared-big, so shared-old's full set is not shown as its own.
	rc.bigProposal("shared-old", "sha256:0123456789abcdef", review.ChangeSet{Changes: cs.Changes[:300]})
	out, err = policyCmd("review", "shared-old", "-n", "riverside", "--changes", "--kubeconfig", alice)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "  the operator's saved state has moved on (it now holds proposal shared-big, hash "+cs.Hash+"): the full set of this proposal is no longer kept; the 200 changes it lists:\n") ||
		strings.Count(out, "\n    spam") != 200 || strings.Contains(out, "spam0200.example") {
		t.Errorf("review --changes of a proposal the state no longer holds:\n%.800s", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"review", "--changes", "-n", "riverside", "--kubeconfig", alice}, "--changes needs the NAME of one proposal"},
		{[]string{"review", "shared-big", "--changes", "--all", "--kubeconfig", alice}, "--changes shows one proposal"},
		{[]string{"review", "shared-9", "--changes", "-n", "riverside", "--kubeconfig", alice}, "there is no proposal shared-9 in namespace riverside"},
	} {
		if _, err := policyCmd(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error with %q", tc.args, err, tc.want)
		}
	}
}
