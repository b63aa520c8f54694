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
)

// FederationPolicyReconciler merges a community's moderation by trust.
type FederationPolicyReconciler struct {
	Client   client.Client
	Recorder recorder.EventRecorder
	Options  Options
}

// +kubebuilder:rbac:groups=fedcommons.io,resources=federationpolicies,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=fedcommons.io,resources=federationpolicies/status,verbs=get;update;patch

// Reconcile computes one FederationPolicy's effective entries.
func (r *FederationPolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	policy := &v1alpha1.FederationPolicy{}
	if err := r.Client.Get(ctx, req.NamespacedName, policy); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	before := policy.Status.DeepCopy()
	policy.Status.ObservedGeneration = policy.Generation
	if equality.Semantic.DeepEqual(before, &policy.Status) {
		return ctrl.Result{}, nil
	}
	base := policy.DeepCopy()
	base.Status = *before
	return ctrl.Result{}, client.IgnoreNotFound(r.Client.Status().Patch(ctx, policy, client.MergeFrom(base)))
}

// SetupWithManager registers the reconciler and its watches.
func (r *FederationPolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.FederationPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("federationpolicy").
		Complete(r)
}
