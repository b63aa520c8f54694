package v1alpha1

// Condition reasons. A reason is API: users, alerts, `kubectl wait` scripts
// and health checks match on it, so a value never changes once released.
// Each says in one CamelCase word why a condition has its status; the
// message says what is going on and what to do. Every reason the operator
// writes is one of these constants, grouped by the condition that carries
// it (a test in internal/conditions refuses a string literal in its place).

// Reasons of Ready=True: the object is what its spec asks for.
const (
	// ReasonReconciled: an Instance serves (or, external, is connected and
	// its moderation in sync), or a Community's namespace and members are
	// in place.
	ReasonReconciled = "Reconciled"
	// ReasonComputed: a FederationPolicy's effective entries are computed
	// and handed to the Instances it selects. Also the reason of
	// Applied=True.
	ReasonComputed = "Computed"
)

// Reasons of Reconciling=True (with Ready=False): the operator is still
// moving towards the spec, and will come back by itself. An Instance whose
// moderation is not in sync is also Reconciling, with its FederationSynced
// reason.
const (
	// ReasonProgressing: children are catching up (a Job runs, a
	// Deployment rolls out, a Community's namespace is being made). Also
	// the reason of WorkloadAvailable=False and DatabaseReady=False.
	ReasonProgressing = "Progressing"
	// ReasonError: an Instance pass failed in a way retrying may fix; the
	// message is the error, and the pass is retried with backoff.
	ReasonError = "Error"
	// ReasonFederationSyncFailed: what moderation delivery needs could not
	// be read; it is tried again in a minute.
	ReasonFederationSyncFailed = "FederationSyncFailed"
	// ReasonSourceStateUnreadable: a FederationPolicy's saved source state
	// could not be read, so nothing is computed (a merge could drop entries
	// whose sources are merely not fetched yet).
	ReasonSourceStateUnreadable = "SourceStateUnreadable"
	// ReasonWaitingForSource: a FederationPolicy waits for a source never
	// fetched yet, or a policy it subscribes to that is not computed.
	ReasonWaitingForSource = "WaitingForSource"
)

// Reasons of Stalled=True (with Ready=False) on an Instance: retrying
// cannot help until a person changes the spec or what it refers to.
const (
	ReasonUnknownSoftware  = "UnknownSoftware"
	ReasonUnknownVersion   = "UnknownVersion"
	ReasonNameTooLong      = "NameTooLong"
	ReasonInvalidSpec      = "InvalidSpec"
	ReasonUpgradeRefused   = "UpgradeRefused"
	ReasonSecretNotFound   = "SecretNotFound"
	ReasonSecretKeyMissing = "SecretKeyMissing"
	ReasonIssuerNotFound   = "IssuerNotFound"
	// ReasonCertManagerMissing: spec.tls.issuerRef names an issuer, but
	// cert-manager's CRDs are not installed.
	ReasonCertManagerMissing = "CertManagerMissing"
	// ReasonAPINotInstalled: a child's kind is not served by the cluster.
	ReasonAPINotInstalled = "APINotInstalled"
	// ReasonGeneratedSecretMissing: a Secret the operator generated has
	// disappeared; new keys would make existing data unreadable.
	ReasonGeneratedSecretMissing = "GeneratedSecretMissing"
	// ReasonJobFailed: an install, upgrade or admin Job failed; nothing
	// moves forward until it is looked at.
	ReasonJobFailed = "JobFailed"
	// ReasonDomainTaken: another Instance of the cluster holds the domain
	// or account domain (internal/federation.ClaimHolder decides which).
	ReasonDomainTaken = "DomainTaken"
	// ReasonDomainClaimPending: another Instance claims the same domain;
	// this one would keep it, and waits a few seconds for the claim to
	// settle before creating anything (internal/federation.ClaimPending).
	ReasonDomainClaimPending = "DomainClaimPending"
	// ReasonAdminAccountMismatch: spec.admin.username is taken by an
	// account whose email is not spec.admin.email; the operator refuses to
	// make it admin (whoever signed up first would own the server).
	ReasonAdminAccountMismatch = "AdminAccountMismatch"
)

// Reasons of Stalled=True on an Instance refused for its tenancy before
// anything is made for it (internal/tenancy.RefusalReasons lists them).
const (
	ReasonInvalidDomain        = "InvalidDomain"
	ReasonDomainNotAllowed     = "DomainNotAllowed"
	ReasonCommunityNotFound    = "CommunityNotFound"
	ReasonAnnotationNotAllowed = "AnnotationNotAllowed"
	ReasonIssuerNotAllowed     = "IssuerNotAllowed"
	ReasonGatewayNotAllowed    = "GatewayNotAllowed"
)

// Reasons of Stalled=True on a Community.
const (
	// ReasonNamespaceTaken: the namespace belongs to another Community.
	ReasonNamespaceTaken = "NamespaceTaken"
	// ReasonInstancesRemain: a deleted Community waits for its Instances
	// to be deleted one by one.
	ReasonInstancesRemain = "InstancesRemain"
	// ReasonRetainedDataRemains: a deleted Community waits because data
	// its Instances kept (deletionPolicy Retain) is still in the namespace
	// the operator would delete; the message names it and the opt-in
	// (AnnotationDeleteRetainedData) that destroys it on purpose.
	ReasonRetainedDataRemains = "RetainedDataRemains"
)

