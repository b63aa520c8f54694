package v1alpha1

// Condition types shared by every kind. Ready, Reconciling and Stalled follow
// kstatus, so `kubectl wait --for=condition=Ready`, Argo CD and Flux health
// checks understand our objects.
const (
	// ConditionReady is True when the object is what its spec asks for.
	ConditionReady = "Ready"
	// ConditionReconciling is True while the operator is moving towards the spec.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True when retrying cannot help: a person must act.
	ConditionStalled = "Stalled"
)

// Instance condition types.
const (
	ConditionDatabaseReady     = "DatabaseReady"
	ConditionCertificateReady  = "CertificateReady"
	ConditionWorkloadAvailable = "WorkloadAvailable"
	ConditionFederationSynced  = "FederationSynced"
	// ConditionAdminReady is True once the bootstrap admin account and the
	// operator's API token exist (only when spec.admin is set).
	ConditionAdminReady = "AdminReady"
	// ConditionBackupHealthy is True when the last backup of spec.backup
	// succeeded, False when the last one failed or backups cannot be
	// scheduled (only when spec.backup is set). Ready stays True while
	// the server serves, with a note in its message.
	ConditionBackupHealthy = "BackupHealthy"
)

// FederationPolicy condition types.
const (
	ConditionSourcesHealthy = "SourcesHealthy"
	ConditionApplied        = "Applied"
	// ConditionSourceStateSaved is False when the fetched state of the url
	// sources could not be kept across a restart (whole or in part): the
	// policy is computed as usual, but after a restart it waits until the
	// sources not saved are fetched again.
	ConditionSourceStateSaved = "SourceStateSaved"
	// ConditionEntriesAccepted is False when entries were refused (an own
	// entry or a subscribed one, e.g. one blocking the co-op's own
	// servers), naming them and why; its message also names the weight-0
	// sources, whose entries are watched and never applied.
	ConditionEntriesAccepted = "EntriesAccepted"
	// ConditionReviewPending is True while a PolicyProposal waits for the
	// approvals spec.review asks for (naming it and what it changes), and
	// False when the servers have everything computed or what differs was
	// rejected. Only with spec.review.
	ConditionReviewPending = "ReviewPending"
)

// Labels and annotations the operator sets and reads.
const (
	// LabelCommunity marks a namespace (and every child object) as a community's.
	LabelCommunity = "fedcommons.io/community"
	// LabelInstance marks a child object with the Instance it belongs to.
	LabelInstance = "fedcommons.io/instance"
	// LabelComponent marks a child object with the profile component it serves.
	LabelComponent = "fedcommons.io/component"
	// LabelManagedBy is the standard label; the manager's cache is filtered on it.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// ManagedByValue is our value for LabelManagedBy.
	ManagedByValue = "fedcommons"
	// AnnotationDeleteRetainedData, set to "true" on a Community, lets its
	// deletion remove the namespace the operator created even though data
	// kept by deletionPolicy Retain (volumes, generated keys and passwords)
	// is still in it, destroying that data. Without it the Community
	// refuses to go (Stalled, RetainedDataRemains) and names what is left.
	AnnotationDeleteRetainedData = "fedcommons.io/delete-retained-data"
)
