// Package delivery carries an Instance's effective moderation policy to its
// server: it reads the FederationPolicies that select the Instance and
// their computed results, finds the admin token (signing in when the
// driver family can and the profile says so), plans the fewest calls that
// make the server hold the policy, applies them and returns an Outcome.
// It writes nothing to the Kubernetes API but a token it obtained, through
// the TokenStore it is given: the Instance reconciler writes the Outcome
// (the FederationSynced condition, status.federation, events) and requeues
// when it says.
//
// An error is never a retraction. Only a complete, successful computation
// may remove anything from a server: while a policy that may select the
// Instance is not computed for its current generation, is Stalled, has a
// result that cannot be read or is not whole, or has a selector that cannot
// be evaluated, the pass waits (WaitingForPolicy) and the server is not
// contacted; a failure to obtain a token, probe or list the server ends
// the pass before any change is planned.
//
// One pass, one file per step:
//   - plan.go: the selected policies, their combination, whether the server
//     is due, and the changes against what it lists;
//   - apply.go: the driver (kept per server and token), probe, list, apply;
//   - report.go: the Outcome, with metrics and events;
//   - token.go: where each server's admin token comes from;
//   - outbound.go: the guarded HTTP client for each server, trusting a
//     hosted Instance's own Service and nothing else a tenant names.
package delivery

import (
	"context"
	"errors"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Options are the operator-wide delivery settings.
type Options struct {
	// DriftCheckInterval is how often a server is compared with its policy
	// when its Instance does not say.
	DriftCheckInterval time.Duration
	// SyncTimeout bounds one pass against one server; what is left is
	// reported as pending and resumed on the next pass.
	SyncTimeout time.Duration
	// AdminRateLimit is the client-side budget of each server's admin API.
	AdminRateLimit drivers.RateLimit
	// Outbound is the operator's guarded HTTP stack (internal/outbound);
	// nil means outbound.Default(): public addresses only, no proxy.
	Outbound *outbound.Stack
	// ClusterDomain is the cluster's DNS domain (default cluster.local),
	// used to name a hosted Instance's own Services.
	ClusterDomain string
	// ServiceOrigins replaces ClusterDNS(ClusterDomain) where Services are
	// not reached through cluster DNS (in-process test servers).
	ServiceOrigins ServiceOrigins
}

// Results reads the computed results of FederationPolicies.
type Results interface {
	// Result returns the policy's result computed for generation, an error
	// matching ErrNotComputed when there is none yet, or any other error
	// when it cannot be read. Every error makes the pass wait.
	Result(ctx context.Context, policy types.NamespacedName, generation int64) (*federation.Result, error)
}

// ErrNotComputed: the policy has no result for its current generation yet
// (just created or changed, or the operator just started).
var ErrNotComputed = errors.New("not computed yet")

// RegistryResults reads results from the operator's in-memory Registry.
type RegistryResults struct{ Registry *federation.Registry }

// Result implements Results.
func (r RegistryResults) Result(_ context.Context, policy types.NamespacedName, generation int64) (*federation.Result, error) {
	res, ok := r.Registry.Current(policy, generation)
	if !ok {
		return nil, ErrNotComputed
	}
	return res, nil
}

// TokenStore keeps the admin tokens delivery obtained by signing in. It is
// the only write delivery makes, and it is a compare-and-swap so that two
// passes never each keep a different token: one token of record per server.
type TokenStore interface {
	// Swap stores token for inst unless the stored token is neither empty
	// nor old, and returns the token of record: token when it was stored,
	// else the one found, which the caller uses instead.
	Swap(ctx context.Context, inst *v1alpha1.Instance, old, token string) (string, error)
}

// Syncer delivers moderation to Instances' servers. It implements the
// Instance reconciler's FederationSyncer.
type Syncer struct {
	// Client reads FederationPolicies and the generated admin Secrets
	// (the manager's cached client).
	Client client.Reader
	// APIReader reads what is not in the label-filtered cache: the
	// sysadmin's token Secrets, and a token Secret created moments ago.
	APIReader client.Reader
	Results   Results
	Tokens    TokenStore
	Options   Options

	mu sync.Mutex
	// drivers holds one Driver per (driver, URL, token): the rate budget of
	// a server lives in its Driver and must outlast a pass.
	drivers map[string]drivers.Driver
	// waits remembers, per Instance, the backoff this process last
	// decided (see rememberWait): the status it wrote may not be in the
	// cache yet when the next pass starts.
	waits map[types.UID]wait
	// probes holds each driver's last successful probe (probe.go).
	probes map[string]probed
}

// Outcome is what one pass found and did, for the Instance reconciler to
// record. Delivery never writes status itself.
type Outcome struct {
	// Condition is the FederationSynced condition to set; nil leaves the
	// condition as it is unless RemoveCondition is set.
	Condition *Condition
	// RemoveCondition: no policy selects the Instance nor ever did, so it
	// has no FederationSynced condition at all.
	RemoveCondition bool
	// Status replaces status.federation; nil leaves it as it is.
	Status *v1alpha1.FederationSyncStatus
	// RequeueAfter is when the server should be compared with the policy
	// again (zero: only when something changes).
	RequeueAfter time.Duration
	// Events to record on the Instance, in order.
	Events []Event
}

// Condition is the FederationSynced condition of an Outcome.
type Condition struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// Event is one Kubernetes event to record on the Instance.
type Event struct {
	// Type is corev1.EventTypeNormal or EventTypeWarning.
	Type, Reason, Action, Message string
}

// Given is what the caller already read from the API server in this
// reconcile, for Sync to use instead of reading it again. Every field is
// optional: what is not given, Sync reads.
type Given struct {
	// TokenSecret is the Secret an external Instance's
	// spec.external.tokenSecretRef names, as read uncached in this
	// reconcile (the Instance reconciler checks it exists before any
	// sync). Reading it again would be a second GET of the same object
	// on the path from a policy change to the server, every pass: with
	// 200 Instances behind one change, on a loaded API server, about a
	// tenth of a pass (docs/benchmarks-propagation.md). The token is
	// validated as if Sync had read it.
	TokenSecret *corev1.Secret
}

// Sync runs one pass for inst: plan, then apply, then report. inst and
// given are only read. An error is a failure to read the Kubernetes API
// (or a given object that is not the one the spec names), before anything
// was decided: the server was not contacted.
func (s *Syncer) Sync(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, given Given) (Outcome, error) {
	p := newPass(inst, profile)
	p.given = given
	s.recallWait(p)
	want, early, err := s.plan(ctx, p)
	if err != nil {
		return Outcome{}, err
	}
	if early != nil {
		return s.rememberWait(p, p.finish(*early)), nil
	}

	sctx, cancel := context.WithTimeout(ctx, s.Options.SyncTimeout)
	defer cancel()
	srv, err := s.connect(ctx, sctx, p, want.apiURL)
	if errors.Is(err, errWaitingForAdmin) {
		return p.waitingForAdmin(), nil
	}
	if err != nil {
		return s.rememberWait(p, p.failed(err, drivers.ApplyResult{})), nil
	}
	changes := planChanges(srv, want)
	res, err := s.applyChanges(sctx, srv, changes)
	return s.rememberWait(p, p.report(ctx, want, changes, res, err)), nil
}
