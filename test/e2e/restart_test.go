package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// TestGeneratedSecretsSurviveAnOperatorRestart restarts the operator (a new
// manager: empty caches, nothing remembered) under a running Mastodon and
// checks that every generated secret is the one it made before: same
// object, same keys. Minting new ones would make the server's encrypted
// data unreadable.
func TestGeneratedSecretsSurviveAnOperatorRestart(t *testing.T) {
	ctx := context.Background()
	c := shared.client
	ns := "restart-commons"
	if err := c.Create(ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: ns},
		Spec: v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{"restart.example"}}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the namespace exists", func() (bool, string) {
		err := c.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		return err == nil, fmt.Sprint(err)
	})
	inst := &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "toot"},
		Spec: v1alpha1.InstanceSpec{
			Software: v1alpha1.SoftwareMastodon, Version: "4.5.2", Domain: "toot.restart.example",
			Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)},
		},
	}
	if err := c.Create(ctx, inst); err != nil {
		t.Fatal(err)
	}
	want := []string{"toot-secrets", "toot-postgres", "toot-redis"}
	eventually(t, 60*time.Second, "secrets generated and recorded", func() (bool, string) {
		live := &v1alpha1.Instance{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(inst), live); err != nil {
			return false, err.Error()
		}
		return len(live.Status.GeneratedSecrets) == len(want), fmt.Sprint(live.Status.GeneratedSecrets)
	})
	before := map[string]*corev1.Secret{}
	for _, name := range want {
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			t.Fatal(err)
		}
		before[name] = s
	}

	shared.stopOperator()
	if err := shared.startOperator(ctx); err != nil {
		t.Fatal(err)
	}
	// A spec change makes the new operator reconcile the Instance fully.
	live := &v1alpha1.Instance{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(inst), live); err != nil {
		t.Fatal(err)
	}
	base := live.DeepCopy()
	live.Spec.Registrations = v1alpha1.RegistrationsClosed
	if err := c.Patch(ctx, live, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, "the new operator has reconciled the change", func() (bool, string) {
		got := &v1alpha1.Instance{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(inst), got); err != nil {
			return false, err.Error()
		}
		return got.Status.ObservedGeneration == got.Generation, fmt.Sprintf("observed %d of %d", got.Status.ObservedGeneration, got.Generation)
	})
	for _, name := range want {
		after := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, after); err != nil {
			t.Fatalf("secret %s after the restart: %v", name, err)
		}
		if after.UID != before[name].UID {
			t.Errorf("secret %s was recreated across the restart", name)
		}
		for k, v := range before[name].Data {
			if string(after.Data[k]) != string(v) {
				t.Errorf("secret %s key %s changed across the restart", name, k)
			}
		}
	}
}
