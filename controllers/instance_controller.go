package controllers

import (
	"context"
	"io"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/recorder"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/apply"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/metrics"
	"github.com/fedcommons/fedcommons/internal/requeue"
	"github.com/fedcommons/fedcommons/internal/software"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// FederationSyncer pushes the effective moderation policy into one
// Instance's server (internal/delivery). It only reads the Instance: the
// Outcome says what to record (status.federation, the FederationSynced
// condition, events) and when to compare the server with the policy again.
// given holds what this reconcile read already (an external Instance's
// token Secret), so that the pass does not read it again. An error means
// it could not read what it needed and did nothing.
type FederationSyncer interface {
	Sync(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, given delivery.Given) (delivery.Outcome, error)
}

// InstanceReconciler hosts a fediverse server (or connects an external
// one): the profile says what the software needs, the builders in
// internal/resources say what objects that is, and this reconciler applies
// them in the right order and reports what it sees.
type InstanceReconciler struct {
	Client    client.Client
	APIReader client.Reader // uncached: the sysadmin's own Secrets and issuers are not in the cache
	Applier   *apply.Applier
	Recorder  recorder.EventRecorder
	Options   Options
	// Random is the source of generated secrets (crypto/rand.Reader).
	Random io.Reader
	// Federation delivers moderation; nil disables delivery.
	Federation FederationSyncer

	// secrets remembers the last complete check of each Instance's
	// generated Secrets (instance_secrets_seen.go).
	secrets secretsSeen
}

// RBAC (see docs/operator-rbac.md for each verb's reason). get on
// instances is the uncached re-read before secrets are generated; Secrets
// are never cached (manager.ClientOptions), so they take get and no list
// or watch. The operator never sends a delete for an Instance's children:
// the garbage collector removes them with their owner. delete is granted
// on what it applies because putting an owner reference on an object that
// already exists (adopting it, or switching deletionPolicy to Delete) hands
// that object to the garbage collector, and the API server's
// OwnerReferencesPermissionEnforcement plugin allows that only to whoever
// may delete it; the backup CronJob is also deleted when spec.backup is
// removed. Jobs are only ever created, so they need no delete. Pods are
// listed (uncached, by the Job's label) once per backup Job that ended, for
// its termination message: the backup's name and size, or why it failed.
// A restore of an s3 backup's Secrets runs as a ServiceAccount whose Role
// (backup.RestoreRBAC) grants get on the generated Secrets and create on
// Secrets: the API server lets the operator grant only what it holds
// itself, which the secrets line below covers.
// +kubebuilder:rbac:groups=fedcommons.io,resources=instances,verbs=get;list;watch
// +kubebuilder:rbac:groups=fedcommons.io,resources=instances/status,verbs=patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=instances/finalizers,verbs=update
// +kubebuilder:rbac:groups=fedcommons.io,resources=communities;federationpolicies,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;patch;delete
// +kubebuilder:rbac:groups="",resources=persistentvolumeclaims;services,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=batch,resources=jobs,verbs=list;watch;create
// +kubebuilder:rbac:groups="",resources=pods,verbs=list
// +kubebuilder:rbac:groups=batch,resources=cronjobs,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses;networkpolicies,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificates,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=cert-manager.io,resources=issuers;clusterissuers,verbs=get
// +kubebuilder:rbac:groups=gateway.networking.k8s.io,resources=httproutes,verbs=list;watch;create;patch;delete
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=list;watch;create;patch
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;rolebindings,verbs=list;watch;create;patch

// Reconcile moves one Instance towards its spec.
func (r *InstanceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, retErr error) {
	inst := &v1alpha1.Instance{}
	if err := r.Client.Get(ctx, req.NamespacedName, inst); err != nil {
		if apierrors.IsNotFound(err) {
			metrics.ForgetInstance(req.Namespace, req.Name)
			r.secrets.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !inst.DeletionTimestamp.IsZero() {
		// Children go with the Instance by owner reference; retained data
		// (volumes, generated secrets) has none and stays. Nothing to do.
		metrics.ForgetInstance(req.Namespace, req.Name)
		r.secrets.forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}

	before := inst.Status.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, inst, before); err != nil && retErr == nil {
			retErr = err
		}
	}()
	inst.Status.Community = r.communityOf(ctx, inst.Namespace)

	profile, err := software.Lookup(inst.Spec.Software)
	if err != nil {
		return conditions.Record(&inst.Status.Conditions, inst.Generation, conditions.Stall(v1alpha1.ReasonUnknownSoftware, err.Error()))
	}
	if err := r.checkTenancy(ctx, inst); err != nil {
		// Nothing is created for a refused Instance (Stalled): not a
		// certificate for a name the community was not given, nor a
		// route, nor a sync. The Community watch re-checks it when the
		// co-op's sysadmin changes the community's domains.
		return conditions.Record(&inst.Status.Conditions, inst.Generation, err)
	}

	var ready string
	var given delivery.Given // what delivery need not read again
	if inst.Spec.External != nil {
		ready, given, err = r.reconcileExternal(ctx, inst)
	} else {
		ready, err = r.reconcileHosted(ctx, inst, profile)
	}
	if err != nil {
		result, retErr := conditions.Record(&inst.Status.Conditions, inst.Generation, conditions.Retry(v1alpha1.ReasonError, err))
		if conditions.IsStalled(err) {
			// Retrying cannot help until the spec or a referenced object
			// changes; a slow recheck catches objects we do not watch
			// (issuers, the sysadmin's Secrets).
			result.RequeueAfter = requeue.Jitter(time.Minute)
		}
		return result, retErr
	}

	requeueAfter := time.Duration(0)
	if r.Federation != nil && federationEnabled(inst) {
		out, err := r.Federation.Sync(ctx, inst, profile, given)
		if err != nil {
			return conditions.Record(&inst.Status.Conditions, inst.Generation,
				conditions.Wait(v1alpha1.ReasonFederationSyncFailed, err.Error(), requeue.Jitter(time.Minute)))
		}
		r.recordFederation(inst, out)
		requeueAfter = out.RequeueAfter
	}
	if c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced); c != nil && c.Status != "True" {
		conditions.MarkReconciling(&inst.Status.Conditions, inst.Generation, c.Reason, "Moderation: "+c.Message)
	} else {
		conditions.MarkReady(&inst.Status.Conditions, inst.Generation, v1alpha1.ReasonReconciled, ready)
	}
	return ctrl.Result{RequeueAfter: requeueAfter}, nil
}

