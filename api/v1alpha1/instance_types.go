package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Software is the fediverse server software an Instance runs. Each value
// has a profile in the operator; the list grows with the profiles.
// +kubebuilder:validation:Enum=gotosocial;mastodon
type Software string

const (
	SoftwareGoToSocial Software = "gotosocial"
	SoftwareMastodon   Software = "mastodon"
)

// Registrations is who may sign up on a server.
// +kubebuilder:validation:Enum=open;approval;closed
type Registrations string

const (
	RegistrationsOpen     Registrations = "open"
	RegistrationsApproval Registrations = "approval"
	RegistrationsClosed   Registrations = "closed"
)

// DeletionPolicy says what happens to an Instance's data when it is deleted.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

const (
	// DeletionRetain keeps volumes, databases and generated secrets.
	DeletionRetain DeletionPolicy = "Retain"
	// DeletionDelete removes them with the Instance.
	DeletionDelete DeletionPolicy = "Delete"
)

// DatabaseEngine is the database a server stores its data in.
// +kubebuilder:validation:Enum=sqlite;postgres
type DatabaseEngine string

const (
	DatabaseSQLite   DatabaseEngine = "sqlite"
	DatabasePostgres DatabaseEngine = "postgres"
)

// PostgresMode is where an Instance's PostgreSQL comes from.
// +kubebuilder:validation:Enum=bundled;external
type PostgresMode string

const (
	// PostgresBundled runs a PostgreSQL StatefulSet next to the server.
	PostgresBundled PostgresMode = "bundled"
	// PostgresExternal uses a database the co-op runs elsewhere.
	PostgresExternal PostgresMode = "external"
)

// RedisMode is where an Instance's Redis comes from.
// +kubebuilder:validation:Enum=bundled;external
type RedisMode string

const (
	RedisBundled  RedisMode = "bundled"
	RedisExternal RedisMode = "external"
)

// FederationMode is whether a server federates with everyone but blocked
// domains, or only with allowed ones.
// +kubebuilder:validation:Enum=blocklist;allowlist
type FederationMode string

const (
	FederationBlocklist FederationMode = "blocklist"
	FederationAllowlist FederationMode = "allowlist"
)

