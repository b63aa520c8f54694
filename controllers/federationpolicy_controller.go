package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	"sigs.k8s.io/controller-runtime/pkg/source"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// DefaultRefreshInterval is how often a url source is fetched when the
// policy does not say.
const DefaultRefreshInterval = 6 * time.Hour

// Keys of a policy's "<policy>-sources" ConfigMap.
const (
	sourcesStateKey        = "state.json.gz"
	sourcesFingerprintsKey = "sources.json"
)

// FederationPolicyReconciler merges a community's moderation by trust:
// it fetches url sources, reads referenced policies from the Registry,
// merges with the engine, stores the result in the Registry (where the
// Instance syncer and subscribers read it), publishes it to the feed
// store and tells the selected Instances.
type FederationPolicyReconciler struct {
	Client   client.Client
	Recorder recorder.EventRecorder
	Options  Options
	Registry *federation.Registry
	// Store is what the feed servers serve.
	Store *feeds.MemoryStore
	// Fetcher fetches url sources (SSRF-guarded).
	Fetcher *feeds.Fetcher
	// InstanceEvents is read by the Instance controller: an Instance sent
	// there is reconciled, and so synced.
	InstanceEvents chan<- event.GenericEvent

	policyEvents chan event.GenericEvent

	mu sync.Mutex
	// state is per policy: the source tracker (persisted in a ConfigMap),
	// what was last published and which Instances were last selected.
	state map[types.NamespacedName]*policyState
}

type policyState struct {
	tracker *feeds.Tracker
	// saved is the tracker's JSON as last written to the ConfigMap, to
	// write only when it changed.
	saved []byte
	// fingerprints are "url|format" per source, so that a changed URL is
	// fetched at once and not judged against another list's copy.
	fingerprints map[string]string
	loaded       bool

	published string // hash+visibility last put in the Store
	selected  []types.NamespacedName
}

