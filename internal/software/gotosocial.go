package software

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// GoToSocial facts, checked against GoToSocial's docs (configuration/*,
// advanced/healthchecks, admin/signups), its example docker-compose.yaml
// and Dockerfile, for 0.19.x and 0.20.x.
const (
	gtsPort        = 8080
	gtsStoragePath = "/gotosocial/storage"
	gtsBinary      = "/gotosocial/gotosocial"
	gtsSQLiteFile  = "sqlite.db"
)

// GoToSocial is the GoToSocial profile: one Go process, SQLite by default.
var GoToSocial = &Profile{
	Software:         v1alpha1.SoftwareGoToSocial,
	ModerationDriver: "gotosocial",
	Series: []Series{
		{Major: 0, Minor: 19, Notes: "image superseriousbusiness/gotosocial:<version> (Docker Hub), runs as 1000:1000; config by GTS_* env; /livez and /readyz; sign-ups always need approval (since 0.16)"},
		{Major: 0, Minor: 20, Notes: "as 0.19.x"},
	},
	Images:    map[string]string{"": "docker.io/superseriousbusiness/gotosocial"},
	TagPrefix: "",
	// The upstream compose file runs the image as 1000:1000.
	UID: 1000, GID: 1000,
	// GoToSocial writes only under its storage path (sqlite file and local
	// media); /tmp is given for media processing scratch files.
	ReadOnlyRootFilesystem: true,
	ScratchDirs:            []string{"/tmp"},
	DataMountPath:          gtsStoragePath,
	// media-image-max-size and media-video-max-size default to 40MiB.
	MaxRequestBody: "40m",
	Database: DatabaseNeeds{
		DefaultEngine: v1alpha1.DatabaseSQLite,
		SQLite:        true,
		SQLiteFile:    gtsSQLiteFile,
		Name:          "gotosocial",
		User:          "gotosocial",
	},
	NeedsRedis: false,
	// Nothing to generate: GoToSocial creates its own keys in its database.
	Secrets: nil,
	// GoToSocial migrates its database itself when it starts: no Jobs.
	InstallSteps: []Step{{Name: "rollout", Phase: "Rollout", Kind: StepRollout}},
	UpgradeSteps: []Step{{Name: "rollout", Phase: "Rollout", Kind: StepRollout}},
	Maintenance:  nil, // media cleanup is scheduled by GoToSocial itself (media-cleanup-from/every)
	Admin: &AdminBootstrap{
		Component: "web",
		// The operator signs in with this password to obtain a token through
		// GoToSocial's OAuth flow; GoToSocial has no CLI for tokens.
		Secrets:  []SecretGenerator{AlphanumericSecret("password", 32)},
		Commands: gtsAdminCommands,
		// "Promoting a user requires a server restart" (GoToSocial docs,
		// admin/cli): the account cache holds the old role.
		RestartAfter: true,
		PasswordKey:  "password",
		// The admin CLI opens the database itself: with sqlite, the file
		// on the data volume.
		MountsData: true,
	},
	// Registrations are configuration (GTS_ACCOUNTS_REGISTRATION_OPEN).
	RegistrationsCommand: nil,
	components:           gtsComponents,
	env:                  gtsEnv,
}

func init() { register(GoToSocial) }

func gtsComponents(Version) []Component {
	return []Component{{
		Name:    "web",
		Command: []string{gtsBinary},
		Args:    []string{"server", "start"},
		Port:    &Port{Name: "http", Port: gtsPort},
		Probes: Probes{
			// Migrations run before the HTTP server listens and "might take
			// longer than 10 minutes on slow hardware" (healthchecks doc):
			// allow 30 minutes before the kubelet gives up.
			Startup:   &corev1.Probe{ProbeHandler: httpGet("/livez", "http"), PeriodSeconds: 10, FailureThreshold: 180, TimeoutSeconds: 5},
			Readiness: &corev1.Probe{ProbeHandler: httpGet("/readyz", "http"), PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 5},
			// /livez is always 200 once serving; /readyz would restart the
			// pod on a database hiccup, which a restart does not fix.
			Liveness: &corev1.Probe{ProbeHandler: httpGet("/livez", "http"), PeriodSeconds: 20, FailureThreshold: 6, TimeoutSeconds: 5},
		},
		// One process owns the sqlite file, the local media and in-process
		// caches: never two at once, not even during a rollout.
		Scalable:   false,
		Strategy:   appsv1.RecreateDeploymentStrategyType,
		MountsData: true,
		Routes:     []string{"/"},
		AdminAPI:   true,
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")},
		},
	}}
}

