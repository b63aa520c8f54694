package controllers

import (
	"context"
	"fmt"
	"strings"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// The install and upgrade steps of a hosted Instance: long-lived objects,
// run-once Jobs in the profile's order, Deployments rolled out.

// rollout applies the long-lived objects and, when the running version
// differs from spec.version, walks the profile's steps in order: each Job
// runs once per target version and must complete before the next step;
// the Rollout step moves the Deployments. A failed Job stops everything
// (Stalled) with the Job named, and nothing moves forward until a person
// has looked. status.version changes only when every step is done.
func (r *InstanceReconciler) rollout(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params resources.Params) error {
	running, desired := inst.Status.Version, inst.Spec.Version
	steps, err := p.UpgradePlan(running, desired)
	if err != nil {
		return conditions.Stall(v1alpha1.ReasonUpgradeRefused, err.Error())
	}
	if len(steps) == 0 {
		inst.Status.Upgrade = nil
		return r.applyDesired(ctx, inst, p, desired, params, true)
	}

	// The first step of a first install restores spec.restore; the first
	// of an upgrade takes a backup (with spec.backup). Both must complete
	// before anything else runs.
	var backupLoc, note string
	if running == "" {
		if err := r.restoreBeforeFirstRollout(ctx, inst, p, params, desired); err != nil {
			return err
		}
	} else {
		if backupLoc, err = r.backupBeforeUpgrade(ctx, inst, p, params, running, desired); err != nil {
			return err
		}
		if backupLoc == "" {
			note = " (without a backup: spec.backup is not set)"
		}
	}

	// Before the Rollout step, the servers keep running the old version
	// (or, on first install, do not run yet).
	deploymentsVersion := running
	withDeployments := running != ""
	if running == "" {
		deploymentsVersion = desired
	}
	for _, step := range steps {
		inst.Status.Upgrade = &v1alpha1.UpgradeStatus{FromVersion: running, ToVersion: desired, Phase: step.Phase, Backup: backupLoc}
		switch step.Kind {
		case software.StepRollout:
			deploymentsVersion, withDeployments = desired, true
			if err := r.applyDesired(ctx, inst, p, desired, params, true); err != nil {
				return err
			}
			ready, msg, err := r.deploymentsRolledOut(ctx, inst, p, desired, params)
			if err != nil {
				return err
			}
			if !ready {
				return conditions.Wait(v1alpha1.ReasonProgressing, fmt.Sprintf("%s %s → %s%s: %s", step.Phase, orNone(running), desired, note, msg), 0)
			}
		case software.StepJob:
			job, err := resources.StepJob(inst, p, step, desired, params)
			if err != nil {
				return err
			}
			// A step already done applies nothing: only the step in
			// progress decides what runs, so Deployments never flip back to
			// the old version on a later pass.
			if r.jobComplete(ctx, job) {
				continue
			}
			if err := r.applyDesired(ctx, inst, p, deploymentsVersion, params, withDeployments); err != nil {
				return err
			}
			done, err := r.runJob(ctx, inst, job, fmt.Sprintf("%s %s → %s%s", step.Phase, orNone(running), desired, note))
			if !done {
				return r.withGoBack(inst, err, backupLoc, running)
			}
		}
	}
	if running != desired && !r.versionRecorded(ctx, inst, desired) {
		// Installing is not upgrading: "Upgraded (was none)" read as if
		// something had been replaced.
		if running == "" {
			r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "Installed", "Install", "Now running %s %s", inst.Spec.Software, desired)
		} else {
			r.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "Upgraded", "Upgrade", "Now running %s %s (was %s)", inst.Spec.Software, desired, running)
		}
	}
	inst.Status.Version = desired
	inst.Status.Upgrade = nil
	return nil
}

func orNone(v string) string {
	if v == "" {
		return "(new)"
	}
	return v
}

// applyDesired applies the long-lived objects for a version; without
// deployments, the servers themselves are left out (first install, before
// the database is prepared).
func (r *InstanceReconciler) applyDesired(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, version string, params resources.Params, withDeployments bool) error {
	objs, err := resources.Desired(inst, p, version, params)
	if err != nil {
		return conditions.Stall(v1alpha1.ReasonInvalidSpec, err.Error())
	}
	exposed := r.exposed(ctx, inst, p)
	for _, obj := range objs {
		if _, ok := obj.(*appsv1.Deployment); ok && !withDeployments {
			continue
		}
		if isExposure(obj) && !exposed {
			continue
		}
		if sts, ok := obj.(*appsv1.StatefulSet); ok {
			if err := r.keepClaimTemplates(ctx, sts); err != nil {
				return err
			}
		}
		if _, err := r.Applier.Apply(ctx, obj); err != nil {
			// The apply itself tells whether the kind is served: no extra
			// discovery call on every pass.
			if _, isCert := obj.(*certmanagerv1.Certificate); isCert && isNoMatch(err) {
				return conditions.Stall(v1alpha1.ReasonCertManagerMissing, "spec.tls.issuerRef needs cert-manager, whose CRDs are not installed; install cert-manager or use spec.tls.secretName")
			}
			if isNoMatch(err) {
				return conditions.Stall(v1alpha1.ReasonAPINotInstalled, fmt.Sprintf("%s: the cluster does not serve this kind; install its CRDs (%v)", obj.GetObjectKind().GroupVersionKind().Kind, err))
			}
			return err
		}
	}
	return nil
}

