package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/review"
)

// Reviewed moderation (spec.review, issue 17). With it, what the servers
// get is the applied state, not the computation: changes that need review
// wait in a PolicyProposal until enough moderators approve it. This file
// orchestrates one pass; internal/review decides, and
// federationpolicy_proposals.go writes the proposals.
//
// The order of writes is what keeps a crash or a failed write from
// applying anything unapproved or retracting anything: a proposal's
// outcome (Applied, Rejected, Superseded) is written first, then the
// applied state, and only then does anything reach the Registry. A pass
// that stops half-way is finished by the next one, which reads the
// outcome back from the proposal.

// reviewPass returns what the servers get for a reviewed policy, given the
// previous result (what they have, if this process published one) and the
// new computation. On error nothing is published: the servers keep what
// they have.
func (r *FederationPolicyReconciler) reviewPass(ctx context.Context, policy *v1alpha1.FederationPolicy, prev, res *federation.Result) (*federation.Result, error) {
	memo, found, err := r.loadReview(ctx, policy)
	if err != nil {
		return nil, conditions.Retry(v1alpha1.ReasonReviewStateUnreadable,
			fmt.Errorf("cannot read the applied state of this reviewed policy (%w); nothing is computed and the servers keep what they have", err))
	}
	st := memo.state
	st.Rejected = slices.Clone(st.Rejected)
	if !found {
		applied, how, err := startingPoint(policy, prev, res)
		if err != nil {
			return nil, err
		}
		st = review.State{Applied: applied}
		r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "ReviewStarted", "Review", "%s", how)
	}
	props, err := r.proposalsOf(ctx, policy)
	if err != nil {
		return nil, conditions.Retry(v1alpha1.ReasonReviewStateUnreadable, fmt.Errorf("cannot list the policy's PolicyProposals: %w", err))
	}

	// The pending proposal's votes, or the outcome an interrupted pass
	// already wrote on it.
	if p := st.Pending; p != nil {
		if err := r.settlePending(ctx, policy, &st, props); err != nil {
			return nil, err
		}
	}

	out := review.Decide(st.Applied, res.Effective, res.ClusterOnly, policy.Spec.Review.Changes)
	st.Applied = out.Apply
	rejectedAgain := ""
	switch {
	case out.Review.Empty():
		err = r.supersede(ctx, policy, &st, props, "", "the computation no longer asks for this change: nothing is left to approve")
	case st.Pending != nil && st.Pending.Hash == out.Review.Hash:
	case st.WasRejected(out.Review.Hash):
		rejectedAgain = out.Review.Hash
		err = r.supersede(ctx, policy, &st, props, "", "the computation now asks for a change set that was rejected before")
	default:
		name := proposalName(policy.Name, out.Review.Hash)
		if err = r.supersede(ctx, policy, &st, props, name, "a newer computation asks for another change set; approvals of this one do not carry over"); err == nil {
			st.Pending = &review.Pending{Proposal: name, ChangeSet: out.Review}
		}
	}
	if err != nil {
		return nil, conditions.Retry(v1alpha1.ReasonReviewStateNotSaved, err)
	}

	if err := r.saveReview(ctx, policy, memo, st); err != nil {
		if errors.Is(err, review.ErrTooLarge) {
			return nil, conditions.Stall(v1alpha1.ReasonTooLarge, err.Error()+"; the servers keep what they have")
		}
		return nil, conditions.Retry(v1alpha1.ReasonReviewStateNotSaved,
			fmt.Errorf("cannot save the applied state (%w); nothing new reaches the servers until it is saved", err))
	}

	applied := appliedResult(res, st.Applied)
	if err := r.afterSave(ctx, policy, &st, res, applied, props); err != nil {
		return nil, err
	}
	r.reviewStatus(policy, &st, applied, rejectedAgain)
	return applied, nil
}

