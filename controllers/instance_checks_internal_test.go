package controllers

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
)

// checkedReconciler is an InstanceReconciler over a fake API holding objs,
// and the count of Secret reads by name.
func checkedReconciler(t *testing.T, objs ...client.Object) (*InstanceReconciler, map[string]int) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	gets := map[string]int{}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&v1alpha1.Instance{}, domainIndex, func(o client.Object) []string { return claimedNames(o.(*v1alpha1.Instance)) }).
		WithInterceptorFuncs(interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				gets[key.Name]++
			}
			return c.Get(ctx, key, obj, opts...)
		}}).Build()
	return &InstanceReconciler{Client: c, APIReader: c}, gets
}

func secretWith(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: name}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// The token Secret an external Instance's check reads is the one its
// delivery pass is given (delivery.Given): one GET of it per reconcile,
// where there were two (make bench-propagation). What the check refuses
// is refused as before, and nothing is given then.
func TestExternalCheckGivesTheTokenSecretItRead(t *testing.T) {
	external := func(key string) *v1alpha1.Instance {
		return &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "social", UID: "u1"},
			Spec: v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareMastodon, Domain: "social.riverside.example",
				External: &v1alpha1.ExternalServer{URL: "https://social.riverside.example/",
					TokenSecretRef: v1alpha1.SecretKeyReference{Name: "social-token", Key: key}}},
		}
	}
	ctx := context.Background()

	t.Run("read once and given", func(t *testing.T) {
		inst := external("")
		r, gets := checkedReconciler(t, inst, secretWith("social-token", map[string]string{"token": "t0k"}))
		ready, given, err := r.reconcileExternal(ctx, inst)
		if err != nil || ready == "" {
			t.Fatalf("%q, %v", ready, err)
		}
		if given.TokenSecret == nil || given.TokenSecret.Name != "social-token" || string(given.TokenSecret.Data["token"]) != "t0k" {
			t.Fatalf("given %+v, want the Secret social-token as read", given.TokenSecret)
		}
		if gets["social-token"] != 1 {
			t.Errorf("social-token read %d times, want 1", gets["social-token"])
		}
	})

	for _, c := range []struct {
		name   string
		objs   []client.Object
		key    string
		reason string
	}{
		{name: "missing", reason: v1alpha1.ReasonSecretNotFound},
		{name: "without its key", key: "admin", objs: []client.Object{secretWith("social-token", map[string]string{"token": "t0k"})},
			reason: v1alpha1.ReasonSecretKeyMissing},
	} {
		t.Run(c.name, func(t *testing.T) {
			inst := external(c.key)
			r, _ := checkedReconciler(t, append(c.objs, inst)...)
			_, given, err := r.reconcileExternal(ctx, inst)
			var stalled *conditions.Stalled
			if !errors.As(err, &stalled) || stalled.Reason != c.reason {
				t.Fatalf("got %v, want Stalled %s", err, c.reason)
			}
			if given.TokenSecret != nil {
				t.Errorf("a Secret the check refused was given: %s", given.TokenSecret.Name)
			}
		})
	}
}

// Two fields naming one Secret read it once, and each field's keys are
// still checked in it.
func TestReadSecretsReadsEachSecretOnce(t *testing.T) {
	inst := &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "social"},
		Spec: v1alpha1.InstanceSpec{
			Storage: &v1alpha1.StorageSpec{S3: &v1alpha1.S3Storage{CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "creds"}}},
			SMTP:    &v1alpha1.SMTPSpec{CredentialsSecretRef: &v1alpha1.LocalSecretReference{Name: "creds"}},
		},
	}
	ctx := context.Background()
	r, gets := checkedReconciler(t, secretWith("creds", map[string]string{"accessKeyID": "a", "secretAccessKey": "s", "username": "u", "password": "p"}))
	read, err := r.readSecrets(ctx, inst)
	if err != nil || read["creds"] == nil {
		t.Fatalf("%v, %v", read, err)
	}
	if gets["creds"] != 1 {
		t.Errorf("creds read %d times, want 1", gets["creds"])
	}

	r, _ = checkedReconciler(t, secretWith("creds", map[string]string{"accessKeyID": "a", "secretAccessKey": "s", "username": "u"}))
	var stalled *conditions.Stalled
	if _, err := r.readSecrets(ctx, inst); !errors.As(err, &stalled) || stalled.Reason != v1alpha1.ReasonSecretKeyMissing {
		t.Fatalf("got %v, want Stalled SecretKeyMissing for smtp's password", err)
	}
}
