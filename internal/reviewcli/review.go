package reviewcli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Bounds on what a listing reads. Decided proposals stay as history (up
// to spec.review.historyLimit, 500 at most, per policy), each up to a few
// hundred KiB: they are read a page at a time and only pending ones kept.
const (
	listPage = 50
	// MaxPending is the most pending proposals shown; a cluster never
	// has more than one per policy.
	MaxPending = 200
	// maxNamespaces is the most namespaces --all visits one by one when
	// the user may not list proposals cluster-wide.
	maxNamespaces = 500
)

// Pending is a proposal waiting for decisions, with what its policy
// requires.
type Pending struct {
	Proposal v1alpha1.PolicyProposal
	// Required and RejectionsRequired are from the FederationPolicy's
	// spec.review; 0 when it could not be read.
	Required, RejectionsRequired int32
	// PolicyProblem says why they could not be read.
	PolicyProblem string
}

// ListPending returns the pending proposals in the session's namespace,
// or with all in every namespace the user may read, oldest first.
// Skipped is what could not be read (namespaces refused to the user).
func (s *Session) ListPending(ctx context.Context, all bool) (pending []Pending, skipped []string, err error) {
	var props []v1alpha1.PolicyProposal
	switch {
	case !all:
		props, err = s.listPending(ctx, s.Namespace)
	default:
		props, err = s.listPending(ctx, "")
		if apierrors.IsForbidden(err) {
			// A moderator may read proposals in their own namespaces
			// only: visit those the user may list.
			props, skipped, err = s.listPendingEachNamespace(ctx, err)
		}
	}
	if err != nil {
		return nil, skipped, s.explain(ctx, err)
	}
	slices.SortFunc(props, func(a, b v1alpha1.PolicyProposal) int {
		if c := a.Spec.ProposedAt.Compare(b.Spec.ProposedAt.Time); c != 0 {
			return c
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	policies := map[string]*v1alpha1.FederationPolicy{}
	problems := map[string]string{}
	for _, p := range props {
		item := Pending{Proposal: p}
		key := p.Namespace + "/" + p.Spec.Policy
		if _, seen := policies[key]; !seen && problems[key] == "" {
			fp := &v1alpha1.FederationPolicy{}
			if err := s.Client.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: p.Spec.Policy}, fp); err != nil {
				problems[key] = fmt.Sprintf("cannot read FederationPolicy %s: %s", key, reason(err))
			} else {
				policies[key] = fp
			}
		}
		if fp := policies[key]; fp != nil && fp.Spec.Review != nil {
			item.Required = fp.Spec.Review.Required
			item.RejectionsRequired = fp.Spec.Review.Required
			if fp.Spec.Review.RejectionsRequired != nil {
				item.RejectionsRequired = *fp.Spec.Review.RejectionsRequired
			}
		} else if fp != nil {
			item.PolicyProblem = "FederationPolicy " + key + " no longer asks for review (no spec.review): the operator will drop this proposal"
		} else {
			item.PolicyProblem = problems[key]
		}
		pending = append(pending, item)
	}
	return pending, skipped, nil
}

// listPending reads the proposals of namespace ("" for all) a page at a
// time and keeps the pending ones.
func (s *Session) listPending(ctx context.Context, namespace string) ([]v1alpha1.PolicyProposal, error) {
	var out []v1alpha1.PolicyProposal
	cont := ""
	for {
		list := &v1alpha1.PolicyProposalList{}
		opts := []client.ListOption{client.Limit(listPage), client.Continue(cont)}
		if namespace != "" {
			opts = append(opts, client.InNamespace(namespace))
		}
		if err := s.Client.List(ctx, list, opts...); err != nil {
			return nil, err
		}
		for _, p := range list.Items {
			// A proposal the operator has not yet given a phase is new,
			// hence pending.
			if p.Status.Phase == v1alpha1.ProposalPending || p.Status.Phase == "" {
				if len(out) == MaxPending {
					return out, nil
				}
				out = append(out, p)
			}
		}
		if cont = list.Continue; cont == "" {
			return out, nil
		}
	}
}

// listPendingEachNamespace is --all for a user who may not list proposals
// cluster-wide: every namespace they may list them in. refused is the
// cluster-wide refusal, returned if the namespaces cannot be listed either.
func (s *Session) listPendingEachNamespace(ctx context.Context, refused error) (out []v1alpha1.PolicyProposal, skipped []string, err error) {
	nss := &corev1.NamespaceList{}
	if err := s.Client.List(ctx, nss, client.Limit(maxNamespaces)); err != nil {
		// Said here, whole (not wrapped: explain would say it again).
		return nil, nil, fmt.Errorf("%v; nor may you list the namespaces to look in each one: name one with -n", s.explain(ctx, refused))
	}
	for _, ns := range nss.Items {
		props, err := s.listPending(ctx, ns.Name)
		switch {
		case apierrors.IsForbidden(err):
			skipped = append(skipped, ns.Name)
			continue
		case err != nil:
			return nil, nil, err
		}
		out = append(out, props...)
		if len(out) >= MaxPending {
			return out[:MaxPending], skipped, nil
		}
	}
	return out, skipped, nil
}