// +kubebuilder:rbac:groups=fedcommons.io,resources=federationpolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=federationpolicies/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes one FederationPolicy's effective entries.
func (r *FederationPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	key := req.NamespacedName
	policy := &v1alpha1.FederationPolicy{}
	if err := r.Client.Get(ctx, key, policy); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(ctx, key)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !policy.DeletionTimestamp.IsZero() {
		r.forget(ctx, key)
		return ctrl.Result{}, nil
	}

	before := policy.Status.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, policy, before); err != nil && retErr == nil {
			retErr = err
		}
	}()

	if _, err := federation.Selector(policy); err != nil {
		conditions.MarkStalled(&policy.Status.Conditions, policy.Generation, "InvalidSelector", "spec.instanceSelector: "+err.Error())
		return ctrl.Result{}, nil
	}

	st, err := r.stateOf(ctx, policy)
	if err != nil {
		// Without the saved source state a merge could drop entries whose
		// sources are merely not fetched yet: do not compute at all.
		conditions.MarkReconciling(&policy.Status.Conditions, policy.Generation, "SourceStateUnreadable", err.Error())
		return ctrl.Result{}, err
	}

	resolved, statuses, nextFetch, waiting := r.resolveSources(ctx, policy, st)
	if err := r.saveState(ctx, policy, st); err != nil {
		return ctrl.Result{}, err
	}
	policy.Status.Sources = statuses
	if len(waiting) > 0 {
		conditions.MarkReconciling(&policy.Status.Conditions, policy.Generation, "WaitingForSource",
			"waiting for referenced FederationPolicy "+strings.Join(waiting, ", ")+" to be computed")
		return ctrl.Result{RequeueAfter: jitter(15 * time.Second)}, nil
	}

	instances := &v1alpha1.InstanceList{}
	if err := r.Client.List(ctx, instances); err != nil {
		return ctrl.Result{}, err
	}
	eff, err := moderation.Merge(federation.Input(policy, resolved, federation.ProtectedDomains(instances.Items)))
	if err != nil {
		conditions.MarkStalled(&policy.Status.Conditions, policy.Generation, "MergeFailed", err.Error())
		return ctrl.Result{}, nil
	}
	var selected []types.NamespacedName
	for i := range instances.Items {
		if federation.Selects(policy, &instances.Items[i]) {
			selected = append(selected, client.ObjectKeyFromObject(&instances.Items[i]))
		}
	}

	refs := map[string]types.NamespacedName{}
	for _, s := range policy.Spec.Sources {
		if s.PolicyRef != nil {
			refs[s.Name] = types.NamespacedName{Namespace: s.PolicyRef.Namespace, Name: s.PolicyRef.Name}
		}
	}
	res := &federation.Result{
		Policy: key, Generation: policy.Generation, Visibility: federation.Visibility(policy),
		Effective: eff, Hash: eff.Hash(), Refs: refs, ComputedAt: time.Now(),
	}
	prev, hadPrev := r.Registry.Get(key)
	changed := r.Registry.Put(res)
	r.publish(policy, res, st)

	// Tell the Instances: those selected now and those no longer selected
	// (their effective policy lost this one). Also on a new generation
	// with the same hash, since Instances wait for the current generation.
	newGen := !hadPrev || prev.Generation != res.Generation
	if changed || newGen || !sameKeys(st.selected, selected) {
		r.enqueueInstances(ctx, union(st.selected, selected))
	}
	st.selected = selected
	if changed {
		r.enqueueSubscribers(ctx, key)
	}

	metrics.RecordPolicy(key.Namespace, key.Name, len(eff.Entries), len(eff.Rejected))
	policy.Status.Entries = int32(len(eff.Entries))
	policy.Status.Instances = int32(len(selected))
	policy.Status.PolicyHash = res.Hash
	policy.Status.Rejected = int32(len(eff.Rejected))
	var failing []string
	for _, s := range statuses {
		if s.Error != "" {
			failing = append(failing, s.Name+": "+s.Error)
		}
	}
	if len(failing) > 0 {
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourcesHealthy, metav1.ConditionFalse, "SourceErrors",
			strings.Join(failing, "; ")+" (the last good copy stays in force)")
	} else {
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourcesHealthy, metav1.ConditionTrue, "Fetched",
			fmt.Sprintf("%d sources in force", len(statuses)))
	}
	// Applied says the effective policy was handed to the selected
	// Instances; whether each server holds it is each Instance's
	// FederationSynced condition (several policies may combine there).
	conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionApplied, metav1.ConditionTrue, "Computed",
		fmt.Sprintf("effective policy handed to %d selected Instances", len(selected)))
	msg := fmt.Sprintf("%d effective entries, %d rejected, %d Instances", len(eff.Entries), len(eff.Rejected), len(selected))
	if len(failing) > 0 {
		msg += fmt.Sprintf("; %d sources failing", len(failing))
	}
	conditions.MarkReady(&policy.Status.Conditions, policy.Generation, "Computed", msg)

	if nextFetch > 0 {
		return ctrl.Result{RequeueAfter: jitter(nextFetch)}, nil
	}
	return ctrl.Result{}, nil
}

// fetchResult is the metrics result of a fetch.
func fetchResult(o feeds.Outcome) string {
	switch {
	case o.Applied:
		return metrics.FetchApplied
	case o.Held != "":
		return metrics.FetchHeld
	}
	return metrics.FetchError
}

