package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ReviewChange is a kind of change to the effective policy that may need
// the community's approval before it reaches any server.
// +kubebuilder:validation:Enum=SourceAdditions;Retractions;OwnEntries
type ReviewChange string

const (
	// ReviewSourceAdditions: a subscribed source adds a domain, or makes
	// an existing decision stricter (silence to suspend, media rejected).
	ReviewSourceAdditions ReviewChange = "SourceAdditions"
	// ReviewRetractions: a domain leaves the effective policy, or its
	// decision becomes milder, whoever caused it.
	ReviewRetractions ReviewChange = "Retractions"
	// ReviewOwnEntries: an addition or escalation that comes from the
	// policy's own spec.entries (already reviewed by whoever may edit the
	// policy, so not reviewed unless asked for).
	ReviewOwnEntries ReviewChange = "OwnEntries"
)

// ReviewSpec asks for changes to the effective policy to be approved by
// several of the community's moderators before they reach any server.
type ReviewSpec struct {
	// required is how many distinct people must approve a proposal before
	// it is applied.
	// +required
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	Required int32 `json:"required"`

	// rejectionsRequired is how many distinct people must reject a
	// proposal to drop it. Defaults to required.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20
	RejectionsRequired *int32 `json:"rejectionsRequired,omitempty"`

	// changes lists which changes need approval. Defaults to
	// [SourceAdditions, Retractions]; the others apply at once, as
	// without review.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=3
	Changes []ReviewChange `json:"changes,omitempty"`

	// historyLimit is how many decided proposals (applied, rejected or
	// superseded) are kept per policy; older ones are deleted.
	// +optional
	// +kubebuilder:default=50
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=500
	HistoryLimit int32 `json:"historyLimit,omitempty"`
}

// ReviewStatus is where a reviewed policy stands.
type ReviewStatus struct {
	// appliedHash is the hash of the effective policy the servers were
	// last given (the last approved computation, plus changes that need
	// no review).
	// +optional
	AppliedHash string `json:"appliedHash,omitempty"`
	// appliedAt is when it was applied.
	// +optional
	AppliedAt *metav1.Time `json:"appliedAt,omitempty"`
	// pendingProposal names the PolicyProposal waiting for approval, if any.
	// +optional
	PendingProposal string `json:"pendingProposal,omitempty"`
}

// ProposalPhase is where a proposal stands.
// +kubebuilder:validation:Enum=Pending;Applied;Rejected;Superseded
type ProposalPhase string

const (
	// ProposalPending waits for approvals.
	ProposalPending ProposalPhase = "Pending"
	// ProposalApplied reached its approvals and was applied.
	ProposalApplied ProposalPhase = "Applied"
	// ProposalRejected reached its rejections and was dropped.
	ProposalRejected ProposalPhase = "Rejected"
	// ProposalSuperseded was replaced by a newer computation before it
	// was decided; its approvals do not carry over.
	ProposalSuperseded ProposalPhase = "Superseded"
)

// PolicyChange is the change of one domain's decision.
type PolicyChange struct {
	// domain whose decision changes.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Domain string `json:"domain"`
	// before is the decision the servers have now ("" if none), e.g.
	// "suspend", "silence+reject-media".
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Before string `json:"before,omitempty"`
	// after is the decision once applied ("" if the domain leaves).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	After string `json:"after,omitempty"`
	// why, from the engine's provenance: which sources asked, and how the
	// decision was reached.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	Why string `json:"why,omitempty"`
}

// ChangeSummary counts a change set by kind.
type ChangeSummary struct {
	// added domains.
	Added int32 `json:"added"`
	// escalated decisions (stricter).
	Escalated int32 `json:"escalated"`
	// relaxed decisions (milder).
	Relaxed int32 `json:"relaxed"`
	// removed domains.
	Removed int32 `json:"removed"`
}

// PolicyProposalSpec is a change to a policy's effective moderation that
// waits for approval. The operator writes it; nobody else may.
type PolicyProposalSpec struct {
	// policy names the FederationPolicy (same namespace).
	// +required
	// +kubebuilder:validation:MaxLength=253
	Policy string `json:"policy"`
	// hash identifies the change set; an approval names it, so that
	// approving one change set never approves another.
	// +required
	// +kubebuilder:validation:MaxLength=128
	Hash string `json:"hash"`
	// effectiveHash is the hash of the effective policy applying yields.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	EffectiveHash string `json:"effectiveHash,omitempty"`
	// baseHash is the hash of the effective policy the change applies to.
	// +optional
	// +kubebuilder:validation:MaxLength=128
	BaseHash string `json:"baseHash,omitempty"`
	// proposedAt is when the change was computed.
	// +required
	ProposedAt metav1.Time `json:"proposedAt"`
	// proposedBy says what caused the change: the sources and the spec
	// edit (by field manager) it comes from.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ProposedBy string `json:"proposedBy,omitempty"`
	// summary counts the whole change set.
	// +required
	Summary ChangeSummary `json:"summary"`
	// changes lists the first changes of the set (at most 200); the whole
	// set is served by the operator's feed server at changesURL and shown
	// by `fedcommons policy review`.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=200
	Changes []PolicyChange `json:"changes,omitempty"`
	// truncated is true when changes holds only part of the set.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// changesURL serves the whole change set (JSON), inside the cluster.
	// +optional
	// +kubebuilder:validation:MaxLength=512
	ChangesURL string `json:"changesURL,omitempty"`
}

