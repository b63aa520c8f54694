package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Keys of a policy's "<policy>-sources" ConfigMap.
const (
	sourcesStateKey        = "state.json.gz"
	sourcesFingerprintsKey = "sources.json"
)

// waitForPolicy is how often a policy waiting for a referenced policy looks
// again; the referenced policy's watch normally wakes it first.
const waitForPolicy = 15 * time.Second

func sourcesConfigMapName(policy string) string { return policy + "-sources" }

// resolvedSources is every source of one policy, resolved in one pass.
type resolvedSources struct {
	all []federation.Resolution
	// url tells which of all are url sources (the others read policies).
	url []bool
	// next is how long until a url source is due again (0: none).
	next time.Duration
}

func (s resolvedSources) statuses() []v1alpha1.SourceStatus {
	out := make([]v1alpha1.SourceStatus, len(s.all))
	for i := range s.all {
		out[i] = s.all[i].Status
	}
	return out
}

// retry is when a policy waiting for a source looks again: soon for a
// referenced policy, when it is due for a url source.
func (s resolvedSources) retry() time.Duration {
	for i, r := range s.all {
		if r.Waiting != "" && !s.url[i] {
			return waitForPolicy
		}
	}
	return max(s.next, waitForPolicy)
}

// resolveSources fetches the url sources that are due (the policy's
// Subscriptions decide which) and resolves every source in spec order.
func (r *FederationPolicyReconciler) resolveSources(ctx context.Context, policy *v1alpha1.FederationPolicy, subs *feeds.Subscriptions) resolvedSources {
	update := subs.Update(ctx, r.Fetcher, federation.Subscriptions(policy), time.Now())
	// A source removed from the spec (or renamed) stops being reported.
	for _, name := range update.Dropped {
		metrics.ForgetSource(policy.Namespace, policy.Name, name)
	}
	reader := &sourceReader{r: r, reader: client.ObjectKeyFromObject(policy), urls: map[string]feeds.SourceUpdate{}}
	for _, su := range update.Sources {
		reader.urls[su.Name] = su
		if f := su.Fetch; f != nil {
			metrics.RecordFetch(policy.Namespace, policy.Name, su.Name, fetchResult(f.Outcome))
			if f.Outcome.Held != "" {
				r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, "SourceHeld", "Fetch", "Source %s: %s", su.Name, f.Outcome.Held)
			}
			if f.Skipped > 0 {
				// Duplicates and malformed rows: the rest of the list
				// applies, but the publisher should hear of them.
				r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, "SourceRowsSkipped", "Fetch", "Source %s: %s skipped: %s",
					su.Name, plural(f.Skipped, "row", "rows"), describeProblems(f.Problems, f.Skipped))
			}
		}
		metrics.RecordFeedEntries(policy.Namespace, policy.Name, su.Name, len(su.Effective))
	}
	out := resolvedSources{all: federation.ResolveSources(ctx, policy, reader), next: update.Next}
	for _, s := range policy.Spec.Sources {
		out.url = append(out.url, s.URL != "")
	}
	return out
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

// sourceReader is the operator's federation.SourceResolver: url sources
// as the policy's Subscriptions left them, policyRef sources from the
// Registry.
type sourceReader struct {
	r      *FederationPolicyReconciler
	reader types.NamespacedName
	urls   map[string]feeds.SourceUpdate
}

func (s *sourceReader) URL(_ context.Context, sub feeds.Subscription) federation.Resolution {
	su := s.urls[sub.Name]
	entries := make([]moderation.Entry, len(su.Effective))
	for i := range su.Effective {
		entries[i] = su.Effective[i].Entry
	}
	res := federation.Resolution{ResolvedSource: federation.ResolvedSource{Entries: entries}, Status: sourceStatus(su.Status)}
	if su.Status.Unsaved {
		res.Entries = nil
		res.Waiting = "url source " + sub.Name + " to be fetched again (its last good copy was too large to save across the restart)"
	}
	return res
}

// PolicyRef reads another policy's published entries from the Registry.
// A policy that is deleted or no longer published (visibility none)
// contributes nothing at once: unlike an outage, that is its owner
// withdrawing it, and its entries must stop being applied and re-published
// here. A policy not computed yet is waited for.
func (s *sourceReader) PolicyRef(ctx context.Context, _ string, ref types.NamespacedName) federation.Resolution {
	var res federation.Resolution
	target := &v1alpha1.FederationPolicy{}
	if err := s.r.Client.Get(ctx, ref, target); err != nil {
		res.Status.Error = fmt.Sprintf("FederationPolicy %s: %v", ref, err)
		if apierrors.IsNotFound(err) {
			res.Status.Error = fmt.Sprintf("FederationPolicy %s not found", ref)
		}
		return res
	}
	if federation.Visibility(target) == v1alpha1.VisibilityNone {
		res.Status.Error = fmt.Sprintf("FederationPolicy %s is not published (publish.visibility: none): its entries no longer apply here", ref)
		return res
	}
	got, ok := s.r.Registry.Current(ref, target.Generation)
	if !ok {
		// Two policies subscribing to each other would wait for each
		// other forever: a mutual subscriber goes ahead with what is there.
		if federation.RefersTo(target, s.reader) {
			got, ok = s.r.Registry.Get(ref)
		}
		if !ok {
			res.Status.Error = "not computed yet"
			res.Waiting = "referenced FederationPolicy " + ref.String() + " to be computed"
			return res
		}
	}
	// Entries keep the visibility of the policy they come from: a public
	// policy never re-publishes what a cluster-only one shared.
	res.ResolvedSource = got.ReadBy(s.reader, federation.Visibility(target))
	res.Status.Entries = int32(len(res.Entries))
	return res
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
	switch {
	case s.Unsaved:
		out.Error = strings.TrimPrefix(out.Error+"; its last good copy was too large to save across the restart, so the policy waits until it is fetched again", "; ")
	case s.Replacing && out.Error != "":
		out.Error += " (the url or format changed: the copy of the previous list stays in force until the new one is fetched)"
	}
	return out
}

