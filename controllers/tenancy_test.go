package controllers_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Cross-tenant specs: what one community's admin writes, through the API
// server's real RBAC as that user, must not reach beyond what the co-op
// gave the community.
var _ = Describe("Domains belong to communities", Ordered, func() {
	const (
		river = "ct-river"
		hill  = "ct-hill"
		alice = "alice@ct-river.example"
	)
	var tenant client.Client

	BeforeAll(func() {
		for _, c := range []*v1alpha1.Community{
			{ObjectMeta: metav1.ObjectMeta{Name: river}, Spec: v1alpha1.CommunitySpec{
				Domains: []v1alpha1.Domain{"ct-river.example"},
				Members: []v1alpha1.CommunityMember{{Kind: v1alpha1.SubjectUser, Name: alice, Role: v1alpha1.RoleAdmin}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: hill}, Spec: v1alpha1.CommunitySpec{
				Domains: []v1alpha1.Domain{"ct-hill.example"}}},
		} {
			Expect(k8sClient.Create(ctx, c)).To(Succeed())
			readyCommunity(c.Name)
		}
		tenant = as(alice)
	})

	external := func(name, domain, account string) *v1alpha1.Instance {
		return &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: name},
			Spec: v1alpha1.InstanceSpec{
				Software: v1alpha1.SoftwareMastodon, Domain: v1alpha1.Domain(domain), AccountDomain: v1alpha1.Domain(account),
				External:   &v1alpha1.ExternalServer{URL: "https://" + domain, TokenSecretRef: v1alpha1.SecretKeyReference{Name: "token"}},
				Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)},
			},
		}
	}
	hosted := func(name, domain string) *v1alpha1.Instance {
		return &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: name},
			Spec: v1alpha1.InstanceSpec{
				Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: v1alpha1.Domain(domain),
				Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)},
			},
		}
	}
	noIngress := func(name string) {
		GinkgoHelper()
		Consistently(func(g Gomega) {
			list := &networkingv1.IngressList{}
			g.Expect(k8sClient.List(ctx, list, client.InNamespace(river), client.MatchingLabels{v1alpha1.LabelInstance: name})).To(Succeed())
			g.Expect(list.Items).To(BeEmpty(), "a refused Instance got an Ingress")
		}).WithTimeout(2 * 1e9).Should(Succeed())
	}

	// Case 3 of the review: an Instance under another community's (or a
	// blocked) domain would claim and shield that name.
	It("refuses a tenant's Instance outside the community's domains, and creates nothing for it", func() {
		inst := hosted("gab", "x.gab.example")
		Expect(tenant.Create(ctx, inst)).To(Succeed())
		c := eventuallyCondition(river, "gab", v1alpha1.ConditionStalled, metav1.ConditionTrue, "DomainNotAllowed")
		Expect(c.Message).To(ContainSubstring("x.gab.example is not under the domains of Community ct-river (ct-river.example)"))
		noIngress("gab")

		Expect(tenant.Create(ctx, hosted("hillsite", "social.ct-hill.example"))).To(Succeed())
		eventuallyCondition(river, "hillsite", v1alpha1.ConditionStalled, metav1.ConditionTrue, "DomainNotAllowed")
	})

	It("admits it once a co-op sysadmin gives the community that domain", func() {
		Eventually(func() error { // the operator writes the status meanwhile
			c := &v1alpha1.Community{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: river}, c); err != nil {
				return err
			}
			c.Spec.Domains = append(c.Spec.Domains, "gab.example")
			return k8sClient.Update(ctx, c)
		}).WithTimeout(10 * 1e9).Should(Succeed())
		// The tenant cannot do it: the Community is the co-op's.
		c2 := &v1alpha1.Community{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: river}, c2)).To(Succeed())
		c2.Spec.Domains = append(c2.Spec.Domains, "ct-hill.example")
		expectForbidden(tenant.Update(ctx, c2))

		Eventually(func(g Gomega) {
			inst := &v1alpha1.Instance{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: river, Name: "gab"}, inst)).To(Succeed())
			for _, cond := range inst.Status.Conditions {
				g.Expect(cond.Reason).NotTo(Equal("DomainNotAllowed"))
			}
		}).WithTimeout(30 * 1e9).Should(Succeed())
	})

	// Case 2: a name the CRD pattern admits but IDNA refuses.
	It("refuses an Instance whose domain is not valid punycode", func() {
		Expect(tenant.Create(ctx, external("punycode", "xn--zz.ct-river.example", ""))).To(Succeed())
		c := eventuallyCondition(river, "punycode", v1alpha1.ConditionStalled, metav1.ConditionTrue, "InvalidDomain")
		Expect(c.Message).To(ContainSubstring("spec.domain xn--zz.ct-river.example is not a valid domain name"))
	})

	It("refuses reserved '--' labels at admission", func() {
		err := tenant.Create(ctx, external("reserved", "ab--cd.ct-river.example", ""))
		Expect(err).To(MatchError(ContainSubstring("reserved for punycode")))
	})

	It("claims the account domain as well as the domain", func() {
		Expect(tenant.Create(ctx, external("apex", "ct-river.example", ""))).To(Succeed())
		eventuallyCondition(river, "apex", v1alpha1.ConditionStalled, metav1.ConditionTrue, "SecretNotFound")
		Expect(tenant.Create(ctx, external("handles", "social.ct-river.example", "ct-river.example"))).To(Succeed())
		c := eventuallyCondition(river, "handles", v1alpha1.ConditionStalled, metav1.ConditionTrue, "DomainTaken")
		Expect(c.Message).To(ContainSubstring("domain ct-river.example is already served by Instance ct-river/apex"))
	})

	It("refuses Ingress annotations, ClusterIssuers and Gateways the co-op does not allow", func() {
		snippet := hosted("snippet", "snippet.ct-river.example")
		snippet.Spec.Ingress = &v1alpha1.IngressSpec{Annotations: map[string]string{
			"nginx.ingress.kubernetes.io/auth-tls-secret": "kube-system/ca",
		}}
		Expect(tenant.Create(ctx, snippet)).To(Succeed())
		c := eventuallyCondition(river, "snippet", v1alpha1.ConditionStalled, metav1.ConditionTrue, "AnnotationNotAllowed")
		Expect(c.Message).To(ContainSubstring("nginx.ingress.kubernetes.io/auth-tls-secret may not be set by a community"))
		noIngress("snippet")

		gw := hosted("gateway", "gateway.ct-river.example")
		gw.Spec.Gateway = &v1alpha1.GatewaySpec{ParentRefs: []v1alpha1.GatewayParentReference{{Name: "private", Namespace: hill}}}
		Expect(tenant.Create(ctx, gw)).To(Succeed())
		c = eventuallyCondition(river, "gateway", v1alpha1.ConditionStalled, metav1.ConditionTrue, "GatewayNotAllowed")
		Expect(c.Message).To(ContainSubstring("Gateway ct-hill/private is in another namespace"))
	})
})