// startingPoint is the applied state of a policy that has none saved:
// what the servers were last given by this process, else the first
// computation. A policy whose status says it had a state that is now gone
// (its ConfigMap deleted) is not restarted from the computation behind
// anyone's back: that would apply everything waiting for approval.
func startingPoint(policy *v1alpha1.FederationPolicy, prev, res *federation.Result) ([]review.Held, string, error) {
	switch {
	case prev != nil:
		held := review.FromPolicy(prev.Effective, prev.ClusterOnly)
		return held, fmt.Sprintf("review starts from the policy the servers were last given (%s); from now on changes that need review wait for %s",
			plural(len(held), "entry", "entries"), plural(int(policy.Spec.Review.Required), "approval", "approvals")), nil
	case policy.Status.Review != nil && policy.Status.Review.AppliedHash != "":
		return nil, "", conditions.Stall(v1alpha1.ReasonReviewStateMissing, fmt.Sprintf(
			"the applied state of this reviewed policy (ConfigMap %s) is missing, and this operator has not published the policy since it started: "+
				"nothing is applied, and the servers keep what they have. To start review again from the current computation, remove spec.review and set it again",
			reviewConfigMapName(policy.Name)))
	default:
		held := review.FromPolicy(res.Effective, res.ClusterOnly)
		return held, fmt.Sprintf("review starts from the first computation (%s): nothing was applied before; from now on changes that need review wait for %s",
			plural(len(held), "entry", "entries"), plural(int(policy.Spec.Review.Required), "approval", "approvals")), nil
	}
}

// appliedResult is the result the servers get: the computation's
// settings with the applied entries.
func appliedResult(res *federation.Result, applied []review.Held) *federation.Result {
	eff, clusterOnly := review.Compose(applied, res.Effective)
	out := &federation.Result{
		Policy: res.Policy, Generation: res.Generation, Visibility: res.Visibility,
		Effective: eff, Hash: eff.Hash(), Refs: res.Refs, ComputedAt: res.ComputedAt,
	}
	out.RestrictTo(clusterOnly)
	return out
}

// reviewStatus writes status.review and the ReviewPending condition.
func (r *FederationPolicyReconciler) reviewStatus(policy *v1alpha1.FederationPolicy, st *review.State, applied *federation.Result, rejectedAgain string) {
	rs := policy.Status.Review
	if rs == nil {
		rs = &v1alpha1.ReviewStatus{}
		policy.Status.Review = rs
	}
	if rs.AppliedHash != applied.Hash {
		now := metav1.Now()
		rs.AppliedHash, rs.AppliedAt = applied.Hash, &now
	}
	rs.PendingProposal = ""
	switch {
	case st.Pending != nil:
		rs.PendingProposal = st.Pending.Proposal
		s := review.Summarize(st.Pending.Changes)
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionReviewPending, metav1.ConditionTrue, v1alpha1.ReasonProposalPending,
			fmt.Sprintf("PolicyProposal %s waits for %s (%s); until then the servers keep what they have for these domains",
				st.Pending.Proposal, plural(int(policy.Spec.Review.Required), "approval", "approvals"), describeSummary(s)))
	case rejectedAgain != "":
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionReviewPending, metav1.ConditionFalse, v1alpha1.ReasonChangeRejected,
			fmt.Sprintf("the computation differs from what the servers have by a change set that was rejected (%s); it is not proposed again until it changes", shortHash(rejectedAgain)))
	default:
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionReviewPending, metav1.ConditionFalse, v1alpha1.ReasonNothingToReview,
			"the servers have everything computed: nothing waits for approval")
	}
}

// reviewOff undoes review when spec.review is removed: the pending
// proposal is superseded, the saved state deleted. The servers then get
// the computation, as without review.
func (r *FederationPolicyReconciler) reviewOff(ctx context.Context, policy *v1alpha1.FederationPolicy) error {
	if policy.Status.Review == nil {
		return nil
	}
	if name := policy.Status.Review.PendingProposal; name != "" {
		props, err := r.proposalsOf(ctx, policy)
		if err != nil {
			return err
		}
		st := review.State{Pending: &review.Pending{Proposal: name}}
		if err := r.supersede(ctx, policy, &st, props, "", "spec.review was removed: changes apply as soon as computed"); err != nil {
			return err
		}
	}
	r.dropReview(ctx, policy)
	r.Store.DeleteProposal(policy.Namespace, policy.Name)
	policy.Status.Review = nil
	meta.RemoveStatusCondition(&policy.Status.Conditions, v1alpha1.ConditionReviewPending)
	return nil
}

func describeSummary(s v1alpha1.ChangeSummary) string {
	var parts []string
	for _, p := range []struct {
		n    int32
		what string
	}{{s.Added, "added"}, {s.Escalated, "escalated"}, {s.Relaxed, "relaxed"}, {s.Removed, "removed"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}
