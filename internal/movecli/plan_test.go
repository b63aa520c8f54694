package movecli

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/bundle"
)

// The order is what lets the operator adopt the moved Secrets: they must
// exist before any Instance does. A sealed bundle still names them.
func TestStepsOrder(t *testing.T) {
	b := &bundle.Bundle{
		Manifest: bundle.Manifest{Community: "r", Namespace: "r",
			Instances: []bundle.InstanceEntry{{Name: "toot", Backup: &bundle.BackupRef{Name: "20261202T030000Z",
				From: &v1alpha1.BackupLocation{Name: "20261202T030000Z", PVC: &v1alpha1.BackupPVC{ClaimName: "b"}}}}},
			Secrets: []bundle.SecretEntry{{Name: "toot-secrets", Instance: "toot"}}},
		Community: &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "r"}},
		Instances: []v1alpha1.Instance{{ObjectMeta: metav1.ObjectMeta{Namespace: "r", Name: "toot"}}},
		Policies:  []v1alpha1.FederationPolicy{{ObjectMeta: metav1.ObjectMeta{Namespace: "r", Name: "p"}}},
		Secrets:   []corev1.Secret{{ObjectMeta: metav1.ObjectMeta{Namespace: "r", Name: "toot-secrets"}, Data: map[string][]byte{"k": nil}}},
	}
	var kinds []string
	for _, s := range steps(b) {
		kinds = append(kinds, s.kind)
	}
	if got := strings.Join(kinds, ","); got != "Community,Secret,Instance,FederationPolicy" {
		t.Errorf("order %s", got)
	}
	if in := steps(b)[2].obj.(*v1alpha1.Instance); in.Spec.Restore == nil || in.Spec.Restore.From.Name != "20261202T030000Z" {
		t.Errorf("the Instance does not restore its latest backup: %+v", in.Spec.Restore)
	}
	b.Secrets = nil
	if s := steps(b)[1]; !s.sealed || s.what != "r/toot-secrets" {
		t.Errorf("sealed bundle: %+v", s)
	}
}

// Identical means what a person declared: a Secret's type and bytes, an
// object's spec; a Secret with other bytes is never taken for the same.
func TestSameAs(t *testing.T) {
	a := &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"k": []byte("v")}}
	b := a.DeepCopy()
	b.UID, b.ResourceVersion = "x", "9"
	if same, _ := sameAs(a, b); !same {
		t.Error("identical Secrets differ")
	}
	b.Data["k"] = []byte("w")
	if same, why := sameAs(a, b); same || !strings.Contains(why, "other values") {
		t.Errorf("different Secrets: %v %q", same, why)
	}
	now := metav1.Now()
	c := a.DeepCopy()
	c.DeletionTimestamp = &now
	if same, why := sameAs(a, c); same || !strings.Contains(why, "being deleted") {
		t.Errorf("a Secret being deleted: %v %q", same, why)
	}
	for n, want := range map[int]string{1: "1 key", 6: "6 keys"} {
		if got := plural(n, "key"); got != want {
			t.Errorf("plural(%d) = %q", n, got)
		}
	}
	if got := plural(2, "FederationPolicy"); got != "2 FederationPolicies" {
		t.Errorf("plural = %q", got)
	}
}