// keepClaimTemplates gives a StatefulSet that already exists the volume
// claim templates it has. The API server refuses any change to them, so
// applying a different size, storage class or label set (a default changed
// by a newer operator, a namespace moved to another community) would fail
// every pass and hold up the whole Instance. The volumes themselves are
// PersistentVolumeClaims that outlive the template; they are resized there.
func (r *InstanceReconciler) keepClaimTemplates(ctx context.Context, desired *appsv1.StatefulSet) error {
	live := &appsv1.StatefulSet{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(desired), live)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("read StatefulSet %s: %w", desired.Name, err)
	}
	templates := make([]corev1.PersistentVolumeClaim, len(live.Spec.VolumeClaimTemplates))
	for i, t := range live.Spec.VolumeClaimTemplates {
		// The fields the builder sets, no more: copying what the server
		// filled in (defaults, status) would change the applied object's
		// hash and cost a write for nothing.
		templates[i] = corev1.PersistentVolumeClaim{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
			ObjectMeta: metav1.ObjectMeta{Name: t.Name, Labels: t.Labels},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      t.Spec.AccessModes,
				StorageClassName: t.Spec.StorageClassName,
				Resources:        corev1.VolumeResourceRequirements{Requests: t.Spec.Resources.Requests},
			},
		}
	}
	desired.Spec.VolumeClaimTemplates = templates
	return nil
}

// runJob applies a run-once Job and reports whether it has completed.
func (r *InstanceReconciler) runJob(ctx context.Context, inst *v1alpha1.Instance, job *batchv1.Job, what string) (bool, error) {
	live := &batchv1.Job{}
	err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live)
	if apierrors.IsNotFound(err) {
		// A Job's pod template is immutable: create it once, never re-apply.
		if err := r.Client.Create(ctx, job); err != nil && !apierrors.IsAlreadyExists(err) {
			return false, fmt.Errorf("create Job %s: %w", job.Name, err)
		}
		r.Recorder.Eventf(inst, job, corev1.EventTypeNormal, "JobStarted", "Run", "%s: started Job %s", what, job.Name) // related: one Event per Job, not one series
		return false, conditions.Wait(v1alpha1.ReasonProgressing, fmt.Sprintf("%s: Job %s started", what, job.Name), 0)
	}
	if err != nil {
		return false, fmt.Errorf("read Job %s: %w", job.Name, err)
	}
	for _, c := range live.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, nil
		case batchv1.JobFailed:
			return false, conditions.Stall(v1alpha1.ReasonJobFailed, fmt.Sprintf(
				"%s: Job %s/%s failed (%s); nothing moves forward until it is fixed. See `kubectl logs -n %s job/%s`, then delete the Job to retry",
				what, live.Namespace, live.Name, c.Message, live.Namespace, live.Name))
		}
	}
	return false, conditions.Wait(v1alpha1.ReasonProgressing, fmt.Sprintf("%s: waiting for Job %s", what, live.Name), 0)
}

func (r *InstanceReconciler) jobComplete(ctx context.Context, job *batchv1.Job) bool {
	live := &batchv1.Job{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(job), live); err != nil {
		return false
	}
	for _, c := range live.Status.Conditions {
		if c.Type == batchv1.JobComplete && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// deploymentsRolledOut reports whether every Deployment runs the version's
// pod template on all its replicas.
func (r *InstanceReconciler) deploymentsRolledOut(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, version string, params resources.Params) (bool, string, error) {
	deployments, err := resources.Deployments(inst, p, version, params)
	if err != nil {
		return false, "", err
	}
	var waiting []string
	for _, want := range deployments {
		live := &appsv1.Deployment{}
		if err := r.Client.Get(ctx, client.ObjectKeyFromObject(want), live); err != nil {
			if apierrors.IsNotFound(err) {
				waiting = append(waiting, want.Name+" (not created yet)")
				continue
			}
			return false, "", err
		}
		if ok, why := deploymentDone(live); !ok {
			waiting = append(waiting, live.Name+" ("+why+")")
		}
	}
	if len(waiting) > 0 {
		return false, "waiting for " + strings.Join(waiting, ", "), nil
	}
	return true, "", nil
}

// deploymentDone is kubectl rollout status's test.
func deploymentDone(d *appsv1.Deployment) (bool, string) {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	switch {
	case d.Status.ObservedGeneration < d.Generation:
		return false, "rollout not observed yet"
	case d.Status.UpdatedReplicas < want:
		return false, fmt.Sprintf("%d of %d updated", d.Status.UpdatedReplicas, want)
	case d.Status.Replicas > d.Status.UpdatedReplicas:
		return false, fmt.Sprintf("%d old replicas terminating", d.Status.Replicas-d.Status.UpdatedReplicas)
	case d.Status.AvailableReplicas < want:
		return false, fmt.Sprintf("%d of %d available", d.Status.AvailableReplicas, want)
	}
	return true, ""
}

// versionRecorded tells whether the API server already holds desired as
// the Instance's status.version: a pass on a cached Instance older than the
// status write that finished the upgrade would announce it again (issue
// 15: Upgraded (x2)). Read only when an upgrade finishes, so rarely.
func (r *InstanceReconciler) versionRecorded(ctx context.Context, inst *v1alpha1.Instance, desired string) bool {
	fresh := &v1alpha1.Instance{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(inst), fresh); err != nil {
		return false
	}
	return fresh.Status.Version == desired
}