// Reasons of Ready=False on a FederationPolicy that is computed and in
// force but not whole: neither Reconciling nor Stalled (that would hold
// back the whole policy), the message names what is missing.
const (
	// ReasonEntriesRefused: an entry of spec.entries was refused. Also the
	// reason of EntriesAccepted=False (own or subscribed entries refused).
	ReasonEntriesRefused = "EntriesRefused"
	// ReasonSourceNeverFetched: a url source never fetched successfully,
	// so none of its entries are in force.
	ReasonSourceNeverFetched = "SourceNeverFetched"
)

// Reasons of Stalled=True on a FederationPolicy.
const (
	ReasonInvalidSelector = "InvalidSelector"
	// ReasonMergeFailed: the engine refused the merge; the Instances keep
	// what they have.
	ReasonMergeFailed = "MergeFailed"
)

// Reasons of an Instance's WorkloadAvailable, DatabaseReady,
// CertificateReady and AdminReady conditions (with ReasonProgressing).
const (
	// ReasonAvailable: WorkloadAvailable=True.
	ReasonAvailable = "Available"
	// ReasonReady: DatabaseReady=True or CertificateReady=True.
	ReasonReady = "Ready"
	// ReasonIssuing: CertificateReady=False while cert-manager works.
	ReasonIssuing = "Issuing"
	// ReasonBootstrapping: AdminReady=False while the admin Job runs.
	ReasonBootstrapping = "Bootstrapping"
	// ReasonBootstrapped: AdminReady=True.
	ReasonBootstrapped = "Bootstrapped"
)

// Reasons of an Instance's BackupHealthy condition, and of the Stalled
// condition of a restore or of a backup before an upgrade.
const (
	// ReasonBackupSucceeded: BackupHealthy=True, the last backup completed.
	ReasonBackupSucceeded = "BackupSucceeded"
	// ReasonBackupPending: BackupHealthy=True, no backup has run yet.
	ReasonBackupPending = "BackupPending"
	// ReasonBackupFailed: BackupHealthy=False, the last backup Job failed;
	// Stalled: the backup before an upgrade failed.
	ReasonBackupFailed = "BackupFailed"
	// ReasonBackupNotScheduled: BackupHealthy=False, the backup cannot be
	// built (a destination or database not supported yet).
	ReasonBackupNotScheduled = "BackupNotScheduled"
	// ReasonRestoreFailed: Stalled, the restore of spec.restore.from failed
	// and the server was not started.
	ReasonRestoreFailed = "RestoreFailed"
)

// Reasons of an Instance's FederationSynced condition (internal/delivery).
const (
	// ReasonSynced: the server holds the effective policy.
	ReasonSynced = "Synced"
	// ReasonApplying: changes are on their way; some are still pending.
	ReasonApplying = "Applying"
	// ReasonWaitingForPolicy: a policy that may select the Instance is not
	// computed, Stalled or unreadable; the server is not contacted.
	ReasonWaitingForPolicy = "WaitingForPolicy"
	// ReasonWaitingForAdmin: the operator has no admin token yet.
	ReasonWaitingForAdmin = "WaitingForAdmin"
	// ReasonSyncFailed: the server could not be read or changed; it keeps
	// what it has.
	ReasonSyncFailed = "SyncFailed"
	// ReasonAddressRefused: the operator would not call the admin API's
	// address (private, loopback, metadata...), see internal/outbound; it
	// stays so until the Instance or the operator's flags change.
	ReasonAddressRefused = "AddressRefused"
)

// Reasons of a FederationPolicy's SourcesHealthy, SourceStateSaved and
// EntriesAccepted conditions (Applied=True has ReasonComputed,
// EntriesAccepted=False ReasonEntriesRefused).
const (
	// ReasonAccepted: EntriesAccepted=True, every entry accepted.
	ReasonAccepted = "Accepted"
	// ReasonSourcesWatched: EntriesAccepted=True, with weight-0 sources
	// whose entries are watched and never applied.
	ReasonSourcesWatched = "SourcesWatched"
	// ReasonFetched: SourcesHealthy=True.
	ReasonFetched = "Fetched"
	// ReasonSourceErrors: SourcesHealthy=False; a url source's last good
	// copy stays in force.
	ReasonSourceErrors = "SourceErrors"
	// ReasonSaved: SourceStateSaved=True.
	ReasonSaved = "Saved"
	// ReasonSaveFailed: the state ConfigMap could not be written.
	ReasonSaveFailed = "SaveFailed"
	// ReasonTooLarge: the state does not fit the ConfigMap, whole or in
	// part.
	ReasonTooLarge = "TooLarge"
)

// Reasons of a reviewed FederationPolicy (spec.review): its ReviewPending
// condition, and why it could not be computed.
const (
	// ReasonProposalPending: ReviewPending=True, a proposal waits.
	ReasonProposalPending = "ProposalPending"
	// ReasonNothingToReview: ReviewPending=False, the servers have
	// everything computed.
	ReasonNothingToReview = "NothingToReview"
	// ReasonChangeRejected: ReviewPending=False, the computation differs
	// from what the servers have by a change set that was rejected; it is
	// not proposed again until it changes.
	ReasonChangeRejected = "ChangeRejected"
	// ReasonReviewStateUnreadable: the applied state could not be read;
	// nothing is computed and the servers keep what they have.
	ReasonReviewStateUnreadable = "ReviewStateUnreadable"
	// ReasonReviewStateMissing: the applied state is gone while the
	// status says there was one; nothing is applied until a person says
	// where review starts again.
	ReasonReviewStateMissing = "ReviewStateMissing"
	// ReasonReviewStateNotSaved: the applied state could not be saved;
	// nothing new reaches the servers until it is.
	ReasonReviewStateNotSaved = "ReviewStateNotSaved"
)
