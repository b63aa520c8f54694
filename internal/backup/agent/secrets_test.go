package agent

import (
	"bytes"
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fedcommons/fedcommons/internal/testenv"
)

func secretsFixture() Secrets {
	return Secrets{
		"social-secrets":  {"SECRET_KEY_BASE": []byte("k\x00\xff" + strings.Repeat("a", 100)), "OTP_SECRET": []byte("otp")},
		"social-postgres": {"password": []byte("p4ss")},
	}
}

// Secrets encrypted to two recipients decrypt with either identity, and
// with no other: the message names the key tried.
func TestSecretsEncryptDecrypt(t *testing.T) {
	id1, r1, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	id2, r2, _ := NewKey()
	other, otherPub, _ := NewKey()
	enc, err := EncryptSecrets(secretsFixture(), []string{r1, r2})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(enc, []byte("p4ss")) {
		t.Fatal("the encrypted secrets hold a password in clear")
	}
	for _, id := range []string{id1, id2} {
		got, err := DecryptSecrets(enc, id, "test")
		if err != nil {
			t.Fatal(err)
		}
		if !sameSecrets(got, secretsFixture()) {
			t.Errorf("decrypted %v, want the fixture", got)
		}
	}
	_, err = DecryptSecrets(enc, other, "Secret old-key")
	if err == nil || !strings.Contains(err.Error(), "were not encrypted to the key in Secret old-key (its public key is "+otherPub+")") {
		t.Errorf("wrong identity: %v", err)
	}
	if _, err := EncryptSecrets(secretsFixture(), []string{"age1notakey"}); err == nil {
		t.Error("a malformed recipient was accepted")
	}
	if _, err := DecryptSecrets(enc, "not an identity", "Secret x"); err == nil || !strings.Contains(err.Error(), "does not hold an age identity") {
		t.Errorf("malformed identity: %v", err)
	}
}

func sameSecrets(a, b Secrets) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok || !sameData(a[k], b[k]) {
			return false
		}
	}
	return true
}

// Against a real API server: the backup's Secrets are created
// byte-identical; one that exists with the same data is left (a retried
// Job); one that exists with other data is refused and left as it was.
func TestCreateSecrets(t *testing.T) {
	cfg := testenv.Start(t, &envtest.Environment{})
	c := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	ns := "riverside"
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	created, err := CreateSecrets(ctx, c, ns, secretsFixture())
	if err != nil || len(created) != 2 {
		t.Fatalf("created %v: %v", created, err)
	}
	for name, data := range secretsFixture() {
		s, err := c.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil || !sameData(s.Data, data) || s.Immutable == nil || !*s.Immutable {
			t.Errorf("Secret %s: %v, data identical %v", name, err, err == nil && sameData(s.Data, data))
		}
	}
	if created, err := CreateSecrets(ctx, c, ns, secretsFixture()); err != nil || len(created) != 0 {
		t.Errorf("second restore: created %v, %v", created, err)
	}
	differ := secretsFixture()
	differ["social-postgres"]["password"] = []byte("other")
	differ["social-redis"] = map[string][]byte{"password": []byte("r")}
	_, err = CreateSecrets(ctx, c, ns, differ)
	if err == nil || !strings.Contains(err.Error(), "Secret social-postgres already exists with other data than the backup's") {
		t.Errorf("differing Secret: %v", err)
	}
	s, _ := c.CoreV1().Secrets(ns).Get(ctx, "social-postgres", metav1.GetOptions{})
	if string(s.Data["password"]) != "p4ss" {
		t.Errorf("the existing Secret was changed to %q", s.Data["password"])
	}
	if _, err := c.CoreV1().Secrets(ns).Get(ctx, "social-redis", metav1.GetOptions{}); err == nil {
		t.Error("a refused restore created some of its Secrets")
	}
}

// A backup naming a Secret that is not one of the Instance's is refused:
// anyone can encrypt to a public key.
func TestCheckSecretNames(t *testing.T) {
	allowed := []string{"social-secrets", "social-postgres", "social-redis"}
	if err := CheckSecretNames(secretsFixture(), allowed); err != nil {
		t.Error(err)
	}
	bad := secretsFixture()
	bad["cert-manager-ca"] = map[string][]byte{"tls.key": []byte("x")}
	if err := CheckSecretNames(bad, allowed); err == nil || !strings.Contains(err.Error(), "Secret cert-manager-ca, which is not one of this Instance's") {
		t.Errorf("foreign Secret: %v", err)
	}
}
