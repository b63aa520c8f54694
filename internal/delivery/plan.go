package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// desired is what an Instance's server should hold and how to reach it.
// It is built only from a complete selection (see selectPolicies), which
// makes it the only thing a deletion is ever computed from.
type desired struct {
	combined *federation.Combined
	apiURL   string
	mode     drivers.Mode
	drift    time.Duration
}

// plan decides whether this pass contacts the server, and with what. It
// returns an Outcome instead when it must not: a policy is waiting, no
// policy selects the Instance nor ever did, or the server matched this
// very policy less than a drift interval ago.
func (s *Syncer) plan(ctx context.Context, p *pass) (*desired, *Outcome, error) {
	sel, err := s.selectPolicies(ctx, p.inst)
	if err != nil {
		return nil, nil, err
	}
	if len(sel.waiting) > 0 {
		o := waitingForPolicies(sel.waiting)
		return nil, &o, nil
	}
	if len(sel.results) == 0 && (p.prev == nil || p.prev.PolicyHash == "") {
		// No policy selects the Instance and none ever did: nothing of
		// ours can be on the server, so it is not contacted at all.
		return nil, &Outcome{RemoveCondition: true}, nil
	}
	// An empty selection past this point is a deliberate one (the policies
	// were deleted, or no longer select this Instance's labels): ours go.
	combined, err := federation.Combine(sel.results)
	if err != nil {
		return nil, nil, err
	}
	ep, err := resources.AdminEndpointOf(p.inst)
	if err != nil {
		return nil, nil, err
	}
	p.host = ep.Host
	want := &desired{combined: combined, apiURL: ep.URL, mode: modeOf(p.inst), drift: s.Options.DriftCheckInterval}
	if f := p.inst.Spec.Federation; f != nil && f.DriftCheckInterval != nil {
		want.drift = f.DriftCheckInterval.Duration
	}
	if wait, ok := p.backingOff(time.Now()); ok {
		o := p.backoffOutcome(wait)
		return nil, &o, nil
	}
	if wait, ok := p.notDue(want); ok {
		o := p.unchanged(wait)
		return nil, &o, nil
	}
	return want, nil, nil
}

// selection is the policies that select an Instance. waiting names every
// policy that may select it but has no complete, successful result, with
// why: while it is not empty nothing is planned, because that policy's
// entries would read as entries to delete.
type selection struct {
	results []*federation.Result
	waiting []string
}

func (s *Syncer) selectPolicies(ctx context.Context, inst *v1alpha1.Instance) (selection, error) {
	list := &v1alpha1.FederationPolicyList{}
	if err := s.Client.List(ctx, list, client.InNamespace(inst.Namespace)); err != nil {
		return selection{}, fmt.Errorf("list FederationPolicies: %w", err)
	}
	var sel selection
	for i := range list.Items {
		pol := &list.Items[i]
		if !pol.DeletionTimestamp.IsZero() {
			// Deleted by a person: its entries go with it.
			continue
		}
		r, why := s.resultFor(ctx, pol, inst)
		switch {
		case why != "":
			sel.waiting = append(sel.waiting, pol.Name+" ("+why+")")
		case r != nil:
			sel.results = append(sel.results, r)
		}
	}
	return sel, nil
}

// resultFor returns the policy's result when it selects inst, nil when it
// does not, or why it cannot be used yet.
func (s *Syncer) resultFor(ctx context.Context, pol *v1alpha1.FederationPolicy, inst *v1alpha1.Instance) (*federation.Result, string) {
	selector, err := federation.Selector(pol)
	if err != nil {
		// A selector that cannot be evaluated (an In with no values) would
		// select nothing, and nothing reads as "remove every entry this
		// policy put on every server of the namespace". Whether it selects
		// this Instance is unknown: wait for its author to fix it.
		return nil, "its instanceSelector cannot be evaluated: " + err.Error()
	}
	if !selector.Matches(labels.Set(inst.Labels)) {
		return nil, ""
	}
	if c := meta.FindStatusCondition(pol.Status.Conditions, v1alpha1.ConditionStalled); c != nil &&
		c.Status == metav1.ConditionTrue && c.ObservedGeneration == pol.Generation {
		// The Registry may still hold an older result of this generation;
		// a policy that cannot compute what it is now does not stand.
		return nil, "Stalled: " + c.Reason
	}
	key := types.NamespacedName{Namespace: pol.Namespace, Name: pol.Name}
	r, err := s.Results.Result(ctx, key, pol.Generation)
	switch {
	case errors.Is(err, ErrNotComputed):
		return nil, "not computed yet"
	case err != nil:
		return nil, "its result cannot be read: " + err.Error()
	}
	if why := incomplete(r, key, pol.Generation); why != "" {
		return nil, why
	}
	return r, ""
}

// incomplete says why a result cannot stand for its policy, or "".
func incomplete(r *federation.Result, key types.NamespacedName, generation int64) string {
	switch {
	case r == nil || r.Effective == nil:
		return "its result is empty"
	case r.Policy != key || r.Generation != generation:
		return "its result is for another policy or generation"
	case r.Hash == "":
		return "its result has no hash"
	}
	return ""
}

// notDue tells whether the server can be left alone this pass, and for how
// long: a reconcile for another reason (a child's status, a policy whose
// hash did not change) does not contact the server between drift checks,
// as each check lists every entry and writes lastSyncTime.
func (p *pass) notDue(want *desired) (time.Duration, bool) {
	prev := p.prev
	if prev == nil || p.prevReason != v1alpha1.ReasonSynced || prev.PolicyHash != want.combined.Hash || prev.Pending != 0 ||
		p.inst.Status.ObservedGeneration != p.inst.Generation || prev.LastSyncTime == nil {
		return 0, false
	}
	wait := time.Until(prev.LastSyncTime.Add(want.drift))
	return wait + time.Second, wait > 0
}

// changes is the fewest calls that make a server hold the desired policy,
// and, one line each, what it cannot hold.
type changes struct {
	plan  moderation.Plan
	notes []string
	// managed counts the entries of ours the server held before.
	managed int
}

// planChanges expresses the policy in what the server can hold and diffs
// it against the server's complete list. Only entries the server listed as
// ours can be deleted, and only because the policy, complete, no longer
// has them.
func planChanges(srv *server, want *desired) changes {
	sendable, notes := srv.drv.Express(srv.caps, want.combined.Desired(), want.mode)
	ch := changes{plan: moderation.Diff(sendable, srv.current), notes: notes}
	for _, e := range srv.current {
		if e.Managed {
			ch.managed++
		}
	}
	for _, c := range ch.plan.Conflicts {
		ch.notes = append(ch.notes, fmt.Sprintf("%s: not applied: the server has a milder entry that is not ours (%s); resolve it by hand", c.Want.Domain, c.Have.Action))
	}
	return ch
}

func modeOf(inst *v1alpha1.Instance) drivers.Mode {
	if f := inst.Spec.Federation; f != nil && f.Mode == v1alpha1.FederationAllowlist {
		return drivers.Allowlist
	}
	return drivers.Blocklist
}