// resolveSources fetches the url sources that are due and reads the
// referenced policies. waiting names referenced policies that exist but
// have not been computed yet: merging without them would retract their
// entries from every server for nothing.
func (r *FederationPolicyReconciler) resolveSources(ctx context.Context, policy *v1alpha1.FederationPolicy, st *policyState) (
	resolved []federation.ResolvedSource, statuses []v1alpha1.SourceStatus, nextFetch time.Duration, waiting []string) {
	key := client.ObjectKeyFromObject(policy)
	retraction := feeds.DefaultRetraction
	if rs := policy.Spec.Retraction; rs != nil {
		retraction = feeds.Retraction{MinCleanFetches: int(rs.MinCleanFetches), MaxShrinkPercent: int(rs.MaxShrinkPercent)}
	}
	now := time.Now()
	var urlNames []string
	for _, s := range policy.Spec.Sources {
		if s.URL != "" {
			urlNames = append(urlNames, s.Name)
		}
	}
	// A source removed from the spec (or renamed) must not keep its
	// entries, nor its share of the saved state.
	st.tracker.Retain(urlNames...)
	for name := range st.fingerprints {
		if !contains(urlNames, name) {
			delete(st.fingerprints, name)
			metrics.ForgetSource(key.Namespace, key.Name, name)
		}
	}

	for _, s := range policy.Spec.Sources {
		if s.URL == "" {
			res, status, wait := r.resolveRef(ctx, key, s)
			if wait != "" {
				waiting = append(waiting, wait)
			}
			resolved = append(resolved, res)
			statuses = append(statuses, status)
			continue
		}
		interval := DefaultRefreshInterval
		if s.RefreshInterval != nil {
			interval = s.RefreshInterval.Duration
		}
		fp := s.URL + "|" + string(s.Format)
		ts := st.tracker.Status(s.Name)
		if st.fingerprints[s.Name] != fp && st.fingerprints[s.Name] != "" {
			// Another list now: forget the old copy rather than judge the
			// new one against it (it would look like a shrink).
			others := make([]string, 0, len(urlNames))
			for _, n := range urlNames {
				if n != s.Name {
					others = append(others, n)
				}
			}
			st.tracker.Retain(others...)
			ts = st.tracker.Status(s.Name)
		}
		if ts.LastFetchTime.IsZero() || st.fingerprints[s.Name] != fp || now.Sub(ts.LastFetchTime) >= interval {
			format, _ := moderation.ParseFormat(string(s.Format))
			out := feeds.FetchSource(ctx, r.Fetcher, st.tracker, feeds.Source{Name: s.Name, URL: s.URL, Format: format, Retraction: retraction})
			st.fingerprints[s.Name] = fp
			ts = out.Status
			metrics.RecordFetch(policy.Namespace, policy.Name, s.Name, fetchResult(out.Outcome))
			if out.Outcome.Held != "" {
				r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, "SourceHeld", "Fetch", "Source %s: %s", s.Name, out.Outcome.Held)
			}
		}
		wait := interval - time.Since(ts.LastFetchTime)
		if nextFetch == 0 || wait < nextFetch {
			nextFetch = max(wait, time.Minute)
		}
		eff := st.tracker.Effective(s.Name)
		metrics.RecordFeedEntries(policy.Namespace, policy.Name, s.Name, len(eff))
		entries := make([]moderation.Entry, len(eff))
		for i := range eff {
			entries[i] = eff[i].Entry
		}
		resolved = append(resolved, federation.ResolvedSource{Name: s.Name, Entries: entries})
		statuses = append(statuses, sourceStatus(ts))
	}
	return resolved, statuses, nextFetch, waiting
}

// resolveRef reads another policy's published entries from the Registry.
func (r *FederationPolicyReconciler) resolveRef(ctx context.Context, reader types.NamespacedName, s v1alpha1.PolicySource) (
	federation.ResolvedSource, v1alpha1.SourceStatus, string) {
	ref := types.NamespacedName{Namespace: s.PolicyRef.Namespace, Name: s.PolicyRef.Name}
	res := federation.ResolvedSource{Name: s.Name}
	status := v1alpha1.SourceStatus{Name: s.Name}
	target := &v1alpha1.FederationPolicy{}
	if err := r.Client.Get(ctx, ref, target); err != nil {
		status.Error = fmt.Sprintf("FederationPolicy %s: %v", ref, client.IgnoreNotFound(err))
		if apierrors.IsNotFound(err) {
			status.Error = fmt.Sprintf("FederationPolicy %s not found", ref)
		}
		return res, status, ""
	}
	if federation.Visibility(target) == v1alpha1.VisibilityNone {
		status.Error = fmt.Sprintf("FederationPolicy %s is not published (publish.visibility: none)", ref)
		return res, status, ""
	}
	got, ok := r.Registry.Current(ref, target.Generation)
	if !ok {
		// Two policies subscribing to each other would wait for each
		// other forever: a mutual subscriber goes ahead with what is there.
		if refersTo(target, reader) {
			got, ok = r.Registry.Get(ref)
		}
		if !ok {
			status.Error = "not computed yet"
			return res, status, ref.String()
		}
	}
	res.Entries = got.PublishedFor(reader)
	status.Entries = int32(len(res.Entries))
	return res, status, ""
}

func refersTo(p *v1alpha1.FederationPolicy, key types.NamespacedName) bool {
	for _, s := range p.Spec.Sources {
		if s.PolicyRef != nil && s.PolicyRef.Namespace == key.Namespace && s.PolicyRef.Name == key.Name {
			return true
		}
	}
	return false
}

