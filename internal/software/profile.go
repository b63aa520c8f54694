package software

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Profile is everything the operator knows about one server software. It is
// plain data plus a few rendering functions; builders in internal/resources
// turn it into Kubernetes objects.
type Profile struct {
	// Software is the spec.software value this profile serves.
	Software v1alpha1.Software

	// ModerationDriver names the admin API family in internal/moderation/drivers.
	ModerationDriver string

	// Series are the known minor release series, oldest first. A version
	// outside them needs spec.image.
	Series []Series

	// Images maps an image key (Component.Image; "" is the main image) to a
	// repository. The tag is TagPrefix + version.
	Images    map[string]string
	TagPrefix string

	// UID and GID the processes run as (also the pod's fsGroup, so the data
	// volume is writable).
	UID, GID int64

	// ReadOnlyRootFilesystem is true when the software writes only to its
	// data volume and to ScratchDirs.
	ReadOnlyRootFilesystem bool

	// ScratchDirs are writable emptyDir mounts every container of the
	// software gets (needed with a read-only root filesystem).
	ScratchDirs []string

	// DataMountPath is where the data volume (media, and the sqlite database
	// where supported) is mounted.
	DataMountPath string

	// MaxRequestBody is the largest upload the software accepts, for the
	// ingress controller's request body limit (nginx syntax, such as "40m").
	MaxRequestBody string

	// Database says what the software stores its data in.
	Database DatabaseNeeds

	// NeedsRedis is true when the software cannot run without Redis.
	NeedsRedis bool

	// Secrets are generated once per Instance into one immutable Secret and
	// never regenerated (see ARCHITECTURE.md).
	Secrets []SecretGenerator

	// InstallSteps run before the first rollout; UpgradeSteps when the
	// version rises. Both include exactly one StepRollout.
	InstallSteps []Step
	UpgradeSteps []Step

	// Maintenance are periodic tasks (CronJobs).
	Maintenance []CronTask

	// Admin bootstraps an admin account; nil when the software cannot.
	Admin *AdminBootstrap

	// RegistrationsCommand, when set, is a command applying spec.registrations
	// inside the server (a setting stored in its database, not its
	// environment). Nil when Env already carries it.
	RegistrationsCommand func(v1alpha1.Registrations) []string

	// components lists the processes of a given version.
	components func(Version) []Component

	// env renders the configuration shared by every container of the software.
	env func(EnvInput) []corev1.EnvVar
}

// Series is a known minor release series, such as "4.5" for 4.5.x.
type Series struct {
	// Major and Minor of the series.
	Major, Minor int
	// Notes records the facts checked for this series (and where).
	Notes string
}

// String is "major.minor.x".
func (s Series) String() string { return fmt.Sprintf("%d.%d.x", s.Major, s.Minor) }

// DatabaseNeeds says what database the software needs.
type DatabaseNeeds struct {
	// DefaultEngine is used when spec.database is unset.
	DefaultEngine v1alpha1.DatabaseEngine
	// SQLite is true when the software can run on a sqlite file.
	SQLite bool
	// SQLiteFile is the sqlite database file, under DataMountPath.
	SQLiteFile string
	// Name and User of the bundled PostgreSQL database.
	Name, User string
}

// Port is a named container port.
type Port struct {
	Name string
	Port int32
}

// Probes are the health checks of a component's main container.
type Probes struct {
	Startup, Readiness, Liveness *corev1.Probe
}

// Component is one process of the software, run as its own Deployment.
type Component struct {
	// Name is the component's name in spec.components and in object names.
	Name string
	// Image is the image key in Profile.Images ("" for the main image).
	Image string
	// Command and Args of the main container.
	Command, Args []string
	// Env specific to the component, appended to the profile's env.
	Env []corev1.EnvVar
	// Port is the port it serves HTTP on; nil for background workers.
	Port *Port
	// Probes of the main container.
	Probes Probes
	// Scalable is false for components that must run exactly once
	// (GoToSocial itself, Mastodon's scheduler): spec.components replicas
	// above one are ignored for them.
	Scalable bool
	// Strategy of the Deployment; Recreate where two copies must never overlap.
	Strategy appsv1.DeploymentStrategyType
	// Resources are the defaults when spec.components does not set them.
	Resources corev1.ResourceRequirements
	// MountsData is true when the component reads or writes the data volume.
	MountsData bool
	// Routes are the URL path prefixes the ingress sends to this component.
	Routes []string
	// AdminAPI is true for the component serving the admin API the operator calls.
	AdminAPI bool
}

