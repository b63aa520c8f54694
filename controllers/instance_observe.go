package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
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

// What the children of a hosted Instance say, turned into conditions.

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
		return "", conditions.Wait(v1alpha1.ReasonProgressing, strings.Join(waiting, "; "), waitPoll(inst.Status.Conditions))
	}
	msg = fmt.Sprintf("%s %s serving https://%s", inst.Spec.Software, version, inst.Spec.Domain)
	if inst.Spec.Suspend {
		msg = fmt.Sprintf("%s %s suspended (scaled to zero, data kept)", inst.Spec.Software, version)
	}
	return msg, nil
}

// waitPoll is when a pass waiting for its children looks again by itself.
// Deployments and StatefulSets are watched (Owns): each change of theirs
// brings the Instance back, so waiting for them needs no timer. A timer
// on top put every waiting Instance back in the queue every 30 s whatever
// happened: passes nothing had asked for, the more of them the longer a
// rollout lasts, and a rollout of 1,000 Instances lasted 30 minutes
// (issue 16). The Certificate keeps its poll: it is watched only when
// cert-manager was installed before the operator started.
func waitPoll(conds []metav1.Condition) time.Duration {
	if c := meta.FindStatusCondition(conds, v1alpha1.ConditionCertificateReady); c != nil && c.Status != metav1.ConditionTrue {
		return requeue.Jitter(30 * time.Second)
	}
	return 0
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
