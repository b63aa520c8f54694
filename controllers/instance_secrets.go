package controllers

import (
	"context"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Generated Secrets of a hosted Instance: made once, never again.

// ensureGeneratedSecrets creates each generated Secret once. One that was
// generated before and has vanished stops the Instance: new keys would
// make encrypted data, sessions and signatures unreadable. A complete
// check stands for secretsCheckInterval while the spec stays the same.
func (r *InstanceReconciler) ensureGeneratedSecrets(ctx context.Context, inst *v1alpha1.Instance, p *software.Profile, params resources.Params, restorePending bool) error {
	// A restore in progress leaves the carried Secrets out: only a
	// check of them all counts (and is remembered).
	if !restorePending && r.secrets.fresh(inst, time.Now()) {
		return nil
	}
	secrets, err := resources.GeneratedSecrets(inst, p, inst.Spec.Version, params, r.Random)
	if err != nil {
		return fmt.Errorf("generate secrets: %w", err)
	}
	if err := r.checkGeneratedSecrets(ctx, inst, secrets, restorePending); err != nil {
		return err
	}
	if !restorePending {
		names := make([]string, len(secrets))
		for i, s := range secrets {
			names[i] = s.Name
		}
		r.secrets.checked(inst, names, time.Now())
	}
	return nil
}

func (r *InstanceReconciler) checkGeneratedSecrets(ctx context.Context, inst *v1alpha1.Instance, secrets []*corev1.Secret, restorePending bool) error {
	generated := map[string]bool{}
	for _, name := range inst.Status.GeneratedSecrets {
		generated[name] = true
	}
	for _, want := range secrets {
		if restorePending && slices.Contains(resources.CarriedSecretNames(inst.Name), want.Name) {
			continue
		}
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
			// The Secret was just read: its resourceVersion tells the
			// Applier whether anything changed, without a second GET
			// (Secrets are not cached; at 20 Instances this halved the
			// Secret reads of a rollout, see docs/benchmarks.md).
			if _, err := r.Applier.ApplyLive(ctx, meta, existing); err != nil {
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
