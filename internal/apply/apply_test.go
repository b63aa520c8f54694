package apply_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fedcommons/fedcommons/internal/apply"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// countApplies wraps c so that every server-side apply it sends is counted.
func countApplies(c client.WithWatch, n *atomic.Int64) client.Client {
	return interceptor.NewClient(c, interceptor.Funcs{
		Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
			n.Add(1)
			return c.Apply(ctx, obj, opts...)
		},
	})
}

func TestApplier(t *testing.T) {
	cfg := testenv.Start(t, &envtest.Environment{})
	scheme := clientgoscheme.Scheme
	direct, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var applies atomic.Int64
	a := apply.New(countApplies(direct, &applies), scheme)

	configMap := func(data map[string]string) *corev1.ConfigMap {
		return &corev1.ConfigMap{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "settings", Labels: map[string]string{"app": "x"}},
			Data:       data,
		}
	}
	live := func() *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := direct.Get(ctx, client.ObjectKey{Namespace: "default", Name: "settings"}, cm); err != nil {
			t.Fatal(err)
		}
		return cm
	}

	mustWrite := func(t *testing.T, obj client.Object) {
		t.Helper()
		if wrote, err := a.Apply(ctx, obj); err != nil || !wrote {
			t.Fatalf("apply: wrote=%v err=%v, want a write", wrote, err)
		}
	}

	t.Run("creates, then skips what has not changed", func(t *testing.T) {
		mustWrite(t, configMap(map[string]string{"a": "1"}))
		if got := live(); got.Data["a"] != "1" {
			t.Fatalf("live data %v", got.Data)
		}
		managers := []string{}
		for _, m := range live().ManagedFields {
			managers = append(managers, m.Manager)
		}
		if strings.Join(managers, ",") != apply.FieldOwner {
			t.Errorf("field managers %v, want only %q", managers, apply.FieldOwner)
		}
		before := applies.Load()
		for range 3 {
			if wrote, err := a.Apply(ctx, configMap(map[string]string{"a": "1"})); err != nil || wrote {
				t.Fatalf("unchanged apply: wrote=%v err=%v", wrote, err)
			}
		}
		if n := applies.Load() - before; n != 0 {
			t.Errorf("%d requests for an unchanged object, want 0", n)
		}
	})

	t.Run("Current: the live copy is the version last applied", func(t *testing.T) {
		if !a.Current(live()) {
			t.Fatal("the object as last applied is not Current")
		}
		stale := live()
		stale.ResourceVersion = "1"
		if a.Current(stale) {
			t.Error("a copy older than the last apply is Current")
		}
		other := configMap(nil)
		other.Name = "never-applied"
		if a.Current(other) {
			t.Error("an object never applied is Current")
		}
	})

	t.Run("a changed desired object is written", func(t *testing.T) {
		mustWrite(t, configMap(map[string]string{"a": "2"}))
		if got := live(); got.Data["a"] != "2" {
			t.Fatalf("live data %v", got.Data)
		}
	})

	t.Run("drift by someone else is put back", func(t *testing.T) {
		cm := live()
		cm.Data["a"] = "edited by hand"
		if err := direct.Update(ctx, cm); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, configMap(map[string]string{"a": "2"}))
		if got := live(); got.Data["a"] != "2" {
			t.Fatalf("drift not restored: %v", got.Data)
		}
	})

	t.Run("a deleted object is created again", func(t *testing.T) {
		if err := direct.Delete(ctx, live()); err != nil {
			t.Fatal(err)
		}
		mustWrite(t, configMap(map[string]string{"a": "2"}))
		live()
	})

	// ApplyLive decides from the object the caller read, reading nothing
	// itself: the Instance reconciler reads each generated Secret anyway,
	// and a second GET per Secret per pass was a third of a rollout's
	// requests (docs/benchmarks.md).
	t.Run("ApplyLive skips on the caller's live object without a read", func(t *testing.T) {
		var gets atomic.Int64
		counting := interceptor.NewClient(direct, interceptor.Funcs{
			Apply: func(ctx context.Context, c client.WithWatch, obj runtime.ApplyConfiguration, opts ...client.ApplyOption) error {
				applies.Add(1)
				return c.Apply(ctx, obj, opts...)
			},
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				gets.Add(1)
				return c.Get(ctx, key, obj, opts...)
			},
		})
		la := apply.New(counting, scheme)
		desired := func() *corev1.ConfigMap {
			cm := configMap(map[string]string{"a": "live"})
			cm.Name = "live-settings"
			return cm
		}
		if wrote, err := la.ApplyLive(ctx, desired(), &corev1.ConfigMap{}); err != nil || !wrote {
			t.Fatalf("first apply: wrote=%v err=%v, want a write", wrote, err)
		}
		cur := &corev1.ConfigMap{}
		if err := direct.Get(ctx, client.ObjectKeyFromObject(desired()), cur); err != nil {
			t.Fatal(err)
		}
		beforeApplies, beforeGets := applies.Load(), gets.Load()
		if wrote, err := la.ApplyLive(ctx, desired(), cur); err != nil || wrote {
			t.Fatalf("unchanged: wrote=%v err=%v, want no write", wrote, err)
		}
		if n, g := applies.Load()-beforeApplies, gets.Load()-beforeGets; n != 0 || g != 0 {
			t.Errorf("unchanged object with its live copy: %d applies and %d gets, want none", n, g)
		}
		// Someone else changed it: the live copy says so and it is put back.
		cur.Data["a"] = "edited by hand"
		if err := direct.Update(ctx, cur); err != nil {
			t.Fatal(err)
		}
		if wrote, err := la.ApplyLive(ctx, desired(), cur); err != nil || !wrote {
			t.Fatalf("after drift: wrote=%v err=%v, want a write", wrote, err)
		}
		if err := direct.Get(ctx, client.ObjectKeyFromObject(desired()), cur); err != nil || cur.Data["a"] != "live" {
			t.Fatalf("drift not restored: %v %v", cur.Data, err)
		}
	})

	// A workload's controller rewrites its status all through a rollout:
	// the resourceVersion moves, the generation does not, and nothing the
	// Applier set has changed. Those passes must not write; a change to
	// the spec (generation) or to what was applied in the metadata must.
	t.Run("a status write alone is not drift for a workload", func(t *testing.T) {
		owner := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "owner"}}
		if err := direct.Create(ctx, owner); err != nil {
			t.Fatal(err)
		}
		desired := func() *appsv1.Deployment {
			one := int32(1)
			return &appsv1.Deployment{
				TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web",
					Labels:          map[string]string{"app": "web"},
					Annotations:     map[string]string{"fedcommons.io/config-hash": "abc"},
					OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}},
				},
				Spec: appsv1.DeploymentSpec{
					Replicas: &one,
					Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
					Template: corev1.PodTemplateSpec{
						ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
						Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "registry.example/web:1"}}},
					},
				},
			}
		}
		cur := func() *appsv1.Deployment {
			t.Helper()
			d := &appsv1.Deployment{}
			if err := direct.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web"}, d); err != nil {
				t.Fatal(err)
			}
			return d
		}
		noWrite := func(t *testing.T, why string) {
			t.Helper()
			before := applies.Load()
			if wrote, err := a.Apply(ctx, desired()); err != nil || wrote || applies.Load() != before {
				t.Fatalf("%s: wrote=%v err=%v requests=%d, want no write", why, wrote, err, applies.Load()-before)
			}
		}
		mustWrite(t, desired())
		noWrite(t, "unchanged")

		// What the Deployment controller does all through a rollout.
		status := func(ready int32) {
			t.Helper()
			d := cur()
			d.Status.ObservedGeneration, d.Status.Replicas, d.Status.ReadyReplicas = d.Generation, 1, ready
			if err := direct.Status().Update(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		status(0)
		status(1)
		if got := cur(); got.Generation != 1 {
			t.Fatalf("generation %d after status writes, want 1", got.Generation)
		}
		noWrite(t, "after the controller's status writes")

		// Its revision annotation is another matter: a Deployment's
		// generation counts annotations too (they are copied to the
		// ReplicaSets), so that write costs one apply, once per rollout.
		d := cur()
		d.Annotations["deployment.kubernetes.io/revision"] = "1"
		if err := direct.Update(ctx, d); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Apply(ctx, desired()); err != nil {
			t.Fatal(err)
		}
		status(0)
		noWrite(t, "after the revision annotation and a status write")
		if got := cur(); got.Annotations["deployment.kubernetes.io/revision"] != "1" {
			t.Errorf("the controller's annotation was removed: %v", got.Annotations)
		}

		edits := []struct {
			name string
			edit func(d *appsv1.Deployment)
			back func(d *appsv1.Deployment) bool
		}{
			{"spec edited by hand", func(d *appsv1.Deployment) { two := int32(2); d.Spec.Replicas = &two },
				func(d *appsv1.Deployment) bool { return *d.Spec.Replicas == 1 }},
			{"applied label changed", func(d *appsv1.Deployment) { d.Labels["app"] = "other" },
				func(d *appsv1.Deployment) bool { return d.Labels["app"] == "web" }},
			{"applied annotation removed", func(d *appsv1.Deployment) { delete(d.Annotations, "fedcommons.io/config-hash") },
				func(d *appsv1.Deployment) bool { return d.Annotations["fedcommons.io/config-hash"] == "abc" }},
			{"owner reference removed", func(d *appsv1.Deployment) { d.OwnerReferences = nil },
				func(d *appsv1.Deployment) bool { return len(d.OwnerReferences) == 1 }},
		}
		for _, e := range edits {
			d := cur()
			e.edit(d)
			if err := direct.Update(ctx, d); err != nil {
				t.Fatalf("%s: %v", e.name, err)
			}
			mustWrite(t, desired())
			if !e.back(cur()) {
				t.Errorf("%s: not put back", e.name)
			}
			noWrite(t, e.name+", once put back")
		}
	})

	// The Instance reconciler relies on this to never put an empty Secret
	// in the place of a generated one deleted under its feet.
	t.Run("a UID in the applied object is a precondition", func(t *testing.T) {
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "keys"},
			Data:       map[string][]byte{"key": []byte("k")},
		}
		if err := direct.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
		labelled := func() *corev1.Secret {
			return &corev1.Secret{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
				ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "keys", UID: secret.UID, Labels: map[string]string{"owned": "yes"}},
			}
		}
		if _, err := a.Apply(ctx, labelled()); err != nil {
			t.Fatalf("apply with the live UID: %v", err)
		}
		got := &corev1.Secret{}
		if err := direct.Get(ctx, client.ObjectKeyFromObject(secret), got); err != nil {
			t.Fatal(err)
		}
		if got.Labels["owned"] != "yes" || string(got.Data["key"]) != "k" {
			t.Fatalf("labels %v, data %v: want the label added and the data kept", got.Labels, got.Data)
		}

		if err := direct.Delete(ctx, got); err != nil {
			t.Fatal(err)
		}
		_, err := a.Apply(ctx, labelled())
		if err == nil {
			t.Fatal("apply with the UID of a deleted Secret succeeded")
		}
		t.Logf("refused as expected: %v", err)
		if err := direct.Get(ctx, client.ObjectKeyFromObject(secret), &corev1.Secret{}); !apierrors.IsNotFound(err) {
			t.Fatalf("the apply created the Secret again (get: %v)", err)
		}
	})
}
