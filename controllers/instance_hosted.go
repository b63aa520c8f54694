package controllers

import (
	"context"
	"strings"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/delivery"
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
	// A restore carrying the old Instance's Secrets puts them back
	// itself; until it has, only the ones a backup does not carry (the
	// bundled database's and cache's passwords, which the database needs
	// to start before the restore) are generated, and the pass after the
	// restore adopts the rest.
	if err := r.ensureGeneratedSecrets(ctx, inst, p, params, restoreCarriesSecrets(inst)); err != nil {
		return "", err
	}
	err := r.rollout(ctx, inst, p, params)
	if err == nil {
		err = r.bootstrapAdmin(ctx, inst, p, &params)
	}
	if err == nil {
		err = r.applyRegistrations(ctx, inst, p, params)
	}
	// Backups are read on every pass too: a failed backup shows while an
	// upgrade waits.
	backupNote, backupErr := r.reconcileBackups(ctx, inst, p, params)
	// The domain conditions follow the children on every pass, also while
	// an install or upgrade is still under way.
	ready, observed := r.observeChildren(ctx, inst, p)
	for _, e := range []error{err, backupErr, observed} {
		if e != nil {
			return "", e
		}
	}
	if backupNote != "" {
		ready += "; " + backupNote
	}
	return ready, nil
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

// reconcileExternal connects a server hosted elsewhere: no workloads, just
// the token its moderation is pushed with.
func (r *InstanceReconciler) reconcileExternal(ctx context.Context, inst *v1alpha1.Instance) (string, delivery.Given, error) {
	inst.Status.URL = strings.TrimSuffix(inst.Spec.External.URL, "/")
	inst.Status.Upgrade = nil
	if err := r.checkDomain(ctx, inst); err != nil {
		return "", delivery.Given{}, err
	}
	read, err := r.readSecrets(ctx, inst)
	if err != nil {
		return "", delivery.Given{}, err
	}
	// The token Secret just checked is the one delivery would read again.
	given := delivery.Given{TokenSecret: read[inst.Spec.External.TokenSecretRef.Name]}
	return "external server " + inst.Status.URL + " (moderation only)", given, nil
}