// StepKind is what a Step does.
type StepKind string

const (
	// StepJob runs Command once in a Job.
	StepJob StepKind = "Job"
	// StepRollout moves the Deployments to the new version and waits for them.
	StepRollout StepKind = "Rollout"
)

// Step is one stage of an install or upgrade; the reconciler runs them in order.
type Step struct {
	// Name is part of the Job's name: <instance>-<name>-<version>.
	Name string
	// Phase is reported in status.upgrade.phase.
	Phase string
	// Kind says whether this is a Job or the rollout.
	Kind StepKind
	// Component whose image, env and volumes the Job uses.
	Component string
	// Command run by the Job.
	Command []string
	// Env added to the component's env for this step.
	Env []corev1.EnvVar
	// MountsData is true when the Job reads or writes the data volume.
	MountsData bool
}

// CronTask is a periodic maintenance task.
type CronTask struct {
	// Name is part of the CronJob's name: <instance>-<name>.
	Name string
	// Schedule in cron syntax (UTC).
	Schedule string
	// Component whose image, env and volumes the task uses.
	Component string
	// Command run by the task.
	Command []string
	// MountsData is true when the task reads or writes the data volume.
	MountsData bool
}

// AdminBootstrap describes the Job that creates the first admin account.
type AdminBootstrap struct {
	// Component whose image, env and volumes the Job uses.
	Component string
	// Secrets generated once into the Instance's admin Secret.
	Secrets []SecretGenerator
	// Commands run in order (all but the last as init containers).
	Commands func(AdminInput) []Command
	// RestartAfter is true when the server must restart to see the new admin.
	RestartAfter bool
	// TokenKey is the admin Secret key holding an API token the operator can
	// use at once; empty when the operator must obtain one itself (OAuth).
	TokenKey string
	// PasswordKey is the admin Secret key holding the account's password;
	// empty when the operator never needs it.
	PasswordKey string
	// MountsData is true when the commands need the data volume (a sqlite
	// database lives there).
	MountsData bool
}

// AdminMismatchExitCode is the exit code of an admin bootstrap script that
// found the admin's username taken by an account with another email. The
// admin Job's pod failure policy fails the Job at once on it (no retries),
// and the operator reads it from the Job's Failed condition to report
// AdminAccountMismatch rather than a generic JobFailed.
const (
	AdminMismatchExitCode     = 42
	AdminMismatchExitCodeText = "42"
)

// AdminInput is what the admin commands are rendered from.
type AdminInput struct {
	Username, Email string
	// SecretName is the Secret holding the generated admin keys.
	SecretName string
}

// Command is one container's command and its extra env.
type Command struct {
	Name    string
	Command []string
	Env     []corev1.EnvVar
}

// EnvInput is what a profile renders its configuration from. Names of the
// operator's own objects are resolved by the caller, so profiles do not
// depend on naming conventions.
type EnvInput struct {
	Instance *v1alpha1.Instance
	Version  Version
	// Component the env is for (a profile may leave out what it does not need).
	Component string
	// Database the server connects to.
	Database DatabaseConn
	// Redis, when the software uses it.
	Redis *RedisConn
	// SecretName is the Secret holding the keys of Profile.Secrets.
	SecretName string
}

// DatabaseConn is a resolved database connection.
type DatabaseConn struct {
	Engine v1alpha1.DatabaseEngine
	// Host, Port, Name and User of a PostgreSQL database.
	Host       string
	Port       int32
	Name, User string
	// Password of the user.
	Password *corev1.SecretKeySelector
	// SSLMode in libpq terms (disable, require, verify-ca, verify-full); "" is the software's default.
	SSLMode string
}

