package backup

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/testenv"
)

// The API server (with the generated CRD) takes age public keys as
// spec.backup.encryption.recipients and refuses anything else, saying what
// a recipient looks like.
func TestEncryptionRecipientsValidated(t *testing.T) {
	cfg := testenv.Start(t, &envtest.Environment{CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")}, ErrorIfCRDPathMissing: true})
	s := scheme.Scheme
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: s})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "riverside"}}); err != nil {
		t.Fatal(err)
	}
	good := "age1" + strings.Repeat("q", 58)
	for i, tc := range []struct {
		recipients []string
		ok         bool
	}{
		{[]string{good}, true},
		{[]string{good, "age1" + strings.Repeat("Q", 58)}, false},
		{[]string{"ssh-ed25519 AAAA"}, false},
	} {
		in := s3Input(gts())
		in.Instance.Name = "social" + itoa(i)
		in.Instance.Spec.Restore = nil
		in.Instance.Spec.Backup.Encryption = &v1alpha1.BackupEncryption{Recipients: tc.recipients}
		err := c.Create(ctx, in.Instance)
		if tc.ok && err != nil {
			t.Errorf("%v refused: %v", tc.recipients, err)
		}
		if !tc.ok && (err == nil || !strings.Contains(err.Error(), "each recipient must be an age public key")) {
			t.Errorf("%v: %v, want a refusal saying what a recipient is", tc.recipients, err)
		}
	}
}
