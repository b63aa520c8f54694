package controllers

import (
	"context"
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
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/apply"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/requeue"
)

// FederationPolicyReconciler merges a community's moderation by trust. It
// orchestrates three steps, each in its own file:
//
//   - sources (federationpolicy_sources.go): url sources are fetched and
//     tracked by the policy's feeds.Subscriptions, kept in a ConfigMap
//     across restarts; policyRef sources are read from the Registry;
//   - the merge, by the engine;
//   - publication (federationpolicy_publish.go): the result goes to the
//     Registry (where the Instance syncer and subscribers read it) and to
//     the feed store, and the status says what was published.
//
// Nobody is told: subscriber policies and the selected Instances watch
// this policy's published state (status.policyHash, visibility and the
// generation computed) and wake themselves.
type FederationPolicyReconciler struct {
	Client   client.Client
	Applier  *apply.Applier
	Recorder recorder.EventRecorder
	Options  Options
	Registry *federation.Registry
	// Store is what the feed servers serve.
	Store *feeds.MemoryStore
	// Fetcher fetches url sources (SSRF-guarded).
	Fetcher *feeds.Fetcher

	// subscriptions holds each policy's *feeds.Subscriptions by key: the
	// last good copies outlive a pass here, and a restart in a ConfigMap.
	subscriptions sync.Map
	// reviews holds each reviewed policy's *reviewMemo by key: its
	// applied state as saved (federationpolicy_review_state.go).
	reviews sync.Map
}

// RBAC (see docs/operator-rbac.md). The saved source state is a ConfigMap
// read by name and written by server-side apply: get, create and patch,
// never update, and no list or watch since ConfigMaps are not cached.
// Its owner reference blocks the policy's deletion, which the
// OwnerReferencesPermissionEnforcement admission plugin allows only to
// whoever may update the policy's finalizers; and taking over a ConfigMap
// left by an earlier policy of the same name changes its owner, which the
// plugin allows only to whoever may delete it.
// +kubebuilder:rbac:groups=fedcommons.io,resources=federationpolicies,verbs=list;watch
// +kubebuilder:rbac:groups=fedcommons.io,resources=federationpolicies/status,verbs=patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=federationpolicies/finalizers,verbs=update
// +kubebuilder:rbac:groups=fedcommons.io,resources=instances,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get;create;patch;delete
//
// Reviewed policies (spec.review): the operator writes PolicyProposals
// (created once, status patched, the oldest decided ones deleted) and only
// reads PolicyApprovals, which moderators create.
// +kubebuilder:rbac:groups=fedcommons.io,resources=policyproposals,verbs=list;watch;create;delete
// +kubebuilder:rbac:groups=fedcommons.io,resources=policyproposals/status,verbs=patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=policyapprovals,verbs=list;watch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes one FederationPolicy's effective entries.
func (r *FederationPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	policy := &v1alpha1.FederationPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, policy); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !policy.DeletionTimestamp.IsZero() {
		r.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}

	before := policy.Status.DeepCopy()
	defer func() {
		policy.Status.ObservedGeneration = policy.Generation
		if err := patchStatus(ctx, r.Client, policy, &policy.Status, before); err != nil && retErr == nil {
			retErr = err
		}
	}()

	if _, err := federation.Selector(policy); err != nil {
		return conditions.Record(&policy.Status.Conditions, policy.Generation,
			conditions.Stall(v1alpha1.ReasonInvalidSelector, "spec.instanceSelector: "+err.Error()))
	}
	subs, err := r.subscriptionsOf(ctx, policy)
	if err != nil {
		// Without the saved source state a merge could drop entries whose
		// sources are merely not fetched yet: do not compute at all.
		return conditions.Record(&policy.Status.Conditions, policy.Generation, conditions.Retry(v1alpha1.ReasonSourceStateUnreadable, err))
	}
	// The state is saved after the merge and publication and whatever they
	// did: a save that fails costs refetches after a restart, never the
	// policy (issue 12: an oversized state used to block every merge).
	result, err = r.computeAndPublish(ctx, policy, subs)
	if saveErr := r.saveSubscriptions(ctx, policy, subs); err == nil {
		err = saveErr
	}
	return result, err
}

