package software

import (
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Mastodon facts, checked against the mastodon/chart templates
// (deployment-web, deployment-streaming, deployment-sidekiq, _db-migrate,
// cronjob-media-remove, configmap-env, secrets, values.yaml) and Mastodon's
// own sources (lib/mastodon/cli/accounts.rb and settings.rb,
// config/initializers/doorkeeper.rb), for 4.3.x to 4.5.x. Hometown and
// glitch-soc are Mastodon with another image (spec.image).
const (
	mastodonWebPort       = 3000
	mastodonStreamingPort = 4000
	mastodonSystemPath    = "/opt/mastodon/public/system"
	// mastodonAdminScopes are the scopes of the operator's token: admin:*
	// for domain blocks and allows, read/write for the rest of the API.
	mastodonAdminScopes = "read write admin:read admin:write"
)

// Mastodon is the Mastodon profile (also Hometown and glitch-soc).
var Mastodon = &Profile{
	Software:         v1alpha1.SoftwareMastodon,
	ModerationDriver: "mastodon",
	Series: []Series{
		{Major: 4, Minor: 3, Notes: "separate ghcr.io/mastodon/mastodon-streaming image from 4.3.0; ACTIVE_RECORD_ENCRYPTION_* keys required from 4.3; OTP_SECRET still required (config/environments/production.rb fetches it)"},
		{Major: 4, Minor: 4, Notes: "OTP_SECRET no longer read; new sidekiq queue fasp"},
		{Major: 4, Minor: 5, Notes: "as 4.4.x; Hometown 1.1.2 is based on 4.5.0"},
	},
	Images: map[string]string{
		"":          "ghcr.io/mastodon/mastodon",
		"streaming": "ghcr.io/mastodon/mastodon-streaming",
	},
	TagPrefix: "v",
	UID:       991, GID: 991,
	// Rails writes only tmp/ (pids, bootsnap cache) once logs go to stdout.
	ReadOnlyRootFilesystem: true,
	ScratchDirs:            []string{"/tmp", "/opt/mastodon/tmp"},
	DataMountPath:          mastodonSystemPath,
	// Mastodon's dist/nginx.conf sets client_max_body_size 80m in the copy
	// checked; 99m covers the 99 MB video upload limit of 4.x.
	MaxRequestBody: "99m",
	Database: DatabaseNeeds{
		DefaultEngine: v1alpha1.DatabasePostgres,
		SQLite:        false,
		Name:          "mastodon",
		User:          "mastodon",
	},
	NeedsRedis: true,
	Secrets:    mastodonSecrets,
	InstallSteps: []Step{
		// db:prepare loads the schema into an empty database (creating it
		// if the user may) and migrates an existing one: safe to retry.
		{Name: "prepare", Phase: "Prepare", Kind: StepJob, Component: "web", Command: rails("db:prepare")},
		{Name: "rollout", Phase: "Rollout", Kind: StepRollout},
	},
	UpgradeSteps: []Step{
		// Pre-deployment migrations keep the old code working; the ones that
		// would break it wait until the new code runs everywhere.
		{Name: "migrate-pre", Phase: "PreMigrate", Kind: StepJob, Component: "web", Command: rails("db:migrate"),
			Env: []corev1.EnvVar{env("SKIP_POST_DEPLOYMENT_MIGRATIONS", "true")}},
		{Name: "rollout", Phase: "Rollout", Kind: StepRollout},
		{Name: "migrate-post", Phase: "PostMigrate", Kind: StepJob, Component: "web", Command: rails("db:migrate")},
	},
	Maintenance: []CronTask{
		// Weekly, staggered, at night UTC. media remove drops cached remote
		// media older than 7 days (its default); preview_cards remove drops
		// link preview images older than 180 days.
		{Name: "media-remove", Schedule: "0 3 * * 0", Component: "web", Command: []string{"bin/tootctl", "media", "remove"}, MountsData: true},
		{Name: "preview-cards-remove", Schedule: "30 3 * * 0", Component: "web", Command: []string{"bin/tootctl", "preview_cards", "remove"}, MountsData: true},
	},
	Admin: &AdminBootstrap{
		Component: "web",
		// A bearer token in the shape Doorkeeper issues; installed into the
		// database by the Job, so the operator never needs a password.
		Secrets:  []SecretGenerator{URLSafeTokenSecret("token", 32)},
		Commands: mastodonAdminCommands,
		TokenKey: "token",
	},
	RegistrationsCommand: mastodonRegistrations,
	components:           mastodonComponents,
	env:                  mastodonEnv,
}

// mastodonSecrets are generated once per Instance. Changing any of them
// later loses data or logs everyone out, so none is ever regenerated.
var mastodonSecrets = []SecretGenerator{
	// `rails secret` prints 128 hex characters.
	HexSecret("SECRET_KEY_BASE", 64),
	// Changing OTP_SECRET breaks every account's 2FA; 4.4 moved OTP
	// secrets to Active Record encryption and stopped reading it.
	withBefore(HexSecret("OTP_SECRET", 64), 4, 4),
	VAPIDKeyPair("VAPID_PRIVATE_KEY", "VAPID_PUBLIC_KEY"),
	// The shape `rails db:encryption:init` prints. Changing them makes
	// encrypted columns unreadable: they are generated once, ever.
	AlphanumericSecret("ACTIVE_RECORD_ENCRYPTION_DETERMINISTIC_KEY", 32),
	AlphanumericSecret("ACTIVE_RECORD_ENCRYPTION_KEY_DERIVATION_SALT", 32),
	AlphanumericSecret("ACTIVE_RECORD_ENCRYPTION_PRIMARY_KEY", 32),
}

func init() { register(Mastodon) }

func withBefore(g SecretGenerator, major, minor int) SecretGenerator {
	g.Before = &[2]int{major, minor}
	return g
}

func rails(task string) []string { return []string{"bundle", "exec", "rails", task} }

// sidekiqQueues are the queues of the general sidekiq component, with the
// weights of the chart's values.yaml. The scheduler queue is left out: it
// runs in the scheduler component, exactly once.
func sidekiqQueues(v Version) []string {
	q := []string{"default,8", "push,6", "ingress,4", "mailers,2", "pull"}
	if v.AtLeast(4, 4) {
		// Added in 4.4 (Fediverse Auxiliary Service Providers).
		q = append(q, "fasp")
	}
	return q
}

func sidekiq(concurrency int, queues []string) []string {
	cmd := []string{"bundle", "exec", "sidekiq", "-c", strconv.Itoa(concurrency)}
	for _, q := range queues {
		cmd = append(cmd, "-q", q)
	}
	return cmd
}

func mastodonComponents(v Version) []Component {
	return []Component{
		{
			Name:    "web",
			Command: []string{"bundle", "exec", "puma", "-C", "config/puma.rb"},
			Env:     []corev1.EnvVar{env("PORT", strconv.Itoa(mastodonWebPort))},
			Port:    &Port{Name: "http", Port: mastodonWebPort},
			Probes: Probes{
				// As the chart: /health for startup and readiness, a TCP check
				// for liveness so a slow database does not restart puma.
				Startup:   &corev1.Probe{ProbeHandler: httpGet("/health", "http"), PeriodSeconds: 5, FailureThreshold: 60, TimeoutSeconds: 5},
				Readiness: &corev1.Probe{ProbeHandler: httpGet("/health", "http"), PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 5},
				Liveness:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intOrName("http")}}, PeriodSeconds: 10, FailureThreshold: 3},
			},
			Scalable:   true,
			Strategy:   appsv1.RollingUpdateDeploymentStrategyType,
			MountsData: true,
			Routes:     []string{"/"},
			AdminAPI:   true,
			Resources:  resources("250m", "768Mi", "1280Mi"),
		},
		{
			Name:    "streaming",
			Image:   "streaming",
			Command: []string{"node", "./streaming"},
			Env:     []corev1.EnvVar{env("PORT", strconv.Itoa(mastodonStreamingPort))},
			Port:    &Port{Name: "streaming", Port: mastodonStreamingPort},
			Probes: Probes{
				Readiness: &corev1.Probe{ProbeHandler: httpGet("/api/v1/streaming/health", "streaming"), PeriodSeconds: 10, FailureThreshold: 3, TimeoutSeconds: 5},
				Liveness:  &corev1.Probe{ProbeHandler: httpGet("/api/v1/streaming/health", "streaming"), PeriodSeconds: 10, FailureThreshold: 6, TimeoutSeconds: 5},
			},
			Scalable:  true,
			Strategy:  appsv1.RollingUpdateDeploymentStrategyType,
			Routes:    []string{"/api/v1/streaming"},
			Resources: resources("100m", "128Mi", "512Mi"),
		},
		{
			Name:       "sidekiq",
			Command:    sidekiq(25, sidekiqQueues(v)),
			Scalable:   true,
			Strategy:   appsv1.RollingUpdateDeploymentStrategyType,
			MountsData: true, // media processing
			Resources:  resources("250m", "512Mi", "1Gi"),
		},
		{
			// Scheduled jobs are enqueued on the scheduler queue; the chart
			// refuses more than one replica processing it ("The scheduler
			// queue should never have more than 1 replicas") and uses
			// Recreate, so two never overlap during a rollout.
			Name:       "scheduler",
			Command:    sidekiq(5, []string{"scheduler"}),
			Scalable:   false,
			Strategy:   appsv1.RecreateDeploymentStrategyType,
			MountsData: true, // vacuum jobs delete media files
			Resources:  resources("50m", "384Mi", "768Mi"),
		},
	}
}

