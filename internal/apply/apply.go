// Package apply writes desired objects with server-side apply under one
// field owner, and skips the write when nothing changed since the last one.
//
// Server-side apply of an unchanged object is already a no-op for the API
// server, but it is still a request; steady state must cost zero writes, so
// the Applier remembers, per object, the hash of what it last applied and
// the resourceVersion the server answered. When the desired object hashes
// the same and the live object (read from the informer cache) still has that
// resourceVersion, nobody has touched it since, and the write is skipped.
// Any change by anyone else moves the resourceVersion and the next pass
// re-applies, which is how drift on our children is corrected.
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// FieldOwner is the field manager of every object fedcommons applies.
const FieldOwner = "fedcommons"

// Applier applies objects with server-side apply, skipping unchanged ones.
type Applier struct {
	client client.Client
	scheme *runtime.Scheme

	mu   sync.Mutex
	last map[objectKey]appliedState
}

type objectKey struct {
	gvk       schema.GroupVersionKind
	namespace string
	name      string
}

// appliedState is kept for every object applied, for the life of the
// process: the raw digest, not its 64-character hex form.
type appliedState struct {
	hash            [sha256.Size]byte
	resourceVersion string
}

// New returns an Applier writing through c (reads go through c too: give it
// the manager's cached client).
func New(c client.Client, scheme *runtime.Scheme) *Applier {
	return &Applier{client: c, scheme: scheme, last: map[objectKey]appliedState{}}
}

// Apply makes the live object match obj's fields (force-owning conflicts:
// fedcommons is the only writer of the fields it sets). obj must be a typed
// object registered in the scheme, or an *unstructured.Unstructured. It
// reports whether a write was sent.
func (a *Applier) Apply(ctx context.Context, obj client.Object) (bool, error) {
	return a.apply(ctx, obj, nil)
}

// ApplyLive is Apply for a caller that has just read the live object
// itself: its resourceVersion decides whether the write can be skipped,
// instead of a read of the Applier's own. For kinds the manager does not
// cache (Secrets), that read would be one more GET to the API server on
// every pass.
func (a *Applier) ApplyLive(ctx context.Context, obj, live client.Object) (bool, error) {
	return a.apply(ctx, obj, live)
}

func (a *Applier) apply(ctx context.Context, obj, live client.Object) (bool, error) {
	gvk, err := apiutil.GVKForObject(obj, a.scheme)
	if err != nil {
		return false, fmt.Errorf("apply %T %s: %w", obj, obj.GetName(), err)
	}
	hash, err := hashOf(obj)
	if err != nil {
		return false, err
	}
	key := objectKey{gvk: gvk, namespace: obj.GetNamespace(), name: obj.GetName()}

	if a.unchanged(ctx, key, hash, live) {
		return false, nil
	}
	// Converted only for a write: most passes write nothing, and the
	// conversion was a fifth of the rollout's allocations (issue 16).
	u, err := toUnstructured(obj, gvk)
	if err != nil {
		return false, err
	}
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, key.namespace, key.name, err)
	}
	a.remember(key, hash, u.GetResourceVersion())
	return true, nil
}

// Forget drops what the Applier remembers of an object, e.g. once deleted.
func (a *Applier) Forget(obj client.Object) {
	gvk, err := apiutil.GVKForObject(obj, a.scheme)
	if err != nil {
		return
	}
	a.mu.Lock()
	delete(a.last, objectKey{gvk: gvk, namespace: obj.GetNamespace(), name: obj.GetName()})
	a.mu.Unlock()
}

func (a *Applier) unchanged(ctx context.Context, key objectKey, hash [sha256.Size]byte, known client.Object) bool {
	a.mu.Lock()
	prev, ok := a.last[key]
	a.mu.Unlock()
	if !ok || prev.hash != hash || prev.resourceVersion == "" {
		return false
	}
	if known != nil {
		return known.GetResourceVersion() == prev.resourceVersion
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(key.gvk)
	// Reading through a typed object keeps the read on the informer cache
	// the controller already has for its children.
	if typed, err := a.scheme.New(key.gvk); err == nil {
		if tobj, ok := typed.(client.Object); ok {
			if err := a.client.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, tobj); err != nil {
				return false
			}
			return tobj.GetResourceVersion() == prev.resourceVersion
		}
	}
	if err := a.client.Get(ctx, client.ObjectKey{Namespace: key.namespace, Name: key.name}, live); err != nil {
		return false
	}
	return live.GetResourceVersion() == prev.resourceVersion
}

func (a *Applier) remember(key objectKey, hash [sha256.Size]byte, resourceVersion string) {
	a.mu.Lock()
	a.last[key] = appliedState{hash: hash, resourceVersion: resourceVersion}
	a.mu.Unlock()
}

func toUnstructured(obj client.Object, gvk schema.GroupVersionKind) (*unstructured.Unstructured, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		out := u.DeepCopy()
		out.SetGroupVersionKind(gvk)
		return out, nil
	}
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("apply %s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(gvk)
	// Typed objects carry zero values the apply would claim ownership of:
	// a status we never set and a null creationTimestamp.
	delete(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "metadata", "resourceVersion")
	return u, nil
}

// hashOf digests the desired object as the caller built it, typed or
// unstructured: its JSON (struct fields in order, map keys sorted) is
// stable from pass to pass. It covers everything the apply sends (the
// conversion only drops status, creationTimestamp and resourceVersion,
// and the kind is in the Applier's key), so a change to what would be
// sent always changes the digest.
func hashOf(obj client.Object) ([sha256.Size]byte, error) {
	var v any = obj
	if u, ok := obj.(*unstructured.Unstructured); ok {
		v = u.Object
	}
	b, err := json.Marshal(v)
	if err != nil {
		return [sha256.Size]byte{}, fmt.Errorf("hash %T %s: %w", obj, obj.GetName(), err)
	}
	return sha256.Sum256(b), nil
}
