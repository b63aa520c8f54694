package v1alpha1

import (
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// CommunityRole is what a member may do in the community's namespace.
// +kubebuilder:validation:Enum=admin;moderator;viewer
type CommunityRole string

const (
	// RoleAdmin manages Instances and FederationPolicies in the namespace.
	RoleAdmin CommunityRole = "admin"
	// RoleModerator manages FederationPolicies and reads Instances.
	RoleModerator CommunityRole = "moderator"
	// RoleViewer reads Instances and FederationPolicies.
	RoleViewer CommunityRole = "viewer"
)

// SubjectKind is the kind of RBAC subject a member is.
// +kubebuilder:validation:Enum=User;Group;ServiceAccount
type SubjectKind string

const (
	SubjectUser           SubjectKind = "User"
	SubjectGroup          SubjectKind = "Group"
	SubjectServiceAccount SubjectKind = "ServiceAccount"
)

// CommunitySpec is a collective's tenancy: where its servers live, who may
// manage them, how much of the cluster they may use.
// +kubebuilder:validation:XValidation:rule="has(self.__namespace__) == has(oldSelf.__namespace__) && (!has(self.__namespace__) || self.__namespace__ == oldSelf.__namespace__)",message="namespace cannot be changed once set: the community's instances and data live there"
type CommunitySpec struct {
	// displayName is the community's name for people, such as "Riverside Commons".
	// +optional
	// +kubebuilder:validation:MaxLength=128
	DisplayName string `json:"displayName,omitempty"`

	// namespace the community's Instances and FederationPolicies live in.
	// Defaults to the Community's name. It is created and labelled
	// fedcommons.io/community=<name>; an existing namespace is adopted only if
	// no other community claims it. Cannot be changed.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a lower-case DNS label (letters a-z, digits and '-'), such as riverside"
	// +kubebuilder:validation:XValidation:rule="!(self in ['default', 'kube-system', 'kube-public', 'kube-node-lease'])",message="a community cannot use a system namespace (default, kube-system, kube-public, kube-node-lease)"
	Namespace string `json:"namespace,omitempty"`

	// domains are the DNS suffixes the community's Instances may use: an
	// Instance's domain and accountDomain must each equal one of them or
	// be a subdomain of one (riverside.example admits
	// social.riverside.example). A community with no domains may have no
	// Instances. Only a co-op sysadmin, who writes the Community, decides
	// them: a community cannot claim, get a certificate for or shield from
	// shared blocklists a name the co-op did not give it.
	// +optional
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	Domains []Domain `json:"domains,omitempty"`

	// members are bound to a role in the community's namespace. Each subject
	// appears once; removing a member removes exactly their binding.
	// +optional
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +kubebuilder:validation:MaxItems=256
	Members []CommunityMember `json:"members,omitempty"`

	// quota caps what the community may use. Unset fields are not capped.
	// +optional
	Quota *CommunityQuota `json:"quota,omitempty"`

	// isolation controls network separation from other communities.
	// +optional
	Isolation *CommunityIsolation `json:"isolation,omitempty"`
}

// CommunityMember binds a user, group or service account to a role.
// +kubebuilder:validation:XValidation:rule="self.kind == 'ServiceAccount' || !has(self.__namespace__)",message="namespace is only meaningful for a ServiceAccount member"
type CommunityMember struct {
	// kind of subject: User, Group or ServiceAccount.
	// +required
	Kind SubjectKind `json:"kind"`

	// name of the subject as the cluster's authenticator reports it,
	// such as alice@riverside.coop or riverside-mods.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// namespace of a ServiceAccount member; defaults to the community's namespace.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`

	// role: admin manages Instances and FederationPolicies; moderator manages
	// FederationPolicies and reads Instances; viewer reads.
	// +required
	Role CommunityRole `json:"role"`
}

// CommunityQuota becomes a ResourceQuota in the community's namespace.
type CommunityQuota struct {
	// instances is the most Instances the community may have. The API server
	// itself refuses the one beyond it.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=1000
	Instances *int32 `json:"instances,omitempty"`

	// policies is the most FederationPolicies the community may have
	// (default 10). Each policy may subscribe to up to 32 lists that the
	// operator fetches for it, so the count is always capped: one
	// community must not be able to fill the operator's time for all.
	// +optional
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=100
	Policies *int32 `json:"policies,omitempty"`

	// storage is the total of persistent volume claims' requests.
	// +optional
	Storage *resource.Quantity `json:"storage,omitempty"`

	// cpu is the total of the pods' CPU requests and limits.
	// +optional
	CPU *resource.Quantity `json:"cpu,omitempty"`

	// memory is the total of the pods' memory requests and limits.
	// +optional
	Memory *resource.Quantity `json:"memory,omitempty"`
}

// CommunityIsolation separates a community's network from other communities'.
type CommunityIsolation struct {
	// networkPolicy, when true (the default), admits traffic into the
	// community's namespace only from itself, from the ingress controller's
	// namespace and from the operator; other communities are denied.
	// +optional
	// +kubebuilder:default=true
	NetworkPolicy *bool `json:"networkPolicy,omitempty"`

	// ingressNamespaceSelector selects the namespaces of the ingress
	// controller (or gateway) allowed to reach the community's servers.
	// Defaults to the operator's configured selector
	// (kubernetes.io/metadata.name=ingress-nginx unless set otherwise).
	// A selector that could not select what it means is refused at
	// admission, with the policy selector's messages (issue 14 suite 5):
	// unrefused, it would surface only as a NetworkPolicy the API server
	// rejects at reconcile.
	// +optional
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, e.operator in ['In', 'NotIn', 'Exists', 'DoesNotExist'])",message="matchExpressions: operator must be In, NotIn, Exists or DoesNotExist"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, !(e.operator in ['In', 'NotIn']) || (has(e.values) && size(e.values) > 0))",message="matchExpressions: In and NotIn need at least one value"
	// +kubebuilder:validation:XValidation:rule="!has(self.matchExpressions) || self.matchExpressions.all(e, !(e.operator in ['Exists', 'DoesNotExist']) || !has(e.values) || size(e.values) == 0)",message="matchExpressions: Exists and DoesNotExist take no values"
	IngressNamespaceSelector *metav1.LabelSelector `json:"ingressNamespaceSelector,omitempty"`
}

