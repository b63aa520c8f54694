package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/requeue"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// reconcileHosted runs the phases of a hosted Instance in order: refuse
// what cannot work, make the generated secrets, move through the install or
// upgrade steps, bootstrap the admin, and read the children's state.
//
// A phase that cannot finish returns a conditions.Stalled (a person must
// act), a conditions.Waiting (for children to catch up, watched) or any
// other error (retried with backoff); the last returns the message of the
// Ready condition.
func (r *InstanceReconciler) reconcileHosted(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile) (string, error) {
	inst.Status.URL = "https://" + string(inst.Spec.Domain)
	if err := r.checkDomain(ctx, inst); err != nil {
		return "", err
	}
	if _, err := p.CheckVersion(inst.Spec.Version, inst.Spec.Image); err != nil {
		return "", conditions.Stall(v1alpha1.ReasonUnknownVersion, "spec.version: "+err.Error())
	}
	if err := resources.CheckNames(inst, p); err != nil {
		return "", conditions.Stall(v1alpha1.ReasonNameTooLong, err.Error())
	}
	for _, check := range []func(context.Context, *v1alpha1.Instance) error{r.checkSecrets, r.checkIssuer} {
		if err := check(ctx, inst); err != nil {
			return "", err
		}
	}
	params := r.params(inst, p)
	if err := r.ensureGeneratedSecrets(ctx, inst, p, params); err != nil {
		return "", err
	}
	err := r.rollout(ctx, inst, p, params)
	if err == nil {
		err = r.bootstrapAdmin(ctx, inst, p, &params)
	}
	// The domain conditions follow the children on every pass, also while
	// an install or upgrade is still under way.
	ready, observed := r.observeChildren(ctx, inst, p)
	if err != nil {
		return "", err
	}
	return ready, observed
}

func (r *InstanceReconciler) params(inst *v1alpha1.Instance, p *software.Profile) resources.Params {
	params := resources.Params{
		Community:                inst.Status.Community,
		OperatorNamespace:        r.Options.OperatorNamespace,
		IngressNamespaceSelector: r.Options.IngressNamespaceSelector,
	}
	// GoToSocial reads account roles at start: once the admin exists, its
	// pods restart once (a stable token, so it happens exactly once).
	if inst.Spec.Admin != nil && p.Admin != nil && p.Admin.RestartAfter && conditions.IsTrue(inst.Status.Conditions, v1alpha1.ConditionAdminReady) {
		params.RolloutToken = "admin-" + inst.Spec.Admin.Username
	}
	return params
}