// Vote is one person's counted decision on a proposal.
type Vote struct {
	// user as authenticated by the API server.
	// +required
	// +kubebuilder:validation:MaxLength=256
	User string `json:"user"`
	// approval is the PolicyApproval that carries it.
	// +required
	// +kubebuilder:validation:MaxLength=253
	Approval string `json:"approval"`
	// at is when it was cast.
	// +required
	At metav1.Time `json:"at"`
	// comment, public.
	// +optional
	// +kubebuilder:validation:MaxLength=500
	Comment string `json:"comment,omitempty"`
}

// PolicyProposalStatus is where a proposal stands.
type PolicyProposalStatus struct {
	// phase: Pending, Applied, Rejected or Superseded.
	// +optional
	Phase ProposalPhase `json:"phase,omitempty"`
	// approvals counted (one per person, for this hash).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Approvals []Vote `json:"approvals,omitempty"`
	// rejections counted (one per person, for this hash).
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=64
	Rejections []Vote `json:"rejections,omitempty"`
	// decidedAt is when the proposal was applied, rejected or superseded.
	// +optional
	DecidedAt *metav1.Time `json:"decidedAt,omitempty"`
	// supersededBy names the proposal that replaced this one.
	// +optional
	SupersededBy string `json:"supersededBy,omitempty"`
	// message says what happened, for people.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// PolicyProposal is a change to a FederationPolicy's effective moderation
// that needs approval (spec.review) before it reaches any server. The
// operator creates it; moderators approve or reject it with a
// PolicyApproval; once decided it stays as history.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fcprop,categories=fedcommons
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.policy`
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`
// +kubebuilder:printcolumn:name="Added",type=integer,JSONPath=`.spec.summary.added`
// +kubebuilder:printcolumn:name="Removed",type=integer,JSONPath=`.spec.summary.removed`
// +kubebuilder:printcolumn:name="Approvals",type=integer,JSONPath=`.status.approvals.size()`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PolicyProposal struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the change set, written once by the operator.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="a proposal's change set cannot be edited; the operator proposes a new one when the change differs"
	Spec PolicyProposalSpec `json:"spec"`

	// status is where the proposal stands.
	// +optional
	Status PolicyProposalStatus `json:"status,omitempty"`
}

// PolicyProposalList is a list of PolicyProposals.
// +kubebuilder:object:root=true
type PolicyProposalList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PolicyProposal `json:"items"`
}

// Decision is a moderator's answer to a proposal.
// +kubebuilder:validation:Enum=Approve;Reject
type Decision string

const (
	DecisionApprove Decision = "Approve"
	DecisionReject  Decision = "Reject"
)

// PolicyApprovalSpec is one person's decision on one proposal's change set.
type PolicyApprovalSpec struct {
	// proposal names the PolicyProposal (same namespace).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Proposal string `json:"proposal"`
	// hash is the proposal's spec.hash: what was read and decided on.
	// An approval of another hash does not count.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	Hash string `json:"hash"`
	// decision: Approve or Reject.
	// +required
	Decision Decision `json:"decision"`
	// approver is the user who decides, exactly as the API server
	// authenticates them. The admission policy refuses any other name.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	Approver string `json:"approver"`
	// comment is public: shown in the history and on the transparency
	// page of a public policy.
	// +optional
	// +kubebuilder:validation:MaxLength=500
	Comment string `json:"comment,omitempty"`
}

// PolicyApproval records one moderator's approval or rejection of a
// PolicyProposal's change set. Who decided is the authenticated user:
// the shipped ValidatingAdmissionPolicy refuses an approval naming anyone
// else, or created by someone without the approve verb on the community's
// federationpolicies. It cannot be edited once made.
// +kubebuilder:object:root=true
// +kubebuilder:resource:shortName=fcappr,categories=fedcommons
// +kubebuilder:printcolumn:name="Proposal",type=string,JSONPath=`.spec.proposal`
// +kubebuilder:printcolumn:name="Decision",type=string,JSONPath=`.spec.decision`
// +kubebuilder:printcolumn:name="Approver",type=string,JSONPath=`.spec.approver`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PolicyApproval struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the decision.
	// +required
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="an approval cannot be changed once made; delete it and make a new one"
	Spec PolicyApprovalSpec `json:"spec"`
}

// PolicyApprovalList is a list of PolicyApprovals.
// +kubebuilder:object:root=true
type PolicyApprovalList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PolicyApproval `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PolicyProposal{}, &PolicyProposalList{}, &PolicyApproval{}, &PolicyApprovalList{})
}
