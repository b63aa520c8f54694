package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/apply"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// CommunityFinalizer holds a Community while it still has Instances, and
// lets the operator remove the namespace it created.
const CommunityFinalizer = "fedcommons.io/community"

// CommunityReconciler makes a Community's tenancy real: namespace, member
// RoleBindings, quota, limits and network isolation.
type CommunityReconciler struct {
	Client    client.Client
	APIReader client.Reader // uncached: namespaces not yet ours are not in the cache
	Applier   *apply.Applier
	Recorder  recorder.EventRecorder
	Options   Options
}

// RBAC: exactly what this reconciler sends, each verb's reason in
// docs/operator-rbac.md (config/rbac_test.go holds the two together).
// Reads of kinds in the informer cache need list and watch, not get: get
// is granted only where an uncached reader (APIReader) asks by name. The
// quota is never deleted, but adopting one that exists (same name, no
// owner) sets its owner reference, which OwnerReferencesPermissionEnforcement
// allows only with delete.
// +kubebuilder:rbac:groups=fedcommons.io,resources=communities,verbs=list;watch;update
// +kubebuilder:rbac:groups=fedcommons.io,resources=communities/status,verbs=patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=communities/finalizers,verbs=update
// +kubebuilder:rbac:groups=fedcommons.io,resources=instances;federationpolicies,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=clusterroles,verbs=bind,resourceNames=fedcommons-community-admin;fedcommons-community-moderator;fedcommons-community-viewer
// +kubebuilder:rbac:groups="",resources=resourcequotas;limitranges,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one Community towards its spec.
func (r *CommunityReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	community := &v1alpha1.Community{}
	if err := r.Client.Get(ctx, req.NamespacedName, community); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	if !community.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, community)
	}
	// The finalizer goes on first, in its own write, so that no namespace
	// exists without a way to clean it up. The update does not change the
	// generation (which the watch filters on), so carry on in this pass.
	if controllerutil.AddFinalizer(community, CommunityFinalizer) {
		if err := r.Client.Update(ctx, community); err != nil {
			return ctrl.Result{}, err
		}
	}

	before := community.Status.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, community, before); err != nil && retErr == nil {
			retErr = err
		}
	}()
	community.Status.Namespace = tenancy.NamespaceOf(community)

	for _, step := range []func(context.Context, *v1alpha1.Community) error{
		r.reconcileNamespace,
		r.reconcileMembers,
		r.reconcileQuota,
		r.reconcileIsolation,
		r.reconcileCounts,
	} {
		if err := step(ctx, community); err != nil {
			return conditions.Record(&community.Status.Conditions, community.Generation, conditions.Retry(v1alpha1.ReasonProgressing, err))
		}
	}
	conditions.MarkReady(&community.Status.Conditions, community.Generation, v1alpha1.ReasonReconciled,
		fmt.Sprintf("Namespace %s ready with %d member(s); %d/%d instance(s) ready",
			community.Status.Namespace, len(community.Spec.Members), community.Status.ReadyInstances, community.Status.Instances))
	return ctrl.Result{}, nil
}

