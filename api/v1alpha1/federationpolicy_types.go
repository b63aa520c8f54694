package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Action is a moderation decision about a domain.
// +kubebuilder:validation:Enum=suspend;silence;reject-media;noop;allow
type Action string

const (
	// ActionSuspend defederates: no content in or out.
	ActionSuspend Action = "suspend"
	// ActionSilence limits: content is hidden unless followed.
	ActionSilence Action = "silence"
	// ActionRejectMedia keeps federating but drops media.
	ActionRejectMedia Action = "reject-media"
	// ActionNoop records a decision without a restriction (e.g. a retraction).
	ActionNoop Action = "noop"
	// ActionAllow protects a domain from blocks; in allowlist mode it is
	// what the server federates with.
	ActionAllow Action = "allow"
)

// ActionCap is the strictest action a source may impose.
// +kubebuilder:validation:Enum=suspend;silence;reject-media;noop
type ActionCap string

// FeedFormat is the shape of a subscribed blocklist.
// +kubebuilder:validation:Enum=mastodon-csv;fediblockhole-csv;gotosocial-json;mastodon-api-json;plain
type FeedFormat string

const (
	FormatMastodonCSV      FeedFormat = "mastodon-csv"
	FormatFediBlockHoleCSV FeedFormat = "fediblockhole-csv"
	FormatGoToSocialJSON   FeedFormat = "gotosocial-json"
	FormatMastodonAPIJSON  FeedFormat = "mastodon-api-json"
	FormatPlain            FeedFormat = "plain"
)

// MergeRule combines the actions and flags of the entries that apply to one domain.
// +kubebuilder:validation:Enum=max;min
type MergeRule string

const (
	// MergeMax takes the strictest action and ORs the flags.
	MergeMax MergeRule = "max"
	// MergeMin takes the mildest action and ANDs the flags.
	MergeMin MergeRule = "min"
)

// Visibility is who may read a community's published policy.
// +kubebuilder:validation:Enum=public;cluster;none
type Visibility string

const (
	// VisibilityPublic publishes the feed and transparency page to anyone.
	VisibilityPublic Visibility = "public"
	// VisibilityCluster lets other communities of the cluster subscribe.
	VisibilityCluster Visibility = "cluster"
	// VisibilityNone publishes nothing.
	VisibilityNone Visibility = "none"
)

// FederationPolicySpec is a community's shared moderation: its own
// decisions, the sources it trusts and how much, and how they combine.
type FederationPolicySpec struct {
	// instanceSelector selects the Instances in this namespace the policy
	// applies to. Unset or empty selects every Instance in the namespace.
	// A selector that could select nothing by mistake is refused here
	// rather than found at reconcile: In and NotIn need values, Exists and
	// DoesNotExist take none (issue 12 case 5: such a typo once emptied
	// every server of the namespace).
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="matchExpressions: operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, !(e.operator in ['In', 'NotIn']) || (has(e.values) && size(e.values) > 0))",message="matchExpressions: In and NotIn need at least one value (without values the policy would select no Instance)"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, !(e.operator in ['Exists', 'DoesNotExist']) || !has(e.values) || size(e.values) == 0)",message="matchExpressions: Exists and DoesNotExist take no values"
	InstanceSelector *metav1.LabelSelector `json:"instanceSelector,omitempty"`

	// entries are the community's own decisions. They always apply.
	// +optional
	// +listType=map
	// +listMapKey=domain
	// +kubebuilder:validation:MaxItems=5000
	Entries []PolicyEntry `json:"entries,omitempty"`

	// sources are other communities' published policies and published
	// blocklists, each with an explicit trust weight.
	// +optional
	// +listType=map
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=32
	Sources []PolicySource `json:"sources,omitempty"`

	// consensus says how subscribed entries combine.
	// +optional
	Consensus *Consensus `json:"consensus,omitempty"`

	// exceptions are domains never blocked, whatever the sources say. Every
	// Instance domain in the cluster is protected without being listed.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	Exceptions []Domain `json:"exceptions,omitempty"`

	// retraction guards against an outage looking like a retraction.
	// +optional
	Retraction *RetractionSpec `json:"retraction,omitempty"`

	// publish makes the effective policy available to others as a feed.
	// +optional
	Publish *PublishSpec `json:"publish,omitempty"`

	// review makes changes to the effective policy wait for the approval
	// of several moderators (PolicyProposal, PolicyApproval) before they
	// reach any server. Without it, changes apply as soon as computed.
	// +optional
	Review *ReviewSpec `json:"review,omitempty"`
}

