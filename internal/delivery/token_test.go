package delivery_test

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// An external Instance's token Secret, read by the reconciler's check of
// the Secrets its spec names, is handed to the pass (delivery.Given) and
// not read a second time; what is handed over is held to the same rules
// as what the pass reads itself, and a Secret that is not the one the
// spec names is refused before the server is contacted.
func TestGivenTokenSecretIsReadOnce(t *testing.T) {
	tokenSecret := func(name, token string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"token": []byte(token)}}
	}
	pass := func(w *world) (reason, message string) {
		t.Helper()
		w.put(w.policy(1))
		w.registry.Put(w.result(1, "a.example"))
		out, err := w.sync()
		if err != nil || out.Condition == nil {
			t.Fatalf("pass: %v, %+v", err, out.Condition)
		}
		return out.Condition.Reason, out.Condition.Message
	}

	t.Run("not given: read once", func(t *testing.T) {
		w := externalWorld(t)
		if r, m := pass(w); r != v1alpha1.ReasonSynced {
			t.Fatalf("%s: %s", r, m)
		}
		if n := w.secretGets["social-token"]; n != 1 {
			t.Errorf("the token Secret was read %d times, want 1", n)
		}
	})

	t.Run("given: not read again", func(t *testing.T) {
		w := externalWorld(t)
		w.given.TokenSecret = tokenSecret("social-token", fakeserver.DefaultToken)
		if r, m := pass(w); r != v1alpha1.ReasonSynced {
			t.Fatalf("%s: %s", r, m)
		}
		if n := w.secretGets["social-token"]; n != 0 {
			t.Errorf("the token Secret given was read %d more times", n)
		}
		if got := w.managed(); len(got) != 1 || got[0] != "a.example" {
			t.Errorf("the server holds %v, want [a.example]", got)
		}
	})

	t.Run("given: the token it holds is used, not the API's", func(t *testing.T) {
		// What the reconciler read is this pass's truth; the API's copy
		// (the same Secret a moment later) is not consulted.
		w := externalWorld(t)
		w.given.TokenSecret = tokenSecret("social-token", "revoked")
		r, m := pass(w)
		if r != v1alpha1.ReasonSyncFailed || !strings.Contains(m, "403") {
			t.Fatalf("%s: %s; want SyncFailed with the server's 403 for the token given", r, m)
		}
	})

	t.Run("given: a blank token is refused as if read", func(t *testing.T) {
		w := externalWorld(t)
		w.given.TokenSecret = tokenSecret("social-token", "  \n")
		r, m := pass(w)
		if r != v1alpha1.ReasonSyncFailed || !strings.Contains(m, `admin token Secret social-token has no key "token"`) {
			t.Fatalf("%s: %s", r, m)
		}
		if n := w.proxy.total(); n != 0 {
			t.Errorf("the server was contacted %d times", n)
		}
	})

	t.Run("given: another Secret is refused", func(t *testing.T) {
		w := externalWorld(t)
		w.given.TokenSecret = tokenSecret("other-token", fakeserver.DefaultToken)
		r, m := pass(w)
		if r != v1alpha1.ReasonSyncFailed || !strings.Contains(m, "not spec.external.tokenSecretRef") {
			t.Fatalf("%s: %s", r, m)
		}
		if n := w.proxy.total(); n != 0 {
			t.Errorf("the server was contacted %d times", n)
		}
		if got := w.managed(); len(got) != 0 {
			t.Errorf("the server holds %v", got)
		}
	})
}