// ensureGeneratedSecrets creates each generated Secret once. One that was
// generated before and has vanished stops the Instance: new keys would
// make encrypted data, sessions and signatures unreadable.
func (r *InstanceReconciler) ensureGeneratedSecrets(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params resources.Params) error {
	secrets, err := resources.GeneratedSecrets(inst, p, inst.Spec.Version, params, r.Random)
	if err != nil {
		return fmt.Errorf("generate secrets: %w", err)
	}
	generated := map[string]bool{}
	for _, name := range inst.Status.GeneratedSecrets {
		generated[name] = true
	}
	for _, want := range secrets {
		existing := &corev1.Secret{}
		err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(want), existing)
		switch {
		case err == nil:
			// Keep the data; follow deletionPolicy in the owner reference and labels.
			// The UID makes the apply a precondition: should the Secret be
			// deleted after the read, an apply without it would create an
			// empty Secret in its place and hide the loss; with it the API
			// server refuses, and the next pass finds the Secret missing.
			meta := &corev1.Secret{TypeMeta: want.TypeMeta, ObjectMeta: metav1.ObjectMeta{
				Name: want.Name, Namespace: want.Namespace, UID: existing.UID,
				Labels: want.Labels, OwnerReferences: want.OwnerReferences,
			}}
			if _, err := r.Applier.Apply(ctx, meta); err != nil {
				return err
			}
		case apierrors.IsNotFound(err):
			// The cached Instance may predate the status write that
			// recorded this Secret: before minting anything, ask the API
			// server what was generated. (Rare: only when one is missing.)
			if !generated[want.Name] {
				fresh := &v1alpha1.Instance{}
				if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(inst), fresh); err != nil {
					return fmt.Errorf("re-read Instance before generating secrets: %w", err)
				}
				for _, name := range fresh.Status.GeneratedSecrets {
					generated[name] = true
				}
			}
			if generated[want.Name] {
				return conditions.Stall(v1alpha1.ReasonGeneratedSecretMissing, fmt.Sprintf(
					"Secret %s/%s, generated for this Instance, has disappeared; the operator will not generate new keys, which would make existing data unreadable. Restore it from a backup (or, for a server that never held data, delete the Instance and create it again)",
					want.Namespace, want.Name))
			}
			switch err := r.Client.Create(ctx, want); {
			case err == nil:
				// The Secret is the related object: without it client-go's
				// events broadcaster folds Events with the same regarding
				// object (resourceVersion included), reason, action and
				// related into one series keeping the first note, so the
				// Secrets of one pass showed as "SecretGenerated (x2)"
				// (issue 15), hiding which were made.
				r.Recorder.Eventf(inst, want, corev1.EventTypeNormal, "SecretGenerated", "Generate", "Generated Secret %s", want.Name)
			case apierrors.IsAlreadyExists(err):
				// Created by the previous pass, not yet in the cache: it
				// was announced then (issue 15: SecretGenerated (x2)).
			default:
				return fmt.Errorf("create Secret %s: %w", want.Name, err)
			}
		default:
			return fmt.Errorf("read Secret %s: %w", want.Name, err)
		}
		if !generated[want.Name] {
			inst.Status.GeneratedSecrets = append(inst.Status.GeneratedSecrets, want.Name)
			generated[want.Name] = true
		}
	}
	return nil
}

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

	// Before the Rollout step, the servers keep running the old version
	// (or, on first install, do not run yet).
	deploymentsVersion := running
	withDeployments := running != ""
	if running == "" {
		deploymentsVersion = desired
	}
	for _, step := range steps {
		inst.Status.Upgrade = &v1alpha1.UpgradeStatus{FromVersion: running, ToVersion: desired, Phase: step.Phase}
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
				return conditions.Wait(v1alpha1.ReasonProgressing, fmt.Sprintf("%s %s → %s: %s", step.Phase, orNone(running), desired, msg), 0)
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
			done, err := r.runJob(ctx, inst, job, fmt.Sprintf("%s %s → %s", step.Phase, orNone(running), desired))
			if !done {
				return err
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
	for _, obj := range objs {
		if _, ok := obj.(*appsv1.Deployment); ok && !withDeployments {
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

// observeChildren turns the children's state into conditions, and returns
// the message of the Ready condition once every child is ready.
func (r *InstanceReconciler) observeChildren(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile) (string, error) {
	gen := inst.Generation
	version := inst.Status.Version
	if version == "" {
		version = inst.Spec.Version // first install: what is being rolled out
	}
	params := r.params(inst, p)
	inst.Status.Image = ""
	if comps := p.Components(mustVersion(version)); len(comps) > 0 {
		if img, err := p.Image(comps[0], version, inst.Spec.Image); err == nil {
			inst.Status.Image = img
		}
	}

	// Workloads.
	ready, msg, err := r.deploymentsRolledOut(ctx, inst, p, version, params)
	if err != nil {
		return "", err
	}
	if ready {
		what := "all components available"
		if inst.Spec.Suspend {
			what = "suspended: scaled to zero, data kept"
		}
		conditions.Set(&inst.Status.Conditions, gen, v1alpha1.ConditionWorkloadAvailable, metav1.ConditionTrue, v1alpha1.ReasonAvailable, what)
	} else {
		conditions.Set(&inst.Status.Conditions, gen, v1alpha1.ConditionWorkloadAvailable, metav1.ConditionFalse, v1alpha1.ReasonProgressing, msg)
	}

	// Database.
	dbReady, dbMsg, err := r.databaseState(ctx, inst, p)
	if err != nil {
		return "", err
	}
	status := metav1.ConditionFalse
	if dbReady {
		status = metav1.ConditionTrue
	}
	conditions.Set(&inst.Status.Conditions, gen, v1alpha1.ConditionDatabaseReady, status, map[bool]string{true: v1alpha1.ReasonReady, false: v1alpha1.ReasonProgressing}[dbReady], dbMsg)

	// Certificate.
	certReady, certMsg, err := r.certificateState(ctx, inst)
	if err != nil {
		return "", err
	}
	if certMsg == "" {
		meta.RemoveStatusCondition(&inst.Status.Conditions, v1alpha1.ConditionCertificateReady)
	} else {
		status, reason := metav1.ConditionFalse, v1alpha1.ReasonIssuing
		if certReady {
			status, reason = metav1.ConditionTrue, v1alpha1.ReasonReady
		}
		conditions.Set(&inst.Status.Conditions, gen, v1alpha1.ConditionCertificateReady, status, reason, certMsg)
	}

	var waiting []string
	for _, t := range []string{v1alpha1.ConditionWorkloadAvailable, v1alpha1.ConditionDatabaseReady, v1alpha1.ConditionCertificateReady} {
		if c := meta.FindStatusCondition(inst.Status.Conditions, t); c != nil && c.Status != metav1.ConditionTrue {
			waiting = append(waiting, t+": "+c.Message)
		}
	}
	if len(waiting) > 0 {
		// Watched children bring us back; the certificate is polled as a
		// fallback because cert-manager may take its time.
		return "", conditions.Wait(v1alpha1.ReasonProgressing, strings.Join(waiting, "; "), requeue.Jitter(30*time.Second))
	}
	msg = fmt.Sprintf("%s %s serving https://%s", inst.Spec.Software, version, inst.Spec.Domain)
	if inst.Spec.Suspend {
		msg = fmt.Sprintf("%s %s suspended (scaled to zero, data kept)", inst.Spec.Software, version)
	}
	return msg, nil
}

func mustVersion(s string) software.Version {
	v, _ := software.ParseVersion(s)
	return v
}

func (r *InstanceReconciler) databaseState(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile) (bool, string, error) {
	switch {
	case resources.DatabaseEngine(inst, p) == v1alpha1.DatabaseSQLite:
		return true, "SQLite database on the data volume", nil
	case resources.BundledPostgres(inst, p):
		sts := &appsv1.StatefulSet{}
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.PostgresName(inst)}, sts); err != nil {
			return false, "bundled PostgreSQL not created yet", client.IgnoreNotFound(err)
		}
		want := int32(1)
		if sts.Spec.Replicas != nil {
			want = *sts.Spec.Replicas
		}
		if sts.Status.ReadyReplicas < want || sts.Status.ObservedGeneration < sts.Generation {
			return false, fmt.Sprintf("bundled PostgreSQL %s: %d of %d ready", sts.Name, sts.Status.ReadyReplicas, want), nil
		}
		if want == 0 {
			return true, "bundled PostgreSQL suspended, data kept", nil
		}
		return true, "bundled PostgreSQL " + sts.Name + " ready", nil
	default:
		ext := inst.Spec.Database.Postgres.External
		return true, fmt.Sprintf("external PostgreSQL %s:%d/%s", ext.Host, ext.Port, ext.Database), nil
	}
}

// certificateState reads the Certificate's Ready condition the way
// cert-manager writes it; an empty message means TLS is not configured.
func (r *InstanceReconciler) certificateState(ctx context.Context, inst *v1alpha1.Instance) (bool, string, error) {
	if inst.Spec.TLS == nil {
		return false, "", nil
	}
	if inst.Spec.TLS.SecretName != "" {
		return true, "using the provided Secret " + inst.Spec.TLS.SecretName, nil
	}
	cert := &certmanagerv1.Certificate{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: inst.Namespace, Name: resources.TLSSecretName(inst)}, cert); err != nil {
		if apierrors.IsNotFound(err) {
			return false, "Certificate not created yet", nil
		}
		return false, "", err
	}
	for _, c := range cert.Status.Conditions {
		if c.Type == certmanagerv1.CertificateConditionReady {
			if c.Status == "True" {
				return true, "Certificate " + cert.Name + " issued", nil
			}
			return false, fmt.Sprintf("Certificate %s not ready: %s", cert.Name, c.Message), nil
		}
	}
	return false, "Certificate " + cert.Name + " waiting for cert-manager", nil
}

// reconcileExternal connects a server hosted elsewhere: no workloads, just
// the token its moderation is pushed with.
func (r *InstanceReconciler) reconcileExternal(ctx context.Context, inst *v1alpha1.Instance) (string, error) {
	inst.Status.URL = strings.TrimSuffix(inst.Spec.External.URL, "/")
	inst.Status.Upgrade = nil
	if err := r.checkDomain(ctx, inst); err != nil {
		return "", err
	}
	if err := r.checkSecrets(ctx, inst); err != nil {
		return "", err
	}
	return "external server " + inst.Status.URL + " (moderation only)", nil
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
