package review

import (
	"slices"
	"strings"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// MaxVotes bounds the votes recorded on a proposal (status.approvals and
// status.rejections hold at most 64 each).
const MaxVotes = 64

// Tally is the votes counted for one proposal.
type Tally struct {
	Approvals, Rejections []v1alpha1.Vote
}

// Count counts the approvals of one proposal: one vote per person, for
// this hash only (an approval of another change set, e.g. one that was
// superseded, never counts). A person who decided more than once counts
// by their first decision; who a person is was checked at admission
// (spec.approver is the authenticated user).
func Count(approvals []v1alpha1.PolicyApproval, proposal, hash string) Tally {
	sorted := slices.Clone(approvals)
	slices.SortFunc(sorted, func(a, b v1alpha1.PolicyApproval) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	var t Tally
	seen := map[string]bool{}
	for _, a := range sorted {
		if a.Spec.Proposal != proposal || a.Spec.Hash != hash || a.Spec.Approver == "" || seen[a.Spec.Approver] {
			continue
		}
		seen[a.Spec.Approver] = true
		v := v1alpha1.Vote{User: a.Spec.Approver, Approval: a.Name, At: a.CreationTimestamp, Comment: a.Spec.Comment}
		switch a.Spec.Decision {
		case v1alpha1.DecisionApprove:
			if len(t.Approvals) < MaxVotes {
				t.Approvals = append(t.Approvals, v)
			}
		case v1alpha1.DecisionReject:
			if len(t.Rejections) < MaxVotes {
				t.Rejections = append(t.Rejections, v)
			}
		}
	}
	return t
}

// Verdict is what the votes decide.
type Verdict uint8

const (
	Undecided Verdict = iota
	Approved
	Rejected
)

// Decide says whether a tally reaches the quorum of a review spec.
// Approval wins a tie: both quorums reached means enough people approved.
func (t Tally) Decide(spec *v1alpha1.ReviewSpec) Verdict {
	rejections := spec.Required
	if spec.RejectionsRequired != nil {
		rejections = *spec.RejectionsRequired
	}
	switch {
	case int32(len(t.Approvals)) >= spec.Required:
		return Approved
	case int32(len(t.Rejections)) >= rejections:
		return Rejected
	}
	return Undecided
}

// Users names the voters, for Events and messages.
func Users(votes []v1alpha1.Vote) string {
	names := make([]string, len(votes))
	for i, v := range votes {
		names[i] = v.User
	}
	return strings.Join(names, ", ")
}
