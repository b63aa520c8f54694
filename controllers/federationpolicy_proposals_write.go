package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/review"
	"github.com/fedcommons/fedcommons/internal/textcut"
)

// Writing proposals: the pending one made once, its change set served,
// strays superseded, history trimmed (see federationpolicy_review.go for
// the order of writes).

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
	// The transparency page's history. props holds the statuses this
	// pass wrote (markProposal updates them in place), so a proposal
	// decided just now is told as decided.
	r.Store.SetHistory(policy.Namespace, policy.Name, historyOf(decided, res))
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