func federationEnabled(inst *v1alpha1.Instance) bool {
	f := inst.Spec.Federation
	return f == nil || f.Sync == nil || *f.Sync
}

// communityOf names the Community that owns a namespace, by its label.
func (r *InstanceReconciler) communityOf(ctx context.Context, namespace string) string {
	ns := &corev1.Namespace{}
	if err := r.Client.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		return ""
	}
	return ns.Labels[v1alpha1.LabelCommunity]
}

func (r *InstanceReconciler) patchStatus(ctx context.Context, inst *v1alpha1.Instance, before *v1alpha1.InstanceStatus) error {
	inst.Status.ObservedGeneration = inst.Generation
	return patchStatus(ctx, r.Client, inst, &inst.Status, before)
}

// SetupWithManager registers the reconciler and its watches. Children are
// watched through their owner references; Instances with the same domain
// are re-checked when one of them goes, so a refused duplicate proceeds
// once the domain is free.
func (r *InstanceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.Instance{}, domainIndex,
		func(o client.Object) []string { return claimedNames(o.(*v1alpha1.Instance)) }); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		// Labels decide which FederationPolicies select the Instance.
		For(&v1alpha1.Instance{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, predicate.LabelChangedPredicate{}))).
		Owns(&appsv1.Deployment{}).
		Owns(&appsv1.StatefulSet{}).
		Owns(&batchv1.Job{}).
		// The scheduled backups' Jobs belong to their CronJob.
		Watches(&batchv1.Job{}, handler.EnqueueRequestsFromMapFunc(backupJobsOf)).
		Owns(&corev1.Service{}).
		Owns(&networkingv1.Ingress{}).
		Owns(&networkingv1.NetworkPolicy{}).
		Watches(&v1alpha1.Community{}, handler.EnqueueRequestsFromMapFunc(r.instancesOfCommunity), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&v1alpha1.Instance{}, handler.EnqueueRequestsFromMapFunc(r.sameDomain), builder.WithPredicates(predicate.Funcs{
			CreateFunc: func(event.CreateEvent) bool { return false },
			UpdateFunc: func(event.UpdateEvent) bool { return false },
			DeleteFunc: func(event.DeleteEvent) bool { return true },
		}))
	if r.Federation != nil {
		// A policy that publishes something else wakes the Instances it selects.
		b = b.Watches(&v1alpha1.FederationPolicy{}, selectedInstances(r.Client))
	}
	if hasKind(mgr, certmanagerv1.SchemeGroupVersion.WithKind("Certificate")) {
		b = b.Owns(&certmanagerv1.Certificate{})
	}
	if hasKind(mgr, gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute")) {
		b = b.Owns(&gatewayv1.HTTPRoute{})
	}
	return b.Named("instance").
		WithOptions(r.Options.instanceControllerOptions()).Complete(r)
}

const domainIndex = "spec.domain"

func (r *InstanceReconciler) sameDomain(ctx context.Context, o client.Object) []reconcile.Request {
	list := &v1alpha1.InstanceList{}
	var out []reconcile.Request
	for _, name := range claimedNames(o.(*v1alpha1.Instance)) {
		if err := r.Client.List(ctx, list, client.MatchingFields{domainIndex: name}); err != nil {
			return nil
		}
		for i := range list.Items {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}

// instancesOfCommunity re-checks a community's Instances when the co-op's
// sysadmin changes the Community (its domains above all).
func (r *InstanceReconciler) instancesOfCommunity(ctx context.Context, o client.Object) []reconcile.Request {
	c := o.(*v1alpha1.Community)
	ns := c.Status.Namespace
	if ns == "" {
		ns = tenancy.NamespaceOf(c)
	}
	list := &v1alpha1.InstanceList{}
	if err := r.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}
