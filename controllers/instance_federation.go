package controllers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Reasons of the FederationSynced condition.
const (
	ReasonSynced           = "Synced"
	ReasonWaitingForPolicy = "WaitingForPolicy"
	ReasonSyncFailed       = "SyncFailed"
	ReasonApplying         = "Applying"
)

// FederationSync is the InstanceReconciler's FederationSyncer: it pushes
// the combined effective policy of the FederationPolicies selecting an
// Instance into its server through the profile's moderation driver.
//
// It never acts on a partial view: until every selecting policy has been
// computed for its current generation (say, just after the operator
// started), the server is left alone, because an empty policy would read
// as "delete every entry of ours".
type FederationSync struct {
	Client client.Client
	// APIReader reads the sysadmin's token Secrets, which are not in the
	// label-filtered cache.
	APIReader client.Reader
	Recorder  recorder.EventRecorder
	Registry  *federation.Registry
	Options   Options
	// HTTPClient reaches admin APIs; nil means the drivers' default.
	HTTPClient *http.Client

	mu sync.Mutex
	// drivers holds one Driver per (driver, URL, token): the rate budget of
	// a server lives in its Driver and must outlast a reconcile.
	drivers map[string]drivers.Driver
}

var _ FederationSyncer = (*FederationSync)(nil)