// computeAndPublish resolves the sources, merges and publishes. A failure
// to read the cluster is retried with backoff and leaves the conditions as
// they are.
func (r *FederationPolicyReconciler) computeAndPublish(ctx context.Context, policy *v1alpha1.FederationPolicy, subs *feeds.Subscriptions) (ctrl.Result, error) {
	sources := r.resolveSources(ctx, policy, subs)
	policy.Status.Sources = sources.statuses()
	if waiting := federation.Waiting(sources.all); len(waiting) > 0 {
		return conditions.Record(&policy.Status.Conditions, policy.Generation, conditions.Wait(v1alpha1.ReasonWaitingForSource,
			"waiting for "+strings.Join(waiting, "; "), requeue.Jitter(sources.retry())))
	}
	res, selected, err := r.compute(ctx, policy, sources)
	if err != nil {
		return conditions.Record(&policy.Status.Conditions, policy.Generation, err)
	}
	prev, _ := r.Registry.Get(client.ObjectKeyFromObject(policy))
	if policy.Spec.Review != nil {
		// What the servers get is the applied state, not the computation.
		if res, err = r.reviewPass(ctx, policy, prev, res); err != nil {
			return conditions.Record(&policy.Status.Conditions, policy.Generation, err)
		}
	} else if err := r.reviewOff(ctx, policy); err != nil {
		return conditions.Record(&policy.Status.Conditions, policy.Generation, conditions.Retry(v1alpha1.ReasonReviewStateNotSaved, err))
	}
	r.publish(ctx, policy, res)
	r.report(policy, prev, res, selected, sources)
	if sources.next > 0 {
		return ctrl.Result{RequeueAfter: requeue.Jitter(sources.next)}, nil
	}
	return ctrl.Result{}, nil
}

// compute merges the policy with its resolved sources, protecting every
// Instance domain of the cluster, and counts the Instances it selects.
func (r *FederationPolicyReconciler) compute(ctx context.Context, policy *v1alpha1.FederationPolicy, sources resolvedSources) (*federation.Result, int, error) {
	instances := &v1alpha1.InstanceList{}
	if err := r.Client.List(ctx, instances); err != nil {
		return nil, 0, err
	}
	resolved := federation.Resolved(sources.all)
	in := federation.Input(policy, resolved, federation.ProtectedDomains(instances.Items))
	// The Registry keeps this result until the policy's next pass, and the
	// index Explain would need holds every Instance domain of the cluster:
	// one per policy grew with communities × Instances (docs/benchmarks.md).
	// Nothing in the operator explains; the command line merges its own.
	in.NoExplain = true
	eff, err := moderation.Merge(in)
	if err != nil {
		// A merge the engine refused: retrying cannot help.
		return nil, 0, conditions.Stall(v1alpha1.ReasonMergeFailed, err.Error())
	}
	selected := 0
	for i := range instances.Items {
		if federation.Selects(policy, &instances.Items[i]) {
			selected++
		}
	}
	res := &federation.Result{
		Policy: client.ObjectKeyFromObject(policy), Generation: policy.Generation, Visibility: federation.Visibility(policy),
		Effective: eff, Hash: eff.Hash(), Refs: federation.Refs(policy), ComputedAt: time.Now(),
	}
	res.Restrict(resolved)
	return res, selected, nil
}

// forget drops a deleted policy everywhere. Its subscribers and Instances
// learn of the deletion from their own watches.
func (r *FederationPolicyReconciler) forget(key types.NamespacedName) {
	r.Registry.Delete(key)
	r.Store.Delete(key.Namespace, key.Name)
	metrics.ForgetPolicy(key.Namespace, key.Name)
	r.subscriptions.Delete(key)
	r.reviews.Delete(key)
	r.Store.DeleteProposal(key.Namespace, key.Name)
	if r.Applier != nil {
		r.Applier.Forget(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: sourcesConfigMapName(key.Name)}})
		r.Applier.Forget(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: reviewConfigMapName(key.Name)}})
	}
}

