package controllers

import (
	"context"

	"k8s.io/apimachinery/pkg/api/equality"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/recorder"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/apply"
)

// InstanceReconciler hosts a fediverse server (or connects an external one).
type InstanceReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Applier   *apply.Applier
	Recorder  recorder.EventRecorder
	Options   Options
}

// +kubebuilder:rbac:groups=fedcommons.io,resources=instances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=instances/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=instances/finalizers,verbs=update

// Reconcile moves one Instance towards its spec.
func (r *InstanceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	inst := &v1alpha1.Instance{}
	if err := r.Client.Get(ctx, req.NamespacedName, inst); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := inst.Status.DeepCopy()
	inst.Status.ObservedGeneration = inst.Generation
	if equality.Semantic.DeepEqual(before, &inst.Status) {
		return ctrl.Result{}, nil
	}
	base := inst.DeepCopy()
	base.Status = *before
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Status().Patch(ctx, inst, client.MergeFrom(base)))
}

// SetupWithManager registers the reconciler and its watches.
func (r *InstanceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.Instance{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("instance").
		Complete(r)
}
