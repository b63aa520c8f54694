package delivery

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/requeue"
	"github.com/fedcommons/fedcommons/internal/software"
)

// pass is one Sync of one Instance: what it starts from (the status the
// last pass left) and the events it has to tell so far.
type pass struct {
	inst       *v1alpha1.Instance
	profile    *software.Profile
	prev       *v1alpha1.FederationSyncStatus
	prevReason string
	events     []Event
	// host is the Host header of requests to the admin API ("" for the
	// URL's own host): see resources.AdminEndpoint.
	host string
	// given is what the caller read already (Sync's Given).
	given Given
}

func newPass(inst *v1alpha1.Instance, profile *software.Profile) *pass {
	p := &pass{inst: inst, profile: profile, prev: inst.Status.Federation}
	if c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced); c != nil {
		p.prevReason = c.Reason
	}
	return p
}

func (p *pass) event(typ, reason, action, format string, args ...any) {
	p.events = append(p.events, Event{Type: typ, Reason: reason, Action: action, Message: fmt.Sprintf(format, args...)})
}

// finish hands the pass's events over with its Outcome.
func (p *pass) finish(o Outcome) Outcome {
	o.Events = append(p.events, o.Events...)
	return o
}

// maxWaitingNamed bounds the policies a WaitingForPolicy message names.
const maxWaitingNamed = 8

func waitingForPolicies(waiting []string) Outcome {
	named := waiting
	if len(named) > maxWaitingNamed {
		named = append(named[:maxWaitingNamed:maxWaitingNamed], fmt.Sprintf("and %d more", len(waiting)-maxWaitingNamed))
	}
	// The policy reconciler enqueues this Instance once it has a result;
	// the requeue is a safety net.
	return Outcome{
		Condition: &Condition{Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonWaitingForPolicy,
			Message: fmt.Sprintf("waiting for FederationPolicy %s; the server is left as it is meanwhile", strings.Join(named, ", "))},
		RequeueAfter: requeue.Jitter(30 * time.Second),
	}
}

// unchanged: the server matched this policy less than a drift interval
// ago; status stays as it is.
func (p *pass) unchanged(wait time.Duration) Outcome {
	metrics.RecordState(p.inst.Namespace, p.inst.Name, int(p.prev.Entries), 0, p.prev.LastSyncTime.Time)
	return Outcome{RequeueAfter: wait}
}

func (p *pass) waitingForAdmin() Outcome {
	// AdminReady turning True is a status write on this Instance, which
	// reconciles it; the requeue is a safety net.
	return p.finish(Outcome{
		Condition: &Condition{Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonWaitingForAdmin,
			Message: errWaitingForAdmin.Error() + "; the server is left as it is meanwhile"},
		RequeueAfter: requeue.Jitter(30 * time.Second),
	})
}

// failed reports a pass that could not finish: status.federation keeps
// what the server last held, with the error; res counts what was sent
// before it failed.
func (p *pass) failed(err error, res drivers.ApplyResult) Outcome {
	st := p.prev.DeepCopy()
	if st == nil {
		st = &v1alpha1.FederationSyncStatus{}
	}
	reason, msg, event, retry := v1alpha1.ReasonSyncFailed, err.Error(), "FederationSyncFailed", time.Minute
	var refused *outbound.RefusedError
	if errors.As(err, &refused) {
		// Not a server's failure: the operator would not call there. It
		// stays so until the Instance (or the operator's flags) change.
		reason, msg, event, retry = v1alpha1.ReasonAddressRefused, msg+" ("+refusedHint+")", "FederationAddressRefused", 5*time.Minute
	}
	st.LastError = msg
	// Durable backoff (backoff.go): the wait doubles with each failure in
	// a row and is written down, so a restart honours it too.
	now := time.Now()
	st.Failures++
	wait := max(backoffFor(st.Failures, retryAfterOf(err)), requeue.Jitter(retry))
	st.NextRetryTime = nextRetry(now, wait)
	metrics.RecordSync(p.inst.Namespace, p.inst.Name, metrics.Sync{Result: metrics.SyncFailed, Created: res.Created, Updated: res.Updated, Deleted: res.Deleted})
	if p.prevReason != reason {
		p.event(corev1.EventTypeWarning, event, "Sync", "Moderation sync failed: %s", msg)
	}
	return p.finish(Outcome{
		Condition:    &Condition{Status: metav1.ConditionFalse, Reason: reason, Message: msg},
		Status:       st,
		RequeueAfter: st.NextRetryTime.Sub(now),
	})
}

