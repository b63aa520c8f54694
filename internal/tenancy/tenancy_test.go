package tenancy

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

func community(mutate func(*v1alpha1.Community)) *v1alpha1.Community {
	c := &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "riverside", UID: "uid-1"}}
	if mutate != nil {
		mutate(c)
	}
	return c
}

func TestNamespace(t *testing.T) {
	for _, tc := range []struct {
		name      string
		c         *v1alpha1.Community
		created   bool
		wantName  string
		annotated bool
	}{
		{"defaults to the community's name", community(nil), true, "riverside", true},
		{"honours spec.namespace", community(func(c *v1alpha1.Community) { c.Spec.Namespace = "river" }), true, "river", true},
		{"an adopted namespace is not marked as ours to delete", community(nil), false, "riverside", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := Namespace(tc.c, tc.created)
			if ns.Name != tc.wantName {
				t.Errorf("name = %q, want %q", ns.Name, tc.wantName)
			}
			if ns.Labels[v1alpha1.LabelCommunity] != "riverside" || ns.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
				t.Errorf("labels = %v", ns.Labels)
			}
			if _, ok := ns.Annotations[AnnotationCreatedNamespace]; ok != tc.annotated {
				t.Errorf("created annotation present = %v, want %v", ok, tc.annotated)
			}
		})
	}
}

func TestRoleBinding(t *testing.T) {
	c := community(nil)
	for _, tc := range []struct {
		member      v1alpha1.CommunityMember
		wantRole    string
		wantSubject rbacv1.Subject
	}{
		{v1alpha1.CommunityMember{Kind: v1alpha1.SubjectUser, Name: "alice@riverside.coop", Role: v1alpha1.RoleAdmin},
			"fedcommons-community-admin", rbacv1.Subject{Kind: "User", APIGroup: rbacv1.GroupName, Name: "alice@riverside.coop"}},
		{v1alpha1.CommunityMember{Kind: v1alpha1.SubjectGroup, Name: "riverside-mods", Role: v1alpha1.RoleModerator},
			"fedcommons-community-moderator", rbacv1.Subject{Kind: "Group", APIGroup: rbacv1.GroupName, Name: "riverside-mods"}},
		{v1alpha1.CommunityMember{Kind: v1alpha1.SubjectServiceAccount, Name: "ci", Role: v1alpha1.RoleViewer},
			"fedcommons-community-viewer", rbacv1.Subject{Kind: "ServiceAccount", Namespace: "riverside", Name: "ci"}},
		{v1alpha1.CommunityMember{Kind: v1alpha1.SubjectServiceAccount, Name: "argocd", Namespace: "argocd", Role: v1alpha1.RoleAdmin},
			"fedcommons-community-admin", rbacv1.Subject{Kind: "ServiceAccount", Namespace: "argocd", Name: "argocd"}},
	} {
		t.Run(tc.member.Name, func(t *testing.T) {
			rb := RoleBinding(c, tc.member)
			if rb.RoleRef.Name != tc.wantRole || rb.RoleRef.Kind != "ClusterRole" {
				t.Errorf("roleRef = %+v, want ClusterRole %s", rb.RoleRef, tc.wantRole)
			}
			if len(rb.Subjects) != 1 || rb.Subjects[0] != tc.wantSubject {
				t.Errorf("subjects = %+v, want %+v", rb.Subjects, tc.wantSubject)
			}
			if rb.Namespace != "riverside" || !metav1.IsControlledBy(rb, c) {
				t.Errorf("binding %s/%s not in the community namespace or not owned", rb.Namespace, rb.Name)
			}
			if errs := validation.IsDNS1123Subdomain(rb.Name); len(errs) > 0 {
				t.Errorf("name %q is not a valid object name: %v", rb.Name, errs)
			}
		})
	}
}

// A member keeps one binding across role changes (its name does not depend
// on the role), and members that sanitise alike still get their own.
func TestRoleBindingNameStableAndDistinct(t *testing.T) {
	a := v1alpha1.CommunityMember{Kind: v1alpha1.SubjectUser, Name: "Alice@Riverside.coop", Role: v1alpha1.RoleAdmin}
	demoted := a
	demoted.Role = v1alpha1.RoleViewer
	if RoleBindingName(a) != RoleBindingName(demoted) {
		t.Error("a role change renamed the member's binding")
	}
	b := v1alpha1.CommunityMember{Kind: v1alpha1.SubjectUser, Name: "alice-riverside-coop", Role: v1alpha1.RoleAdmin}
	if RoleBindingName(a) == RoleBindingName(b) {
		t.Errorf("two members share binding %s", RoleBindingName(a))
	}
	group := a
	group.Kind = v1alpha1.SubjectGroup
	if RoleBindingName(a) == RoleBindingName(group) {
		t.Error("a user and a group of the same name share a binding")
	}
	long := v1alpha1.CommunityMember{Kind: v1alpha1.SubjectUser, Name: strings.Repeat("x", 253), Role: v1alpha1.RoleAdmin}
	if n := RoleBindingName(long); len(n) > 63 {
		t.Errorf("name %q is %d characters", n, len(n))
	}
}

