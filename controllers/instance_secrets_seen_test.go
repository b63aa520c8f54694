package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// A check of the generated Secrets stands only for the same Instance, spec
// and community, for secretsCheckInterval, and while the status lists
// what it saw.
func TestSecretsSeen(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	inst := func() *v1alpha1.Instance {
		return &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: "c1", Name: "srv", UID: "u1", Generation: 3},
			Status:     v1alpha1.InstanceStatus{Community: "c1", GeneratedSecrets: []string{"srv-secrets", "srv-postgres"}},
		}
	}
	var s secretsSeen
	if s.fresh(inst(), now) {
		t.Fatal("fresh before any check")
	}
	s.checked(inst(), []string{"srv-secrets", "srv-postgres"}, now)
	if !s.fresh(inst(), now.Add(time.Minute)) {
		t.Fatal("not fresh a minute after a complete check")
	}
	for name, change := range map[string]func(*v1alpha1.Instance){
		"another spec":                func(i *v1alpha1.Instance) { i.Generation++ },
		"recreated under one name":    func(i *v1alpha1.Instance) { i.UID = "u2" },
		"another community":           func(i *v1alpha1.Instance) { i.Status.Community = "c2" },
		"a status missing one Secret": func(i *v1alpha1.Instance) { i.Status.GeneratedSecrets = i.Status.GeneratedSecrets[:1] },
	} {
		i := inst()
		change(i)
		if s.fresh(i, now.Add(time.Minute)) {
			t.Errorf("%s: still fresh", name)
		}
	}
	if s.fresh(inst(), now.Add(secretsCheckInterval)) {
		t.Error("fresh after secretsCheckInterval")
	}
	if s.fresh(inst(), now.Add(-time.Second)) {
		t.Error("fresh at a time before the check (clock stepped back)")
	}
	s.forget(types.NamespacedName{Namespace: "c1", Name: "srv"})
	if s.fresh(inst(), now.Add(time.Minute)) {
		t.Error("fresh after forget")
	}
}