func (r *CommunityReconciler) reconcileNamespace(ctx context.Context, c *v1alpha1.Community) error {
	name := tenancy.NamespaceOf(c)
	existing, err := r.readNamespace(ctx, name)
	switch {
	case apierrors.IsNotFound(err):
		if _, err := r.Applier.Apply(ctx, tenancy.Namespace(c, true)); err != nil {
			return err
		}
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "NamespaceCreated", "Create", "Created namespace %s", name)
		return nil
	case err != nil:
		return fmt.Errorf("read namespace %s: %w", name, err)
	}
	if owner := existing.Labels[v1alpha1.LabelCommunity]; owner != "" && owner != c.Name {
		return conditions.Stall(v1alpha1.ReasonNamespaceTaken, fmt.Sprintf(
			"namespace %s already belongs to community %s; choose another spec.namespace", name, owner))
	}
	if !existing.DeletionTimestamp.IsZero() {
		return fmt.Errorf("namespace %s is being deleted; waiting for it to go before recreating it", name)
	}
	created := existing.Annotations[tenancy.AnnotationCreatedNamespace] == "community/"+c.Name
	if existing.Labels[v1alpha1.LabelCommunity] == "" {
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "NamespaceAdopted", "Adopt", "Adopted existing namespace %s", name)
	}
	// Remember every Instance hosted here: their retained Secrets can
	// only be found by name once they are gone (reconcileDelete).
	instances := &v1alpha1.InstanceList{}
	if err := r.Client.List(ctx, instances, client.InNamespace(name)); err != nil {
		return fmt.Errorf("list instances in %s: %w", name, err)
	}
	names := make([]string, 0, len(instances.Items))
	for i := range instances.Items {
		names = append(names, instances.Items[i].Name)
	}
	_, err = r.Applier.Apply(ctx, tenancy.WithInstancesSeen(tenancy.Namespace(c, created), existing, names))
	return err
}

// readNamespace reads a community's namespace from the informer cache
// when the cache holds the very version this operator last applied, and
// from the API server otherwise. A Community is woken by every change of
// its Instances (ten status writes each in a rollout), and the uncached
// read was 6.4 GETs per Instance at 100 Instances (docs/benchmarks.md).
// The cache alone would not do: a namespace not yet labelled as a
// community's is not in it, and a copy older than our last write would
// drop from the record of Instances seen the names that write added.
func (r *CommunityReconciler) readNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err == nil && r.Applier.Current(ns) {
		return ns, nil
	}
	ns = &corev1.Namespace{}
	return ns, r.APIReader.Get(ctx, client.ObjectKey{Name: name}, ns)
}

func (r *CommunityReconciler) reconcileMembers(ctx context.Context, c *v1alpha1.Community) error {
	ns := tenancy.NamespaceOf(c)
	desired := map[string]bool{}
	for _, m := range c.Spec.Members {
		rb := tenancy.RoleBinding(c, m)
		desired[rb.Name] = true
		// A RoleBinding's roleRef is immutable: when a member's role
		// changes, the old binding must go before the new one is applied.
		current := &rbacv1.RoleBinding{}
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(rb), current); err == nil && current.RoleRef.Name != rb.RoleRef.Name {
			if err := r.Client.Delete(ctx, current); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("replace binding %s/%s: %w", ns, rb.Name, err)
			}
			r.Applier.Forget(current)
		}
		if _, err := r.Applier.Apply(ctx, rb); err != nil {
			return err
		}
	}
	bindings := &rbacv1.RoleBindingList{}
	if err := r.Client.List(ctx, bindings, client.InNamespace(ns), client.MatchingLabels(tenancy.Labels(c))); err != nil {
		return fmt.Errorf("list bindings in %s: %w", ns, err)
	}
	for i := range bindings.Items {
		rb := &bindings.Items[i]
		if desired[rb.Name] {
			continue
		}
		if err := r.Client.Delete(ctx, rb); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("remove binding %s/%s: %w", ns, rb.Name, err)
		}
		r.Applier.Forget(rb)
		r.Recorder.Eventf(c, nil, corev1.EventTypeNormal, "MemberRemoved", "Unbind", "Removed binding %s", rb.Name)
	}
	return nil
}

func (r *CommunityReconciler) reconcileQuota(ctx context.Context, c *v1alpha1.Community) error {
	ns := tenancy.NamespaceOf(c)
	if _, err := r.Applier.Apply(ctx, tenancy.ResourceQuota(c)); err != nil {
		return err
	}
	if lr := tenancy.LimitRange(c); lr != nil {
		_, err := r.Applier.Apply(ctx, lr)
		return err
	}
	return r.deleteOwned(ctx, &corev1.LimitRange{ObjectMeta: metav1.ObjectMeta{Name: tenancy.LimitRangeName, Namespace: ns}}, c)
}

