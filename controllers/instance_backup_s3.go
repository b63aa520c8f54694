package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/backup"
	"github.com/fedcommons/fedcommons/internal/backup/agent"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// What an s3 destination adds to backups and restores: the operator-managed
// key the generated Secrets are encrypted to, and the restore agent's
// permission to put them back.

// ensureBackupKey creates the Instance's backup key Secret when there is
// none, and never touches one that exists: every backup's secrets.age is
// encrypted to it, so a regenerated key could not read the backups taken
// before. It has no owner reference, so it outlives the Instance (and
// whoever restores its backups elsewhere can still read them). Read from
// the API server, not a cache (Secrets are not cached): a second key must
// never be minted because a cache had not seen the first.
func (r *InstanceReconciler) ensureBackupKey(ctx context.Context, inst *v1alpha1.Instance, params resources.Params) error {
	key := client.ObjectKey{Namespace: inst.Namespace, Name: backup.KeySecretName(inst)}
	err := r.APIReader.Get(ctx, key, &corev1.Secret{})
	if err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	identity, recipient, err := agent.NewKey()
	if err != nil {
		return fmt.Errorf("generate the backup key of %s: %w", inst.Name, err)
	}
	// Create, not apply: should another pass have created it since the
	// read, AlreadyExists keeps its key and this one is dropped.
	if err := r.Client.Create(ctx, backup.KeySecret(inst, params, identity, recipient)); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create Secret %s: %w", key.Name, err)
	}
	return nil
}

// applyRestoreRBAC applies the ServiceAccount, Role and RoleBinding the
// restore Job's agent runs as when it puts the backup's Secrets back.
func (r *InstanceReconciler) applyRestoreRBAC(ctx context.Context, in backup.Input) error {
	sa, role, binding := backup.RestoreRBAC(in)
	for _, obj := range []client.Object{sa, role, binding} {
		if _, err := r.Applier.Apply(ctx, obj); err != nil {
			return err
		}
	}
	return nil
}

// restoreCarriesSecrets tells whether the Instance waits for a restore
// that puts the old Instance's generated Secrets back: until it has
// succeeded none may be generated, or the restore would find fresh ones
// with other data and refuse to overwrite them.
func restoreCarriesSecrets(inst *v1alpha1.Instance) bool {
	return inst.Spec.Restore != nil && inst.Spec.Restore.IdentitySecretRef != nil && inst.Status.Restore == nil
}
