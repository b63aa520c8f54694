// Package tenancy builds the objects that make a Community a tenancy: its
// namespace, a RoleBinding per member, a ResourceQuota and LimitRange from
// its quota, and the NetworkPolicy that isolates it from other communities.
// Builders are pure: the Community controller decides when to apply them.
package tenancy

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

const (
	// AnnotationCreatedNamespace marks a namespace the operator created (as
	// opposed to adopted): only such a namespace is removed with its Community.
	AnnotationCreatedNamespace = "fedcommons.io/created-by"

	// QuotaName, LimitRangeName and IsolationPolicyName are the fixed names
	// of the per-community singletons.
	QuotaName           = "fedcommons-quota"
	LimitRangeName      = "fedcommons-defaults"
	IsolationPolicyName = "fedcommons-isolation"

	// InstanceCountResource is the object-count quota resource for Instances.
	InstanceCountResource corev1.ResourceName = "count/instances.fedcommons.io"
	// PolicyCountResource is the object-count quota resource for
	// FederationPolicies.
	PolicyCountResource corev1.ResourceName = "count/federationpolicies.fedcommons.io"

	// DefaultPolicyQuota caps a community's FederationPolicies when its
	// Community does not say (spec.quota.policies).
	DefaultPolicyQuota = 10
)

// ClusterRoleFor names the ClusterRole that grants a community role. The
// three ClusterRoles ship with the operator (config/rbac, the Helm chart):
// the operator only binds them, it never needs to hold or escalate them.
func ClusterRoleFor(role v1alpha1.CommunityRole) string {
	return "fedcommons-community-" + string(role)
}

// NamespaceOf is the namespace a Community lives in.
func NamespaceOf(c *v1alpha1.Community) string {
	if c.Spec.Namespace != "" {
		return c.Spec.Namespace
	}
	return c.Name
}

// Labels are set on everything the Community controller creates.
func Labels(c *v1alpha1.Community) map[string]string {
	return map[string]string{
		v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue,
		v1alpha1.LabelCommunity: c.Name,
	}
}

func ownerRef(c *v1alpha1.Community) []metav1.OwnerReference {
	return []metav1.OwnerReference{*metav1.NewControllerRef(c, v1alpha1.GroupVersion.WithKind("Community"))}
}

// Namespace is the community's namespace as the operator wants it: labelled
// with the community and enforcing Pod Security "restricted". created is
// true when the operator creates it (not adopts it); the annotation records
// that so deletion never removes a namespace somebody else made.
func Namespace(c *v1alpha1.Community, created bool) *corev1.Namespace {
	ns := &corev1.Namespace{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"},
		ObjectMeta: metav1.ObjectMeta{
			Name: NamespaceOf(c),
			Labels: map[string]string{
				v1alpha1.LabelManagedBy:                      v1alpha1.ManagedByValue,
				v1alpha1.LabelCommunity:                      c.Name,
				"pod-security.kubernetes.io/enforce":         "restricted",
				"pod-security.kubernetes.io/enforce-version": "latest",
			},
		},
	}
	if created {
		ns.Annotations = map[string]string{AnnotationCreatedNamespace: "community/" + c.Name}
	}
	return ns
}

var unsafeNameChars = regexp.MustCompile(`[^a-z0-9-]+`)

// RoleBindingName is stable per subject (kind, namespace, name), so that a
// member keeps one binding across role changes and removing a member
// removes exactly theirs. A readable prefix helps `kubectl get rolebindings`;
// the hash keeps distinct subjects apart after sanitising.
func RoleBindingName(m v1alpha1.CommunityMember) string {
	sum := sha256.Sum256([]byte(string(m.Kind) + "\x00" + m.Namespace + "\x00" + m.Name))
	readable := unsafeNameChars.ReplaceAllString(strings.ToLower(m.Name), "-")
	readable = strings.Trim(readable, "-")
	if len(readable) > 30 {
		readable = strings.Trim(readable[:30], "-")
	}
	return fmt.Sprintf("fedcommons-%s-%s-%s", strings.ToLower(string(m.Kind)), readable, hex.EncodeToString(sum[:4]))
}

// RoleBinding binds one member to their role's ClusterRole in the namespace.
func RoleBinding(c *v1alpha1.Community, m v1alpha1.CommunityMember) *rbacv1.RoleBinding {
	ns := NamespaceOf(c)
	subject := rbacv1.Subject{Kind: string(m.Kind), Name: m.Name}
	switch m.Kind {
	case v1alpha1.SubjectServiceAccount:
		subject.Namespace = m.Namespace
		if subject.Namespace == "" {
			subject.Namespace = ns
		}
	default:
		subject.APIGroup = rbacv1.GroupName
	}
	return &rbacv1.RoleBinding{
		TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "RoleBinding"},
		ObjectMeta: metav1.ObjectMeta{
			Name:            RoleBindingName(m),
			Namespace:       ns,
			Labels:          Labels(c),
			OwnerReferences: ownerRef(c),
		},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ClusterRoleFor(m.Role)},
		Subjects: []rbacv1.Subject{subject},
	}
}