func (r *CommunityReconciler) reconcileIsolation(ctx context.Context, c *v1alpha1.Community) error {
	np := tenancy.IsolationPolicy(c, tenancy.IsolationOptions{
		OperatorNamespace:      r.Options.OperatorNamespace,
		DefaultIngressSelector: r.Options.IngressNamespaceSelector,
	})
	if np != nil {
		_, err := r.Applier.Apply(ctx, np)
		return err
	}
	return r.deleteOwned(ctx, &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: tenancy.IsolationPolicyName, Namespace: tenancy.NamespaceOf(c)}}, c)
}

// deleteOwned removes a per-community singleton the spec no longer asks
// for, but only if it is ours: an object of the same name that a sysadmin
// made by hand is left alone.
func (r *CommunityReconciler) deleteOwned(ctx context.Context, obj client.Object, c *v1alpha1.Community) error {
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !metav1.IsControlledBy(obj, c) {
		return nil
	}
	r.Applier.Forget(obj)
	return client.IgnoreNotFound(r.Client.Delete(ctx, obj))
}

func (r *CommunityReconciler) reconcileCounts(ctx context.Context, c *v1alpha1.Community) error {
	ns := tenancy.NamespaceOf(c)
	instances := &v1alpha1.InstanceList{}
	if err := r.Client.List(ctx, instances, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list instances in %s: %w", ns, err)
	}
	policies := &v1alpha1.FederationPolicyList{}
	if err := r.Client.List(ctx, policies, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("list policies in %s: %w", ns, err)
	}
	c.Status.Instances = int32(len(instances.Items))
	c.Status.ReadyInstances = 0
	for i := range instances.Items {
		if conditions.IsTrue(instances.Items[i].Status.Conditions, v1alpha1.ConditionReady) {
			c.Status.ReadyInstances++
		}
	}
	c.Status.Policies = int32(len(policies.Items))
	return nil
}

// reconcileDelete refuses to cascade: a Community with Instances stays,
// with a condition naming them, until they are deleted one by one (each
// under its own deletionPolicy). An empty Community removes the namespace
// only when the operator created it.
func (r *CommunityReconciler) reconcileDelete(ctx context.Context, c *v1alpha1.Community) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(c, CommunityFinalizer) {
		return ctrl.Result{}, nil
	}
	ns := tenancy.NamespaceOf(c)
	instances := &v1alpha1.InstanceList{}
	if err := r.Client.List(ctx, instances, client.InNamespace(ns)); err != nil {
		return ctrl.Result{}, fmt.Errorf("list instances in %s: %w", ns, err)
	}
	if len(instances.Items) > 0 {
		names := make([]string, 0, len(instances.Items))
		for _, i := range instances.Items {
			names = append(names, i.Name)
		}
		sort.Strings(names)
		before := c.Status.DeepCopy()
		conditions.MarkStalled(&c.Status.Conditions, c.Generation, v1alpha1.ReasonInstancesRemain, fmt.Sprintf(
			"deletion waits: namespace %s still has %d instance(s): %s; delete them first (each keeps or removes its data by its deletionPolicy)",
			ns, len(names), strings.Join(names, ", ")))
		if !equality.Semantic.DeepEqual(before, &c.Status) {
			r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, "DeletionBlocked", "Delete", "Instances remain in %s: %s", ns, strings.Join(names, ", "))
		}
		// The Instance watch brings us back when the last one goes.
		return ctrl.Result{}, r.patchStatus(ctx, c, before)
	}

	namespace := &corev1.Namespace{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: ns}, namespace)
	if err != nil && !apierrors.IsNotFound(err) {
		return ctrl.Result{}, fmt.Errorf("read namespace %s: %w", ns, err)
	}
	if err == nil && namespace.Annotations[tenancy.AnnotationCreatedNamespace] == "community/"+c.Name &&
		namespace.Labels[v1alpha1.LabelCommunity] == c.Name && namespace.DeletionTimestamp.IsZero() {
		// Deleting the namespace deletes everything in it, including what
		// the Instances kept on purpose: refuse unless asked in so many
		// words.
		kept, err := r.retained(ctx, namespace)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !kept.empty() {
			if !deletesRetainedData(c) {
				before := c.Status.DeepCopy()
				conditions.MarkStalled(&c.Status.Conditions, c.Generation, v1alpha1.ReasonRetainedDataRemains, retainedMessage(c, ns, kept))
				if !equality.Semantic.DeepEqual(before, &c.Status) {
					r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, "DeletionBlocked", "Delete",
						"Retained data remains in %s: %s; annotate %s=true to delete it with the namespace", ns, kept.describe(), v1alpha1.AnnotationDeleteRetainedData)
				}
				return ctrl.Result{RequeueAfter: retainedRecheck}, r.patchStatus(ctx, c, before)
			}
			r.Recorder.Eventf(c, nil, corev1.EventTypeWarning, "RetainedDataDeleted", "Delete",
				"Deleting namespace %s with the retained data in it, as %s asks: %s", ns, v1alpha1.AnnotationDeleteRetainedData, kept.describe())
		}
		if err := r.Client.Delete(ctx, namespace); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("delete namespace %s: %w", ns, err)
		}
		r.Applier.Forget(namespace)
		log.FromContext(ctx).Info("Deleted the namespace the community's operator created", "community", c.Name, "namespace", ns)
	}
	controllerutil.RemoveFinalizer(c, CommunityFinalizer)
	return ctrl.Result{}, r.Client.Update(ctx, c)
}

