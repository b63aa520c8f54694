package resources

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// jobBackoffLimit: a migration that failed twice will not pass on a third
// try; the reconciler reports it and a person looks.
const jobBackoffLimit = int32(2)

// StepJob returns the Job of an install or upgrade step at the version
// being installed or upgraded to (its image runs the migrations). Its name
// encodes the step and the version, so it runs once per version and its
// completion stays observable: no TTL, the reconciler reads its status and
// prunes Jobs of past versions.
func StepJob(inst *v1alpha1.Instance, p *software.Profile, step software.Step, version string, params Params) (*batchv1.Job, error) {
	if step.Kind != software.StepJob {
		return nil, fmt.Errorf("step %s is a %s, not a Job", step.Name, step.Kind)
	}
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	c, err := jobContainer(inst, p, v, step.Name, step.Component, version, step.MountsData, step.Command)
	if err != nil {
		return nil, err
	}
	c.Env = append(c.Env, step.Env...)
	job := newJob(inst, p, StepJobName(inst, step, v), step.Name, params, step.MountsData, nil, c)
	job.Annotations = map[string]string{"fedcommons.io/step": step.Name, "fedcommons.io/phase": step.Phase, "fedcommons.io/version": v.String()}
	return job, nil
}

// MaintenanceCronJobs returns the profile's periodic tasks. They are
// suspended with the Instance.
func MaintenanceCronJobs(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) ([]*batchv1.CronJob, error) {
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	var out []*batchv1.CronJob
	for _, t := range p.Maintenance {
		c, err := jobContainer(inst, p, v, t.Name, t.Component, version, t.MountsData, t.Command)
		if err != nil {
			return nil, err
		}
		job := newJob(inst, p, "", t.Name, params, t.MountsData, nil, c)
		out = append(out, &batchv1.CronJob{
			TypeMeta:   typeMeta("batch/v1", "CronJob"),
			ObjectMeta: objectMeta(inst, cronJobName(inst, t), t.Name, params),
			Spec: batchv1.CronJobSpec{
				Schedule: t.Schedule,
				TimeZone: ptr("Etc/UTC"),
				// A cleanup still running a week later must not be doubled.
				ConcurrencyPolicy: batchv1.ForbidConcurrent,
				// A run missed by more than an hour waits for the next week.
				StartingDeadlineSeconds:    ptr(int64(3600)),
				Suspend:                    ptr(inst.Spec.Suspend),
				SuccessfulJobsHistoryLimit: ptr(int32(1)),
				FailedJobsHistoryLimit:     ptr(int32(3)),
				JobTemplate:                batchv1.JobTemplateSpec{ObjectMeta: job.ObjectMeta, Spec: job.Spec},
			},
		})
	}
	return out, nil
}

func cronJobName(inst *v1alpha1.Instance, t software.CronTask) string {
	return inst.Name + "-" + t.Name
}

func adminJobName(inst *v1alpha1.Instance) string { return inst.Name + "-admin-bootstrap" }

// AdminJob returns the Job creating the admin account (and, for Mastodon,
// installing the operator's token), or nil when spec.admin is unset or the
// software cannot. The commands run in order: all but the last as init
// containers. Apply it once the server has started once (its database
// migrated), and after it completes restart the server when
// Profile.Admin.RestartAfter says so (Params.RolloutToken).
func AdminJob(inst *v1alpha1.Instance, p *software.Profile, version string, params Params) (*batchv1.Job, error) {
	if inst.Spec.Admin == nil || p.Admin == nil {
		return nil, nil
	}
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	cmds := p.Admin.Commands(software.AdminInput{Username: inst.Spec.Admin.Username, Email: inst.Spec.Admin.Email, SecretName: AdminSecretName(inst)})
	var containers []corev1.Container
	for _, cmd := range cmds {
		c, err := jobContainer(inst, p, v, cmd.Name, p.Admin.Component, version, p.Admin.MountsData, cmd.Command)
		if err != nil {
			return nil, err
		}
		c.Env = append(c.Env, cmd.Env...)
		containers = append(containers, c)
	}
	last := len(containers) - 1
	job := newJob(inst, p, adminJobName(inst), "admin-bootstrap", params, p.Admin.MountsData, containers[:last], containers[last])
	// An account taken by somebody else will not become theirs on a retry:
	// fail the Job at once, with the exit code in its Failed condition.
	job.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
		Action: batchv1.PodFailurePolicyActionFailJob,
		OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpIn,
			Values:   []int32{software.AdminMismatchExitCode},
		},
	}}}
	return job, nil
}

