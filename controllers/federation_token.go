package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/resources"
	"github.com/fedcommons/fedcommons/internal/software"
)

// ReasonWaitingForAdmin is the FederationSynced reason of a hosted server
// whose admin account does not exist yet.
const ReasonWaitingForAdmin = "WaitingForAdmin"

// errWaitingForAdmin: a hosted server's admin token is only good once the
// admin Job has created the account (and, for Mastodon, inserted the
// token); before that every call would be refused.
var errWaitingForAdmin = errors.New("waiting for the admin account: the admin bootstrap Job has not completed yet (AdminReady is not True)")

// hostedAdminReady tells whether the admin account a hosted Instance's
// token belongs to exists.
func hostedAdminReady(inst *v1alpha1.Instance) bool {
	return conditions.IsTrue(inst.Status.Conditions, v1alpha1.ConditionAdminReady)
}

// usesOAuthToken tells whether the Instance's token is one the operator
// obtained by signing in (and can obtain again).
func usesOAuthToken(inst *v1alpha1.Instance, profile *software.Profile) bool {
	return inst.Spec.External == nil && inst.Spec.Admin != nil && profile.Admin != nil &&
		profile.Admin.TokenKey == "" && profile.Admin.PasswordKey != ""
}

// connect builds the driver for the Instance's current token, probes the
// server and lists its entries. A token the operator obtained by OAuth that
// the server refuses (401: revoked in the settings panel, or the server's
// database restored without it) is replaced once and the calls retried;
// any other token is the sysadmin's or generated, and a 401 on it is
// reported as it is.
func (s *FederationSync) connect(ctx, sctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, apiURL string) (drivers.Driver, drivers.Capabilities, []moderation.ServerEntry, error) {
	token, err := s.token(ctx, inst, profile, apiURL)
	if err != nil {
		return nil, drivers.Capabilities{}, nil, err
	}
	for attempt := 0; ; attempt++ {
		drv, err := s.driver(profile.ModerationDriver, apiURL, token)
		if err != nil {
			return nil, drivers.Capabilities{}, nil, err
		}
		caps, err := drv.Probe(sctx)
		var current []moderation.ServerEntry
		if err == nil {
			current, err = drv.List(sctx)
		}
		if err == nil {
			return drv, caps, current, nil
		}
		var apiErr *drivers.APIError
		if attempt > 0 || !usesOAuthToken(inst, profile) || !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
			return nil, drivers.Capabilities{}, nil, err
		}
		renewed, rerr := s.renewOAuthToken(sctx, inst, profile, apiURL, token)
		if rerr != nil {
			return nil, drivers.Capabilities{}, nil, fmt.Errorf("the server refused the stored admin token (%v); obtaining a new one failed: %w", apiErr, rerr)
		}
		s.forgetDriver(profile.ModerationDriver, apiURL, token)
		// The new token is used as returned: the cache may not show the
		// Secret's new value for a moment.
		token = renewed
	}
}

// oauthToken returns the admin token of a hosted server without a token
// the operator can mint (GoToSocial): the one in the <inst>-admin-token
// Secret, or, the first time, one obtained by signing in as the admin with
// the generated password, then stored there. It is obtained once and
// reused: each sign-in registers an application on the server, which a
// human admin sees in the settings panel.
func (s *FederationSync) oauthToken(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, apiURL string) (string, error) {
	key := client.ObjectKey{Namespace: inst.Namespace, Name: resources.AdminTokenSecretName(inst)}
	sec := &corev1.Secret{}
	err := s.Client.Get(ctx, key, sec)
	if apierrors.IsNotFound(err) {
		// The cache may not have seen a Secret created moments ago: ask the
		// API server before signing in again. (Rare: only when missing.)
		err = s.APIReader.Get(ctx, key, sec)
	}
	switch {
	case err == nil:
		if tok := strings.TrimSpace(string(sec.Data[resources.AdminTokenKey])); tok != "" {
			return tok, nil
		}
		// An emptied Secret: fill it in again below.
	case apierrors.IsNotFound(err):
		sec = nil
	default:
		return "", fmt.Errorf("read admin token Secret %s: %w", key.Name, err)
	}

	token, err := s.obtainOAuthToken(ctx, inst, profile, apiURL)
	if err != nil {
		return "", err
	}
	if sec != nil {
		return token, s.storeToken(ctx, inst, sec, token)
	}
	want := resources.AdminTokenSecret(inst, resources.Params{Community: inst.Status.Community}, token)
	if err := s.Client.Create(ctx, want); err != nil {
		if !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("create admin token Secret %s: %w", key.Name, err)
		}
		// Another pass stored one first: keep that one, so there is a
		// single token of record.
		existing := &corev1.Secret{}
		if err := s.APIReader.Get(ctx, key, existing); err != nil {
			return "", fmt.Errorf("read admin token Secret %s: %w", key.Name, err)
		}
		if tok := strings.TrimSpace(string(existing.Data[resources.AdminTokenKey])); tok != "" {
			return tok, nil
		}
		return token, s.storeToken(ctx, inst, existing, token)
	}
	s.Recorder.Eventf(inst, nil, corev1.EventTypeNormal, "AdminTokenObtained", "SignIn",
		"Signed in as %s and stored the admin API token in Secret %s", inst.Spec.Admin.Email, key.Name)
	return token, nil
}