func sourceStatus(s feeds.SourceStatus) v1alpha1.SourceStatus {
	out := v1alpha1.SourceStatus{Name: s.Name, ETag: s.ETag, Entries: int32(s.Entries), Error: s.Error, Held: s.Held}
	if !s.LastFetchTime.IsZero() {
		t := metav1.NewTime(s.LastFetchTime).Rfc3339Copy()
		out.LastFetchTime = &t
	}
	if !s.LastSuccessTime.IsZero() {
		t := metav1.NewTime(s.LastSuccessTime).Rfc3339Copy()
		out.LastSuccessTime = &t
	}
	if s.PendingRetractions > 0 && out.Held == "" {
		out.Held = fmt.Sprintf("%d retractions pending confirmation", s.PendingRetractions)
	}
	return out
}

// stateOf returns the policy's in-memory state, loading the source tracker
// from its ConfigMap the first time (after a restart), so that neither the
// last good copies nor pending retractions are forgotten.
func (r *FederationPolicyReconciler) stateOf(ctx context.Context, policy *v1alpha1.FederationPolicy) (*policyState, error) {
	key := client.ObjectKeyFromObject(policy)
	r.mu.Lock()
	if r.state == nil {
		r.state = map[types.NamespacedName]*policyState{}
	}
	st := r.state[key]
	if st == nil {
		st = &policyState{tracker: feeds.NewTracker(), fingerprints: map[string]string{}}
		r.state[key] = st
	}
	r.mu.Unlock()
	if st.loaded {
		return st, nil
	}
	cm := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: policy.Namespace, Name: sourcesConfigMapName(policy)}, cm)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, err
	default:
		if data := cm.BinaryData[sourcesStateKey]; len(data) > 0 {
			if err := st.tracker.Load(data); err != nil {
				return nil, fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
			}
		}
		if fp := cm.Data[sourcesFingerprintsKey]; fp != "" {
			if err := json.Unmarshal([]byte(fp), &st.fingerprints); err != nil {
				return nil, fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
			}
		}
	}
	st.saved, _ = st.tracker.MarshalJSON()
	st.loaded = true
	return st, nil
}

func sourcesConfigMapName(p *v1alpha1.FederationPolicy) string { return p.Name + "-sources" }

// saveState writes the tracker to the ConfigMap when it changed (a fetch
// happened that changed something): steady state writes nothing.
func (r *FederationPolicyReconciler) saveState(ctx context.Context, policy *v1alpha1.FederationPolicy, st *policyState) error {
	current, err := st.tracker.MarshalJSON()
	if err != nil {
		return err
	}
	if bytes.Equal(current, st.saved) {
		return nil
	}
	state, err := st.tracker.Save()
	if err != nil {
		return err
	}
	fps, _ := json.Marshal(st.fingerprints)
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: policy.Namespace, Name: sourcesConfigMapName(policy)}}
	_, err = controllerutil.CreateOrPatch(ctx, r.Client, cm, func() error {
		if cm.Labels == nil {
			cm.Labels = map[string]string{}
		}
		cm.Labels[v1alpha1.LabelManagedBy] = v1alpha1.ManagedByValue
		if c := policy.Labels[v1alpha1.LabelCommunity]; c != "" {
			cm.Labels[v1alpha1.LabelCommunity] = c
		}
		cm.BinaryData = map[string][]byte{sourcesStateKey: state}
		cm.Data = map[string]string{sourcesFingerprintsKey: string(fps)}
		return controllerutil.SetControllerReference(policy, cm, r.Client.Scheme())
	})
	if err != nil {
		return fmt.Errorf("save source state: %w", err)
	}
	st.saved = current
	return nil
}

// publish puts the effective policy in the feed store, or withdraws it.
func (r *FederationPolicyReconciler) publish(policy *v1alpha1.FederationPolicy, res *federation.Result, st *policyState) {
	tag := res.Hash + "|" + string(res.Visibility)
	if st.published == tag {
		return
	}
	st.published = tag
	if res.Visibility == v1alpha1.VisibilityNone {
		r.Store.Delete(policy.Namespace, policy.Name)
		return
	}
	entries := make([]feeds.PublishedEntry, 0, len(res.Effective.Entries))
	for i := range res.Effective.Entries {
		e := &res.Effective.Entries[i]
		entries = append(entries, feeds.PublishedEntry{Entry: e.Entry, Summary: publicSummary(e)})
	}
	community := policy.Labels[v1alpha1.LabelCommunity]
	if community == "" {
		community = policy.Namespace
	}
	_ = r.Store.Put(feeds.Published{
		Namespace: policy.Namespace, Name: policy.Name, Community: community,
		Visibility: feeds.Visibility(res.Visibility), Hash: res.Hash, UpdatedAt: res.ChangedAt, Entries: entries,
	})
}