func (r *CommunityReconciler) patchStatus(ctx context.Context, c *v1alpha1.Community, before *v1alpha1.CommunityStatus) error {
	c.Status.ObservedGeneration = c.Generation
	return patchStatus(ctx, r.Client, c, &c.Status, before)
}

// SetupWithManager registers the reconciler and its watches.
func (r *CommunityReconciler) SetupWithManager(mgr ctrl.Manager) error {
	byNamespace := handler.EnqueueRequestsFromMapFunc(r.communityOfNamespace)
	return ctrl.NewControllerManagedBy(mgr).
		// Annotations too: the opt-in to delete retained data is one, set
		// on a Community whose deletion waits.
		For(&v1alpha1.Community{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Owns(&rbacv1.RoleBinding{}).
		Owns(&corev1.ResourceQuota{}).
		Owns(&corev1.LimitRange{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
			if name := o.GetLabels()[v1alpha1.LabelCommunity]; name != "" {
				return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
			}
			return nil
		})).
		Watches(&v1alpha1.Instance{}, byNamespace).
		// A retained claim removed by hand may unblock a waiting deletion.
		Watches(&corev1.PersistentVolumeClaim{}, byNamespace, builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
			UpdateFunc: func(e event.UpdateEvent) bool {
				// Deletion begins (pvc-protection may hold the claim a while).
				return e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero()
			},
			GenericFunc: func(event.GenericEvent) bool { return false },
		})).
		Watches(&v1alpha1.FederationPolicy{}, byNamespace, builder.WithPredicates(predicate.Funcs{
			UpdateFunc: func(e event.UpdateEvent) bool { return false }, // only the count matters
		})).
		Named("community").
		WithOptions(r.Options.controllerOptions()).
		Complete(r)
}

// communityOfNamespace maps an object in a community namespace to its
// Community, by the Communities' recorded namespaces.
func (r *CommunityReconciler) communityOfNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.CommunityList{}
	if err := r.Client.List(ctx, list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if tenancy.NamespaceOf(&list.Items[i]) == o.GetNamespace() {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
		}
	}
	return out
}