// report turns what Apply did into the Outcome: in place (Synced),
// partly sent and resuming (Applying), or refused by the server (failed).
func (p *pass) report(ctx context.Context, want *desired, ch changes, res drivers.ApplyResult, err error) Outcome {
	stopped := errors.Is(err, drivers.ErrStopped)
	if err != nil && !stopped {
		return p.failed(err, res)
	}
	if !stopped && len(res.Failed) > 0 {
		return p.failed(refused(res.Failed), res)
	}
	now := metav1.Now().Rfc3339Copy()
	st := &v1alpha1.FederationSyncStatus{
		PolicyHash:       want.combined.Hash,
		Entries:          int32(ch.managed + res.Created - res.Deleted),
		UnmanagedEntries: int32(ch.plan.Unmanaged),
		Unsupported:      notes(ch, res),
		LastSyncTime:     &now,
	}
	out := Outcome{Status: st}
	result := metrics.SyncComplete
	if stopped {
		// Partial progress: the hash stays the last one applied in full,
		// the rest is pending, and a fresh List+Diff resumes it.
		result = metrics.SyncPartial
		st.PolicyHash = ""
		if p.prev != nil {
			st.PolicyHash = p.prev.PolicyHash
		}
		st.Pending = int32(res.Total - res.Done)
		out.RequeueAfter = max(res.RetryAfter, 5*time.Second)
		if res.RetryAfter > 0 {
			// Rate limited: the server's wait is written down so a
			// restart honours it; a stop that made no progress counts as
			// a failure and backs off further.
			if res.Done == 0 {
				st.Failures = 1
				if p.prev != nil {
					st.Failures += p.prev.Failures
				}
				out.RequeueAfter = max(out.RequeueAfter, backoffFor(st.Failures, res.RetryAfter))
			}
			st.NextRetryTime = nextRetry(now.Time, out.RequeueAfter)
			out.RequeueAfter = st.NextRetryTime.Sub(now.Time)
		}
		out.Condition = &Condition{Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonApplying,
			Message: fmt.Sprintf("%d of %d changes sent, %d pending (%v); resuming", res.Done, res.Total, st.Pending, err)}
	} else {
		out.RequeueAfter = requeue.Jitter(want.drift)
		msg := fmt.Sprintf("%d entries from %s in place (%s)", st.Entries, policyList(want.combined.Policies), want.combined.Hash)
		out.Condition = &Condition{Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonSynced, Message: msg}
		p.syncedEvent(want, res, msg)
	}
	metrics.RecordSync(p.inst.Namespace, p.inst.Name, metrics.Sync{Result: result, Created: res.Created, Updated: res.Updated, Deleted: res.Deleted,
		Entries: int(st.Entries), Pending: int(st.Pending), At: now.Time})
	log.FromContext(ctx).V(1).Info("Moderation synced", "instance", client.ObjectKeyFromObject(p.inst),
		"hash", want.combined.Hash, "created", res.Created, "updated", res.Updated, "deleted", res.Deleted, "writeCalls", res.WriteCalls, "pending", st.Pending)
	return p.finish(out)
}

// syncedEvent tells a human about the syncs worth telling: the first, a
// recovery, and drift on the server corrected.
func (p *pass) syncedEvent(want *desired, res drivers.ApplyResult, msg string) {
	writes := res.Created + res.Updated + res.Deleted
	switch {
	case p.prev == nil || p.prev.PolicyHash == "":
		p.event(corev1.EventTypeNormal, "FederationSynced", "Sync", "First moderation sync: %s", msg)
	case p.prevReason == v1alpha1.ReasonSyncFailed || p.prevReason == v1alpha1.ReasonAddressRefused:
		p.event(corev1.EventTypeNormal, "FederationSyncRecovered", "Sync", "Moderation sync recovered: %s", msg)
	case p.prev.PolicyHash == want.combined.Hash && writes > 0:
		p.event(corev1.EventTypeNormal, "FederationDriftCorrected", "Sync",
			"Restored %d entries changed or removed on the server by hand (%d created, %d updated, %d deleted)", writes, res.Created, res.Updated, res.Deleted)
	}
}

// refused summarises the changes the server rejected, three at most.
func refused(failed []drivers.Failure) error {
	msgs := make([]string, 0, 4)
	for i, f := range failed {
		if i == 3 {
			msgs = append(msgs, fmt.Sprintf("and %d more", len(failed)-3))
			break
		}
		msgs = append(msgs, fmt.Sprintf("%s %s: %v", f.Op, f.Domain, f.Err))
	}
	return fmt.Errorf("the server refused %d changes: %s", len(failed), strings.Join(msgs, "; "))
}

// notes is status.federation.unsupported: what the server cannot hold and
// what it refused, sorted, within the API's 32 items.
func notes(ch changes, res drivers.ApplyResult) []string {
	out := append([]string(nil), ch.notes...)
	for _, c := range res.Conflicts {
		out = append(out, fmt.Sprintf("%s: not applied: %s", c.Entry.Domain, c.Reason))
	}
	sort.Strings(out)
	if len(out) > 32 {
		out = append(out[:31], fmt.Sprintf("... and %d more", len(out)-31))
	}
	return out
}

func policyList(names []string) string {
	if len(names) == 0 {
		return "no FederationPolicy (all of ours removed)"
	}
	return "FederationPolicy " + strings.Join(names, ", ")
}