// renewOAuthToken replaces a token the server refused. Replacing it is
// safe, unlike replacing a generated key: the server is the authority on
// its tokens, holds no data encrypted with them, and hands a fresh one to
// its admin at any time; the refused one is worthless already. Only the
// refused token is replaced: if the Secret holds another one by now
// (another pass renewed it), that one is returned, to be tried first.
func (s *FederationSync) renewOAuthToken(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, apiURL, refused string) (string, error) {
	key := client.ObjectKey{Namespace: inst.Namespace, Name: resources.AdminTokenSecretName(inst)}
	sec := &corev1.Secret{}
	if err := s.APIReader.Get(ctx, key, sec); err != nil {
		if apierrors.IsNotFound(err) {
			// Deleted meanwhile: start over as the first time.
			return s.oauthToken(ctx, inst, profile, apiURL)
		}
		return "", fmt.Errorf("read admin token Secret %s: %w", key.Name, err)
	}
	if current := strings.TrimSpace(string(sec.Data[resources.AdminTokenKey])); current != "" && current != refused {
		return current, nil
	}
	token, err := s.obtainOAuthToken(ctx, inst, profile, apiURL)
	if err != nil {
		return "", err
	}
	if err := s.storeToken(ctx, inst, sec, token); err != nil {
		return "", err
	}
	s.Recorder.Eventf(inst, nil, corev1.EventTypeWarning, "AdminTokenRenewed", "SignIn",
		"The server refused the stored admin API token (revoked?); signed in as %s again and replaced it in Secret %s", inst.Spec.Admin.Email, key.Name)
	return token, nil
}

// storeToken writes a token into the existing Secret, with an optimistic
// lock: two passes must not each store a different token.
func (s *FederationSync) storeToken(ctx context.Context, inst *v1alpha1.Instance, sec *corev1.Secret, token string) error {
	base := sec.DeepCopy()
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	sec.Data[resources.AdminTokenKey] = []byte(token)
	if err := s.Client.Patch(ctx, sec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("store the admin token in Secret %s: %w", sec.Name, err)
	}
	return nil
}

// obtainOAuthToken signs in as the Instance's admin with the generated
// password.
func (s *FederationSync) obtainOAuthToken(ctx context.Context, inst *v1alpha1.Instance, profile *software.Profile, apiURL string) (string, error) {
	if profile.ModerationDriver != "gotosocial" {
		return "", fmt.Errorf("%s: obtaining an admin token by OAuth is only implemented for GoToSocial", profile.ModerationDriver)
	}
	password, err := s.secretValue(ctx, s.Client, inst.Namespace, resources.AdminSecretName(inst), profile.Admin.PasswordKey)
	if err != nil {
		return "", err
	}
	token, err := drivers.ObtainGoToSocialToken(ctx, drivers.Config{BaseURL: apiURL, HTTPClient: s.HTTPClient}, inst.Spec.Admin.Email, password)
	if err != nil {
		return "", fmt.Errorf("obtain an admin token as %s: %w", inst.Spec.Admin.Email, err)
	}
	return token, nil
}

// forgetDriver drops the cached driver of a token no longer in use.
func (s *FederationSync) forgetDriver(name, apiURL, token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.drivers, driverKey(name, apiURL, token))
}