// ResourceQuota turns spec.quota into hard limits. FederationPolicies are
// always capped (DefaultPolicyQuota unless spec.quota.policies says): each
// one makes the operator fetch up to 32 lists, so their number is the one
// thing a community must not decide alone.
func ResourceQuota(c *v1alpha1.Community) *corev1.ResourceQuota {
	q := c.Spec.Quota
	if q == nil {
		q = &v1alpha1.CommunityQuota{}
	}
	policies := int64(DefaultPolicyQuota)
	if q.Policies != nil {
		policies = int64(*q.Policies)
	}
	hard := corev1.ResourceList{PolicyCountResource: *resource.NewQuantity(policies, resource.DecimalSI)}
	if q.Instances != nil {
		hard[InstanceCountResource] = *resource.NewQuantity(int64(*q.Instances), resource.DecimalSI)
	}
	if q.Storage != nil {
		hard[corev1.ResourceRequestsStorage] = *q.Storage
	}
	if q.CPU != nil {
		hard[corev1.ResourceRequestsCPU] = *q.CPU
		hard[corev1.ResourceLimitsCPU] = *q.CPU
	}
	if q.Memory != nil {
		hard[corev1.ResourceRequestsMemory] = *q.Memory
		hard[corev1.ResourceLimitsMemory] = *q.Memory
	}
	return &corev1.ResourceQuota{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ResourceQuota"},
		ObjectMeta: metav1.ObjectMeta{
			Name: QuotaName, Namespace: NamespaceOf(c), Labels: Labels(c), OwnerReferences: ownerRef(c),
		},
		Spec: corev1.ResourceQuotaSpec{Hard: hard},
	}
}

// LimitRange gives containers default requests and limits whenever the
// quota caps cpu or memory: with such a quota, the API server refuses pods
// that do not state them, and a sysadmin should not have to.
func LimitRange(c *v1alpha1.Community) *corev1.LimitRange {
	q := c.Spec.Quota
	if q == nil || (q.CPU == nil && q.Memory == nil) {
		return nil
	}
	return &corev1.LimitRange{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "LimitRange"},
		ObjectMeta: metav1.ObjectMeta{
			Name: LimitRangeName, Namespace: NamespaceOf(c), Labels: Labels(c), OwnerReferences: ownerRef(c),
		},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer,
			DefaultRequest: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("50m"),
				corev1.ResourceMemory: resource.MustParse("128Mi"),
			},
			Default: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse("1"),
				corev1.ResourceMemory: resource.MustParse("1Gi"),
			},
		}}},
	}
}

// IsolationOptions are the operator-wide parts of the isolation policy.
type IsolationOptions struct {
	// OperatorNamespace is where the operator runs; it reaches admin APIs.
	OperatorNamespace string
	// DefaultIngressSelector selects the ingress controller's namespaces
	// when the Community does not say.
	DefaultIngressSelector *metav1.LabelSelector
}

// IsolationEnabled reports whether the community wants network isolation
// (the default).
func IsolationEnabled(c *v1alpha1.Community) bool {
	return c.Spec.Isolation == nil || c.Spec.Isolation.NetworkPolicy == nil || *c.Spec.Isolation.NetworkPolicy
}

// IsolationPolicy admits traffic into the community's namespace only from
// the namespace itself, the ingress controller and the operator. Pods of
// other communities are thereby denied. Egress stays open: federation
// means talking to the whole fediverse.
func IsolationPolicy(c *v1alpha1.Community, opts IsolationOptions) *networkingv1.NetworkPolicy {
	if !IsolationEnabled(c) {
		return nil
	}
	ingressSel := opts.DefaultIngressSelector
	if c.Spec.Isolation != nil && c.Spec.Isolation.IngressNamespaceSelector != nil {
		ingressSel = c.Spec.Isolation.IngressNamespaceSelector
	}
	from := []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}}
	if ingressSel != nil {
		from = append(from, networkingv1.NetworkPolicyPeer{NamespaceSelector: ingressSel.DeepCopy()})
	}
	if opts.OperatorNamespace != "" {
		from = append(from, networkingv1.NetworkPolicyPeer{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{corev1.LabelMetadataName: opts.OperatorNamespace},
		}})
	}
	return &networkingv1.NetworkPolicy{
		TypeMeta: metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "NetworkPolicy"},
		ObjectMeta: metav1.ObjectMeta{
			Name: IsolationPolicyName, Namespace: NamespaceOf(c), Labels: Labels(c), OwnerReferences: ownerRef(c),
		},
		Spec: networkingv1.NetworkPolicySpec{
			PodSelector: metav1.LabelSelector{},
			PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress},
			Ingress:     []networkingv1.NetworkPolicyIngressRule{{From: from}},
		},
	}
}

// AnnotationInstancesSeen on a community namespace lists, comma-separated
// and sorted, every Instance the Community controller has seen in it. It
// outlives the Instances: when the Community is deleted the operator asks
// for each one's retained Secrets by name (it may not list Secrets, which
// would be the power to read every Secret of the cluster), so it must
// remember which names to ask for.
const AnnotationInstancesSeen = "fedcommons.io/instances-seen"

// InstancesSeen reads AnnotationInstancesSeen from a namespace.
func InstancesSeen(ns *corev1.Namespace) []string {
	raw := ns.Annotations[AnnotationInstancesSeen]
	if raw == "" {
		return nil
	}
	return strings.Split(raw, ",")
}

// WithInstancesSeen records the union of what the namespace already lists
// and names on the desired namespace. Names only accumulate: forgetting one
// would let its retained Secrets go unnoticed when the Community is deleted.
func WithInstancesSeen(desired, existing *corev1.Namespace, names []string) *corev1.Namespace {
	set := map[string]bool{}
	if existing != nil {
		for _, n := range InstancesSeen(existing) {
			set[n] = true
		}
	}
	for _, n := range names {
		set[n] = true
	}
	if len(set) == 0 {
		return desired
	}
	all := make([]string, 0, len(set))
	for n := range set {
		all = append(all, n)
	}
	// No cap: the annotation set's 256 KiB hold some 4000 names, far past
	// any community's quota, and a namespace the API server refuses is a
	// loud error where a silently shortened list would be a lost record.
	sort.Strings(all)
	if desired.Annotations == nil {
		desired.Annotations = map[string]string{}
	}
	desired.Annotations[AnnotationInstancesSeen] = strings.Join(all, ",")
	return desired
}