// policyRefIndex indexes FederationPolicies by the policies they read
// ("namespace/name"), to find the subscribers of a policy.
const policyRefIndex = "spec.sources.policyRef"

// SetupWithManager registers the reconciler and its watches: its own
// policies; subscribers, when a policy they read publishes something else
// (Flux's HelmChart watching HelmRepository revisions is the model); and
// the policies concerned when an Instance comes or goes or changes labels
// (selection, and the protected domains policies must respect).
func (r *FederationPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.FederationPolicy{}, policyRefIndex,
		func(o client.Object) []string {
			var refs []string
			for _, ref := range federation.Refs(o.(*v1alpha1.FederationPolicy)) {
				refs = append(refs, ref.String())
			}
			return refs
		}); err != nil {
		return fmt.Errorf("index FederationPolicies by policyRef: %w", err)
	}
	if err := r.indexReview(mgr); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.FederationPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.FederationPolicy{}, handler.EnqueueRequestsFromMapFunc(r.subscribersOf), builder.WithPredicates(publishedChanged)).
		Watches(&v1alpha1.PolicyApproval{}, handler.EnqueueRequestsFromMapFunc(r.policyOfApproval), builder.WithPredicates(createdOrDeleted)).
		Watches(&v1alpha1.PolicyProposal{}, handler.EnqueueRequestsFromMapFunc(policyOfProposal), builder.WithPredicates(deleted)).
		Watches(&v1alpha1.Instance{}, handler.EnqueueRequestsFromMapFunc(r.policiesConcerned), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return true },
			DeleteFunc: func(event.DeleteEvent) bool { return true },
			// Labels select; admission decides what an Instance protects.
			UpdateFunc: func(e event.UpdateEvent) bool {
				return !equality.Semantic.DeepEqual(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
					federation.Admitted(e.ObjectOld.(*v1alpha1.Instance)) != federation.Admitted(e.ObjectNew.(*v1alpha1.Instance))
			},
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Named("federationpolicy").
		WithOptions(r.Options.controllerOptions()).
		Complete(r)
}

// subscribersOf lists the policies reading o through a policyRef.
func (r *FederationPolicyReconciler) subscribersOf(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.FederationPolicyList{}
	if err := r.Client.List(ctx, list, client.MatchingFields{policyRefIndex: client.ObjectKeyFromObject(o).String()}); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Cannot list the subscribers of a FederationPolicy", "policy", client.ObjectKeyFromObject(o))
		return nil
	}
	return requests(list.Items)
}

// policiesConcerned lists the policies an Instance's coming, going, labels
// or admission can change: those of its namespace (they select it, and its
// names are protected from them as soon as it exists); those of the
// namespaces of other Instances claiming one of its names (which of them
// holds a name, and so protects it, may change); and those of any
// namespace with sources. Another community's Instance bends only
// subscribed entries (moderation.Protected), so a policy of local entries
// alone computes the same whatever Instances other communities have.
//
// Waking every policy of the cluster instead made each Instance event cost
// one pass per policy, each listing every Instance: during a rollout the
// policies' passes grew with the square of the Instances (issue 16: 76 per
// policy at 100 Instances, 239 at 300).
func (r *FederationPolicyReconciler) policiesConcerned(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.FederationPolicyList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	namespaces := map[string]bool{o.GetNamespace(): true}
	if inst, ok := o.(*v1alpha1.Instance); ok {
		for _, name := range claimedNames(inst) {
			claims := &v1alpha1.InstanceList{}
			if err := r.Client.List(ctx, claims, client.MatchingFields{domainIndex: name}); err != nil {
				return requests(list.Items) // cannot tell: every policy
			}
			for i := range claims.Items {
				namespaces[claims.Items[i].Namespace] = true
			}
		}
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		p := &list.Items[i]
		if namespaces[p.Namespace] || len(p.Spec.Sources) > 0 {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
		}
	}
	return out
}

func requests[T any, PT interface {
	*T
	client.Object
}](items []T) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for i := range items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(PT(&items[i]))})
	}
	return out
}