// RedisConn is a resolved Redis connection.
type RedisConn struct {
	Host     string
	Port     int32
	Password *corev1.SecretKeySelector
}

// Components returns the processes the software runs at a version.
func (p *Profile) Components(v Version) []Component { return p.components(v) }

// Component returns the named component at a version.
func (p *Profile) Component(v Version, name string) (Component, bool) {
	for _, c := range p.components(v) {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// Env renders the configuration shared by every container of the software.
func (p *Profile) Env(in EnvInput) []corev1.EnvVar { return p.env(in) }

// Known reports whether v belongs to a known series.
func (p *Profile) Known(v Version) bool {
	for _, s := range p.Series {
		if s.Major == v.Major && s.Minor == v.Minor {
			return true
		}
	}
	return false
}

// KnownSeries lists the known series, such as "4.3.x, 4.4.x, 4.5.x".
func (p *Profile) KnownSeries() string {
	names := make([]string, len(p.Series))
	for i, s := range p.Series {
		names[i] = s.String()
	}
	return strings.Join(names, ", ")
}

// CheckVersion refuses a version the profile has no image for, unless the
// sysadmin brings an image. The message says what to do.
func (p *Profile) CheckVersion(version, imageOverride string) (Version, error) {
	v, err := ParseVersion(version)
	if err != nil {
		return Version{}, err
	}
	if imageOverride == "" && !p.Known(v) {
		return Version{}, fmt.Errorf("%s %s is not a version this operator knows (known: %s): use a known version, or set spec.image to run it anyway", p.Software, v, p.KnownSeries())
	}
	return v, nil
}

// Image returns the image a component runs at a version. A spec.image
// override replaces the main image only: a fork such as Hometown ships its
// own Rails image but reuses upstream's streaming image of the same version.
func (p *Profile) Image(component Component, version, imageOverride string) (string, error) {
	v, err := p.CheckVersion(version, imageOverride)
	if err != nil {
		return "", err
	}
	if component.Image == "" && imageOverride != "" {
		return imageOverride, nil
	}
	repo, ok := p.Images[component.Image]
	if !ok {
		return "", fmt.Errorf("%s profile has no image %q for component %s", p.Software, component.Image, component.Name)
	}
	return repo + ":" + p.TagPrefix + v.String(), nil
}

// SecretKeys lists the keys Profile.Secrets generate at a version, sorted.
func (p *Profile) SecretKeys(v Version) []string { return generatorKeys(p.Secrets, v) }

// GenerateSecrets generates the keys of Profile.Secrets for a version,
// reading randomness from r (crypto/rand.Reader in the operator, a fixed
// stream in tests).
func (p *Profile) GenerateSecrets(v Version, r io.Reader) (map[string][]byte, error) {
	return runGenerators(p.Secrets, v, r)
}

// UpgradePlan returns the steps that take a server from the running version
// to the desired one, in order. running is "" on first install. Nothing is
// to be done when they are equal. Downgrades are refused: database
// migrations only go forward.
func (p *Profile) UpgradePlan(running, desired string) ([]Step, error) {
	to, err := ParseVersion(desired)
	if err != nil {
		return nil, err
	}
	if running == "" {
		return p.InstallSteps, nil
	}
	from, err := ParseVersion(running)
	if err != nil {
		return nil, fmt.Errorf("running version: %w", err)
	}
	switch {
	case to.Equal(from):
		return nil, nil
	case to.Less(from):
		return nil, fmt.Errorf("%s cannot go back from %s to %s: its database migrations only go forward; restore a backup taken before the upgrade instead", p.Software, from, to)
	}
	return p.UpgradeSteps, nil
}

// Version is a release version, major.minor.patch with an optional
// pre-release or build suffix.
type Version struct {
	Major, Minor, Patch int
	// Suffix is what follows the patch number, including its '-' or '+'.
	Suffix string
}

// ParseVersion accepts "4.5.2", "v4.5.2" and "4.5.2-rc.1".
func ParseVersion(s string) (Version, error) {
	t := strings.TrimPrefix(s, "v")
	core, suffix := t, ""
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		core, suffix = t[:i], t[i:]
	}
	parts := strings.Split(core, ".")
	if len(parts) != 3 {
		return Version{}, fmt.Errorf("version %q is not major.minor.patch, such as 4.5.2", s)
	}
	var n [3]int
	for i, part := range parts {
		x, err := strconv.Atoi(part)
		if err != nil || x < 0 {
			return Version{}, fmt.Errorf("version %q is not major.minor.patch, such as 4.5.2", s)
		}
		n[i] = x
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2], Suffix: suffix}, nil
}