// InstanceSpec declares one fediverse server: hosted by the operator, or
// external (hosted elsewhere, taking part in the community's moderation).
// +kubebuilder:validation:XValidation:rule="self.software == oldSelf.software",message="software cannot be changed: create a new Instance and migrate to it"
// +kubebuilder:validation:XValidation:rule="has(self.accountDomain) == has(oldSelf.accountDomain) && (!has(self.accountDomain) || self.accountDomain == oldSelf.accountDomain)",message="accountDomain cannot be added, changed or removed after creation: accounts and signatures depend on it"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.database) || !has(oldSelf.database.postgres) || !has(self.database) || !has(self.database.postgres) || (has(self.database.postgres.storageSize) == has(oldSelf.database.postgres.storageSize) && (!has(self.database.postgres.storageSize) || self.database.postgres.storageSize == oldSelf.database.postgres.storageSize))",message="database.postgres.storageSize cannot be set or changed after creation: a StatefulSet's volume template is immutable. To grow the database volume, resize its PersistentVolumeClaim (data-<name>-postgres-0) if its StorageClass allows expansion"
// +kubebuilder:validation:XValidation:rule="has(self.external) || has(self.version)",message="version is required for a hosted instance (or set external for a server hosted elsewhere)"
// +kubebuilder:validation:XValidation:rule="!has(self.external) || !(has(self.version) || has(self.image) || has(self.tls) || has(self.ingress) || has(self.gateway) || has(self.database) || has(self.redis) || has(self.storage) || has(self.smtp) || has(self.admin) || has(self.components))",message="external describes a server hosted elsewhere: remove version, image, tls, ingress, gateway, database, redis, storage, smtp, admin and components"
// +kubebuilder:validation:XValidation:rule="!(has(self.ingress) && has(self.gateway))",message="set ingress or gateway, not both"
// +kubebuilder:validation:XValidation:rule="!has(self.accountDomain) || self.domain == self.accountDomain || self.domain.endsWith('.' + self.accountDomain)",message="domain must be accountDomain itself or a subdomain of it (e.g. domain social.example.org with accountDomain example.org)"
// +kubebuilder:validation:XValidation:rule="!has(self.database) || self.database.engine != 'sqlite' || self.software == 'gotosocial'",message="database.engine sqlite is only supported by gotosocial; use postgres"
// +kubebuilder:validation:XValidation:rule="!has(self.redis) || self.software == 'mastodon'",message="redis is only used by mastodon"
// +kubebuilder:validation:XValidation:rule="!has(self.external) || !(has(self.backup) || has(self.restore))",message="backup and restore apply to a server the operator hosts: remove them for an external server"
// +kubebuilder:validation:XValidation:rule="!has(self.restore) || (has(oldSelf.restore) && self.restore == oldSelf.restore)",message="restore applies only when the Instance is created (before its first rollout): it cannot be added or changed afterwards; remove it, or create a new Instance to restore into"
type InstanceSpec struct {
	// software the server runs. Hometown and glitch-soc are "mastodon" with
	// another image. Cannot be changed.
	// +required
	Software Software `json:"software"`

	// version of the software, such as "0.20.1" or "4.5.2". Picks the
	// profile's image; raising it runs the software's upgrade steps in order.
	// Required for a hosted instance; not set for an external one.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^v?[0-9]+\\\\.[0-9]+\\\\.[0-9]+([-+][0-9A-Za-z.-]+)?$')",message="must be a version such as 0.20.1 or 4.5.2"
	Version string `json:"version,omitempty"`

	// image overrides the profile's image for this version, e.g. a Hometown
	// image with software mastodon. The version still says which upgrade
	// steps apply.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Image string `json:"image,omitempty"`

	// domain the server answers on, such as social.riverside.coop. Unique in
	// the cluster. Cannot be changed: the fediverse knows the server by it.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="domain cannot be changed: the fediverse knows the server by it; create a new Instance instead"
	Domain Domain `json:"domain"`

	// accountDomain is the domain in user handles (@alice@riverside.coop)
	// when it differs from domain. Cannot be changed after creation.
	// +optional
	AccountDomain Domain `json:"accountDomain,omitempty"`

	// registrations: open, approval (the default) or closed.
	// +optional
	// +kubebuilder:default=approval
	Registrations Registrations `json:"registrations,omitempty"`

	// tls says where the server's certificate comes from.
	// +optional
	TLS *TLSSpec `json:"tls,omitempty"`

	// ingress exposes the server through an Ingress.
	// +optional
	Ingress *IngressSpec `json:"ingress,omitempty"`

	// gateway exposes the server through a Gateway API HTTPRoute instead of an Ingress.
	// +optional
	Gateway *GatewaySpec `json:"gateway,omitempty"`

	// database the server stores its data in. Defaults to the profile's:
	// sqlite for gotosocial, bundled postgres for mastodon.
	// +optional
	Database *DatabaseSpec `json:"database,omitempty"`

	// redis for servers that need it (mastodon). Defaults to bundled.
	// +optional
	Redis *RedisSpec `json:"redis,omitempty"`

	// storage for media: a volume (the default) or S3-compatible object storage.
	// +optional
	Storage *StorageSpec `json:"storage,omitempty"`

	// smtp the server sends mail through.
	// +optional
	SMTP *SMTPSpec `json:"smtp,omitempty"`

	// admin, when set, bootstraps an admin account and an API token that only
	// the operator keeps; moderation is pushed through that token.
	// +optional
	Admin *AdminSpec `json:"admin,omitempty"`

	// components tunes the profile's components by name (gotosocial: web;
	// mastodon: web, streaming, sidekiq).
	// +optional
	// +kubebuilder:validation:MaxProperties=16
	Components map[string]ComponentSpec `json:"components,omitempty"`

	// federation controls how the community's FederationPolicy reaches the server.
	// +optional
	Federation *InstanceFederation `json:"federation,omitempty"`

	// suspend scales the server's workloads to zero and keeps all data.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// deletionPolicy: Retain (the default) keeps volumes, the bundled
	// database and generated secrets when the Instance is deleted; Delete
	// removes them with it.
	// +optional
	// +kubebuilder:default=Retain
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// backup schedules backups of the server's database and local media
	// (a CronJob, once the server is installed), and takes one before
	// every upgrade, which must succeed before any migration runs.
	// status.backup and the BackupHealthy condition say how they go. Only
	// a pvc destination works in this release; the generated Secrets are
	// not in the backups yet (see docs/backups.md).
	// +optional
	Backup *BackupSpec `json:"backup,omitempty"`

	// restore, set when the Instance is created, restores a backup before the
	// first rollout: once the database answers, a Job restores it, and no
	// server starts until it has succeeded. status.restore records it, and
	// it never runs again (see docs/backups.md).
	// +optional
	Restore *RestoreSpec `json:"restore,omitempty"`

	// external, when set, describes a server hosted elsewhere: nothing is
	// deployed, but the community's moderation is pushed to it through its
	// admin API. Excludes every workload field.
	// +optional
	External *ExternalServer `json:"external,omitempty"`
}

