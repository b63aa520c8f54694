package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
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

// afterSave brings the proposals in line with the saved state: the
// pending one exists and its change set is served; any other still
// pending is superseded (a pass interrupted after creating it); the
// oldest decided ones beyond historyLimit are deleted.
func (r *FederationPolicyReconciler) afterSave(ctx context.Context, policy *v1alpha1.FederationPolicy, st *review.State, res, applied *federation.Result, props []v1alpha1.PolicyProposal) error {
	current := ""
	if p := st.Pending; p != nil {
		current = p.Proposal
		if byName(props, p.Proposal) == nil {
			if err := r.createProposal(ctx, policy, st, res, applied); err != nil {
				return conditions.Retry(v1alpha1.ReasonReviewStateNotSaved, fmt.Errorf("cannot create PolicyProposal %s: %w", p.Proposal, err))
			}
		}
		if _, ok := r.Store.Proposal(policy.Namespace, policy.Name, p.Proposal); !ok {
			r.Store.PutProposal(policy.Namespace, policy.Name, p.Proposal, changeSetJSON(policy, p))
		}
	} else {
		r.Store.DeleteProposal(policy.Namespace, policy.Name)
	}
	var decided []*v1alpha1.PolicyProposal
	for i := range props {
		prop := &props[i]
		switch {
		case prop.Name == current:
		case pending(prop):
			if err := r.markSuperseded(ctx, policy, prop, current, "no longer what the computation asks for"); err != nil {
				return conditions.Retry(v1alpha1.ReasonReviewStateNotSaved, fmt.Errorf("cannot mark PolicyProposal %s superseded: %w", prop.Name, err))
			}
			decided = append(decided, prop)
		default:
			decided = append(decided, prop)
		}
	}
	r.trimHistory(ctx, policy, decided)
	return nil
}

// trimHistory deletes the oldest decided proposals beyond historyLimit.
// A failed delete is tried again on the next pass.
func (r *FederationPolicyReconciler) trimHistory(ctx context.Context, policy *v1alpha1.FederationPolicy, decided []*v1alpha1.PolicyProposal) {
	limit := int(policy.Spec.Review.HistoryLimit)
	if limit <= 0 {
		limit = defaultHistoryLimit
	}
	if len(decided) <= limit {
		return
	}
	when := func(p *v1alpha1.PolicyProposal) metav1.Time {
		if p.Status.DecidedAt != nil {
			return *p.Status.DecidedAt
		}
		return p.CreationTimestamp
	}
	slices.SortFunc(decided, func(a, b *v1alpha1.PolicyProposal) int {
		if c := when(b).Compare(when(a).Time); c != 0 {
			return c
		}
		return strings.Compare(b.Name, a.Name)
	})
	for _, p := range decided[limit:] {
		if err := client.IgnoreNotFound(r.Client.Delete(ctx, p, client.Preconditions{UID: &p.UID})); err != nil {
			r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, "HistoryNotTrimmed", "Review", "cannot delete PolicyProposal %s beyond historyLimit %d: %v", p.Name, limit, err)
		}
	}
}

// createProposal writes the pending change set as a PolicyProposal owned
// by the policy, its spec written once.
func (r *FederationPolicyReconciler) createProposal(ctx context.Context, policy *v1alpha1.FederationPolicy, st *review.State, res, applied *federation.Result) error {
	p := st.Pending
	after, err := review.Apply(st.Applied, p.ChangeSet)
	if err != nil {
		return err
	}
	listed := make([]v1alpha1.PolicyChange, 0, min(len(p.Changes), maxListedChanges))
	for _, c := range p.Changes[:min(len(p.Changes), maxListedChanges)] {
		listed = append(listed, policyChange(c))
	}
	summary := review.Summarize(p.Changes)
	prop := &v1alpha1.PolicyProposal{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: policy.Namespace, Name: p.Proposal, Labels: policyConfigMap(policy, "").Labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(policy, v1alpha1.GroupVersion.WithKind("FederationPolicy"))},
		},
		Spec: v1alpha1.PolicyProposalSpec{
			Policy: policy.Name, Hash: p.Hash, BaseHash: applied.Hash, EffectiveHash: appliedResult(res, after).Hash,
			ProposedAt: metav1.Now(), ProposedBy: proposedBy(p.Changes, res.Effective), Summary: summary,
			Changes: listed, Truncated: len(p.Changes) > len(listed),
			ChangesURL: strings.TrimSuffix(r.Options.FeedClusterURL, "/") + feeds.ProposalPath(policy.Namespace, policy.Name, p.Proposal),
		},
	}
	if err := r.Client.Create(ctx, prop); err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil // the cache had not seen it yet
		}
		return err
	}
	if err := r.markProposal(ctx, prop, v1alpha1.ProposalPending, review.Tally{}, "", waitsFor(0, policy.Spec.Review.Required)); err != nil {
		// The phase is written again on the next pass; unset means pending.
		return err
	}
	r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "ProposalCreated", "Review", "PolicyProposal %s waits for %s: %s (%s)",
		prop.Name, plural(int(policy.Spec.Review.Required), "approval", "approvals"), describeSummary(summary), prop.Spec.ProposedBy)
	return nil
}

func policyChange(c review.Change) v1alpha1.PolicyChange {
	return v1alpha1.PolicyChange{Domain: c.Domain, Before: review.Describe(c.Before), After: review.Describe(c.After), Why: textcut.Truncate(c.Why, 512)}
}

// proposedBy says what a change set comes from: the subscribed sources
// that decided its additions, the policy's own entries, retractions.
func proposedBy(changes []review.Change, candidate *moderation.Policy) string {
	sources := map[string]int{}
	own, retracted := 0, 0
	for _, c := range changes {
		switch c.Kind {
		case v1alpha1.ReviewRetractions:
			retracted++
		case v1alpha1.ReviewOwnEntries:
			own++
		default:
			if e := candidate.Lookup(c.Domain); e != nil {
				for _, ct := range e.Provenance.Sources {
					if ct.Counted && ct.Source != nil {
						sources[ct.Source.Name]++
					}
				}
			}
		}
	}
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		parts = append(parts, fmt.Sprintf("source %s (%s)", name, plural(sources[name], "domain", "domains")))
	}
	if own > 0 {
		parts = append(parts, fmt.Sprintf("spec.entries (%s)", plural(own, "domain", "domains")))
	}
	if retracted > 0 {
		parts = append(parts, fmt.Sprintf("retractions (%s)", plural(retracted, "domain", "domains")))
	}
	return textcut.Truncate(strings.Join(parts, "; "), 512)
}

// changeSetJSON is the whole change set as the cluster feed listener
// serves it.
func changeSetJSON(policy *v1alpha1.FederationPolicy, p *review.Pending) []byte {
	type change struct {
		v1alpha1.PolicyChange
		Kind v1alpha1.ReviewChange `json:"kind"`
	}
	out := struct {
		Namespace string                 `json:"namespace"`
		Policy    string                 `json:"policy"`
		Proposal  string                 `json:"proposal"`
		Hash      string                 `json:"hash"`
		Summary   v1alpha1.ChangeSummary `json:"summary"`
		Changes   []change               `json:"changes"`
	}{policy.Namespace, policy.Name, p.Proposal, p.Hash, review.Summarize(p.Changes), make([]change, len(p.Changes))}
	for i, c := range p.Changes {
		out.Changes[i] = change{policyChange(c), c.Kind}
	}
	body, _ := json.Marshal(out) // plain strings and numbers: cannot fail
	return body
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
