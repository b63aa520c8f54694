package software

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

func envMap(vars []corev1.EnvVar) map[string]corev1.EnvVar {
	m := map[string]corev1.EnvVar{}
	for _, v := range vars {
		m[v.Name] = v
	}
	return m
}

func value(t *testing.T, m map[string]corev1.EnvVar, name string) string {
	t.Helper()
	v, ok := m[name]
	if !ok {
		t.Errorf("%s missing", name)
		return ""
	}
	if v.ValueFrom != nil {
		t.Errorf("%s comes from a Secret, want a value", name)
	}
	return v.Value
}

func secretRef(t *testing.T, m map[string]corev1.EnvVar, name string) string {
	t.Helper()
	v, ok := m[name]
	if !ok {
		t.Errorf("%s missing", name)
		return ""
	}
	if v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s = %+v, want a secretKeyRef and no inline value", name, v)
		return ""
	}
	return v.ValueFrom.SecretKeyRef.Name + "/" + v.ValueFrom.SecretKeyRef.Key
}

func dbPassword() *corev1.SecretKeySelector {
	return &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "social-postgres"}, Key: "password"}
}

func TestGoToSocialEnvSQLite(t *testing.T) {
	inst := &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Name: "social"}, Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: "social.riverside.example", AccountDomain: "riverside.example",
		Registrations: v1alpha1.RegistrationsClosed,
		Federation:    &v1alpha1.InstanceFederation{Mode: v1alpha1.FederationAllowlist},
	}}
	m := envMap(GoToSocial.Env(EnvInput{Instance: inst, Version: mustVersion(t, "0.20.1"), Database: DatabaseConn{Engine: v1alpha1.DatabaseSQLite}}))
	want := map[string]string{
		"GTS_HOST":                       "social.riverside.example",
		"GTS_ACCOUNT_DOMAIN":             "riverside.example",
		"GTS_PROTOCOL":                   "https",
		"GTS_PORT":                       "8080",
		"GTS_LETSENCRYPT_ENABLED":        "false",
		"GTS_DB_TYPE":                    "sqlite",
		"GTS_DB_ADDRESS":                 "/gotosocial/storage/sqlite.db",
		"GTS_STORAGE_BACKEND":            "local",
		"GTS_STORAGE_LOCAL_BASE_PATH":    "/gotosocial/storage",
		"GTS_ACCOUNTS_REGISTRATION_OPEN": "false",
		"GTS_INSTANCE_FEDERATION_MODE":   "allowlist",
	}
	for k, w := range want {
		if got := value(t, m, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	if !strings.Contains(value(t, m, "GTS_TRUSTED_PROXIES"), "10.0.0.0/8") {
		t.Error("trusted proxies should cover the pod network")
	}
}

func TestGoToSocialEnvPostgresS3SMTP(t *testing.T) {
	inst := &v1alpha1.Instance{Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareGoToSocial, Domain: "gts.example.org",
		Storage: &v1alpha1.StorageSpec{S3: &v1alpha1.S3Storage{Endpoint: "s3.example.org", Bucket: "media", CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "s3"}}},
		SMTP:    &v1alpha1.SMTPSpec{Host: "smtp.example.org", From: "social@example.org", CredentialsSecretRef: &v1alpha1.LocalSecretReference{Name: "smtp"}},
	}}
	m := envMap(GoToSocial.Env(EnvInput{Instance: inst, Version: mustVersion(t, "0.20.1"), Database: DatabaseConn{
		Engine: v1alpha1.DatabasePostgres, Host: "db.example.org", Port: 5432, Name: "gts", User: "gts", Password: dbPassword(), SSLMode: "verify-full",
	}}))
	for k, w := range map[string]string{
		"GTS_DB_TYPE": "postgres", "GTS_DB_ADDRESS": "db.example.org", "GTS_DB_PORT": "5432", "GTS_DB_DATABASE": "gts", "GTS_DB_USER": "gts",
		"GTS_DB_TLS_MODE": "require", "GTS_STORAGE_BACKEND": "s3", "GTS_STORAGE_S3_ENDPOINT": "s3.example.org", "GTS_STORAGE_S3_BUCKET": "media",
		"GTS_SMTP_HOST": "smtp.example.org", "GTS_SMTP_PORT": "587", "GTS_SMTP_FROM": "social@example.org",
		"GTS_ACCOUNTS_REGISTRATION_OPEN": "true", "GTS_INSTANCE_FEDERATION_MODE": "blocklist",
	} {
		if got := value(t, m, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	for k, w := range map[string]string{
		"GTS_DB_PASSWORD": "social-postgres/password", "GTS_STORAGE_S3_ACCESS_KEY": "s3/accessKeyID", "GTS_STORAGE_S3_SECRET_KEY": "s3/secretAccessKey",
		"GTS_SMTP_USERNAME": "smtp/username", "GTS_SMTP_PASSWORD": "smtp/password",
	} {
		if got := secretRef(t, m, k); got != w {
			t.Errorf("%s from %s, want %s", k, got, w)
		}
	}
	if _, ok := m["GTS_ACCOUNT_DOMAIN"]; ok {
		t.Error("GTS_ACCOUNT_DOMAIN set without accountDomain")
	}
}

func mastodonInstance() *v1alpha1.Instance {
	return &v1alpha1.Instance{Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareMastodon, Version: "4.3.8", Domain: "social.riverside.example", AccountDomain: "riverside.example",
		Federation: &v1alpha1.InstanceFederation{Mode: v1alpha1.FederationAllowlist},
		Storage:    &v1alpha1.StorageSpec{S3: &v1alpha1.S3Storage{Endpoint: "s3.eu.example", Bucket: "toots", Region: "eu-1", CredentialsSecretRef: v1alpha1.LocalSecretReference{Name: "s3"}}},
		SMTP:       &v1alpha1.SMTPSpec{Host: "smtp.example.org", Port: 2525, From: "social@example.org", CredentialsSecretRef: &v1alpha1.LocalSecretReference{Name: "smtp"}},
	}}
}