func gtsEnv(in EnvInput) []corev1.EnvVar {
	spec := in.Instance.Spec
	e := []corev1.EnvVar{
		env("GTS_HOST", string(spec.Domain)),
	}
	if spec.AccountDomain != "" {
		e = append(e, env("GTS_ACCOUNT_DOMAIN", string(spec.AccountDomain)))
	}
	e = append(e,
		env("GTS_PROTOCOL", "https"),
		env("GTS_BIND_ADDRESS", "0.0.0.0"),
		env("GTS_PORT", strconv.Itoa(gtsPort)),
		env("GTS_TRUSTED_PROXIES", strings.Join(trustedProxies, ",")),
		// TLS ends at the ingress.
		env("GTS_LETSENCRYPT_ENABLED", "false"),
	)

	db := in.Database
	if db.Engine == v1alpha1.DatabaseSQLite {
		e = append(e,
			env("GTS_DB_TYPE", "sqlite"),
			env("GTS_DB_ADDRESS", gtsStoragePath+"/"+gtsSQLiteFile),
		)
	} else {
		e = append(e,
			env("GTS_DB_TYPE", "postgres"),
			env("GTS_DB_ADDRESS", db.Host),
			env("GTS_DB_PORT", strconv.Itoa(int(db.Port))),
			env("GTS_DB_USER", db.User),
			selectorEnv("GTS_DB_PASSWORD", db.Password),
			env("GTS_DB_DATABASE", db.Name),
		)
		if mode := gtsTLSMode(db.SSLMode); mode != "" {
			e = append(e, env("GTS_DB_TLS_MODE", mode))
		}
	}

	if s := spec.Storage; s != nil && s.S3 != nil {
		e = append(e,
			env("GTS_STORAGE_BACKEND", "s3"),
			env("GTS_STORAGE_S3_ENDPOINT", s.S3.Endpoint),
			env("GTS_STORAGE_S3_BUCKET", s.S3.Bucket),
			secretEnv("GTS_STORAGE_S3_ACCESS_KEY", s.S3.CredentialsSecretRef.Name, s3AccessKeyID),
			secretEnv("GTS_STORAGE_S3_SECRET_KEY", s.S3.CredentialsSecretRef.Name, s3SecretAccessKey),
			env("GTS_STORAGE_S3_USE_SSL", "true"),
		)
	} else {
		e = append(e,
			env("GTS_STORAGE_BACKEND", "local"),
			env("GTS_STORAGE_LOCAL_BASE_PATH", gtsStoragePath),
		)
	}

	// Since 0.16 every sign-up needs a moderator's approval: "open" and
	// "approval" both open the sign-up form, "closed" closes it. Observed
	// on the real 0.20.0-rc1 binary: GTS_ACCOUNTS_REGISTRATION_OPEN=false
	// gives /api/v2/instance registrations {"enabled":false,
	// "approval_required":true}, =true gives {"enabled":true,
	// "approval_required":true}.
	open := registrationsOrDefault(spec.Registrations) != v1alpha1.RegistrationsClosed
	e = append(e,
		env("GTS_ACCOUNTS_REGISTRATION_OPEN", strconv.FormatBool(open)),
		env("GTS_INSTANCE_FEDERATION_MODE", string(federationMode(in.Instance))),
	)

	if m := spec.SMTP; m != nil {
		e = append(e,
			env("GTS_SMTP_HOST", m.Host),
			env("GTS_SMTP_PORT", strconv.Itoa(int(portOr(m.Port, 587)))),
			env("GTS_SMTP_FROM", m.From),
		)
		if m.CredentialsSecretRef != nil {
			e = append(e,
				secretEnv("GTS_SMTP_USERNAME", m.CredentialsSecretRef.Name, smtpUsernameKey),
				secretEnv("GTS_SMTP_PASSWORD", m.CredentialsSecretRef.Name, smtpPasswordKey),
			)
		}
	}
	return e
}

