package controllers

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// recordFederation writes what a delivery pass found into the Instance's
// status (the FederationSynced condition, status.federation) and events.
func (r *InstanceReconciler) recordFederation(inst *v1alpha1.Instance, out delivery.Outcome) {
	switch {
	case out.RemoveCondition:
		meta.RemoveStatusCondition(&inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
	case out.Condition != nil:
		conditions.Set(&inst.Status.Conditions, inst.Generation, v1alpha1.ConditionFederationSynced,
			out.Condition.Status, out.Condition.Reason, out.Condition.Message)
	}
	if out.Status != nil {
		inst.Status.Federation = out.Status
	}
	for _, e := range out.Events {
		r.Recorder.Eventf(inst, nil, e.Type, e.Reason, e.Action, "%s", e.Message)
	}
}

// AdminTokenStore is delivery's TokenStore: the <instance>-admin-token
// Secret holding the admin API token delivery obtained by signing in. It
// creates the Secret with a create that fails if one exists, and replaces
// the token with an optimistic lock, so two passes never each keep a
// different token.
type AdminTokenStore struct {
	Client client.Client
	// APIReader reads the Secret as the API server has it now, not as the
	// cache last saw it.
	APIReader client.Reader
}

var _ delivery.TokenStore = (*AdminTokenStore)(nil)

// Swap implements delivery.TokenStore.
func (s *AdminTokenStore) Swap(ctx context.Context, inst *v1alpha1.Instance, old, token string) (string, error) {
	key := client.ObjectKey{Namespace: inst.Namespace, Name: resources.AdminTokenSecretName(inst)}
	for range 2 {
		sec := &corev1.Secret{}
		err := s.APIReader.Get(ctx, key, sec)
		if apierrors.IsNotFound(err) {
			err := s.Client.Create(ctx, resources.AdminTokenSecret(inst, resources.Params{Community: inst.Status.Community}, token))
			if apierrors.IsAlreadyExists(err) {
				// Another pass stored one first: read it.
				continue
			}
			if err != nil {
				return "", fmt.Errorf("create admin token Secret %s: %w", key.Name, err)
			}
			return token, nil
		}
		if err != nil {
			return "", fmt.Errorf("read admin token Secret %s: %w", key.Name, err)
		}
		if current := strings.TrimSpace(string(sec.Data[resources.AdminTokenKey])); current != "" && current != old {
			return current, nil
		}
		base := sec.DeepCopy()
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		sec.Data[resources.AdminTokenKey] = []byte(token)
		if err := s.Client.Patch(ctx, sec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return "", fmt.Errorf("store the admin token in Secret %s: %w", key.Name, err)
		}
		return token, nil
	}
	return "", fmt.Errorf("admin token Secret %s was created and deleted again meanwhile; retrying", key.Name)
}