// String is the version without a leading v.
func (v Version) String() string {
	return fmt.Sprintf("%d.%d.%d%s", v.Major, v.Minor, v.Patch, v.Suffix)
}

// Less compares major, minor and patch; a pre-release sorts before its release.
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	if v.Minor != o.Minor {
		return v.Minor < o.Minor
	}
	if v.Patch != o.Patch {
		return v.Patch < o.Patch
	}
	vPre, oPre := strings.HasPrefix(v.Suffix, "-"), strings.HasPrefix(o.Suffix, "-")
	if vPre != oPre {
		return vPre
	}
	return v.Suffix < o.Suffix
}

// Equal reports whether two versions are the same release.
func (v Version) Equal(o Version) bool { return !v.Less(o) && !o.Less(v) }

// AtLeast reports whether v is major.minor.0 or later (pre-releases of it included).
func (v Version) AtLeast(major, minor int) bool {
	return v.Major > major || (v.Major == major && v.Minor >= minor)
}

var registry = map[v1alpha1.Software]*Profile{}

// register adds a profile; each software file calls it from init.
func register(p *Profile) {
	if _, dup := registry[p.Software]; dup {
		panic("software: profile registered twice: " + string(p.Software))
	}
	registry[p.Software] = p
}

// Lookup returns the profile of a software.
func Lookup(s v1alpha1.Software) (*Profile, error) {
	if p, ok := registry[s]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("no profile for software %q (known: %s)", s, strings.Join(Names(), ", "))
}

// Names lists the software with a profile, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for s := range registry {
		names = append(names, string(s))
	}
	sort.Strings(names)
	return names
}

// secretEnv is an env var read from a Secret key.
func secretEnv(name, secret, key string) corev1.EnvVar {
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{
		SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: secret}, Key: key},
	}}
}

// selectorEnv is an env var read from an already resolved Secret key.
func selectorEnv(name string, sel *corev1.SecretKeySelector) corev1.EnvVar {
	s := *sel
	return corev1.EnvVar{Name: name, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &s}}
}

func env(name, value string) corev1.EnvVar { return corev1.EnvVar{Name: name, Value: value} }

// trustedProxies are the private ranges the ingress controller's pods are
// addressed from. The pod CIDR is not known to the operator, and the server
// is never reachable except through the ingress (NetworkPolicy), so the
// private ranges are trusted for X-Forwarded-For.
var trustedProxies = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"}

// s3CredentialKeys are the keys of spec.storage.s3.credentialsSecretRef.
const (
	s3AccessKeyID     = "accessKeyID"
	s3SecretAccessKey = "secretAccessKey"
	smtpUsernameKey   = "username"
	smtpPasswordKey   = "password"
)

// registrationsOrDefault applies the API default (approval).
func registrationsOrDefault(r v1alpha1.Registrations) v1alpha1.Registrations {
	if r == "" {
		return v1alpha1.RegistrationsApproval
	}
	return r
}

// federationMode applies the API default (blocklist).
func federationMode(inst *v1alpha1.Instance) v1alpha1.FederationMode {
	if inst.Spec.Federation != nil && inst.Spec.Federation.Mode != "" {
		return inst.Spec.Federation.Mode
	}
	return v1alpha1.FederationBlocklist
}

func httpGet(path, port string) corev1.ProbeHandler {
	return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intOrName(port)}}
}
