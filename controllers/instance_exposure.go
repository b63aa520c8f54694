package controllers

import (
	"context"
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// isExposure: the objects that make a server reachable from outside.
func isExposure(obj client.Object) bool {
	switch obj.(type) {
	case *networkingv1.Ingress, *gatewayv1.HTTPRoute:
		return true
	}
	return false
}

// exposed tells whether the server may be reachable from outside: its
// admin account exists (the admin Job completed) and, where registrations
// are a setting inside the server, they have been set once. Until then
// the Ingress or HTTPRoute is not created, so nobody can sign up first
// under the admin's username (issue 14 defect 2) or while registrations
// are still the software's default. The Jobs are the durable record: a
// restarted operator reads the same answer. An Ingress that already exists
// is never removed by this; it is only not created or changed.
func (r *InstanceReconciler) exposed(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile) bool {
	if inst.Spec.Admin != nil && p.Admin != nil {
		job, err := resources.AdminJob(inst, p, inst.Spec.Version, r.params(inst, p))
		if err != nil || job == nil || !r.jobComplete(ctx, job) {
			return false
		}
	}
	if p.RegistrationsCommand != nil {
		jobs, err := r.registrationsJobs(ctx, inst)
		if err != nil {
			return false
		}
		for i := range jobs {
			if finished(&jobs[i]) == batchv1.JobComplete {
				return true
			}
		}
		return false
	}
	return true
}

// applyRegistrations makes the server's registrations setting follow
// spec.registrations, for software where it is a setting in the database
// (Mastodon: `tootctl settings registrations`) rather than configuration.
// One Job per change, in order: a new one starts only when the one before
// has finished, so an older Job can never overwrite a newer setting.
func (r *InstanceReconciler) applyRegistrations(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params resources.Params) error {
	if p.RegistrationsCommand == nil || inst.Spec.Suspend {
		return nil
	}
	jobs, err := r.registrationsJobs(ctx, inst)
	if err != nil {
		return err
	}
	want := resources.RegistrationsMode(inst)
	what := fmt.Sprintf("Registrations %s", want)
	after, seq := "", 1
	if latest := newestJob(jobs); latest != nil {
		after, seq = latest.Name, jobSeq(latest)+1
		state := finished(latest)
		if latest.Annotations[resources.AnnotationRegistrations] == string(want) {
			if state == batchv1.JobComplete {
				return nil
			}
			_, err := r.runJob(ctx, inst, latest, what)
			return err
		}
		if state == "" {
			return r.runJobWait(ctx, inst, latest, what)
		}
	}
	job, err := resources.RegistrationsJob(inst, p, inst.Status.Version, after, seq, params)
	if err != nil || job == nil {
		return err
	}
	_, err = r.runJob(ctx, inst, job, what)
	return err
}

// runJobWait waits for a Job of an earlier mode to finish.
func (r *InstanceReconciler) runJobWait(ctx context.Context, inst *v1alpha1.Instance, job *batchv1.Job, what string) error {
	_, err := r.runJob(ctx, inst, job, what+" (after the earlier Job "+job.Name+")")
	return err
}

func (r *InstanceReconciler) registrationsJobs(ctx context.Context, inst *v1alpha1.Instance) ([]batchv1.Job, error) {
	list := &batchv1.JobList{}
	if err := r.Client.List(ctx, list, client.InNamespace(inst.Namespace), client.MatchingLabels{
		v1alpha1.LabelInstance: inst.Name, v1alpha1.LabelComponent: resources.RegistrationsComponent,
	}); err != nil {
		return nil, fmt.Errorf("list registrations Jobs: %w", err)
	}
	return list.Items, nil
}

// newestJob is the Job made last, by its sequence number.
func newestJob(jobs []batchv1.Job) *batchv1.Job {
	var out *batchv1.Job
	for i := range jobs {
		if out == nil || jobSeq(&jobs[i]) > jobSeq(out) {
			out = &jobs[i]
		}
	}
	return out
}

// jobSeq reads AnnotationRegistrationsSeq (0 when missing or garbled).
func jobSeq(j *batchv1.Job) int {
	n, err := strconv.Atoi(j.Annotations[resources.AnnotationRegistrationsSeq])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// finished is JobComplete or JobFailed once the Job has finished, "" before.
func finished(j *batchv1.Job) batchv1.JobConditionType {
	for _, c := range j.Status.Conditions {
		if c.Status == corev1.ConditionTrue && (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) {
			return c.Type
		}
	}
	return ""
}
