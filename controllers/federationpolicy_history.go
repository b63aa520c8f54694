package controllers

import (
	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
)

// historyOf is what a reviewed policy's transparency page says of its
// decided proposals: what changed, why, when, and who decided, with the
// approvals' comments (public by the API's terms). The feed server bounds
// and escapes it (feeds.MemoryStore.SetHistory).
//
// The counts are the public ones: a change to an entry that must stay in
// the cluster (res.ClusterOnly) is neither listed nor counted on the
// public page. Only the listed changes (at most 200 per proposal) can be
// told apart, so a truncated set may still count an unlisted cluster-only
// change; its domain is never shown.
func historyOf(decided []*v1alpha1.PolicyProposal, res *federation.Result) []feeds.HistoryRecord {
	obfuscated := map[string]bool{}
	if res != nil && res.Effective != nil {
		for i := range res.Effective.Entries {
			if e := &res.Effective.Entries[i].Entry; e.Obfuscate {
				obfuscated[e.Domain] = true
			}
		}
	}
	out := make([]feeds.HistoryRecord, 0, len(decided))
	for _, p := range decided {
		rec := feeds.HistoryRecord{
			Outcome:    outcomeOf(p.Status.Phase),
			ProposedAt: p.Spec.ProposedAt.Time,
			Cause:      p.Spec.ProposedBy,
			Added:      int(p.Spec.Summary.Added), Escalated: int(p.Spec.Summary.Escalated),
			Relaxed: int(p.Spec.Summary.Relaxed), Removed: int(p.Spec.Summary.Removed),
			Approvals: votesOf(p.Status.Approvals), Rejections: votesOf(p.Status.Rejections),
		}
		if p.Status.DecidedAt != nil {
			rec.DecidedAt = p.Status.DecidedAt.Time
		}
		for _, ch := range p.Spec.Changes {
			hidden := res != nil && res.ClusterOnly[ch.Domain]
			if hidden {
				uncount(&rec, ch)
			}
			rec.Changes = append(rec.Changes, feeds.HistoryChange{
				Domain: ch.Domain, Before: ch.Before, After: ch.After, Why: ch.Why,
				Obfuscate: obfuscated[ch.Domain], ClusterOnly: hidden,
			})
		}
		out = append(out, rec)
	}
	return out
}

// uncount takes a cluster-only change out of the public counts. A change
// of decision (neither added nor removed) is taken from the escalations
// first: the total is right even where the split cannot be known.
func uncount(rec *feeds.HistoryRecord, ch v1alpha1.PolicyChange) {
	dec := func(n *int) {
		if *n > 0 {
			*n--
		}
	}
	switch {
	case ch.Before == "":
		dec(&rec.Added)
	case ch.After == "":
		dec(&rec.Removed)
	case rec.Escalated > 0:
		dec(&rec.Escalated)
	default:
		dec(&rec.Relaxed)
	}
}

func outcomeOf(p v1alpha1.ProposalPhase) feeds.HistoryOutcome {
	switch p {
	case v1alpha1.ProposalApplied:
		return feeds.HistoryApplied
	case v1alpha1.ProposalRejected:
		return feeds.HistoryRejected
	}
	return feeds.HistorySuperseded
}

func votesOf(votes []v1alpha1.Vote) []feeds.HistoryVote {
	out := make([]feeds.HistoryVote, 0, len(votes))
	for _, v := range votes {
		out = append(out, feeds.HistoryVote{User: v.User, At: v.At.Time, PublicComment: v.Comment})
	}
	return out
}