func TestResourceQuotaAndLimits(t *testing.T) {
	// FederationPolicies are always counted (issue 12 case 9): each makes
	// the operator fetch up to 32 lists.
	q := ResourceQuota(community(nil))
	if got := q.Spec.Hard[PolicyCountResource]; got.Cmp(resource.MustParse("10")) != 0 || len(q.Spec.Hard) != 1 || LimitRange(community(nil)) != nil {
		t.Fatalf("no quota asked for: hard = %v, want only count/federationpolicies.fedcommons.io=10 and no limit range", q.Spec.Hard)
	}
	onlyCount := community(func(c *v1alpha1.Community) {
		c.Spec.Quota = &v1alpha1.CommunityQuota{Instances: ptr.To[int32](5), Policies: ptr.To[int32](2)}
	})
	q = ResourceQuota(onlyCount)
	if got, p := q.Spec.Hard[InstanceCountResource], q.Spec.Hard[PolicyCountResource]; got.Cmp(resource.MustParse("5")) != 0 || p.Cmp(resource.MustParse("2")) != 0 || len(q.Spec.Hard) != 2 {
		t.Errorf("hard = %v, want count/instances.fedcommons.io=5 and count/federationpolicies.fedcommons.io=2", q.Spec.Hard)
	}
	if LimitRange(onlyCount) != nil {
		t.Error("a count-only quota needs no default requests")
	}
	full := community(func(c *v1alpha1.Community) {
		c.Spec.Quota = &v1alpha1.CommunityQuota{CPU: ptr.To(resource.MustParse("8")), Memory: ptr.To(resource.MustParse("16Gi")), Storage: ptr.To(resource.MustParse("200Gi"))}
	})
	q = ResourceQuota(full)
	for name, want := range map[corev1.ResourceName]string{
		corev1.ResourceRequestsCPU: "8", corev1.ResourceLimitsCPU: "8",
		corev1.ResourceRequestsMemory: "16Gi", corev1.ResourceLimitsMemory: "16Gi",
		corev1.ResourceRequestsStorage: "200Gi",
	} {
		if got := q.Spec.Hard[name]; got.Cmp(resource.MustParse(want)) != 0 {
			t.Errorf("%s = %s, want %s", name, got.String(), want)
		}
	}
	lr := LimitRange(full)
	if lr == nil || lr.Spec.Limits[0].DefaultRequest.Cpu().IsZero() || lr.Spec.Limits[0].Default.Memory().IsZero() {
		t.Errorf("a cpu/memory quota needs default requests and limits: %+v", lr)
	}
}

func TestIsolationPolicy(t *testing.T) {
	opts := IsolationOptions{
		OperatorNamespace:      "fedcommons-system",
		DefaultIngressSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": "ingress-nginx"}},
	}
	np := IsolationPolicy(community(nil), opts)
	if np == nil {
		t.Fatal("isolation is on by default")
	}
	from := np.Spec.Ingress[0].From
	if len(from) != 3 || from[0].NamespaceSelector != nil || from[1].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "ingress-nginx" ||
		from[2].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "fedcommons-system" {
		t.Errorf("peers = %+v, want this namespace, the ingress controller and the operator", from)
	}
	if len(np.Spec.Egress) != 0 || len(np.Spec.PolicyTypes) != 1 {
		t.Error("egress must stay open: federation talks to the whole fediverse")
	}

	own := community(func(c *v1alpha1.Community) {
		c.Spec.Isolation = &v1alpha1.CommunityIsolation{IngressNamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "edge"}}}
	})
	if got := IsolationPolicy(own, opts).Spec.Ingress[0].From[1].NamespaceSelector.MatchLabels; got["team"] != "edge" {
		t.Errorf("the community's own ingress selector was ignored: %v", got)
	}
	off := community(func(c *v1alpha1.Community) {
		c.Spec.Isolation = &v1alpha1.CommunityIsolation{NetworkPolicy: ptr.To(false)}
	})
	if IsolationPolicy(off, opts) != nil {
		t.Error("isolation switched off, but a policy was built")
	}
}
