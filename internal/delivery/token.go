package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/resources"
)

// errWaitingForAdmin: a hosted server's admin token is only good once the
// admin Job has created the account (and, for Mastodon, inserted the
// token); before that every call would be refused.
var errWaitingForAdmin = errors.New("waiting for the admin account: the admin bootstrap Job has not completed yet (AdminReady is not True)")

// token returns the admin API token: the sysadmin's Secret for an external
// server, the generated admin Secret for a hosted one whose profile mints a
// token, or one obtained by signing in with the generated admin password.
func (s *Syncer) token(ctx context.Context, p *pass, apiURL string) (string, error) {
	inst, profile := p.inst, p.profile
	if ext := inst.Spec.External; ext != nil {
		key := ext.TokenSecretRef.Key
		if key == "" {
			key = "token"
		}
		if sec := p.given.TokenSecret; sec != nil {
			if sec.Namespace != inst.Namespace || sec.Name != ext.TokenSecretRef.Name {
				// A caller's mistake, never the sysadmin's: using another
				// Secret's token would be worse than not syncing.
				return "", fmt.Errorf("the token Secret given is %s/%s, not spec.external.tokenSecretRef %s/%s",
					sec.Namespace, sec.Name, inst.Namespace, ext.TokenSecretRef.Name)
			}
			return tokenIn(sec, key)
		}
		return secretValue(ctx, s.APIReader, inst.Namespace, ext.TokenSecretRef.Name, key)
	}
	if profile.Admin == nil || inst.Spec.Admin == nil {
		return "", fmt.Errorf("no admin token: set spec.admin so the operator bootstraps an admin account it can push moderation with")
	}
	if !conditions.IsTrue(inst.Status.Conditions, v1alpha1.ConditionAdminReady) {
		return "", errWaitingForAdmin
	}
	if profile.Admin.TokenKey != "" {
		return secretValue(ctx, s.Client, inst.Namespace, resources.AdminSecretName(inst), profile.Admin.TokenKey)
	}
	return s.storedToken(ctx, p, apiURL)
}

// signsIn tells whether the Instance's token is one the operator obtains
// by signing in (and can obtain again): the profile mints none and keeps
// the admin's password.
func signsIn(p *pass) bool {
	return p.inst.Spec.External == nil && p.inst.Spec.Admin != nil && p.profile.Admin != nil &&
		p.profile.Admin.TokenKey == "" && p.profile.Admin.PasswordKey != ""
}

// storedToken returns the token in the <inst>-admin-token Secret or, the
// first time, one obtained by signing in, then stored there. It is
// obtained once and reused: each sign-in registers an application on the
// server, which a human admin sees in the settings panel.
func (s *Syncer) storedToken(ctx context.Context, p *pass, apiURL string) (string, error) {
	key := client.ObjectKey{Namespace: p.inst.Namespace, Name: resources.AdminTokenSecretName(p.inst)}
	sec := &corev1.Secret{}
	err := s.Client.Get(ctx, key, sec)
	if apierrors.IsNotFound(err) {
		// A caching client may not have seen a Secret created moments
		// ago: ask the API server before signing in again. (The manager's
		// client reads Secrets uncached, manager.ClientOptions; this keeps
		// any other client right. Rare: only when missing.)
		err = s.APIReader.Get(ctx, key, sec)
	}
	switch {
	case err == nil:
		if tok := strings.TrimSpace(string(sec.Data[resources.AdminTokenKey])); tok != "" {
			return tok, nil
		}
		// An emptied Secret: fill it in again.
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("read admin token Secret %s: %w", key.Name, err)
	}
	token, err := s.signIn(ctx, p, apiURL)
	if err != nil {
		return "", err
	}
	stored, err := s.Tokens.Swap(ctx, p.inst, "", token)
	if err != nil {
		return "", err
	}
	if stored == token {
		p.event(corev1.EventTypeNormal, "AdminTokenObtained", "SignIn",
			"Signed in as %s and stored the admin API token in Secret %s", p.inst.Spec.Admin.Email, key.Name)
	}
	// Otherwise another pass stored one first: that one is the token of
	// record.
	return stored, nil
}

// renewToken replaces a token the server refused. Replacing it is safe,
// unlike replacing a generated key: the server is the authority on its
// tokens, holds no data encrypted with them, and hands a fresh one to its
// admin at any time; the refused one is worthless already. Only the
// refused token is replaced: if the Secret holds another one by now
// (another pass renewed it), that one is returned, to be tried first.
func (s *Syncer) renewToken(ctx context.Context, p *pass, apiURL, refused string) (string, error) {
	key := client.ObjectKey{Namespace: p.inst.Namespace, Name: resources.AdminTokenSecretName(p.inst)}
	sec := &corev1.Secret{}
	switch err := s.APIReader.Get(ctx, key, sec); {
	case err == nil:
		if current := strings.TrimSpace(string(sec.Data[resources.AdminTokenKey])); current != "" && current != refused {
			return current, nil
		}
	case !apierrors.IsNotFound(err):
		return "", fmt.Errorf("read admin token Secret %s: %w", key.Name, err)
	}
	token, err := s.signIn(ctx, p, apiURL)
	if err != nil {
		return "", err
	}
	stored, err := s.Tokens.Swap(ctx, p.inst, refused, token)
	if err != nil {
		return "", err
	}
	if stored == token {
		p.event(corev1.EventTypeWarning, "AdminTokenRenewed", "SignIn",
			"The server refused the stored admin API token (revoked?); signed in as %s again and replaced it in Secret %s", p.inst.Spec.Admin.Email, key.Name)
	}
	return stored, nil
}

// signIn obtains a token as the Instance's admin with the generated
// password, through the driver family's Authenticator.
func (s *Syncer) signIn(ctx context.Context, p *pass, apiURL string) (string, error) {
	hc, err := s.httpClient(s.trustedFor(p, apiURL))
	if err != nil {
		return "", err
	}
	auth, err := drivers.NewAuthenticator(p.profile.ModerationDriver, drivers.Config{BaseURL: apiURL, HTTPClient: asIngress(hc, apiURL, p.host)})
	if err != nil {
		return "", err
	}
	password, err := secretValue(ctx, s.Client, p.inst.Namespace, resources.AdminSecretName(p.inst), p.profile.Admin.PasswordKey)
	if err != nil {
		return "", err
	}
	token, err := auth.ObtainToken(ctx, p.inst.Spec.Admin.Email, password)
	if err != nil {
		return "", fmt.Errorf("obtain an admin token as %s: %w", p.inst.Spec.Admin.Email, err)
	}
	return token, nil
}

func secretValue(ctx context.Context, r client.Reader, namespace, name, key string) (string, error) {
	sec := &corev1.Secret{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, sec); err != nil {
		return "", fmt.Errorf("read admin token Secret %s: %w", name, err)
	}
	return tokenIn(sec, key)
}

// tokenIn returns the value of key in sec, which must not be blank.
func tokenIn(sec *corev1.Secret, key string) (string, error) {
	v := strings.TrimSpace(string(sec.Data[key]))
	if v == "" {
		return "", fmt.Errorf("admin token Secret %s has no key %q", sec.Name, key)
	}
	return v, nil
}