// subscriptionsOf returns the policy's Subscriptions, loading them from
// the ConfigMap the first time (after a restart), so that neither the last
// good copies nor pending retractions are forgotten.
func (r *FederationPolicyReconciler) subscriptionsOf(ctx context.Context, policy *v1alpha1.FederationPolicy) (*feeds.Subscriptions, error) {
	key := client.ObjectKeyFromObject(policy)
	if s, ok := r.subscriptions.Load(key); ok {
		return s.(*feeds.Subscriptions), nil
	}
	subs := feeds.NewSubscriptions()
	cm := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: policy.Namespace, Name: sourcesConfigMapName(policy.Name)}, cm)
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, err
	default:
		if err := subs.Load(cm.BinaryData[sourcesStateKey], []byte(cm.Data[sourcesFingerprintsKey])); err != nil {
			return nil, fmt.Errorf("ConfigMap %s: %w", cm.Name, err)
		}
	}
	r.subscriptions.Store(key, subs)
	return subs, nil
}

// saveSubscriptions writes the source state when it changed (a fetch
// happened): steady state writes nothing. The state is bounded (see
// feeds.Subscriptions.Save): what does not fit is left out and named in
// the SourceStateSaved condition. A failed write is retried with backoff;
// meanwhile the policy is computed and published as usual, and only a
// restart before the next successful save costs anything (refetches).
func (r *FederationPolicyReconciler) saveSubscriptions(ctx context.Context, policy *v1alpha1.FederationPolicy, subs *feeds.Subscriptions) error {
	saved, changed, err := subs.Save()
	if err != nil {
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourceStateSaved, metav1.ConditionFalse, v1alpha1.ReasonTooLarge,
			err.Error()+": nothing is saved, and after a restart every source is fetched again")
		return nil
	}
	if !changed {
		return nil
	}
	name := sourcesConfigMapName(policy.Name)
	if _, err := r.Applier.Apply(ctx, sourcesConfigMap(policy, saved)); err != nil {
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourceStateSaved, metav1.ConditionFalse, v1alpha1.ReasonSaveFailed,
			fmt.Sprintf("cannot save the fetched state in ConfigMap %s (%v); the policy is computed meanwhile, and a restart before the next save fetches its sources again", name, err))
		return fmt.Errorf("save source state: %w", err)
	}
	subs.MarkSaved(saved)
	if len(saved.Unsaved) > 0 {
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourceStateSaved, metav1.ConditionFalse, v1alpha1.ReasonTooLarge,
			fmt.Sprintf("the fetched state does not fit the %d KiB ConfigMap %s may hold: the last good copies of %s are not saved, so after a restart the policy waits until they are fetched again",
				saved.Budget>>10, name, strings.Join(saved.Unsaved, ", ")))
		return nil
	}
	conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourceStateSaved, metav1.ConditionTrue, v1alpha1.ReasonSaved,
		"the fetched state of every url source is kept in ConfigMap "+name)
	return nil
}

// sourcesConfigMap is the ConfigMap holding a policy's saved source
// state, labelled like every child and owned by the policy.
func sourcesConfigMap(policy *v1alpha1.FederationPolicy, saved feeds.Saved) *corev1.ConfigMap {
	cm := policyConfigMap(policy, sourcesConfigMapName(policy.Name))
	cm.BinaryData = map[string][]byte{sourcesStateKey: saved.State}
	cm.Data = map[string]string{sourcesFingerprintsKey: string(saved.Fingerprints)}
	return cm
}

// policyConfigMap is an empty ConfigMap of the policy's saved state,
// labelled like every child and owned by the policy.
func policyConfigMap(policy *v1alpha1.FederationPolicy, name string) *corev1.ConfigMap {
	labels := map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}
	if c := policy.Labels[v1alpha1.LabelCommunity]; c != "" {
		labels[v1alpha1.LabelCommunity] = c
	}
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: policy.Namespace, Name: name, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(policy, v1alpha1.GroupVersion.WithKind("FederationPolicy"))},
		},
	}
}

// describeProblems names the first skipped rows: line, row, why.
func describeProblems(ps []moderation.Problem, total int) string {
	names := make([]string, 0, min(len(ps), namedInMessage))
	for _, p := range ps[:min(len(ps), namedInMessage)] {
		names = append(names, fmt.Sprintf("line %d %q: %s", p.Line, p.Record, p.Reason))
	}
	return strings.Join(names, "; ") + more(max(total, len(names)))
}
