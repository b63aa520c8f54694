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
//
// Workloads are the exception: their controllers write status many times
// during a rollout, and every status write moves the resourceVersion
// without changing anything the Applier set. For the kinds whose
// metadata.generation counts every change to the spec (statusfulKinds),
// the write is also skipped when the generation is still the one the last
// apply answered and the live labels, annotations and owner references
// still hold what was applied: nothing a new apply would put back has
// moved. At 100 Instances this was 7.5 Deployment and 3.9 StatefulSet
// patches per Instance in a rollout (docs/benchmarks.md).
package apply

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
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
	generation      int64
	// desired is the applied object's metadata that a status write
	// cannot move but a person can: checked against the live object when
	// only the generation says the spec is unchanged.
	desired *appliedMeta
}

// appliedMeta is what the Applier set in an object's metadata.
type appliedMeta struct {
	labels, annotations map[string]string
	owners              []types.UID
}

// statusfulKinds are the kinds whose status their controllers rewrite
// while our spec stands still, and whose metadata.generation the API
// server increments on every change to anything but metadata and status
// (apps/v1 and batch/v1 strategies; CRDs with a status subresource, such
// as cert-manager's Certificate). For any other kind a status write would
// not prove the spec unchanged, and only the resourceVersion is trusted.
var statusfulKinds = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:             true,
	{Group: "apps", Kind: "StatefulSet"}:            true,
	{Group: "batch", Kind: "CronJob"}:               true,
	{Group: "cert-manager.io", Kind: "Certificate"}: true,
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
	statusful := statusfulKinds[gvk.GroupKind()]
	var desired *appliedMeta
	if statusful {
		desired = metaOf(u) // before the apply overwrites u with the answer
	}
	if err := a.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldOwner), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("apply %s %s/%s: %w", gvk.Kind, key.namespace, key.name, err)
	}
	state := appliedState{hash: hash, resourceVersion: u.GetResourceVersion()}
	if statusful {
		state.generation, state.desired = u.GetGeneration(), desired
	}
	a.mu.Lock()
	a.last[key] = state
	a.mu.Unlock()
	return true, nil
}

// Current tells whether live is the very version of the object the Applier
// last applied: a copy from the informer cache that has caught up with our
// own last write. A reconciler that builds the next desired object from
// the live one (a record that only grows) can trust such a copy instead of
// reading the API server; a cache that lags behind the last write would
// make it drop what that write added.
func (a *Applier) Current(live client.Object) bool {
	gvk, err := apiutil.GVKForObject(live, a.scheme)
	if err != nil {
		return false
	}
	a.mu.Lock()
	prev, ok := a.last[objectKey{gvk: gvk, namespace: live.GetNamespace(), name: live.GetName()}]
	a.mu.Unlock()
	return ok && prev.resourceVersion != "" && prev.resourceVersion == live.GetResourceVersion()
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
	live := known
	if live == nil {
		live = a.read(ctx, key)
		if live == nil {
			return false
		}
	}
	if live.GetResourceVersion() == prev.resourceVersion {
		return true
	}
	return prev.desired != nil && live.GetGeneration() == prev.generation && prev.desired.holdsIn(live)
}

// read gets the live object, nil when it cannot be read.
func (a *Applier) read(ctx context.Context, key objectKey) client.Object {
	k := client.ObjectKey{Namespace: key.namespace, Name: key.name}
	// Reading through a typed object keeps the read on the informer cache
	// the controller already has for its children.
	if typed, err := a.scheme.New(key.gvk); err == nil {
		if tobj, ok := typed.(client.Object); ok {
			if err := a.client.Get(ctx, k, tobj); err != nil {
				return nil
			}
			return tobj
		}
	}
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(key.gvk)
	if err := a.client.Get(ctx, k, live); err != nil {
		return nil
	}
	return live
}

func metaOf(u *unstructured.Unstructured) *appliedMeta {
	m := &appliedMeta{labels: u.GetLabels(), annotations: u.GetAnnotations()}
	for _, o := range u.GetOwnerReferences() {
		m.owners = append(m.owners, o.UID)
	}
	return m
}

// holdsIn tells whether the live object still carries every label,
// annotation and owner reference that was applied. Others' additions (the
// Deployment controller's revision annotation) do not matter: an apply
// would not remove them either.
func (m *appliedMeta) holdsIn(live client.Object) bool {
	return subset(m.labels, live.GetLabels()) && subset(m.annotations, live.GetAnnotations()) && ownedBy(live, m.owners)
}

func subset(want, have map[string]string) bool {
	for k, v := range want {
		if got, ok := have[k]; !ok || got != v {
			return false
		}
	}
	return true
}

func ownedBy(live client.Object, uids []types.UID) bool {
	for _, uid := range uids {
		if !slices.ContainsFunc(live.GetOwnerReferences(), func(o metav1.OwnerReference) bool { return o.UID == uid }) {
			return false
		}
	}
	return true
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