// Sync implements FederationSyncer.
func (s *FederationSync) Sync(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile) (time.Duration, error) {
	prev := inst.Status.Federation
	prevCond := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
	var prevReason string
	if prevCond != nil {
		prevReason = prevCond.Reason
	}

	results, waiting, err := s.policiesFor(ctx, inst)
	if err != nil {
		return 0, err
	}
	if len(waiting) > 0 {
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionFederationSynced, metav1.ConditionFalse,
			ReasonWaitingForPolicy, fmt.Sprintf("waiting for FederationPolicy %s to be computed; the server is left as it is meanwhile", strings.Join(waiting, ", ")))
		// The policy reconciler enqueues this Instance once it has a
		// result; the requeue is a safety net.
		return jitter(30 * time.Second), nil
	}
	if len(results) == 0 && (prev == nil || prev.PolicyHash == "") {
		// No policy selects the Instance and none ever did: nothing of
		// ours can be on the server, so it is not contacted at all.
		meta.RemoveStatusCondition(&inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
		return 0, nil
	}
	combined, err := federation.Combine(results)
	if err != nil {
		return 0, err
	}

	drift := s.Options.DriftCheckInterval
	if f := inst.Spec.Federation; f != nil && f.DriftCheckInterval != nil {
		drift = f.DriftCheckInterval.Duration
	}
	// A reconcile for another reason (a child's status, a policy whose hash
	// did not change) does not contact the server between drift checks:
	// each check lists every entry and writes lastSyncTime.
	if prev != nil && prevReason == ReasonSynced && prev.PolicyHash == combined.Hash && prev.Pending == 0 &&
		inst.Status.ObservedGeneration == inst.Generation && prev.LastSyncTime != nil {
		if wait := time.Until(prev.LastSyncTime.Add(drift)); wait > 0 {
			metrics.RecordState(inst.Namespace, inst.Name, int(prev.Entries), 0, prev.LastSyncTime.Time)
			return wait + time.Second, nil
		}
	}

	// What the server received, counted in metrics even when a sync fails
	// part way.
	var res drivers.ApplyResult
	fail := func(err error) (time.Duration, error) {
		st := prev.DeepCopy()
		if st == nil {
			st = &v1alpha1.FederationSyncStatus{}
		}
		st.LastError = err.Error()
		inst.Status.Federation = st
		metrics.RecordSync(inst.Namespace, inst.Name, metrics.Sync{Result: metrics.SyncFailed, Created: res.Created, Updated: res.Updated, Deleted: res.Deleted})
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionFederationSynced, metav1.ConditionFalse, ReasonSyncFailed, err.Error())
		if prevReason != ReasonSyncFailed {
			s.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, "FederationSyncFailed", "Sync", "Moderation sync failed: %v", err)
		}
		return jitter(time.Minute), nil
	}

	apiURL := apiURLOf(inst)
	mode := drivers.Blocklist
	if f := inst.Spec.Federation; f != nil && f.Mode == v1alpha1.FederationAllowlist {
		mode = drivers.Allowlist
	}

	sctx, cancel := context.WithTimeout(ctx, s.Options.SyncTimeout)
	defer cancel()
	// Probe every time: an upgraded server may hold more than it did.
	drv, caps, current, err := s.connect(ctx, sctx, inst, profile, apiURL)
	if errors.Is(err, errWaitingForAdmin) {
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionFederationSynced, metav1.ConditionFalse, ReasonWaitingForAdmin,
			errWaitingForAdmin.Error()+"; the server is left as it is meanwhile")
		// AdminReady turning True is a status write on this Instance,
		// which reconciles it; the requeue is a safety net.
		return jitter(30 * time.Second), nil
	}
	if err != nil {
		return fail(err)
	}
	sendable, notes := drv.Express(caps, combined.Desired(), mode)
	plan := moderation.Diff(sendable, current)
	managed := 0
	for _, e := range current {
		if e.Managed {
			managed++
		}
	}
	if !plan.Empty() {
		res, err = drv.Apply(sctx, plan, nil)
	}
	stopped := errors.Is(err, drivers.ErrStopped)
	if err != nil && !stopped {
		return fail(err)
	}
	for _, c := range plan.Conflicts {
		notes = append(notes, fmt.Sprintf("%s: not applied: the server has a milder entry that is not ours (%s); resolve it by hand", c.Want.Domain, c.Have.Action))
	}
	for _, c := range res.Conflicts {
		notes = append(notes, fmt.Sprintf("%s: not applied: %s", c.Entry.Domain, c.Reason))
	}
	sort.Strings(notes)
	if len(notes) > 32 {
		notes = append(notes[:31], fmt.Sprintf("... and %d more", len(notes)-31))
	}

	now := metav1.Now().Rfc3339Copy()
	st := &v1alpha1.FederationSyncStatus{
		PolicyHash:       combined.Hash,
		Entries:          int32(managed + res.Created - res.Deleted),
		UnmanagedEntries: int32(plan.Unmanaged),
		Unsupported:      notes,
		LastSyncTime:     &now,
	}
	var requeue time.Duration
	switch {
	case stopped:
		// Partial progress: the hash stays the last one applied in full,
		// the rest is pending, and a fresh List+Diff resumes it.
		if prev != nil {
			st.PolicyHash = prev.PolicyHash
		} else {
			st.PolicyHash = ""
		}
		st.Pending = int32(res.Total - res.Done)
		requeue = max(res.RetryAfter, 5*time.Second)
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionFederationSynced, metav1.ConditionFalse, ReasonApplying,
			fmt.Sprintf("%d of %d changes sent, %d pending (%v); resuming", res.Done, res.Total, st.Pending, err))
	case len(res.Failed) > 0:
		msgs := make([]string, 0, 3)
		for i, f := range res.Failed {
			if i == 3 {
				msgs = append(msgs, fmt.Sprintf("and %d more", len(res.Failed)-3))
				break
			}
			msgs = append(msgs, fmt.Sprintf("%s %s: %v", f.Op, f.Domain, f.Err))
		}
		return fail(fmt.Errorf("the server refused %d changes: %s", len(res.Failed), strings.Join(msgs, "; ")))
	default:
		requeue = jitter(drift)
		msg := fmt.Sprintf("%d entries from %s in place (%s)", st.Entries, policyList(combined.Policies), combined.Hash)
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionFederationSynced, metav1.ConditionTrue, ReasonSynced, msg)
		writes := res.Created + res.Updated + res.Deleted
		switch {
		case prev == nil || prev.PolicyHash == "":
			s.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "FederationSynced", "Sync", "First moderation sync: %s", msg)
		case prevReason == ReasonSyncFailed:
			s.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "FederationSyncRecovered", "Sync", "Moderation sync recovered: %s", msg)
		case prev.PolicyHash == combined.Hash && writes > 0:
			s.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "FederationDriftCorrected", "Sync",
				"Restored %d entries changed or removed on the server by hand (%d created, %d updated, %d deleted)", writes, res.Created, res.Updated, res.Deleted)
		}
	}
	result := metrics.SyncComplete
	if stopped {
		result = metrics.SyncPartial
	}
	metrics.RecordSync(inst.Namespace, inst.Name, metrics.Sync{Result: result, Created: res.Created, Updated: res.Updated, Deleted: res.Deleted,
		Entries: int(st.Entries), Pending: int(st.Pending), At: now.Time})
	log.FromContext(ctx).V(1).Info("Moderation synced", "instance", client.ObjectKeyFromObject(inst),
		"hash", combined.Hash, "created", res.Created, "updated", res.Updated, "deleted", res.Deleted, "writeCalls", res.WriteCalls, "pending", st.Pending)
	inst.Status.Federation = st
	return requeue, nil
}