// AdminMismatch tells whether a failed admin Job failed because the
// admin's username belongs to an account with another email: the Job
// controller's message for the pod failure policy names the exit code
// ("Container account for pod ns/x failed with exit code 42 matching
// FailJob rule at index 0").
func AdminMismatch(job *batchv1.Job) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue && c.Reason == batchv1.JobReasonPodFailurePolicy &&
			strings.Contains(c.Message, fmt.Sprintf("exit code %d ", software.AdminMismatchExitCode)) {
			return true
		}
	}
	return false
}

// AnnotationRegistrations on a registrations Job is the mode it applies;
// AnnotationRegistrationsSeq numbers the Instance's registrations Jobs in
// the order they were made (creation timestamps have one-second
// resolution: two changes within a second would tie).
const (
	AnnotationRegistrations    = "fedcommons.io/registrations"
	AnnotationRegistrationsSeq = "fedcommons.io/registrations-seq"
)

// RegistrationsComponent is the component label of registrations Jobs.
const RegistrationsComponent = "registrations"

// RegistrationsJob returns the Job applying spec.registrations inside the
// server, or nil when the software takes it from its configuration.
//
// Jobs are created once and never deleted (the operator holds no delete on
// Jobs), so the Jobs themselves are the durable record of what was
// applied: the newest one is in force. after is the name of the newest
// registrations Job of the Instance ("" before the first): the new Job's
// name is a hash of the mode and of it, so going back to a mode applied
// long ago (open, closed, open) runs a new Job rather than finding the old
// one complete.
func RegistrationsJob(inst *v1alpha1.Instance, p *software.Profile, version, after string, seq int, params Params) (*batchv1.Job, error) {
	if p.RegistrationsCommand == nil {
		return nil, nil
	}
	v, err := p.CheckVersion(version, inst.Spec.Image)
	if err != nil {
		return nil, err
	}
	mode := RegistrationsMode(inst)
	c, err := jobContainer(inst, p, v, "registrations", "web", version, false, p.RegistrationsCommand(mode))
	if err != nil {
		return nil, err
	}
	job := newJob(inst, p, registrationsJobName(inst, mode, after), RegistrationsComponent, params, false, nil, c)
	job.Annotations = map[string]string{AnnotationRegistrations: string(mode), AnnotationRegistrationsSeq: strconv.Itoa(seq)}
	return job, nil
}

// RegistrationsMode is spec.registrations with the API default.
func RegistrationsMode(inst *v1alpha1.Instance) v1alpha1.Registrations {
	if inst.Spec.Registrations == "" {
		return v1alpha1.RegistrationsApproval
	}
	return inst.Spec.Registrations
}

// registrationsJobName fits in the 16 characters an Instance name leaves
// (admission caps it at 47): the mode is in the Job's annotation, the hash
// of the mode and the previous Job keeps each change's name new.
func registrationsJobName(inst *v1alpha1.Instance, mode v1alpha1.Registrations, after string) string {
	sum := sha256.Sum256([]byte(string(mode) + "\x00" + after))
	return inst.Name + "-reg-" + hex.EncodeToString(sum[:])[:10]
}

// jobContainer is a container running command with a component's image and configuration.
func jobContainer(inst *v1alpha1.Instance, p *software.Profile, v software.Version, name, component, version string, mountData bool, command []string) (corev1.Container, error) {
	comp, ok := p.Component(v, component)
	if !ok {
		return corev1.Container{}, fmt.Errorf("%s profile has no component %q", p.Software, component)
	}
	image, err := p.Image(comp, version, inst.Spec.Image)
	if err != nil {
		return corev1.Container{}, err
	}
	c := appContainer(inst, p, v, name, component, image, mountData)
	c.Command = command
	c.Resources = componentResources(inst, comp)
	return c, nil
}

func newJob(inst *v1alpha1.Instance, p *software.Profile, name, component string, params Params, mountData bool, initContainers []corev1.Container, main corev1.Container) *batchv1.Job {
	backoff := jobBackoffLimit
	// A Job's pod template is immutable and runs once: restarting it makes no sense.
	params.RolloutToken = ""
	return &batchv1.Job{
		TypeMeta:   typeMeta("batch/v1", "Job"),
		ObjectMeta: objectMeta(inst, name, component, params),
		Spec: batchv1.JobSpec{
			BackoffLimit: &backoff,
			Template:     podTemplate(inst, p, component, params, mountData, corev1.RestartPolicyNever, initContainers, main),
		},
	}
}
