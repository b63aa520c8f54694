package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BackupSpec schedules backups of an Instance: its database, and its media
// when media is on the data volume rather than in object storage.
type BackupSpec struct {
	// schedule in cron syntax (minute hour day-of-month month day-of-week,
	// in UTC), such as "0 3 * * *" for every night at 03:00.
	// +required
	// +kubebuilder:validation:MinLength=9
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9*/,-]+ [0-9*/,-]+ [0-9*/,?-]+ [0-9*/,-]+ [0-9*/,?-]+$')",message="must be a cron schedule of five fields separated by single spaces (minute hour day-of-month month day-of-week, UTC), such as '0 3 * * *' for every night at 03:00"
	Schedule string `json:"schedule"`

	// retention says which backups are kept; older ones are deleted after
	// each successful backup.
	// +optional
	Retention *BackupRetention `json:"retention,omitempty"`

	// destination the backups are written to.
	// +required
	Destination BackupDestination `json:"destination"`

	// encryption names more age public keys that the Instance's generated
	// Secrets are encrypted to in each backup (secrets.age). They are
	// always encrypted to the operator-managed key in the Secret
	// <instance>-backup-key too; add your own off-cluster key here so that
	// a backup can be restored when the cluster (and that Secret) is lost.
	// +optional
	Encryption *BackupEncryption `json:"encryption,omitempty"`
}

// BackupEncryption lists the age recipients of a backup's secrets.
type BackupEncryption struct {
	// recipients are age X25519 public keys, such as the output of
	// age-keygen -y: age1 followed by 58 lower-case letters and digits.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=15
	// +kubebuilder:validation:items:MaxLength=62
	// +kubebuilder:validation:XValidation:rule="self.all(r, r.matches('^age1[0-9a-z]{58}$'))",message="each recipient must be an age public key: age1 followed by 58 lower-case letters and digits (age-keygen -y prints it)"
	Recipients []string `json:"recipients,omitempty"`
}

// BackupRetention keeps the union of: the keepLast newest backups, the
// newest backup of each of the keepDaily most recent days that have one,
// and the newest of each of the keepWeekly most recent weeks (Monday to
// Sunday, UTC) that have one. Counting days that have backups, not
// calendar days, means a pause in backups never deletes the last good ones.
type BackupRetention struct {
	// keepLast newest backups are always kept.
	// +optional
	// +kubebuilder:default=7
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	KeepLast int32 `json:"keepLast,omitempty"`

	// keepDaily keeps one backup (the newest) per day for this many days.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=366
	KeepDaily int32 `json:"keepDaily,omitempty"`

	// keepWeekly keeps one backup (the newest) per week for this many weeks.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=520
	KeepWeekly int32 `json:"keepWeekly,omitempty"`
}

// BackupDestination is where backups are stored: an S3-compatible bucket or
// a PersistentVolumeClaim, exactly one.
// +kubebuilder:validation:XValidation:rule="has(self.s3) != has(self.pvc)",message="set exactly one destination: s3 (an S3-compatible bucket) or pvc (a PersistentVolumeClaim)"
type BackupDestination struct {
	// s3 stores backups in an S3-compatible bucket.
	// +optional
	S3 *BackupS3 `json:"s3,omitempty"`

	// pvc stores backups on a PersistentVolumeClaim in the Instance's namespace.
	// +optional
	PVC *BackupPVC `json:"pvc,omitempty"`
}

// BackupS3 is an S3-compatible bucket for backups.
type BackupS3 struct {
	// endpoint URL of the S3 API, such as https://s3.eu-west-1.amazonaws.com
	// or http://minio.storage.svc:9000.
	// +required
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+/?$')",message="must be the base URL of the S3 API such as https://s3.eu-west-1.amazonaws.com (no path: the bucket goes in bucket)"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z]+://[^/?#]*@')",message="must not hold a user name or password (user:password@): it would show in status, Events and logs; credentials go in credentialsSecretRef"
	Endpoint string `json:"endpoint"`

	// bucket name.
	// +required
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9][a-z0-9.-]*[a-z0-9]$')",message="must be an S3 bucket name: lower-case letters, digits, '.' and '-', such as riverside-backups"
	Bucket string `json:"bucket"`

	// prefix of the backups' keys in the bucket, such as "social/".
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._/-]*$') && !self.startsWith('/') && !self.contains('//') && !self.split('/').exists(p, p == '..' || p == '.')",message="must be a relative path of letters, digits, '.', '_', '-' and '/', such as social/riverside (no leading '/', no '.' or '..' parts)"
	Prefix string `json:"prefix,omitempty"`

	// region of the bucket.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Region string `json:"region,omitempty"`

	// credentialsSecretRef is a Secret with keys accessKeyID and secretAccessKey.
	// +required
	CredentialsSecretRef LocalSecretReference `json:"credentialsSecretRef"`
}

