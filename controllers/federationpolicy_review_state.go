package controllers

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/review"
)

// A reviewed policy's applied state lives in ConfigMaps it owns: the head
// <policy>-review (the digest, the chunk count and the first chunk) and,
// for a state over one chunk, <policy>-review-<digest>-<i> for the rest.
// Chunks are named by digest so that a save interrupted half-way leaves
// the previous head and its chunks intact; the old chunks are deleted
// only once the new head is written.
const (
	reviewStateKey  = "state.json.gz"
	reviewDigestKey = "digest"
	reviewChunksKey = "chunks"
)

func reviewConfigMapName(policy string) string { return policy + "-review" }

func reviewChunkName(policy, digest string, i int) string {
	return fmt.Sprintf("%s-review-%s-%d", policy, shortHash(digest), i)
}

// shortHash is the first 10 hex digits of a "sha256:…" hash.
func shortHash(h string) string {
	if len(h) < 17 {
		return h
	}
	return h[7:17]
}

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
func (r *FederationPolicyReconciler) loadReview(ctx context.Context, policy *v1alpha1.FederationPolicy) (memo *reviewMemo, found bool, err error) {
	key := client.ObjectKeyFromObject(policy)
	if m, ok := r.reviews.Load(key); ok {
		return m.(*reviewMemo), true, nil
	}
	head := &corev1.ConfigMap{}
	err = r.Client.Get(ctx, client.ObjectKey{Namespace: policy.Namespace, Name: reviewConfigMapName(policy.Name)}, head)
	switch {
	case apierrors.IsNotFound(err):
		return &reviewMemo{}, false, nil
	case err != nil:
		return nil, false, err
	}
	digest := head.Data[reviewDigestKey]
	n, err := strconv.Atoi(head.Data[reviewChunksKey])
	if err != nil || n < 1 || n > review.MaxChunks {
		return nil, false, fmt.Errorf("ConfigMap %s: %s %q is not a chunk count from 1 to %d", head.Name, reviewChunksKey, head.Data[reviewChunksKey], review.MaxChunks)
	}
	chunks := [][]byte{head.BinaryData[reviewStateKey]}
	for i := 1; i < n; i++ {
		cm := &corev1.ConfigMap{}
		name := reviewChunkName(policy.Name, digest, i)
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: policy.Namespace, Name: name}, cm); err != nil {
			return nil, false, fmt.Errorf("ConfigMap %s: %w", name, err)
		}
		chunks = append(chunks, cm.BinaryData[reviewStateKey])
	}
	st, err := review.Load(chunks, digest)
	if err != nil {
		return nil, false, fmt.Errorf("ConfigMap %s: %w", head.Name, err)
	}
	memo = &reviewMemo{state: st, digest: digest, chunks: n}
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
	if digest == memo.digest {
		memo.state = st
		return nil
	}
	for i := 1; i < len(chunks); i++ {
		if _, err := r.Applier.Apply(ctx, reviewConfigMap(policy, reviewChunkName(policy.Name, digest, i), chunks[i], nil)); err != nil {
			return err
		}
	}
	if _, err := r.Applier.Apply(ctx, reviewConfigMap(policy, reviewConfigMapName(policy.Name), chunks[0],
		map[string]string{reviewDigestKey: digest, reviewChunksKey: strconv.Itoa(len(chunks))})); err != nil {
		return err
	}
	// The previous save's chunks are no longer read; one left behind is
	// garbage collected with the policy.
	for i := 1; i < memo.chunks; i++ {
		r.deleteConfigMap(ctx, policy.Namespace, reviewChunkName(policy.Name, memo.digest, i))
	}
	*memo = reviewMemo{state: st, digest: digest, chunks: len(chunks)}
	r.reviews.Store(client.ObjectKeyFromObject(policy), memo)
	return nil
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
func reviewConfigMap(policy *v1alpha1.FederationPolicy, name string, chunk []byte, data map[string]string) *corev1.ConfigMap {
	cm := policyConfigMap(policy, name)
	cm.BinaryData = map[string][]byte{reviewStateKey: chunk}
	cm.Data = data
	return cm
}
