package controllers

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/review"
	"github.com/fedcommons/fedcommons/internal/textcut"
)

const (
	// proposalPolicyIndex indexes PolicyProposals by spec.policy.
	proposalPolicyIndex = "spec.policy"
	// approvalProposalIndex indexes PolicyApprovals by spec.proposal.
	approvalProposalIndex = "spec.proposal"
	// maxListedChanges is how many changes a PolicyProposal lists; the
	// whole set is served by the cluster feed listener.
	maxListedChanges = 200
	// defaultHistoryLimit is spec.review.historyLimit's default.
	defaultHistoryLimit = 50
)

// proposalName is <policy>-<first 10 hex digits of the change set's hash>:
// the same change set always gets the same name.
func proposalName(policy, hash string) string {
	return policy[:min(len(policy), 253-11)] + "-" + shortHash(hash)
}

// proposalsOf lists the proposals this operator made for the policy.
func (r *FederationPolicyReconciler) proposalsOf(ctx context.Context, policy *v1alpha1.FederationPolicy) ([]v1alpha1.PolicyProposal, error) {
	list := &v1alpha1.PolicyProposalList{}
	if err := r.Client.List(ctx, list, client.InNamespace(policy.Namespace), client.MatchingFields{proposalPolicyIndex: policy.Name}); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(list.Items, func(p v1alpha1.PolicyProposal) bool { return !metav1.IsControlledBy(&p, policy) }), nil
}

func byName(props []v1alpha1.PolicyProposal, name string) *v1alpha1.PolicyProposal {
	for i := range props {
		if props[i].Name == name {
			return &props[i]
		}
	}
	return nil
}

func pending(p *v1alpha1.PolicyProposal) bool {
	return p.Status.Phase == "" || p.Status.Phase == v1alpha1.ProposalPending
}

// settlePending counts the votes on the pending proposal and, when they
// reach a quorum, decides it: approved, its change set (exactly as
// proposed) is applied onto the state; rejected, its hash is remembered
// so that it is not proposed again. The outcome is written on the
// proposal before the state is saved (see federationpolicy_review.go).
func (r *FederationPolicyReconciler) settlePending(ctx context.Context, policy *v1alpha1.FederationPolicy, st *review.State, props []v1alpha1.PolicyProposal) error {
	p := st.Pending
	prop := byName(props, p.Proposal)
	var tally review.Tally
	var verdict review.Verdict
	switch {
	case prop == nil:
		// Deleted by someone: made again after the save; approvals name
		// it and its hash, and still count.
		return nil
	case prop.Spec.Hash != p.Hash || prop.Status.Phase == v1alpha1.ProposalSuperseded:
		st.Pending = nil
		return nil
	case prop.Status.Phase == v1alpha1.ProposalApplied:
		verdict = review.Approved
	case prop.Status.Phase == v1alpha1.ProposalRejected:
		verdict = review.Rejected
	default:
		var err error
		if tally, err = r.votesFor(ctx, prop); err != nil {
			return conditions.Retry(v1alpha1.ReasonReviewStateUnreadable, fmt.Errorf("cannot list the approvals of PolicyProposal %s: %w", prop.Name, err))
		}
		verdict = tally.Decide(policy.Spec.Review)
	}
	var err error
	switch verdict {
	case review.Undecided:
		err = r.markProposal(ctx, prop, v1alpha1.ProposalPending, tally, "", waitsFor(len(tally.Approvals), policy.Spec.Review.Required))
	case review.Approved:
		applied, applyErr := review.Apply(st.Applied, p.ChangeSet)
		if applyErr != nil {
			// Only a state edited by hand gets here: propose again.
			err = r.markSuperseded(ctx, policy, prop, "", "approved, but it no longer applies: "+applyErr.Error())
			break
		}
		if pending(prop) {
			msg := "approved by " + review.Users(tally.Approvals) + " and applied"
			if err = r.markProposal(ctx, prop, v1alpha1.ProposalApplied, tally, "", msg); err == nil {
				r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "ProposalApplied", "Review", "PolicyProposal %s (%s) approved by %s: applied, the servers get it now",
					prop.Name, describeSummary(prop.Spec.Summary), review.Users(tally.Approvals))
			}
		}
		st.Applied = applied
	case review.Rejected:
		if pending(prop) {
			msg := "rejected by " + review.Users(tally.Rejections) + "; not proposed again until the change set differs"
			if err = r.markProposal(ctx, prop, v1alpha1.ProposalRejected, tally, "", msg); err == nil {
				r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "ProposalRejected", "Review", "PolicyProposal %s (%s) rejected by %s: dropped, and not proposed again until the change set differs",
					prop.Name, describeSummary(prop.Spec.Summary), review.Users(tally.Rejections))
			}
		}
		st.Reject(p.Hash)
	}
	if err != nil {
		return conditions.Retry(v1alpha1.ReasonReviewStateNotSaved, fmt.Errorf("cannot record the outcome of PolicyProposal %s: %w", prop.Name, err))
	}
	if verdict != review.Undecided {
		st.Pending = nil
	}
	return nil
}