// CommunityStatus is what the operator observed of the community.
type CommunityStatus struct {
	// observedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready, Reconciling, Stalled.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// namespace the community lives in.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// instances counts the Instances in the namespace.
	// +optional
	Instances int32 `json:"instances"`

	// readyInstances counts the Instances whose Ready condition is True.
	// +optional
	ReadyInstances int32 `json:"readyInstances"`

	// policies counts the FederationPolicies in the namespace.
	// +optional
	Policies int32 `json:"policies"`
}

// Community is a collective and its tenancy: a namespace, its members and
// their roles, its quotas and its network isolation. Cluster-scoped and
// created by the co-op's sysadmins.
//
// Deleting a Community deletes the namespace the operator created for it,
// so deletion waits (Stalled) while Instances remain, and while data they
// kept under deletionPolicy Retain (volumes, generated Secrets) is still in
// the namespace. The annotation fedcommons.io/delete-retained-data: "true"
// deletes that data with the namespace, on purpose (docs/operating.md).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=fcc;community,categories=fedcommons
// +kubebuilder:printcolumn:name="Namespace",type=string,JSONPath=`.status.namespace`
// +kubebuilder:printcolumn:name="Instances",type=integer,JSONPath=`.status.instances`
// +kubebuilder:printcolumn:name="Ready Instances",type=integer,JSONPath=`.status.readyInstances`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type Community struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the community as its sysadmins declare it.
	// +required
	Spec CommunitySpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status CommunityStatus `json:"status,omitempty"`
}

// CommunityList is a list of Communities.
// +kubebuilder:object:root=true
type CommunityList struct {
	metav1.TypeMeta `json:",inline"`
	// +optional
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Community `json:"items"`
}

func init() {
	SchemeBuilder.Register(&Community{}, &CommunityList{})
}