func policyList(names []string) string {
	if len(names) == 0 {
		return "no FederationPolicy (all of ours removed)"
	}
	return "FederationPolicy " + strings.Join(names, ", ")
}

// policiesFor returns the computed results of the FederationPolicies
// selecting inst, and the names of those not computed for their current
// generation yet.
func (s *FederationSync) policiesFor(ctx context.Context, inst *v1alpha1.Instance) ([]*federation.Result, []string, error) {
	list := &v1alpha1.FederationPolicyList{}
	if err := s.Client.List(ctx, list, client.InNamespace(inst.Namespace)); err != nil {
		return nil, nil, err
	}
	var results []*federation.Result
	var waiting []string
	for i := range list.Items {
		p := &list.Items[i]
		if !p.DeletionTimestamp.IsZero() || !federation.Selects(p, inst) {
			continue
		}
		r, ok := s.Registry.Current(types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, p.Generation)
		if !ok {
			waiting = append(waiting, p.Name)
			continue
		}
		results = append(results, r)
	}
	return results, waiting, nil
}

// apiURLOf is where the admin API is reached: spec.federation.apiURL, else
// the external server's URL, else the public https://<domain>.
func apiURLOf(inst *v1alpha1.Instance) string {
	if f := inst.Spec.Federation; f != nil && f.APIURL != "" {
		return strings.TrimSuffix(f.APIURL, "/")
	}
	if inst.Spec.External != nil {
		return strings.TrimSuffix(inst.Spec.External.URL, "/")
	}
	return "https://" + string(inst.Spec.Domain)
}

// token returns the admin API token: the sysadmin's Secret for an external
// server, the generated admin Secret for a hosted one whose profile mints a
// token, or one obtained by OAuth with the generated admin password.
func (s *FederationSync) token(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, apiURL string) (string, error) {
	if ext := inst.Spec.External; ext != nil {
		key := ext.TokenSecretRef.Key
		if key == "" {
			key = "token"
		}
		return s.secretValue(ctx, s.APIReader, inst.Namespace, ext.TokenSecretRef.Name, key)
	}
	if profile.Admin == nil || inst.Spec.Admin == nil {
		return "", fmt.Errorf("no admin token: set spec.admin so the operator bootstraps an admin account it can push moderation with")
	}
	if !hostedAdminReady(inst) {
		return "", errWaitingForAdmin
	}
	if profile.Admin.TokenKey != "" {
		return s.secretValue(ctx, s.Client, inst.Namespace, resources.AdminSecretName(inst), profile.Admin.TokenKey)
	}
	return s.oauthToken(ctx, inst, profile, apiURL)
}

func (s *FederationSync) secretValue(ctx context.Context, r client.Reader, namespace, name, key string) (string, error) {
	sec := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, sec); err != nil {
		return "", fmt.Errorf("read admin token Secret %s: %w", name, err)
	}
	v := strings.TrimSpace(string(sec.Data[key]))
	if v == "" {
		return "", fmt.Errorf("admin token Secret %s has no key %q", name, key)
	}
	return v, nil
}

func (s *FederationSync) driver(name, apiURL, token string) (drivers.Driver, error) {
	key := driverKey(name, apiURL, token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.drivers[key]; ok {
		return d, nil
	}
	d, err := drivers.New(name, drivers.Config{
		BaseURL:    apiURL,
		Token:      token,
		HTTPClient: s.HTTPClient,
		RateLimit:  s.Options.AdminRateLimit,
	})
	if err != nil {
		return nil, err
	}
	if s.drivers == nil {
		s.drivers = map[string]drivers.Driver{}
	}
	s.drivers[key] = d
	return d, nil
}

// driverKey identifies a driver by its server and a digest of its token.
func driverKey(name, apiURL, token string) string {
	sum := sha256.Sum256([]byte(token))
	return name + "\x00" + apiURL + "\x00" + hex.EncodeToString(sum[:])
}
