package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// as returns a client that impersonates a user (and groups), so requests go
// through the API server's real RBAC authorizer.
func as(user string, groups ...string) client.Client {
	GinkgoHelper()
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: append([]string{"system:authenticated"}, groups...)}
	cl, err := client.New(c, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return cl
}

func expectForbidden(err error) {
	GinkgoHelper()
	Expect(err).To(HaveOccurred())
	Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
}

func readyCommunity(name string) *v1alpha1.Community {
	GinkgoHelper()
	c := &v1alpha1.Community{}
	Eventually(func(g Gomega) {
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, c)).To(Succeed())
		ready := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
		g.Expect(ready).NotTo(BeNil())
		g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "Ready: %s", ready.Message)
		g.Expect(ready.ObservedGeneration).To(Equal(c.Generation))
	}).WithTimeout(30 * time.Second).Should(Succeed())
	return c
}

func bindingsIn(ns string) map[string]rbacv1.RoleBinding {
	GinkgoHelper()
	list := &rbacv1.RoleBindingList{}
	Expect(k8sClient.List(ctx, list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue})).To(Succeed())
	out := map[string]rbacv1.RoleBinding{}
	for _, rb := range list.Items {
		out[rb.Subjects[0].Kind+"/"+rb.Subjects[0].Name] = rb
	}
	return out
}

