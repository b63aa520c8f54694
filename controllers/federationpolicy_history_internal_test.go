package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// TestHistoryOf: a decided proposal as the transparency page tells it. A
// change to a cluster-only entry is marked (the public page leaves it out)
// and taken out of the public counts, so the counts do not reveal it.
func TestHistoryOf(t *testing.T) {
	decided := metav1.NewTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	prop := &v1alpha1.PolicyProposal{
		Spec: v1alpha1.PolicyProposalSpec{
			ProposedBy: "source upstream",
			Summary:    v1alpha1.ChangeSummary{Added: 2, Escalated: 1, Removed: 1},
			Changes: []v1alpha1.PolicyChange{
				{Domain: "public.example", After: "suspend"},
				{Domain: "secret.example", After: "suspend"},
				{Domain: "hidden.example", Before: "silence", After: "suspend"},
				{Domain: "gone.example", Before: "silence"},
			},
		},
		Status: v1alpha1.PolicyProposalStatus{
			Phase: v1alpha1.ProposalApplied, DecidedAt: &decided,
			Approvals: []v1alpha1.Vote{{User: "alice", Comment: "ok", At: decided}, {User: "bob", At: decided}},
		},
	}
	res := &federation.Result{
		ClusterOnly: map[string]bool{"secret.example": true, "hidden.example": true},
		Effective: &moderation.Policy{Entries: []moderation.EffectiveEntry{
			{Entry: moderation.Entry{Domain: "public.example", Obfuscate: true}},
		}},
	}
	got := historyOf([]*v1alpha1.PolicyProposal{prop}, res)
	if len(got) != 1 {
		t.Fatalf("%d records, want 1", len(got))
	}
	r := got[0]
	if r.Outcome != feeds.HistoryApplied || !r.DecidedAt.Equal(decided.Time) || r.Cause != "source upstream" {
		t.Errorf("record %+v", r)
	}
	if r.Added != 1 || r.Escalated != 0 || r.Removed != 1 || r.Relaxed != 0 {
		t.Errorf("public counts added %d escalated %d relaxed %d removed %d, want 1 0 0 1", r.Added, r.Escalated, r.Relaxed, r.Removed)
	}
	hidden := map[string]bool{}
	for _, c := range r.Changes {
		hidden[c.Domain] = c.ClusterOnly
		if c.Domain == "public.example" && !c.Obfuscate {
			t.Error("public.example is obfuscated in the policy; the page must star it out")
		}
	}
	if !hidden["secret.example"] || !hidden["hidden.example"] || hidden["public.example"] || hidden["gone.example"] {
		t.Errorf("cluster-only marks %v", hidden)
	}
	if len(r.Approvals) != 2 || r.Approvals[0].User != "alice" || r.Approvals[0].PublicComment != "ok" {
		t.Errorf("approvals %+v", r.Approvals)
	}
}