func resources(cpu, memReq, memLimit string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(memReq)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(memLimit)},
	}
}

func mastodonEnv(in EnvInput) []corev1.EnvVar {
	spec := in.Instance.Spec
	local, web := string(spec.Domain), ""
	if spec.AccountDomain != "" {
		local, web = string(spec.AccountDomain), string(spec.Domain)
	}
	e := []corev1.EnvVar{env("LOCAL_DOMAIN", local)}
	if web != "" {
		e = append(e, env("WEB_DOMAIN", web))
	}
	e = append(e,
		env("RAILS_ENV", "production"),
		env("NODE_ENV", "production"),
		// No nginx in front of puma: it serves the precompiled assets.
		env("RAILS_SERVE_STATIC_FILES", "true"),
		// The root filesystem is read-only: log to stdout, not log/.
		env("RAILS_LOG_TO_STDOUT", "enabled"),
		// Listen on the pod address, not loopback.
		env("BIND", "0.0.0.0"),
		// From the chart: glibc arenas otherwise bloat Ruby's memory.
		env("MALLOC_ARENA_MAX", "2"),
		env("TRUSTED_PROXY_IP", strings.Join(trustedProxies, ",")),
		env("STREAMING_API_BASE_URL", "wss://"+string(spec.Domain)),
	)
	if federationMode(in.Instance) == v1alpha1.FederationAllowlist {
		e = append(e, env("LIMITED_FEDERATION_MODE", "true"))
	}

	db := in.Database
	e = append(e,
		env("DB_HOST", db.Host),
		env("DB_PORT", strconv.Itoa(int(db.Port))),
		env("DB_NAME", db.Name),
		env("DB_USER", db.User),
		selectorEnv("DB_PASS", db.Password),
	)
	if db.SSLMode != "" {
		e = append(e, env("DB_SSLMODE", db.SSLMode))
	}
	if r := in.Redis; r != nil {
		e = append(e, env("REDIS_HOST", r.Host), env("REDIS_PORT", strconv.Itoa(int(r.Port))))
		if r.Password != nil {
			e = append(e, selectorEnv("REDIS_PASSWORD", r.Password))
		}
	}

	if s := spec.Storage; s != nil && s.S3 != nil {
		e = append(e,
			env("S3_ENABLED", "true"),
			env("S3_PROTOCOL", "https"),
			env("S3_ENDPOINT", "https://"+s.S3.Endpoint),
			env("S3_HOSTNAME", s.S3.Endpoint),
			env("S3_BUCKET", s.S3.Bucket),
		)
		if s.S3.Region != "" {
			e = append(e, env("S3_REGION", s.S3.Region))
		}
		e = append(e,
			secretEnv("AWS_ACCESS_KEY_ID", s.S3.CredentialsSecretRef.Name, s3AccessKeyID),
			secretEnv("AWS_SECRET_ACCESS_KEY", s.S3.CredentialsSecretRef.Name, s3SecretAccessKey),
		)
	}

	if m := spec.SMTP; m != nil {
		e = append(e,
			env("SMTP_SERVER", m.Host),
			env("SMTP_PORT", strconv.Itoa(int(portOr(m.Port, 587)))),
			env("SMTP_FROM_ADDRESS", m.From),
		)
		if m.CredentialsSecretRef != nil {
			e = append(e,
				secretEnv("SMTP_LOGIN", m.CredentialsSecretRef.Name, smtpUsernameKey),
				secretEnv("SMTP_PASSWORD", m.CredentialsSecretRef.Name, smtpPasswordKey),
			)
		}
	}

	// The streaming server needs the database and Redis, not the Rails
	// secrets: it does not get them.
	if in.Component != "streaming" {
		for _, k := range generatorKeys(mastodonSecrets, in.Version) {
			e = append(e, secretEnv(k, in.SecretName, k))
		}
	}
	return e
}