// PolicyEntry is one decision about one domain.
// +kubebuilder:validation:XValidation:rule="!(self.action == 'allow' && (has(self.rejectMedia) && self.rejectMedia || has(self.rejectReports) && self.rejectReports))",message="rejectMedia and rejectReports make no sense on an allow entry"
type PolicyEntry struct {
	// domain the decision is about. A decision on example.org covers its subdomains.
	// +required
	Domain Domain `json:"domain"`

	// action: suspend, silence, reject-media, noop or allow.
	// +required
	Action Action `json:"action"`

	// rejectMedia also drops media (implied by reject-media and suspend).
	// +optional
	RejectMedia *bool `json:"rejectMedia,omitempty"`

	// rejectReports ignores reports from the domain.
	// +optional
	RejectReports *bool `json:"rejectReports,omitempty"`

	// obfuscate hides the domain in public lists (partly starred out).
	// +optional
	Obfuscate *bool `json:"obfuscate,omitempty"`

	// publicComment is shown publicly with the entry.
	// +optional
	// +kubebuilder:validation:MaxLength=1000
	PublicComment string `json:"publicComment,omitempty"`

	// privateComment is for moderators only; it is never published.
	// +optional
	// +kubebuilder:validation:MaxLength=1000
	PrivateComment string `json:"privateComment,omitempty"`
}

// PolicySource is a subscription: another community's published policy, or
// a published blocklist at a URL.
// +kubebuilder:validation:XValidation:rule="has(self.url) != has(self.policyRef)",message="set exactly one of url (a published blocklist) or policyRef (another community's policy)"
// +kubebuilder:validation:XValidation:rule="!has(self.url) || has(self.format)",message="format is required with url: one of mastodon-csv, fediblockhole-csv, gotosocial-json, mastodon-api-json, plain"
// +kubebuilder:validation:XValidation:rule="!has(self.policyRef) || !has(self.format)",message="format applies only to url sources"
type PolicySource struct {
	// name identifies the source in status and provenance.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a lower-case DNS label such as iftas-dni"
	Name string `json:"name"`

	// policyRef is another community's FederationPolicy. Only its published
	// effective entries are read (publish.visibility cluster or public). A
	// policy that is deleted or turns to visibility none contributes nothing
	// from then on: its owner withdrew it, so its entries stop applying here
	// and stop being re-published by this policy.
	// +optional
	PolicyRef *PolicyReference `json:"policyRef,omitempty"`

	// url of a published blocklist. Fetched with size, time and address
	// limits; addresses inside the cluster and private ranges are refused.
	// +optional
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self.matches('^https?://[^/?#]+')",message="must be an http(s) URL such as https://example.org/blocklist.csv"
	// +kubebuilder:validation:XValidation:rule="!self.matches('^[a-zA-Z]+://[^/?#]*@')",message="must not hold a user name or password (user:password@): it would show in status, Events and logs"
	URL string `json:"url,omitempty"`

	// format of the list at url.
	// +optional
	Format FeedFormat `json:"format,omitempty"`

	// weight is how much the community trusts this source. Entries apply
	// when the weight behind them reaches the consensus threshold. 0 watches
	// a source without letting it decide anything.
	// +optional
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Weight *int32 `json:"weight,omitempty"`

	// maxAction caps what this source can impose: with silence, its
	// suspends count as silences.
	// +optional
	MaxAction ActionCap `json:"maxAction,omitempty"`

	// refreshInterval is how often the url is fetched. Defaults to 6h.
	// +optional
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(h|m|s|ms|us|ns))+$') ? duration(self) >= duration('5m') : false",message="must be a duration such as 30m, 6h or 1h30m, and at least 5m (out of courtesy to the publisher)"
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`
}

// PolicyReference names a FederationPolicy in another namespace.
type PolicyReference struct {
	// namespace of the policy (the other community's namespace).
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace"`

	// name of the policy.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// Consensus says when a subscribed entry applies and how entries combine.
type Consensus struct {
	// merge: max (the default; strictest action, flags ORed) or min
	// (mildest action, flags ANDed) among the entries that apply.
	// +optional
	// +kubebuilder:default=max
	Merge MergeRule `json:"merge,omitempty"`

	// threshold a subscribed entry must reach to apply. Defaults to a weight of 1.
	// +optional
	Threshold *Threshold `json:"threshold,omitempty"`
}