// TLSSpec is the source of the server's certificate: a cert-manager issuer,
// or a Secret the sysadmin provides.
// +kubebuilder:validation:XValidation:rule="has(self.issuerRef) != has(self.secretName)",message="set exactly one of issuerRef (cert-manager issues the certificate) or secretName (bring your own)"
type TLSSpec struct {
	// issuerRef is the cert-manager Issuer or ClusterIssuer that issues the
	// certificate; the operator creates a Certificate for the domain.
	// +optional
	IssuerRef *IssuerReference `json:"issuerRef,omitempty"`

	// secretName is a kubernetes.io/tls Secret the sysadmin provides.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName,omitempty"`
}

// IssuerReference names a cert-manager issuer.
type IssuerReference struct {
	// kind: ClusterIssuer (the default) or Issuer.
	// +optional
	// +kubebuilder:default=ClusterIssuer
	// +kubebuilder:validation:Enum=ClusterIssuer;Issuer
	Kind string `json:"kind,omitempty"`

	// name of the issuer.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// group of the issuer; cert-manager.io unless an external issuer is used.
	// +optional
	// +kubebuilder:default=cert-manager.io
	// +kubebuilder:validation:MaxLength=253
	Group string `json:"group,omitempty"`
}

// IngressSpec shapes the Ingress in front of the server.
type IngressSpec struct {
	// className is the IngressClass; the cluster default when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	ClassName string `json:"className,omitempty"`

	// annotations are added to the Ingress (e.g. for the ingress controller).
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// GatewaySpec attaches the server to Gateway API gateways.
type GatewaySpec struct {
	// parentRefs are the Gateways (or listeners) the HTTPRoute attaches to.
	// +required
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=8
	ParentRefs []GatewayParentReference `json:"parentRefs"`
}

// GatewayParentReference names a Gateway and optionally one of its listeners.
type GatewayParentReference struct {
	// name of the Gateway.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of the Gateway; the Instance's namespace when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// sectionName is the Gateway listener to attach to.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	SectionName string `json:"sectionName,omitempty"`
}

// DatabaseSpec is where the server keeps its data.
// +kubebuilder:validation:XValidation:rule="self.engine != 'sqlite' || !has(self.postgres)",message="postgres settings apply only with engine postgres"
type DatabaseSpec struct {
	// engine: sqlite (gotosocial only: a file on the data volume) or postgres.
	// +required
	Engine DatabaseEngine `json:"engine"`

	// postgres settings when engine is postgres. Defaults to bundled.
	// +optional
	Postgres *PostgresSpec `json:"postgres,omitempty"`
}

// PostgresSpec is a bundled or external PostgreSQL.
// +kubebuilder:validation:XValidation:rule="(self.mode == 'external') == has(self.external)",message="set external (host, database, user, passwordSecretRef) exactly when mode is external"
type PostgresSpec struct {
	// mode: bundled (a PostgreSQL StatefulSet next to the server, with its own
	// generated password) or external.
	// +optional
	// +kubebuilder:default=bundled
	Mode PostgresMode `json:"mode,omitempty"`

	// external is a PostgreSQL the co-op runs elsewhere.
	// +optional
	External *ExternalPostgres `json:"external,omitempty"`

	// storageSize of the bundled database's volume (10Gi when unset). It is
	// fixed at creation; grow the volume by resizing its
	// PersistentVolumeClaim, where the StorageClass allows expansion.
	// +optional
	StorageSize *resource.Quantity `json:"storageSize,omitempty"`
}

// ExternalPostgres is the address and credentials of a PostgreSQL database.
type ExternalPostgres struct {
	// host name or address of the server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// port of the server.
	// +optional
	// +kubebuilder:default=5432
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// database name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Database string `json:"database"`

	// user to connect as.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	User string `json:"user"`

	// passwordSecretRef is the Secret key holding the user's password
	// (key defaults to "password").
	// +required
	PasswordSecretRef SecretKeyReference `json:"passwordSecretRef"`

	// sslMode: disable, require, verify-ca or verify-full.
	// +optional
	// +kubebuilder:default=require
	// +kubebuilder:validation:Enum=disable;require;verify-ca;verify-full
	SSLMode string `json:"sslMode,omitempty"`
}

// RedisSpec is a bundled or external Redis.
// +kubebuilder:validation:XValidation:rule="(self.mode == 'external') == has(self.external)",message="set external (host, port) exactly when mode is external"
type RedisSpec struct {
	// mode: bundled (a Redis StatefulSet next to the server) or external.
	// +optional
	// +kubebuilder:default=bundled
	Mode RedisMode `json:"mode,omitempty"`

	// external is a Redis the co-op runs elsewhere.
	// +optional
	External *ExternalRedis `json:"external,omitempty"`
}

// ExternalRedis is the address and credentials of a Redis server.
type ExternalRedis struct {
	// host name or address.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// port of the server.
	// +optional
	// +kubebuilder:default=6379
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// passwordSecretRef is the Secret key holding the password, if any
	// (key defaults to "password").
	// +optional
	PasswordSecretRef *SecretKeyReference `json:"passwordSecretRef,omitempty"`
}

// StorageSpec is where media lives.
// +kubebuilder:validation:XValidation:rule="!(has(self.s3) && has(self.storageClassName))",message="storageClassName applies to a volume; remove it when media goes to s3"
type StorageSpec struct {
	// size of the data volume (media, and the sqlite database for gotosocial).
	// +optional
	// +kubebuilder:default="10Gi"
	Size *resource.Quantity `json:"size,omitempty"`

	// storageClassName of the data volume; the cluster default when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	StorageClassName *string `json:"storageClassName,omitempty"`

	// s3 sends media to S3-compatible object storage instead of the volume.
	// +optional
	S3 *S3Storage `json:"s3,omitempty"`
}

// S3Storage is an S3-compatible bucket.
type S3Storage struct {
	// endpoint host, such as s3.eu-west-1.amazonaws.com or minio.storage:9000.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Endpoint string `json:"endpoint"`

	// bucket name.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	Bucket string `json:"bucket"`

	// region of the bucket.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// credentialsSecretRef is a Secret with keys accessKeyID and secretAccessKey.
	// +required
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef"`
}

// SMTPSpec is the mail server the instance sends through.
type SMTPSpec struct {
	// host of the SMTP server.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Host string `json:"host"`

	// port of the SMTP server.
	// +optional
	// +kubebuilder:default=587
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	Port int32 `json:"port,omitempty"`

	// from is the sender address.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.contains('@')",message="must be an e-mail address such as social@example.org"
	From string `json:"from"`

	// credentialsSecretRef is a Secret with keys username and password.
	// +optional
	CredentialsSecretRef *LocalSecretReference `json:"credentialsSecretRef,omitempty"`
}

// AdminSpec is the bootstrap admin account.
type AdminSpec struct {
	// username of the admin account.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=30
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9_]+$')",message="must be lower-case letters, digits and '_', such as admin"
	Username string `json:"username"`

	// email of the admin account.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.contains('@')",message="must be an e-mail address such as admin@example.org"
	Email string `json:"email"`
}