func mastodonRegistrations(r v1alpha1.Registrations) []string {
	mode := map[v1alpha1.Registrations]string{
		v1alpha1.RegistrationsOpen:     "open",
		v1alpha1.RegistrationsApproval: "approved",
		v1alpha1.RegistrationsClosed:   "close",
	}[registrationsOrDefault(r)]
	return []string{"bin/tootctl", "settings", "registrations", mode}
}

// mastodonAccountScript creates the admin account, or makes an existing
// one Owner only when its email is spec.admin.email (issue 14 defect 2:
// `accounts modify --role Owner` promoted whoever had signed up under the
// admin's username). tootctl prints no account's email, so a one-line
// rails runner reads it, behind a marker so that warnings on stdout are
// not taken for it; the email itself is never printed to the log. A
// mismatch ends the Job with AdminMismatchExitCode. `tootctl accounts
// create` prints a random password nobody needs (the operator uses its
// token): it is kept out of the Job's log.
const mastodonAccountScript = `set -euo pipefail
email=$(bundle exec rails runner 'print "fedcommons-email:" + Account.find_local(ENV.fetch("ADMIN_USERNAME"))&.user&.email.to_s' | sed -n 's/^fedcommons-email://p')
if [ -z "$email" ]; then
  bin/tootctl accounts create "$ADMIN_USERNAME" --email "$ADMIN_EMAIL" --confirmed --role Owner --approve | sed '/^New password/d'
  echo "fedcommons: created account $ADMIN_USERNAME"
elif [ "${email,,}" != "${ADMIN_EMAIL,,}" ]; then
  echo "fedcommons: AdminAccountMismatch: account $ADMIN_USERNAME already exists with an email other than spec.admin.email; refusing to make it Owner" >&2
  exit ` + AdminMismatchExitCodeText + `
else
  echo "fedcommons: account $ADMIN_USERNAME exists with spec.admin.email"
  bin/tootctl accounts modify "$ADMIN_USERNAME" --role Owner --confirm --approve
fi
`