func mastodonInput(t *testing.T, component string) EnvInput {
	return EnvInput{
		Instance: mastodonInstance(), Version: mustVersion(t, "4.3.8"), Component: component, SecretName: "social-secrets",
		Database: DatabaseConn{Engine: v1alpha1.DatabasePostgres, Host: "social-postgres", Port: 5432, Name: "mastodon", User: "mastodon", Password: dbPassword()},
		Redis:    &RedisConn{Host: "social-redis", Port: 6379, Password: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "social-redis"}, Key: "password"}},
	}
}

func TestMastodonEnv(t *testing.T) {
	m := envMap(Mastodon.Env(mastodonInput(t, "web")))
	for k, w := range map[string]string{
		"LOCAL_DOMAIN": "riverside.example", "WEB_DOMAIN": "social.riverside.example",
		"DB_HOST": "social-postgres", "DB_PORT": "5432", "DB_NAME": "mastodon", "DB_USER": "mastodon",
		"REDIS_HOST": "social-redis", "REDIS_PORT": "6379",
		"S3_ENABLED": "true", "S3_ENDPOINT": "https://s3.eu.example", "S3_HOSTNAME": "s3.eu.example", "S3_BUCKET": "toots", "S3_REGION": "eu-1",
		"SMTP_SERVER": "smtp.example.org", "SMTP_PORT": "2525", "SMTP_FROM_ADDRESS": "social@example.org",
		"LIMITED_FEDERATION_MODE": "true", "STREAMING_API_BASE_URL": "wss://social.riverside.example",
		"RAILS_ENV": "production", "RAILS_LOG_TO_STDOUT": "enabled", "BIND": "0.0.0.0",
	} {
		if got := value(t, m, k); got != w {
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
	if !strings.Contains(value(t, m, "TRUSTED_PROXY_IP"), "10.0.0.0/8") {
		t.Error("TRUSTED_PROXY_IP should cover the pod network")
	}
	for k, w := range map[string]string{
		"DB_PASS": "social-postgres/password", "REDIS_PASSWORD": "social-redis/password",
		"AWS_ACCESS_KEY_ID": "s3/accessKeyID", "AWS_SECRET_ACCESS_KEY": "s3/secretAccessKey",
		"SMTP_LOGIN": "smtp/username", "SMTP_PASSWORD": "smtp/password",
		"SECRET_KEY_BASE": "social-secrets/SECRET_KEY_BASE", "OTP_SECRET": "social-secrets/OTP_SECRET",
		"VAPID_PRIVATE_KEY": "social-secrets/VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY": "social-secrets/VAPID_PUBLIC_KEY",
		"ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY": "social-secrets/ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY",
	} {
		if got := secretRef(t, m, k); got != w {
			t.Errorf("%s from %s, want %s", k, got, w)
		}
	}
}

func TestMastodonEnvDefaults(t *testing.T) {
	in := mastodonInput(t, "web")
	in.Instance.Spec.AccountDomain = ""
	in.Instance.Spec.Federation = nil
	in.Instance.Spec.Storage = nil
	in.Instance.Spec.SMTP = nil
	m := envMap(Mastodon.Env(in))
	if value(t, m, "LOCAL_DOMAIN") != "social.riverside.example" {
		t.Error("LOCAL_DOMAIN should be the domain")
	}
	for _, k := range []string{"WEB_DOMAIN", "LIMITED_FEDERATION_MODE", "S3_ENABLED", "SMTP_SERVER", "DB_SSLMODE"} {
		if _, ok := m[k]; ok {
			t.Errorf("%s set, want unset", k)
		}
	}
}

func TestMastodonStreamingEnvHasNoRailsSecrets(t *testing.T) {
	m := envMap(Mastodon.Env(mastodonInput(t, "streaming")))
	for _, k := range []string{"SECRET_KEY_BASE", "OTP_SECRET", "VAPID_PRIVATE_KEY", "ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY"} {
		if _, ok := m[k]; ok {
			t.Errorf("streaming gets %s", k)
		}
	}
	if secretRef(t, m, "DB_PASS") == "" || secretRef(t, m, "REDIS_PASSWORD") == "" {
		t.Error("streaming needs the database and redis")
	}
}

func TestAdminCommands(t *testing.T) {
	in := AdminInput{Username: "admin", Email: "admin@riverside.example", SecretName: "social-admin"}

	m := Mastodon.Admin.Commands(in)
	if len(m) != 2 || m[0].Name != "account" || m[1].Name != "token" {
		t.Fatalf("mastodon admin commands = %+v", m)
	}
	script := m[0].Command[2]
	for _, s := range []string{"pipefail", "tootctl accounts create \"$ADMIN_USERNAME\" --email \"$ADMIN_EMAIL\" --confirmed --role Owner", "accounts modify", "New password"} {
		if !strings.Contains(script, s) {
			t.Errorf("account script lacks %q", s)
		}
	}
	if got := strings.Join(m[1].Command[:4], " "); got != "bundle exec rails runner" {
		t.Errorf("token command = %s", got)
	}
	ruby := m[1].Command[4]
	for _, s := range []string{"Doorkeeper::Application.find_or_initialize_by", "Doorkeeper::AccessToken.find_by(token: token)", "update_columns(token: token)", "ApplicationRecord.transaction", "abort("} {
		if !strings.Contains(ruby, s) {
			t.Errorf("token script lacks %q", s)
		}
	}
	te := envMap(m[1].Env)
	if secretRef(t, te, "ADMIN_TOKEN") != "social-admin/token" {
		t.Error("ADMIN_TOKEN must come from the admin Secret")
	}
	if !strings.Contains(value(t, te, "ADMIN_TOKEN_SCOPES"), "admin:write") {
		t.Error("the token needs admin scopes")
	}

	g := GoToSocial.Admin.Commands(in)
	if len(g) != 1 {
		t.Fatalf("gotosocial admin commands = %+v", g)
	}
	for _, s := range []string{"admin account create", "admin account confirm", "admin account promote"} {
		if !strings.Contains(g[0].Command[2], s) {
			t.Errorf("gotosocial script lacks %q", s)
		}
	}
	if secretRef(t, envMap(g[0].Env), "ADMIN_PASSWORD") != "social-admin/password" {
		t.Error("ADMIN_PASSWORD must come from the admin Secret")
	}
}
