package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// publish hands the result to the Registry (for the Instance syncer and
// subscribers) and to the feed store, or withdraws it from the store.
func (r *FederationPolicyReconciler) publish(ctx context.Context, policy *v1alpha1.FederationPolicy, res *federation.Result) {
	r.Registry.Put(res)
	if res.Visibility == v1alpha1.VisibilityNone {
		r.Store.Delete(policy.Namespace, policy.Name)
		return
	}
	community := r.communityName(ctx, policy.Namespace)
	if p, ok := r.Store.Get(policy.Namespace, policy.Name); ok &&
		p.Hash == res.Hash && p.Visibility == feeds.Visibility(res.Visibility) && p.Community == community {
		return
	}
	entries := make([]feeds.PublishedEntry, 0, len(res.Effective.Entries))
	for i := range res.Effective.Entries {
		e := &res.Effective.Entries[i]
		entries = append(entries, feeds.PublishedEntry{Entry: e.Entry, Summary: publicSummary(e), ClusterOnly: res.ClusterOnly[e.Domain]})
	}
	if err := r.Store.Put(feeds.Published{
		Namespace: policy.Namespace, Name: policy.Name, Community: community,
		Visibility: feeds.Visibility(res.Visibility), Hash: res.Hash, UpdatedAt: res.ChangedAt, Entries: entries,
	}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot publish the FederationPolicy's feed", "policy", client.ObjectKeyFromObject(policy))
	}
}

// communityName is what the transparency page calls a policy's community:
// the display name (else the name) of the Community that owns the
// namespace, found through the label the operator put on the namespace,
// which tenants cannot write. Nothing a tenant writes is read (a label on
// the policy let any community pass itself off as another on its page). A
// namespace no Community owns is shown by its name.
func (r *FederationPolicyReconciler) communityName(ctx context.Context, namespace string) string {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return namespace
	}
	c := &v1alpha1.Community{}
	if name := ns.Labels[v1alpha1.LabelCommunity]; name == "" || r.Client.Get(ctx, client.ObjectKey{Name: name}, c) != nil ||
		tenancy.NamespaceOf(c) != namespace {
		return namespace
	}
	if c.Spec.DisplayName != "" {
		return c.Spec.DisplayName
	}
	return c.Name
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

// report writes what was computed and published to the status and metrics.
// The status is what dependants watch (see published).
func (r *FederationPolicyReconciler) report(policy *v1alpha1.FederationPolicy, prev, res *federation.Result, selected int, sources resolvedSources) {
	eff := res.Effective
	metrics.RecordPolicy(policy.Namespace, policy.Name, len(eff.Entries), len(eff.Rejected))
	policy.Status.Entries = int32(len(eff.Entries))
	policy.Status.Instances = int32(selected)
	policy.Status.PolicyHash = res.Hash
	policy.Status.Rejected = int32(len(eff.Rejected))

	var failing []string
	for i, s := range sources.all {
		if s.Status.Error != "" {
			msg := s.Status.Name + ": " + s.Status.Error
			switch {
			case sources.url[i] && s.Status.LastSuccessTime == nil:
				msg += " (never fetched successfully: none of its entries are in force)"
			case sources.url[i]:
				msg += " (its last good copy, of " + s.Status.LastSuccessTime.UTC().Format("2006-01-02 15:04 MST") + ", stays in force)"
			}
			failing = append(failing, msg)
		}
	}
	if len(failing) > 0 {
		msg := strings.Join(failing, "; ")
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourcesHealthy, metav1.ConditionFalse, v1alpha1.ReasonSourceErrors, msg)
	} else {
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionSourcesHealthy, metav1.ConditionTrue, v1alpha1.ReasonFetched,
			plural(len(sources.all), "source", "sources")+" in force")
	}
	// Applied says the effective policy was handed to the selected
	// Instances; whether each server holds it is each Instance's
	// FederationSynced condition (several policies may combine there).
	// Its observedGeneration is also what tells dependants that this
	// generation is computed (see published).
	conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionApplied, metav1.ConditionTrue, v1alpha1.ReasonComputed,
		"effective policy handed to "+plural(selected, "selected Instance", "selected Instances"))
	msg := fmt.Sprintf("%s, %s, %s", plural(len(eff.Entries), "effective entry", "effective entries"),
		fmt.Sprintf("%d refused", len(eff.Rejected)), plural(selected, "Instance", "Instances"))
	if len(failing) > 0 {
		msg += "; " + plural(len(failing), "source failing (see SourcesHealthy)", "sources failing (see SourcesHealthy)")
	}
	if rs := policy.Status.Review; rs != nil && rs.PendingProposal != "" {
		msg += "; changes wait for approval in PolicyProposal " + rs.PendingProposal + " (see ReviewPending)"
	}
	n := noticesOf(policy, eff, sources)
	n.markEntries(policy)
	n.markReady(policy, msg)
	r.events(policy, prev, res, n, selected)
}