// ComponentSpec tunes one component of the software's profile.
type ComponentSpec struct {
	// replicas of the component. Components that cannot scale (gotosocial's
	// web, mastodon's scheduler) keep one.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=50
	Replicas *int32 `json:"replicas,omitempty"`

	// resources of the component's main container; the profile's defaults when unset.
	// +optional
	Resources *corev1.ResourceRequirements `json:"resources,omitempty"`
}

// InstanceFederation controls how moderation reaches the server.
type InstanceFederation struct {
	// mode: blocklist (the default; federate with all but blocked domains) or
	// allowlist (federate only with allowed domains: Mastodon's limited
	// federation mode, GoToSocial's allowlist mode).
	// +optional
	// +kubebuilder:default=blocklist
	Mode FederationMode `json:"mode,omitempty"`

	// sync, when true (the default), pushes the effective FederationPolicy
	// into the server through its admin API.
	// +optional
	// +kubebuilder:default=true
	Sync *bool `json:"sync,omitempty"`

	// apiURL overrides where the operator reaches the server's admin API.
	// Defaults to the hosted Instance's own Service inside the cluster
	// (http://<name>-web.<namespace>.svc:<port>, with the Instance's domain
	// as Host), which answers before public DNS and the certificate exist;
	// for an external server, to external.url. A hosted server's own Service
	// is reached wherever the cluster puts it; any other URL must be at a
	// public address, or in a range the platform admin opened
	// (--outbound-allow-cidrs).
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+(/[^?#]*)?$')",message="must be an http(s) URL such as http://social-web.riverside.svc:8080"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z]+://[^/?#]*@')",message="must not hold a user name or password (user:password@): it would show in status, Events and logs; credentials go in a Secret"
	APIURL string `json:"apiURL,omitempty"`

	// driftCheckInterval is how often the server's entries are compared with
	// the policy; drift on our entries is corrected. Defaults to 30m.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+$') ? duration(self) >= duration('1m') : false",message="must be a duration such as 30m, 2h or 1h30m, and at least 1m (the check reads every entry on the server)"
	DriftCheckInterval *metav1.Duration `json:"driftCheckInterval,omitempty"`
}

// ExternalServer is a server the co-op does not host.
type ExternalServer struct {
	// url of the server, such as https://old.riverside.coop. It must be at a
	// public address, or in a range the platform admin opened
	// (--outbound-allow-cidrs).
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+/?$')",message="must be the server's base URL such as https://old.riverside.coop"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z]+://[^/?#]*@')",message="must not hold a user name or password (user:password@): it would show in status, Events and logs; credentials go in a Secret"
	URL string `json:"url"`

	// tokenSecretRef is the Secret key holding an admin API token with the
	// domain-block scopes (key defaults to "token").
	// +required
	TokenSecretRef SecretKeyReference `json:"tokenSecretRef"`
}

// InstanceStatus is what the operator observed of the server.
type InstanceStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling, Stalled, DatabaseReady,
	// CertificateReady, WorkloadAvailable, FederationSynced.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// community the Instance belongs to (by its namespace).
	// +optional
	Community string `json:"community,omitempty"`

	// url the server answers on.
	// +optional
	URL string `json:"url,omitempty"`

	// version actually running: it moves to spec.version only once the
	// upgrade steps have completed.
	// +optional
	Version string `json:"version,omitempty"`

	// image actually running.
	// +optional
	Image string `json:"image,omitempty"`

	// generatedSecrets are the Secrets the operator generated for this
	// Instance. They are never generated again: if one disappears, the
	// Instance stops (Stalled) rather than minting keys that would make
	// existing data unreadable.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=16
	GeneratedSecrets []string `json:"generatedSecrets,omitempty"`

	// upgrade is the upgrade in progress, if any.
	// +optional
	Upgrade *UpgradeStatus `json:"upgrade,omitempty"`

	// federation is the state of moderation on the server.
	// +optional
	Federation *FederationSyncStatus `json:"federation,omitempty"`

	// backup is the state of the Instance's backups.
	// +optional
	Backup *BackupStatus `json:"backup,omitempty"`

	// restore is the restore of spec.restore.from, once it has completed.
	// +optional
	Restore *RestoreStatus `json:"restore,omitempty"`
}

// UpgradeStatus follows the upgrade steps from one version to another.
type UpgradeStatus struct {
	// fromVersion is the version running before the upgrade.
	// +optional
	FromVersion string `json:"fromVersion,omitempty"`
	// toVersion is the version being rolled out.
	// +optional
	ToVersion string `json:"toVersion,omitempty"`
	// phase: the step in progress, such as Backup, PreMigrate, Rollout,
	// PostMigrate.
	// +optional
	Phase string `json:"phase,omitempty"`
	// backup is the location of the backup taken before this upgrade
	// (with spec.backup), such as pvc://backups/toot/20261202T030000Z:
	// what to restore if a migration fails.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Backup string `json:"backup,omitempty"`
}

// FederationSyncStatus is what the operator last pushed to the server.
type FederationSyncStatus struct {
	// policyHash is the hash of the effective policy last applied in full.
	// +optional
	PolicyHash string `json:"policyHash,omitempty"`
	// entries is the number of entries the operator manages on the server.
	// +optional
	Entries int32 `json:"entries"`
	// pending is the number of changes still to send (e.g. while rate limited).
	// +optional
	Pending int32 `json:"pending,omitempty"`
	// unmanagedEntries are present on the server but not the operator's:
	// reported, never touched.
	// +optional
	UnmanagedEntries int32 `json:"unmanagedEntries"`
	// unsupported lists what the server cannot express (e.g. silence on an
	// old GoToSocial), and how it was applied instead.
	// +optional
	// +kubebuilder:validation:MaxItems=32
	Unsupported []string `json:"unsupported,omitempty"`
	// lastSyncTime is when the server last matched the policy.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// lastError is the last sync error, cleared on success.
	// +optional
	LastError string `json:"lastError,omitempty"`
	// failures counts the passes in a row that failed against the server
	// (unreachable, 5xx, malformed answers, rate limited before any
	// progress); cleared on success. It sets how long the operator waits
	// before the next attempt, doubling each time.
	// +optional
	// +kubebuilder:validation:Minimum=0
	Failures int32 `json:"failures,omitempty"`
	// nextRetryTime is the earliest time the operator contacts the server
	// again after a failure or a rate limit. It is kept here, not in
	// memory, so a restarted operator waits too instead of calling a
	// struggling server at once. A change to the Instance's spec retries
	// at once.
	// +optional
	NextRetryTime *metav1.Time `json:"nextRetryTime,omitempty"`
}

// The name limits below are the longest suffixes the profiles add
// (Mastodon's "-preview-cards-remove" CronJob, limited to 52 characters, and
// GoToSocial's "-admin-bootstrap" Job, to 63); TestNameLimitsMatchAdmission
// in internal/resources keeps them in step with the profiles.

// Instance is one fediverse server: hosted (workloads, database, storage,
// certificate, secrets, upgrades) or external (moderation only).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fci,categories=fedcommons
// +kubebuilder:printcolumn:name="Software",type=string,JSONPath=`.spec.software`
// +kubebuilder:printcolumn:name="Domain",type=string,JSONPath=`.spec.domain`
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
//
// A hosted Instance's name starts the names of its Services, Jobs and
// CronJobs, so it is a DNS label of at most 31 characters for mastodon and
// 47 for gotosocial.
// +kubebuilder:validation:XValidation:rule="has(self.spec.external) || self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",message="the name of a hosted Instance must start with a letter and hold only lower-case letters, digits and '-': it names the Services and Jobs it runs"
// +kubebuilder:validation:XValidation:rule="has(self.spec.external) || size(self.metadata.name) <= (self.spec.software == 'mastodon' ? 31 : 47)",message="the name of a hosted Instance is too long: at most 31 characters for mastodon and 47 for gotosocial, so that the names of its Jobs and CronJobs fit Kubernetes' limits"
type Instance struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the server as the community's admins declare it.
	// +required
	Spec InstanceSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status InstanceStatus `json:"status,omitempty"`
}

// InstanceList is a list of Instances.
// +kubebuilder:object:root=true
type InstanceList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Instance `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Instance{}, &InstanceList{})
}
