package controllers

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/review"
)

// A reviewed policy's applied state lives in ConfigMaps it owns, laid
// out by review.Layout (shared with the CLI, which reads a pending change
// set from them).
func reviewConfigMapName(policy string) string { return review.HeadName(policy) }

func reviewChunkName(policy, digest string, i int) string { return review.ChunkName(policy, digest, i) }

func shortHash(h string) string { return review.ShortHash(h) }

// reviewMemo is a reviewed policy's state as this process last loaded or
// saved it: what is in the ConfigMaps, so that an unchanged state costs
// no write.
type reviewMemo struct {
	state  review.State
	digest string
	chunks int
}

// loadReview returns the saved state, from memory or from the
// ConfigMaps; found is false when there is none.
func (r *FederationPolicyReconciler) loadReview(ctx context.Context, policy *v1alpha1.FederationPolicy) (*reviewMemo, bool, error) {
	key := client.ObjectKeyFromObject(policy)
	if m, ok := r.reviews.Load(key); ok {
		return m.(*reviewMemo), true, nil
	}
	get := func(name string) (map[string]string, map[string][]byte, bool, error) {
		cm := &corev1.ConfigMap{}
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: policy.Namespace, Name: name}, cm)
		if apierrors.IsNotFound(err) {
			return nil, nil, false, nil
		}
		return cm.Data, cm.BinaryData, err == nil, err
	}
	saved, found, err := review.ReadState(get, policy.Name)
	switch {
	case err != nil:
		return nil, false, err
	case !found:
		return &reviewMemo{}, false, nil
	}
	memo := &reviewMemo{state: saved.State, digest: saved.Digest, chunks: saved.Chunks}
	r.reviews.Store(key, memo)
	return memo, true, nil
}

// saveReview writes the state unless it is what is saved already. Nothing
// the state decides may reach a server before this succeeds: after a
// restart, the servers must get what was saved.
func (r *FederationPolicyReconciler) saveReview(ctx context.Context, policy *v1alpha1.FederationPolicy, memo *reviewMemo, st review.State) error {
	chunks, digest, err := review.Save(st)
	if err != nil {
		return err
	}
	if digest == memo.digest && r.headSaved(ctx, policy, digest) {
		memo.state = st
		return nil
	}
	for _, stored := range review.Layout(policy.Name, chunks, digest) {
		if _, err := r.Applier.Apply(ctx, reviewConfigMap(policy, stored)); err != nil {
			return err
		}
	}
	// The previous save's chunks are no longer read; one left behind is
	// garbage collected with the policy.
	for i := 1; i < memo.chunks && memo.digest != digest; i++ {
		r.deleteConfigMap(ctx, policy.Namespace, reviewChunkName(policy.Name, memo.digest, i))
	}
	*memo = reviewMemo{state: st, digest: digest, chunks: len(chunks)}
	r.reviews.Store(client.ObjectKeyFromObject(policy), memo)
	return nil
}

// headSaved reports whether the head ConfigMap still holds digest: one
// deleted by hand is written again at once, not at the next change, so a
// restart never finds the state missing.
func (r *FederationPolicyReconciler) headSaved(ctx context.Context, policy *v1alpha1.FederationPolicy, digest string) bool {
	head := &corev1.ConfigMap{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: policy.Namespace, Name: reviewConfigMapName(policy.Name)}, head)
	return err == nil && head.Data[review.DigestKey] == digest
}

// dropReview deletes the saved state (review turned off).
func (r *FederationPolicyReconciler) dropReview(ctx context.Context, policy *v1alpha1.FederationPolicy) {
	key := client.ObjectKeyFromObject(policy)
	if m, ok := r.reviews.LoadAndDelete(key); ok {
		memo := m.(*reviewMemo)
		for i := 1; i < memo.chunks; i++ {
			r.deleteConfigMap(ctx, policy.Namespace, reviewChunkName(policy.Name, memo.digest, i))
		}
	}
	r.deleteConfigMap(ctx, policy.Namespace, reviewConfigMapName(policy.Name))
}

func (r *FederationPolicyReconciler) deleteConfigMap(ctx context.Context, namespace, name string) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	_ = client.IgnoreNotFound(r.Client.Delete(ctx, cm))
	r.Applier.Forget(cm)
}

// reviewConfigMap is one ConfigMap of the saved state.
func reviewConfigMap(policy *v1alpha1.FederationPolicy, stored review.Stored) *corev1.ConfigMap {
	cm := policyConfigMap(policy, stored.Name)
	cm.BinaryData = stored.Binary
	cm.Data = stored.Data
	return cm
}