// computed is what the Instances a policy selects act on, read from the
// object: the hash of its effective entries and the generation they were
// computed for (the Registry serves a result only for the current
// generation, so a new generation with the same hash must wake them too).
func computed(p *v1alpha1.FederationPolicy) string {
	var gen int64
	if c := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionApplied); c != nil && c.Status == metav1.ConditionTrue {
		gen = c.ObservedGeneration
	}
	return fmt.Sprintf("%s|%d", p.Status.PolicyHash, gen)
}

// published is what its subscribers act on: what was computed and who may
// read it. A policy whose visibility turns to none changes it without
// changing its hash, and its subscribers drop its entries at once.
func published(p *v1alpha1.FederationPolicy) string {
	return computed(p) + "|" + string(federation.Visibility(p))
}

// publishedChanged lets through the events that change what a policy
// publishes, and its deletion. A creation publishes nothing yet (and at
// start every dependant is reconciled anyway).
var publishedChanged = predicate.Funcs{
	CreateFunc: func(event.CreateEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		return published(e.ObjectOld.(*v1alpha1.FederationPolicy)) != published(e.ObjectNew.(*v1alpha1.FederationPolicy))
	},
	DeleteFunc:  func(event.DeleteEvent) bool { return true },
	GenericFunc: func(event.GenericEvent) bool { return false },
}

// selectedInstances is how the Instance controller watches
// FederationPolicies: the Instances a policy selects are woken when what it
// computed changes or it is deleted, and those it stops selecting as soon
// as its selector changes (nothing they hold depends on the new
// computation). Visibility is no business of theirs.
func selectedInstances(c client.Reader) handler.EventHandler {
	return handler.Funcs{
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			old, cur := e.ObjectOld.(*v1alpha1.FederationPolicy), e.ObjectNew.(*v1alpha1.FederationPolicy)
			switch {
			case computed(old) != computed(cur):
				enqueue(q, instancesSelectedBy(ctx, c, old), instancesSelectedBy(ctx, c, cur))
			case !equality.Semantic.DeepEqual(old.Spec.InstanceSelector, cur.Spec.InstanceSelector):
				still := map[types.NamespacedName]bool{}
				for _, k := range instancesSelectedBy(ctx, c, cur) {
					still[k] = true
				}
				var left []types.NamespacedName
				for _, k := range instancesSelectedBy(ctx, c, old) {
					if !still[k] {
						left = append(left, k)
					}
				}
				enqueue(q, left)
			}
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			if p, ok := e.Object.(*v1alpha1.FederationPolicy); ok {
				enqueue(q, instancesSelectedBy(ctx, c, p))
			}
		},
	}
}

func instancesSelectedBy(ctx context.Context, c client.Reader, p *v1alpha1.FederationPolicy) []types.NamespacedName {
	list := &v1alpha1.InstanceList{}
	if err := c.List(ctx, list, client.InNamespace(p.Namespace)); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot list the Instances a FederationPolicy selects", "policy", client.ObjectKeyFromObject(p))
		return nil
	}
	var out []types.NamespacedName
	for i := range list.Items {
		if federation.Selects(p, &list.Items[i]) {
			out = append(out, client.ObjectKeyFromObject(&list.Items[i]))
		}
	}
	return out
}

func enqueue(q workqueue.TypedRateLimitingInterface[reconcile.Request], lists ...[]types.NamespacedName) {
	for _, l := range lists {
		for _, k := range l {
			q.Add(reconcile.Request{NamespacedName: k})
		}
	}
}
