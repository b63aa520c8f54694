package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// retainedRecheck is how often a Community whose deletion waits on retained
// data looks again: Secrets are not watched (the operator may not list
// them), so their removal by a sysadmin sends no event.
const retainedRecheck = 30 * time.Second

// maxNamesShown bounds the names a condition message lists per kind.
const maxNamesShown = 20

// retainedData is what Instances left in a namespace under deletionPolicy
// Retain: data the operator created and promised not to destroy.
type retainedData struct {
	Claims  []string
	Secrets []string
}

func (d retainedData) empty() bool { return len(d.Claims) == 0 && len(d.Secrets) == 0 }

// retained finds the data volumes and generated Secrets in ns that no
// Instance owns any more. Claims come from the cache (the operator lists
// the PersistentVolumeClaims it manages); Secrets are asked for by name,
// uncached, for every Instance the namespace has hosted (its
// AnnotationInstancesSeen, plus any Instance a retained claim names). An
// error reading one is returned, never taken for "not there".
func (r *CommunityReconciler) retained(ctx context.Context, namespace *corev1.Namespace) (retainedData, error) {
	var out retainedData
	ns := namespace.Name
	claims := &corev1.PersistentVolumeClaimList{}
	if err := r.Client.List(ctx, claims, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue}); err != nil {
		return out, fmt.Errorf("list volume claims in %s: %w", ns, err)
	}
	instances := map[string]bool{}
	for _, n := range tenancy.InstancesSeen(namespace) {
		instances[n] = true
	}
	for i := range claims.Items {
		pvc := &claims.Items[i]
		if n := pvc.Labels[v1alpha1.LabelInstance]; n != "" {
			instances[n] = true
		}
		if isRetained(pvc) {
			out.Claims = append(out.Claims, pvc.Name)
		}
	}
	for inst := range instances {
		for _, name := range resources.RetainedSecretNames(inst) {
			s := &corev1.Secret{}
			err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("read secret %s/%s: %w", ns, name, err)
			}
			if s.Labels[v1alpha1.LabelInstance] == inst && isRetained(s) {
				out.Secrets = append(out.Secrets, name)
			}
		}
	}
	sort.Strings(out.Claims)
	sort.Strings(out.Secrets)
	return out, nil
}

// isRetained: made by the operator and owned by nothing, so the garbage
// collector will not remove it and deleting the namespace would. One
// already being deleted (a claim held by its pvc-protection finalizer
// while a pod still mounts it) is going by somebody's decision.
func isRetained(o client.Object) bool {
	return o.GetLabels()[v1alpha1.LabelManagedBy] == v1alpha1.ManagedByValue && len(o.GetOwnerReferences()) == 0 &&
		o.GetDeletionTimestamp().IsZero()
}

// deletesRetainedData: the sysadmin opted in to destroying retained data.
func deletesRetainedData(c *v1alpha1.Community) bool {
	return c.Annotations[v1alpha1.AnnotationDeleteRetainedData] == "true"
}

// describe names what is left, for a condition message and an Event.
func (d retainedData) describe() string {
	var parts []string
	if len(d.Claims) > 0 {
		parts = append(parts, fmt.Sprintf("%d PersistentVolumeClaim(s): %s", len(d.Claims), shortList(d.Claims)))
	}
	if len(d.Secrets) > 0 {
		parts = append(parts, fmt.Sprintf("%d generated Secret(s): %s", len(d.Secrets), shortList(d.Secrets)))
	}
	return strings.Join(parts, "; ")
}

func shortList(names []string) string {
	if len(names) <= maxNamesShown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNamesShown], ", "), len(names)-maxNamesShown)
}

// retainedMessage says what is left, why it matters and the two ways on.
func retainedMessage(c *v1alpha1.Community, ns string, d retainedData) string {
	return fmt.Sprintf("deletion waits: namespace %s still holds data its Instances kept (deletionPolicy Retain): %s; "+
		"deleting the namespace would destroy it (the volumes' data and the keys that decrypt it). "+
		"Back it up or recreate the Instances to use it, or delete those objects yourself; "+
		"to destroy it with the namespace on purpose: kubectl annotate community %s %s=true",
		ns, d.describe(), c.Name, v1alpha1.AnnotationDeleteRetainedData)
}