// mastodonTokenScript installs the token the operator generated as a
// Doorkeeper access token of a "fedcommons" application owned by the admin
// user. It runs again safely: the application is found by name and owner,
// the token by its value. Doorkeeper generates its own token value when a
// token is created, so ours is written over it in the same transaction.
// Mastodon stores tokens unhashed (no hash_token_secrets in its Doorkeeper
// initializer) and without expiry (access_token_expires_in nil).
const mastodonTokenScript = `username = ENV.fetch('ADMIN_USERNAME')
token    = ENV.fetch('ADMIN_TOKEN')
scopes   = ENV.fetch('ADMIN_TOKEN_SCOPES')

user = Account.find_local(username)&.user
abort("fedcommons: no local user #{username}: the account step must run first") if user.nil?

ApplicationRecord.transaction do
  app = Doorkeeper::Application.find_or_initialize_by(name: 'fedcommons', owner: user)
  app.redirect_uri = 'urn:ietf:wg:oauth:2.0:oob'
  app.scopes = scopes
  app.save!

  access = Doorkeeper::AccessToken.find_by(token: token)
  if access.nil?
    access = Doorkeeper::AccessToken.create!(application: app, resource_owner_id: user.id, scopes: scopes, expires_in: nil)
    access.update_columns(token: token)
  elsif access.application_id != app.id || access.resource_owner_id != user.id
    abort('fedcommons: the generated token already belongs to another application or user; refusing to reuse it')
  else
    access.update!(scopes: scopes, revoked_at: nil)
  end
end

puts "fedcommons: admin token installed for #{username}"
`

func mastodonAdminCommands(in AdminInput) []Command {
	return []Command{
		{
			Name:    "account",
			Command: []string{"/bin/bash", "-c", mastodonAccountScript},
			Env:     []corev1.EnvVar{env("ADMIN_USERNAME", in.Username), env("ADMIN_EMAIL", in.Email)},
		},
		{
			Name:    "token",
			Command: []string{"bundle", "exec", "rails", "runner", mastodonTokenScript},
			Env: []corev1.EnvVar{
				env("ADMIN_USERNAME", in.Username),
				secretEnv("ADMIN_TOKEN", in.SecretName, "token"),
				env("ADMIN_TOKEN_SCOPES", mastodonAdminScopes),
			},
		},
	}
}
