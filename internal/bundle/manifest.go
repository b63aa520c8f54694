package bundle

import (
	"time"

	corev1 "k8s.io/api/core/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// FormatVersion is the bundle format this package writes. Read refuses
// any other: a newer format may carry what an older importer would
// silently drop.
const FormatVersion = 1

// Bundle is one community, in memory. Secrets are plaintext here only:
// Write encrypts them, Read decrypts them.
type Bundle struct {
	Manifest  Manifest
	Community *v1alpha1.Community
	Instances []v1alpha1.Instance
	Policies  []v1alpha1.FederationPolicy
	// Secrets are the generated Secrets (nil after a Read without an
	// identity: they stay sealed).
	Secrets []corev1.Secret
}

// Manifest describes the bundle: read first, it says what the archive must
// hold, nothing more and nothing less.
type Manifest struct {
	// FormatVersion of the bundle (FormatVersion).
	FormatVersion int `json:"formatVersion"`
	// Community is the Community's name; Namespace its namespace.
	Community string `json:"community"`
	Namespace string `json:"namespace"`
	// SourceCluster is the API server the community was exported from.
	SourceCluster string `json:"sourceCluster"`
	// CreatedAt is when the bundle was written (UTC).
	CreatedAt time.Time `json:"createdAt"`
	// CreatedBy is the tool and its version.
	CreatedBy string `json:"createdBy,omitempty"`
	// Instances in the bundle, with their latest backups.
	Instances []InstanceEntry `json:"instances,omitempty"`
	// Policies are the FederationPolicies' names.
	Policies []string `json:"policies,omitempty"`
	// Secrets are the generated Secrets in secrets.age: names only.
	Secrets []SecretEntry `json:"secrets,omitempty"`
	// Recipients are the age public keys the secrets are encrypted to.
	Recipients []string `json:"recipients,omitempty"`
	// ReferencedSecrets are Secrets the Instances name that the community's
	// admins provided themselves (SMTP, S3, external database): not in the
	// bundle, they must exist on the new cluster.
	ReferencedSecrets []SecretRef `json:"referencedSecrets,omitempty"`
	// Trust are the trust relations between this community and others.
	Trust []TrustRelation `json:"trust,omitempty"`
	// Notes are what the exporting sysadmin was told.
	Notes []string `json:"notes,omitempty"`
}

// InstanceEntry is one Instance and its latest backup.
type InstanceEntry struct {
	Name     string `json:"name"`
	Software string `json:"software"`
	Domain   string `json:"domain"`
	// Backup is the latest successful backup (status.backup), nil when
	// there is none: the Instance is then recreated empty.
	Backup *BackupRef `json:"backup,omitempty"`
}

// BackupRef is the latest successful backup of an Instance.
type BackupRef struct {
	// Name is status.backup.lastName, such as 20261202T030000Z.
	Name string `json:"name"`
	// Location is status.backup.location, for people.
	Location string `json:"location,omitempty"`
	// Time is status.backup.lastSuccessfulTime.
	Time *time.Time `json:"time,omitempty"`
	// From is what the imported Instance's spec.restore.from becomes: the
	// backup destination the Instance had (spec.backup.destination) and
	// the backup's name.
	From *v1alpha1.BackupLocation `json:"from,omitempty"`
}

// SecretEntry names one Secret carried encrypted.
type SecretEntry struct {
	Name     string `json:"name"`
	Instance string `json:"instance"`
}

// SecretRef is a Secret an Instance refers to that the bundle does not carry.
type SecretRef struct {
	Name string `json:"name"`
	// UsedBy says which Instance field names it, such as
	// "toot spec.smtp.credentialsSecretRef".
	UsedBy string `json:"usedBy"`
}

// TrustRelation is a subscription between two communities' policies.
type TrustRelation struct {
	// Direction is "subscribes-to" (one of our policies trusts another
	// community's policy: the FederationPolicy carries it, and it works on
	// the new cluster only if that policy exists there) or "subscribed-by"
	// (another community's policy trusts ours: it stays behind, on the old
	// cluster, and must be pointed at our published feed by its owners).
	Direction string `json:"direction"`
	// Policy is our FederationPolicy's name.
	Policy string `json:"policy"`
	// Other is the other policy, namespace/name.
	Other string `json:"other"`
	// Source is the source's name in the subscribing policy.
	Source string `json:"source"`
	// Weight is the trust weight the source has.
	Weight *int32 `json:"weight,omitempty"`
}

// Trust directions.
const (
	SubscribesTo = "subscribes-to"
	SubscribedBy = "subscribed-by"
)