// BackupPVC is a PersistentVolumeClaim for backups, in the Instance's namespace.
type BackupPVC struct {
	// claimName of the PersistentVolumeClaim.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$')",message="must be the name of a PersistentVolumeClaim: lower-case letters, digits, '-' and '.', such as backups"
	ClaimName string `json:"claimName"`

	// subPath is the directory on the volume holding this Instance's
	// backups; the Instance's name when unset.
	// +optional
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="self.matches('^[A-Za-z0-9._/-]*$') && !self.startsWith('/') && !self.contains('//') && !self.split('/').exists(p, p == '..' || p == '.')",message="must be a relative path of letters, digits, '.', '_', '-' and '/', such as social/riverside (no leading '/', no '.' or '..' parts)"
	SubPath string `json:"subPath,omitempty"`
}

// RestoreSpec restores a backup into a new Instance.
type RestoreSpec struct {
	// from is the backup to restore.
	// +required
	From BackupLocation `json:"from"`

	// identitySecretRef names a Secret whose key "identity" holds an age
	// identity (AGE-SECRET-KEY-1...) that the backup's secrets were
	// encrypted to: the old Instance's <instance>-backup-key, or the
	// secret key of one of spec.backup.encryption.recipients. With it,
	// the restore puts the old Instance's generated Secrets back before
	// the server starts (never overwriting one that exists with other
	// data); without it, secrets.age is not read and the Instance gets
	// new generated Secrets, which cannot read data encrypted with the
	// old ones.
	// +optional
	IdentitySecretRef *LocalSecretReference `json:"identitySecretRef,omitempty"`
}

// BackupLocation is one backup: where the backups are, and its name.
// +kubebuilder:validation:XValidation:rule="has(self.s3) != has(self.pvc)",message="set exactly one place to restore from: s3 (an S3-compatible bucket) or pvc (a PersistentVolumeClaim)"
type BackupLocation struct {
	// s3 is the bucket holding the backup.
	// +optional
	S3 *BackupS3 `json:"s3,omitempty"`

	// pvc is the PersistentVolumeClaim holding the backup.
	// +optional
	PVC *BackupPVC `json:"pvc,omitempty"`

	// name of the backup, as in status.backup.lastName, such as 20261202T030000Z.
	// +required
	// +kubebuilder:validation:MaxLength=16
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9]{8}T[0-9]{6}Z$')",message="must be a backup name such as 20261202T030000Z (the UTC time it was taken, as in status.backup.lastName)"
	Name string `json:"name"`
}

// BackupStatus is the state of an Instance's backups.
type BackupStatus struct {
	// lastSuccessfulTime is when the last complete backup finished.
	// +optional
	LastSuccessfulTime *metav1.Time `json:"lastSuccessfulTime,omitempty"`

	// lastName is the name of the last complete backup (for spec.restore.from.name).
	// +optional
	// +kubebuilder:validation:MaxLength=16
	LastName string `json:"lastName,omitempty"`

	// lastSize is the size of the last complete backup, in bytes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	LastSize int64 `json:"lastSize,omitempty"`

	// location of the last complete backup, such as
	// pvc://backups/social/20261202T030000Z or s3://bucket/prefix/20261202T030000Z.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Location string `json:"location,omitempty"`

	// nextScheduleTime is when the next backup is due.
	// +optional
	NextScheduleTime *metav1.Time `json:"nextScheduleTime,omitempty"`

	// lastFailureTime is when the last backup that failed stopped; a
	// failure newer than lastSuccessfulTime makes BackupHealthy False.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`

	// lastFailure says which Job failed and why (its last log lines).
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	LastFailure string `json:"lastFailure,omitempty"`
}

// RestoreStatus records the restore of spec.restore.from, done once
// before the first rollout and never again.
type RestoreStatus struct {
	// location of the backup restored, such as
	// pvc://backups/social/20261202T030000Z.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	Location string `json:"location,omitempty"`

	// name of the backup restored.
	// +optional
	// +kubebuilder:validation:MaxLength=16
	Name string `json:"name,omitempty"`

	// completionTime is when the restore Job completed.
	// +optional
	CompletionTime *metav1.Time `json:"completionTime,omitempty"`
}