// gtsTLSMode maps libpq sslmode to GoToSocial's db-tls-mode: "enable" is
// TLS without verification, "require" verifies the certificate.
func gtsTLSMode(sslmode string) string {
	switch sslmode {
	case "disable":
		return "disable"
	case "require":
		return "enable"
	case "verify-ca", "verify-full":
		return "require"
	}
	return ""
}

// gtsAdminScript creates, confirms and promotes the admin account, and
// refuses to promote an account somebody else made (issue 14 defect 2:
// whoever first signed up under the admin's username became admin).
//
// Observed on the real binary (GoToSocial 0.20.0-rc1, the build in
// /work/shared/tools/gotosocial), not assumed:
//   - `admin account create` refuses a username in use ("username admin is
//     already in use", exit 1), so it is tried first and an existing account
//     is the failure path;
//   - `admin account list` prints username, id and flags but no email;
//   - `admin export --path F` writes one JSON object per line: accounts
//     with "id" and "username", users with "accountID" and "email". It is
//     the only CLI that shows a user's email, so the script joins the two.
//
// An existing account whose email is not spec.admin.email ends the Job
// with AdminMismatchExitCode (the Job's pod failure policy fails it at
// once and the operator reports AdminAccountMismatch). One with the right
// email gets the operator's generated password: the operator signs in
// with it, and whoever set the old one loses access.
const gtsAdminScript = `set -eu
gts=` + gtsBinary + `
if "$gts" admin account create --username "$ADMIN_USERNAME" --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD"; then
  echo "fedcommons: created account $ADMIN_USERNAME"
else
  export_file=$(mktemp)
  trap 'rm -f "$export_file"' EXIT
  "$gts" admin export --path "$export_file"
  ids=$(grep '"type":"account"' "$export_file" | grep -F "\"username\":\"$ADMIN_USERNAME\"" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
  email=""
  for id in $ids; do
    found=$(grep '"type":"user"' "$export_file" | grep -F "\"accountID\":\"$id\"" | sed -n 's/.*"email":"\([^"]*\)".*/\1/p')
    if [ -n "$found" ]; then email=$found; fi
  done
  if [ -z "$email" ]; then
    echo "fedcommons: could not create account $ADMIN_USERNAME, and no local user of that name exists; see the errors above" >&2
    exit 1
  fi
  if [ "$(printf '%s' "$email" | tr 'A-Z' 'a-z')" != "$(printf '%s' "$ADMIN_EMAIL" | tr 'A-Z' 'a-z')" ]; then
    echo "fedcommons: AdminAccountMismatch: account $ADMIN_USERNAME already exists with an email other than spec.admin.email; refusing to make it admin" >&2
    exit ` + AdminMismatchExitCodeText + `
  fi
  echo "fedcommons: account $ADMIN_USERNAME exists with spec.admin.email; setting the operator's password"
  "$gts" admin account password --username "$ADMIN_USERNAME" --password "$ADMIN_PASSWORD"
fi
"$gts" admin account confirm --username "$ADMIN_USERNAME"
"$gts" admin account promote --username "$ADMIN_USERNAME"
`

func gtsAdminCommands(in AdminInput) []Command {
	return []Command{{
		Name:    "account",
		Command: []string{"/bin/sh", "-c", gtsAdminScript},
		Env: []corev1.EnvVar{
			env("ADMIN_USERNAME", in.Username),
			env("ADMIN_EMAIL", in.Email),
			secretEnv("ADMIN_PASSWORD", in.SecretName, "password"),
		},
	}}
}

func portOr(p, def int32) int32 {
	if p == 0 {
		return def
	}
	return p
}