// Threshold is one of: a sum of weights, a count of sources, or a
// percentage of the total weight of all sources.
// +kubebuilder:validation:XValidation:rule="(has(self.weight) ? 1 : 0) + (has(self.count) ? 1 : 0) + (has(self.percent) ? 1 : 0) == 1",message="set exactly one of weight, count or percent"
type Threshold struct {
	// weight: the sum of the weights of the sources listing the domain.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=3200
	Weight *int32 `json:"weight,omitempty"`

	// count: the number of sources (of weight above 0) listing the domain.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=32
	Count *int32 `json:"count,omitempty"`

	// percent: the share of the total weight of all sources listing the domain.
	// +optional
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	Percent *int32 `json:"percent,omitempty"`
}

// RetractionSpec guards removals from subscribed sources.
type RetractionSpec struct {
	// minCleanFetches: a domain gone from a source is removed only after this
	// many clean fetches in a row without it.
	// +optional
	// +kubebuilder:default=2
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=100
	MinCleanFetches int32 `json:"minCleanFetches,omitempty"`

	// maxShrinkPercent: a fetch that shrinks a source by more than this is
	// held (the last good copy stays in force) and reported.
	// +optional
	// +kubebuilder:default=20
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	MaxShrinkPercent int32 `json:"maxShrinkPercent,omitempty"`
}

// PublishSpec says who may read the effective policy.
type PublishSpec struct {
	// visibility: public (anyone, as a feed and a transparency page),
	// cluster (other communities may subscribe; the default) or none.
	// +optional
	// +kubebuilder:default=cluster
	Visibility Visibility `json:"visibility,omitempty"`
}

// FederationPolicyStatus is what the operator observed of the policy.
type FederationPolicyStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling, Stalled, SourcesHealthy, Applied.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// entries in the effective policy (local and subscribed, after consensus).
	// +optional
	Entries int32 `json:"entries"`

	// instances the policy selects.
	// +optional
	Instances int32 `json:"instances"`

	// policyHash of the effective policy.
	// +optional
	PolicyHash string `json:"policyHash,omitempty"`

	// rejected counts local and subscribed entries refused by normalisation
	// (public suffixes, protected domains, malformed names).
	// +optional
	Rejected int32 `json:"rejected,omitempty"`

	// sources is the state of each subscription.
	// +optional
	// +listType=map
	// +listMapKey=name
	Sources []SourceStatus `json:"sources,omitempty"`

	// review is where a reviewed policy stands (spec.review).
	// +optional
	Review *ReviewStatus `json:"review,omitempty"`
}

// SourceStatus is the state of one subscription.
type SourceStatus struct {
	// name of the source.
	// +required
	Name string `json:"name"`
	// lastFetchTime is when the source was last fetched.
	// +optional
	LastFetchTime *metav1.Time `json:"lastFetchTime,omitempty"`
	// lastSuccessTime is when the source was last fetched cleanly.
	// +optional
	LastSuccessTime *metav1.Time `json:"lastSuccessTime,omitempty"`
	// etag of the last clean fetch.
	// +optional
	ETag string `json:"etag,omitempty"`
	// entries read from the source's last good copy.
	// +optional
	Entries int32 `json:"entries"`
	// error of the last fetch, cleared on success.
	// +optional
	Error string `json:"error,omitempty"`
	// held says why the last fetch was not applied (e.g. it shrank too much).
	// +optional
	Held string `json:"held,omitempty"`
}

// FederationPolicy is a community's shared moderation, merged with its
// subscriptions by trust and pushed into every selected Instance.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=fcp;fedpolicy,categories=fedcommons
// +kubebuilder:printcolumn:name="Entries",type=integer,JSONPath=`.status.entries`
// +kubebuilder:printcolumn:name="Instances",type=integer,JSONPath=`.status.instances`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type FederationPolicy struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the policy as the community's moderators declare it.
	// +required
	Spec FederationPolicySpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status FederationPolicyStatus `json:"status,omitempty"`
}

// FederationPolicyList is a list of FederationPolicies.
// +kubebuilder:object:root=true
type FederationPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []FederationPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&FederationPolicy{}, &FederationPolicyList{})
}
