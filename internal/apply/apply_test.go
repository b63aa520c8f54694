package apply_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

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
