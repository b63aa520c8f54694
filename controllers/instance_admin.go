package controllers

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// The admin account of a hosted Instance.

// bootstrapAdmin runs the admin Job once the server runs.
func (r *InstanceReconciler) bootstrapAdmin(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params *resources.Params) error {
	if inst.Spec.Admin == nil || p.Admin == nil {
		meta.RemoveStatusCondition(&inst.Status.Conditions, v1alpha1.ConditionAdminReady)
		return nil
	}
	if inst.Spec.Suspend {
		return nil // nothing runs to create an account in
	}
	job, err := resources.AdminJob(inst, p, inst.Status.Version, *params)
	if err != nil {
		return err
	}
	live := &batchv1.Job{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live); err == nil && resources.AdminMismatch(live) {
		msg := fmt.Sprintf("the username %s is taken by an account whose email is not spec.admin.email (%s); the operator refuses to make it admin. "+
			"Check who made it (it may be a sign-up under the admin's name); then delete or rename that account, or set spec.admin to the account's real owner, and delete Job %s/%s to retry",
			inst.Spec.Admin.Username, inst.Spec.Admin.Email, live.Namespace, live.Name)
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionAdminReady, metav1.ConditionFalse, v1alpha1.ReasonAdminAccountMismatch, msg)
		return conditions.Stall(v1alpha1.ReasonAdminAccountMismatch, msg)
	}
	done, err := r.runJob(ctx, inst, job, "AdminBootstrap")
	if !done {
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionAdminReady, metav1.ConditionFalse, v1alpha1.ReasonBootstrapping, "creating the admin account "+inst.Spec.Admin.Username)
		return err
	}
	if !conditions.IsTrue(inst.Status.Conditions, v1alpha1.ConditionAdminReady) {
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionAdminReady, metav1.ConditionTrue, v1alpha1.ReasonBootstrapped,
			fmt.Sprintf("admin %s exists; the operator's token is in Secret %s", inst.Spec.Admin.Username, resources.AdminSecretName(inst)))
		r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "AdminBootstrapped", "Bootstrap", "Created admin account %s", inst.Spec.Admin.Username)
		if p.Admin.RestartAfter {
			// Roll the server once so it sees the promoted admin.
			*params = r.params(inst, p)
			if err := r.applyDesired(ctx, inst, p, inst.Status.Version, *params, true); err != nil {
				return err
			}
		}
	}
	return nil
}