var _ = Describe("Community", func() {
	var (
		name, ns string
		alice    = "alice@riverside.example"
		bob      = "bob@riverside.example"
		carol    = "carol@riverside.example"
	)

	create := func(mutate func(*v1alpha1.Community)) *v1alpha1.Community {
		name = uniqueName("riverside")
		ns = name
		c := &v1alpha1.Community{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: v1alpha1.CommunitySpec{
				DisplayName: "Riverside Commons",
				Members: []v1alpha1.CommunityMember{
					{Kind: v1alpha1.SubjectUser, Name: alice, Role: v1alpha1.RoleAdmin},
					{Kind: v1alpha1.SubjectUser, Name: bob, Role: v1alpha1.RoleModerator},
					{Kind: v1alpha1.SubjectGroup, Name: name + "-viewers", Role: v1alpha1.RoleViewer},
				},
				Quota: &v1alpha1.CommunityQuota{
					Instances: ptr.To[int32](5), Storage: ptr.To(resource.MustParse("200Gi")),
					CPU: ptr.To(resource.MustParse("8")), Memory: ptr.To(resource.MustParse("16Gi")),
				},
			},
		}
		if mutate != nil {
			mutate(c)
		}
		Expect(k8sClient.Create(ctx, c)).To(Succeed())
		return readyCommunity(name)
	}

	It("creates a labelled, restricted namespace with bindings, quota, limits and isolation", func() {
		c := create(nil)
		Expect(c.Status.Namespace).To(Equal(ns))
		Expect(c.Finalizers).To(ContainElement("fedcommons.io/community"))

		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.Labels).To(HaveKeyWithValue(v1alpha1.LabelCommunity, name))
		Expect(namespace.Labels).To(HaveKeyWithValue("pod-security.kubernetes.io/enforce", "restricted"))
		Expect(namespace.Annotations).To(HaveKeyWithValue(tenancy.AnnotationCreatedNamespace, "community/"+name))

		bindings := bindingsIn(ns)
		Expect(bindings).To(HaveLen(3))
		Expect(bindings["User/"+alice].RoleRef.Name).To(Equal("fedcommons-community-admin"))
		Expect(bindings["User/"+bob].RoleRef.Name).To(Equal("fedcommons-community-moderator"))
		Expect(bindings["Group/"+name+"-viewers"].RoleRef.Name).To(Equal("fedcommons-community-viewer"))
		for _, rb := range bindings {
			Expect(metav1.IsControlledBy(&rb, c)).To(BeTrue())
		}

		quota := &corev1.ResourceQuota{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.QuotaName}, quota)).To(Succeed())
		Expect(quota.Spec.Hard).To(HaveKeyWithValue(corev1.ResourceName("count/instances.fedcommons.io"), resource.MustParse("5")))
		Expect(quota.Spec.Hard).To(HaveKeyWithValue(corev1.ResourceRequestsStorage, resource.MustParse("200Gi")))
		Expect(quota.Spec.Hard).To(HaveKeyWithValue(corev1.ResourceLimitsCPU, resource.MustParse("8")))
		Expect(quota.Spec.Hard).To(HaveKeyWithValue(corev1.ResourceRequestsMemory, resource.MustParse("16Gi")))

		limits := &corev1.LimitRange{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.LimitRangeName}, limits)).To(Succeed())
		Expect(limits.Spec.Limits[0].DefaultRequest).To(HaveKey(corev1.ResourceCPU))

		np := &networkingv1.NetworkPolicy{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.IsolationPolicyName}, np)).To(Succeed())
		Expect(np.Spec.PodSelector.MatchLabels).To(BeEmpty(), "every pod of the community is isolated")
		from := np.Spec.Ingress[0].From
		Expect(from).To(HaveLen(3))
		Expect(from[0].PodSelector).NotTo(BeNil(), "pods of the namespace itself")
		Expect(from[0].NamespaceSelector).To(BeNil(), "a bare podSelector means: this namespace only")
		Expect(from[1].NamespaceSelector.MatchLabels).To(HaveKeyWithValue("kubernetes.io/metadata.name", "ingress-nginx"))
		Expect(from[2].NamespaceSelector.MatchLabels).To(HaveKeyWithValue("kubernetes.io/metadata.name", operatorNamespace))
	})

	It("lets each role do exactly its job in its own namespace, and nothing elsewhere", func() {
		create(nil)
		riverside, viewersGroup := ns, name+"-viewers"
		create(func(c *v1alpha1.Community) {
			c.Spec.Members = []v1alpha1.CommunityMember{{Kind: v1alpha1.SubjectUser, Name: carol, Role: v1alpha1.RoleAdmin}}
		})
		hillside := ns

		// Bindings are in place once Ready; the authorizer sees them at once.
		admin, moderator, viewer := as(alice), as(bob), as("victor@riverside.example", viewersGroup)

		By("the admin creates an Instance and a FederationPolicy in its namespace")
		inst := hostedInstance(riverside, "social")
		Expect(admin.Create(ctx, inst)).To(Succeed())
		Expect(admin.Create(ctx, basePolicy(riverside, "shared"))).To(Succeed())
		Expect(admin.List(ctx, &v1alpha1.InstanceList{}, client.InNamespace(riverside))).To(Succeed())

		By("the admin reaches nothing in another community's namespace")
		expectForbidden(admin.List(ctx, &v1alpha1.InstanceList{}, client.InNamespace(hillside)))
		expectForbidden(admin.Get(ctx, client.ObjectKey{Namespace: hillside, Name: "any"}, &v1alpha1.Instance{}))
		expectForbidden(admin.Create(ctx, hostedInstance(hillside, "intruder")))
		expectForbidden(admin.List(ctx, &corev1.SecretList{}, client.InNamespace(hillside)))
		expectForbidden(admin.List(ctx, &v1alpha1.InstanceList{})) // nor cluster-wide

		By("the moderator edits policies and only reads instances")
		policy := &v1alpha1.FederationPolicy{}
		Expect(moderator.Get(ctx, client.ObjectKey{Namespace: riverside, Name: "shared"}, policy)).To(Succeed())
		base := policy.DeepCopy()
		policy.Spec.Entries = append(policy.Spec.Entries, v1alpha1.PolicyEntry{Domain: "more-spam.example", Action: v1alpha1.ActionSilence})
		Expect(moderator.Patch(ctx, policy, client.MergeFrom(base))).To(Succeed())
		Expect(moderator.Get(ctx, client.ObjectKeyFromObject(inst), &v1alpha1.Instance{})).To(Succeed())
		instBase := inst.DeepCopy()
		inst.Spec.Suspend = true
		expectForbidden(moderator.Patch(ctx, inst, client.MergeFrom(instBase)))
		expectForbidden(moderator.Delete(ctx, inst))
		expectForbidden(moderator.Create(ctx, hostedInstance(riverside, "mod-made")))
		expectForbidden(moderator.List(ctx, &corev1.SecretList{}, client.InNamespace(riverside)))

		By("the viewer (through its group) only reads")
		Expect(viewer.List(ctx, &v1alpha1.FederationPolicyList{}, client.InNamespace(riverside))).To(Succeed())
		Expect(viewer.Get(ctx, client.ObjectKeyFromObject(inst), &v1alpha1.Instance{})).To(Succeed())
		expectForbidden(viewer.Create(ctx, basePolicy(riverside, "viewer-made")))
		expectForbidden(viewer.Delete(ctx, policy))
		expectForbidden(viewer.List(ctx, &corev1.SecretList{}, client.InNamespace(riverside)))
		expectForbidden(viewer.List(ctx, &v1alpha1.InstanceList{}, client.InNamespace(hillside)))
	})

	It("removes exactly a removed member's binding and follows role changes", func() {
		c := create(nil)
		before := bindingsIn(ns)
		viewersBinding := before["Group/"+name+"-viewers"]

		base := c.DeepCopy()
		c.Spec.Members = []v1alpha1.CommunityMember{
			{Kind: v1alpha1.SubjectUser, Name: alice, Role: v1alpha1.RoleViewer}, // demoted
			{Kind: v1alpha1.SubjectGroup, Name: name + "-viewers", Role: v1alpha1.RoleViewer},
		} // bob removed
		Expect(k8sClient.Patch(ctx, c, client.MergeFrom(base))).To(Succeed())

		Eventually(func(g Gomega) {
			after := bindingsIn(ns)
			g.Expect(after).To(HaveLen(2))
			g.Expect(after).NotTo(HaveKey("User/" + bob))
			g.Expect(after["User/"+alice].RoleRef.Name).To(Equal("fedcommons-community-viewer"))
			g.Expect(after["Group/"+name+"-viewers"].UID).To(Equal(viewersBinding.UID), "an unchanged member's binding is untouched")
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Eventually(func() error {
			return as(bob).List(ctx, &v1alpha1.InstanceList{}, client.InNamespace(ns))
		}).WithTimeout(30 * time.Second).Should(Satisfy(apierrors.IsForbidden))
	})

	It("follows quota changes and keeps only the policy count when the quota goes", func() {
		c := create(nil)
		base := c.DeepCopy()
		c.Spec.Quota.Instances = ptr.To[int32](2)
		Expect(k8sClient.Patch(ctx, c, client.MergeFrom(base))).To(Succeed())
		Eventually(func(g Gomega) {
			q := &corev1.ResourceQuota{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.QuotaName}, q)).To(Succeed())
			g.Expect(q.Spec.Hard).To(HaveKeyWithValue(corev1.ResourceName("count/instances.fedcommons.io"), resource.MustParse("2")))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		base = c.DeepCopy()
		c.Spec.Quota = nil
		c.Spec.Isolation = &v1alpha1.CommunityIsolation{NetworkPolicy: ptr.To(false)}
		Expect(k8sClient.Patch(ctx, c, client.MergeFrom(base))).To(Succeed())
		Eventually(func(g Gomega) {
			// FederationPolicies are always counted (issue 12 case 9).
			q := &corev1.ResourceQuota{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.QuotaName}, q)).To(Succeed())
			g.Expect(q.Spec.Hard).To(Equal(corev1.ResourceList{tenancy.PolicyCountResource: resource.MustParse("10")}))
			g.Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.LimitRangeName}, &corev1.LimitRange{}))).To(BeTrue())
			g.Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: tenancy.IsolationPolicyName}, &networkingv1.NetworkPolicy{}))).To(BeTrue())
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("counts its Instances and FederationPolicies", func() {
		create(nil)
		Expect(k8sClient.Create(ctx, hostedInstance(ns, "one"))).To(Succeed())
		Expect(k8sClient.Create(ctx, externalInstance(ns, "two"))).To(Succeed())
		Expect(k8sClient.Create(ctx, basePolicy(ns, "shared"))).To(Succeed())
		Eventually(func(g Gomega) {
			c := &v1alpha1.Community{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, c)).To(Succeed())
			g.Expect(c.Status.Instances).To(Equal(int32(2)))
			g.Expect(c.Status.Policies).To(Equal(int32(1)))
		}).WithTimeout(30 * time.Second).Should(Succeed())
	})

	It("adopts an unclaimed namespace and refuses one claimed by another community", func() {
		existing := uniqueName("legacy")
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: existing, Labels: map[string]string{"team": "legacy"}}})).To(Succeed())
		create(func(c *v1alpha1.Community) { c.Spec.Namespace = existing })
		owner := name
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: existing}, namespace)).To(Succeed())
		Expect(namespace.Labels).To(HaveKeyWithValue(v1alpha1.LabelCommunity, owner))
		Expect(namespace.Labels).To(HaveKeyWithValue("team", "legacy"), "labels of others are kept")
		Expect(namespace.Annotations).NotTo(HaveKey(tenancy.AnnotationCreatedNamespace), "adopted, not created")

		thief := &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: uniqueName("thief")}, Spec: v1alpha1.CommunitySpec{Namespace: existing}}
		Expect(k8sClient.Create(ctx, thief)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(thief), thief)).To(Succeed())
			stalledCond := meta.FindStatusCondition(thief.Status.Conditions, v1alpha1.ConditionStalled)
			g.Expect(stalledCond).NotTo(BeNil())
			g.Expect(stalledCond.Reason).To(Equal("NamespaceTaken"))
			g.Expect(stalledCond.Message).To(ContainSubstring("already belongs to community " + owner))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Expect(bindingsIn(existing)).To(HaveLen(3), "the thief bound nobody")

		By("deleting the adopting community leaves the adopted namespace in place")
		Expect(k8sClient.Delete(ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: owner}})).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: owner}, &v1alpha1.Community{}))
		}).WithTimeout(30 * time.Second).Should(BeTrue())
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: existing}, namespace)).To(Succeed())
		Expect(namespace.DeletionTimestamp).To(BeNil())
	})

	It("refuses deletion while Instances remain, then removes the namespace it created", func() {
		create(nil)
		Expect(k8sClient.Create(ctx, externalInstance(ns, "keeper"))).To(Succeed())
		Expect(k8sClient.Create(ctx, externalInstance(ns, "another"))).To(Succeed())
		Expect(k8sClient.Delete(ctx, &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())

		Eventually(func(g Gomega) {
			c := &v1alpha1.Community{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, c)).To(Succeed())
			cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionStalled)
			g.Expect(cond).NotTo(BeNil())
			g.Expect(cond.Reason).To(Equal("InstancesRemain"))
			g.Expect(cond.Message).To(ContainSubstring("2 instance(s): another, keeper"))
		}).WithTimeout(30 * time.Second).Should(Succeed())
		Consistently(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Community{})
		}).WithTimeout(2 * time.Second).Should(Succeed())

		for _, n := range []string{"keeper", "another"} {
			Expect(k8sClient.Delete(ctx, &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: n}})).To(Succeed())
		}
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Community{}))
		}).WithTimeout(30 * time.Second).Should(BeTrue())
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.DeletionTimestamp).NotTo(BeNil(), "the namespace the operator created is being deleted")
	})

	It("writes nothing once Ready, even when reconciled again", func() {
		create(nil)
		ours := func(namespace, objName string) bool {
			return namespace == ns || (namespace == "" && objName == name)
		}
		// Let the events of its own creation settle.
		Eventually(func() int64 {
			start := writes.count(ours)
			time.Sleep(time.Second)
			return writes.count(ours) - start
		}).WithTimeout(30 * time.Second).Should(BeZero())

		start := writes.count(ours)
		// A namespace event maps to the Community: a full reconcile pass
		// over a community that already matches its spec.
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		base := namespace.DeepCopy()
		namespace.Annotations["example.org/touched"] = "by a test"
		Expect(k8sClient.Patch(ctx, namespace, client.MergeFrom(base))).To(Succeed())
		Consistently(func() int64 {
			return writes.count(func(namespace, objName string) bool { return namespace == ns })
		}).WithTimeout(3 * time.Second).Should(BeNumerically("==", writes.count(func(namespace, _ string) bool { return namespace == ns })))
		// The namespace itself was changed by someone else: re-applying it
		// (a no-op on the server) is the one write drift correction costs.
		Expect(writes.count(ours) - start).To(BeNumerically("<=", 1))
	})
})
