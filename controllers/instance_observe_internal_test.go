package controllers

import (
	"context"
	"errors"
	"strings"
	"testing"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/software"
)

// A pass waiting for its Deployments leaves it to their watch: a timer
// would put every waiting Instance back in the queue, whatever happened,
// for as long as a rollout lasts (issue 16). Only a Certificate not issued
// yet is polled (its watch exists only if cert-manager came first).
func TestWaitingForChildrenPollsOnlyForTheCertificate(t *testing.T) {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, v1alpha1.AddToScheme, certmanagerv1.AddToScheme} {
		if err := add(s); err != nil {
			t.Fatal(err)
		}
	}
	r := &InstanceReconciler{Client: fake.NewClientBuilder().WithScheme(s).Build()}
	inst := &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "social", Generation: 1},
		Spec:       v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: "social.riverside.example"},
	}
	waiting := func() *conditions.Waiting {
		t.Helper()
		_, err := r.observeChildren(context.Background(), inst, software.GoToSocial)
		var w *conditions.Waiting
		if !errors.As(err, &w) {
			t.Fatalf("observeChildren with nothing created: %v, want Waiting", err)
		}
		return w
	}

	w := waiting()
	if !strings.Contains(w.Message, v1alpha1.ConditionWorkloadAvailable) {
		t.Errorf("waits for %q, want the workloads", w.Message)
	}
	if w.RequeueAfter != 0 {
		t.Errorf("waiting for watched Deployments requeues after %s, want 0 (the watch brings it back)", w.RequeueAfter)
	}

	inst.Spec.TLS = &v1alpha1.TLSSpec{IssuerRef: &v1alpha1.IssuerReference{Name: "letsencrypt"}}
	if w := waiting(); w.RequeueAfter <= 0 || !strings.Contains(w.Message, v1alpha1.ConditionCertificateReady) {
		t.Errorf("waiting for the Certificate: requeue after %s (%q), want a poll", w.RequeueAfter, w.Message)
	}
}