// publicSummary is the provenance others may read: who decided and with
// what weight, never the private comment (EffectiveEntry.Summary quotes
// it for local entries).
func publicSummary(e *moderation.EffectiveEntry) string {
	if e.Provenance.Decision.Kind == moderation.DecidedLocally {
		return "our own decision"
	}
	var parts []string
	for _, c := range e.Provenance.Sources {
		if c.Counted && c.Source != nil {
			parts = append(parts, fmt.Sprintf("%s (%d)", c.Source.Name, c.Source.Weight))
		}
	}
	return strings.Join(parts, " + ") + " ≥ " + e.Provenance.Decision.Threshold().String()
}

// forget drops a deleted policy everywhere and tells whoever depended on it.
func (r *FederationPolicyReconciler) forget(ctx context.Context, key types.NamespacedName) {
	r.Registry.Delete(key)
	r.Store.Delete(key.Namespace, key.Name)
	metrics.ForgetPolicy(key.Namespace, key.Name)
	r.mu.Lock()
	st := r.state[key]
	delete(r.state, key)
	r.mu.Unlock()
	if st != nil {
		r.enqueueInstances(ctx, st.selected)
	} else {
		// After a restart nothing is known of what it selected: every
		// Instance of the namespace re-combines (cheap, and no server is
		// contacted unless its effective policy changed).
		list := &v1alpha1.InstanceList{}
		if err := r.Client.List(ctx, list, client.InNamespace(key.Namespace)); err == nil {
			keys := make([]types.NamespacedName, 0, len(list.Items))
			for i := range list.Items {
				keys = append(keys, client.ObjectKeyFromObject(&list.Items[i]))
			}
			r.enqueueInstances(ctx, keys)
		}
	}
	r.enqueueSubscribers(ctx, key)
}

func (r *FederationPolicyReconciler) enqueueInstances(ctx context.Context, keys []types.NamespacedName) {
	if r.InstanceEvents == nil {
		return
	}
	for _, k := range keys {
		ev := event.GenericEvent{Object: &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Name}}}
		select {
		case r.InstanceEvents <- ev:
		case <-ctx.Done():
			return
		}
	}
}

// enqueueSubscribers reconciles the policies reading key through a policyRef.
func (r *FederationPolicyReconciler) enqueueSubscribers(ctx context.Context, key types.NamespacedName) {
	list := &v1alpha1.FederationPolicyList{}
	if err := r.Client.List(ctx, list); err != nil {
		return
	}
	for i := range list.Items {
		if refersTo(&list.Items[i], key) {
			select {
			case r.policyEvents <- event.GenericEvent{Object: &list.Items[i]}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func (r *FederationPolicyReconciler) patchStatus(ctx context.Context, policy *v1alpha1.FederationPolicy, before *v1alpha1.FederationPolicyStatus) error {
	policy.Status.ObservedGeneration = policy.Generation
	return patchStatus(ctx, r.Client, policy, &policy.Status, before)
}

// SetupWithManager registers the reconciler and its watches: its own
// policies, subscribers woken when a referenced policy changes, and every
// policy when an Instance comes or goes or changes labels (selection, and
// the protected domains every policy must respect).
func (r *FederationPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.policyEvents == nil {
		r.policyEvents = make(chan event.GenericEvent, 1024)
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.FederationPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesRawSource(source.Channel(r.policyEvents, &handler.EnqueueRequestForObject{})).
		Watches(&v1alpha1.Instance{}, handler.EnqueueRequestsFromMapFunc(r.allPolicies), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return true },
			DeleteFunc: func(event.DeleteEvent) bool { return true },
			UpdateFunc: func(e event.UpdateEvent) bool {
				return !equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels())
			},
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Named("federationpolicy").
		Complete(r)
}

func (r *FederationPolicyReconciler) allPolicies(ctx context.Context, _ client.Object) []reconcile.Request {
	list := &v1alpha1.FederationPolicyList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sameKeys(a, b []types.NamespacedName) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func union(a, b []types.NamespacedName) []types.NamespacedName {
	seen := map[types.NamespacedName]bool{}
	var out []types.NamespacedName
	for _, l := range [][]types.NamespacedName{a, b} {
		for _, k := range l {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}