// waitsFor is a pending proposal's message; the same words whether
// written at creation or after counting, so that counting nothing new
// writes nothing.
func waitsFor(approvals int, required int32) string {
	return fmt.Sprintf("waits for approvals: %d of %d", approvals, required)
}

func (r *FederationPolicyReconciler) votesFor(ctx context.Context, prop *v1alpha1.PolicyProposal) (review.Tally, error) {
	list := &v1alpha1.PolicyApprovalList{}
	if err := r.Client.List(ctx, list, client.InNamespace(prop.Namespace), client.MatchingFields{approvalProposalIndex: prop.Name}); err != nil {
		return review.Tally{}, err
	}
	return review.Count(list.Items, prop.Name, prop.Spec.Hash), nil
}

// supersede marks the state's pending proposal superseded (by the named
// one, if any) and forgets it.
func (r *FederationPolicyReconciler) supersede(ctx context.Context, policy *v1alpha1.FederationPolicy, st *review.State, props []v1alpha1.PolicyProposal, by, why string) error {
	if st.Pending == nil {
		return nil
	}
	if prop := byName(props, st.Pending.Proposal); prop != nil && pending(prop) {
		if err := r.markSuperseded(ctx, policy, prop, by, why); err != nil {
			return fmt.Errorf("cannot mark PolicyProposal %s superseded: %w", prop.Name, err)
		}
	}
	st.Pending = nil
	return nil
}

func (r *FederationPolicyReconciler) markSuperseded(ctx context.Context, policy *v1alpha1.FederationPolicy, prop *v1alpha1.PolicyProposal, by, why string) error {
	msg := why
	if by != "" {
		msg = "superseded by PolicyProposal " + by + ": " + why
	}
	if err := r.markProposal(ctx, prop, v1alpha1.ProposalSuperseded, review.Tally{Approvals: prop.Status.Approvals, Rejections: prop.Status.Rejections}, by, msg); err != nil {
		return err
	}
	r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "ProposalSuperseded", "Review", "PolicyProposal %s: %s", prop.Name, msg)
	return nil
}

// markProposal writes a proposal's status; a decided one gets decidedAt.
func (r *FederationPolicyReconciler) markProposal(ctx context.Context, prop *v1alpha1.PolicyProposal, phase v1alpha1.ProposalPhase, t review.Tally, by, msg string) error {
	before := prop.Status.DeepCopy()
	prop.Status.Phase, prop.Status.SupersededBy = phase, by
	prop.Status.Approvals, prop.Status.Rejections = t.Approvals, t.Rejections
	prop.Status.Message = textcut.Truncate(msg, 1024)
	if phase != v1alpha1.ProposalPending && prop.Status.DecidedAt == nil {
		now := metav1.Now()
		prop.Status.DecidedAt = &now
	}
	if equality.Semantic.DeepEqual(before, &prop.Status) {
		return nil
	}
	return patchStatus(ctx, r.Client, prop, &prop.Status, before)
}

// indexReview indexes proposals by policy and approvals by proposal.
func (r *FederationPolicyReconciler) indexReview(mgr ctrl.Manager) error {
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(context.Background(), &v1alpha1.PolicyProposal{}, proposalPolicyIndex, func(o client.Object) []string {
		return []string{o.(*v1alpha1.PolicyProposal).Spec.Policy}
	}); err != nil {
		return fmt.Errorf("index PolicyProposals by policy: %w", err)
	}
	if err := idx.IndexField(context.Background(), &v1alpha1.PolicyApproval{}, approvalProposalIndex, func(o client.Object) []string {
		return []string{o.(*v1alpha1.PolicyApproval).Spec.Proposal}
	}); err != nil {
		return fmt.Errorf("index PolicyApprovals by proposal: %w", err)
	}
	return nil
}

// policyOfApproval wakes the policy whose proposal an approval names.
// Approvals cannot be edited: creation and deletion are all there is.
func (r *FederationPolicyReconciler) policyOfApproval(ctx context.Context, o client.Object) []reconcile.Request {
	a := o.(*v1alpha1.PolicyApproval)
	prop := &v1alpha1.PolicyProposal{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: a.Namespace, Name: a.Spec.Proposal}, prop); err != nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: a.Namespace, Name: prop.Spec.Policy}}}
}

// policyOfProposal wakes a proposal's policy when it is deleted: a
// pending one is made again.
func policyOfProposal(_ context.Context, o client.Object) []reconcile.Request {
	return []reconcile.Request{{NamespacedName: client.ObjectKey{Namespace: o.GetNamespace(), Name: o.(*v1alpha1.PolicyProposal).Spec.Policy}}}
}

var deleted = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	UpdateFunc:  func(event.UpdateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

var createdOrDeleted = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return true },
	UpdateFunc:  func(event.UpdateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
}
