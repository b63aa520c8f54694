package controllers_test

import (
	"io"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// Cross-tenant specs of issue 12: two communities, each acted for by its
// own admin through the API server's RBAC (impersonated), and what one
// does must not change the other's result. Each spec says which case it
// proves and how it was seen to fail with that case's fix reverted.
// (Other cases have theirs elsewhere: 2 and 3 admission in tenancy_test,
// 9 in fairness_test, 11's visibility none and URL change in
// federationpolicy_test.)
var _ = Describe("One community cannot hurt another", Ordered, func() {
	const (
		river = "xt-river"
		hill  = "xt-hill"
		alice = "alice@xt-river.example"
		bob   = "bob@xt-hill.example"
	)
	var aliceC, bobC client.Client

	BeforeAll(func() {
		for _, c := range []*v1alpha1.Community{
			{ObjectMeta: metav1.ObjectMeta{Name: river}, Spec: v1alpha1.CommunitySpec{DisplayName: "River Commons",
				Domains: []v1alpha1.Domain{"xt-river.example"},
				Members: []v1alpha1.CommunityMember{{Kind: v1alpha1.SubjectUser, Name: alice, Role: v1alpha1.RoleAdmin}}}},
			{ObjectMeta: metav1.ObjectMeta{Name: hill}, Spec: v1alpha1.CommunitySpec{DisplayName: "Hill Co-op",
				Domains: []v1alpha1.Domain{"xt-hill.example"},
				Members: []v1alpha1.CommunityMember{{Kind: v1alpha1.SubjectUser, Name: bob, Role: v1alpha1.RoleAdmin}}}},
		} {
			Expect(k8sClient.Create(ctx, c)).To(Succeed())
			readyCommunity(c.Name)
		}
		aliceC, bobC = as(alice), as(bob)
	})

	// server connects a fake Mastodon as the tenant's external Instance,
	// labelled spec=<name> so that exactly one policy selects it.
	server := func(tenant client.Client, ns, name string) *fakeserver.Server {
		GinkgoHelper()
		srv := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(srv.Close)
		Expect(tenant.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-token"},
			Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
		})).To(Succeed())
		Expect(tenant.Create(ctx, &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"spec": name}},
			Spec: v1alpha1.InstanceSpec{
				Software: v1alpha1.SoftwareMastodon, Domain: v1alpha1.Domain(name + "." + ns + ".example"),
				External:   &v1alpha1.ExternalServer{URL: srv.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: name + "-token"}},
				Federation: &v1alpha1.InstanceFederation{DriftCheckInterval: &metav1.Duration{Duration: time.Hour}},
			},
		})).To(Succeed())
		return srv
	}
	// policy creates, as the tenant, a policy selecting the Instances
	// labelled spec=<selects> ("" selects none).
	policy := func(tenant client.Client, ns, name, selects string, entries ...string) *v1alpha1.FederationPolicy {
		GinkgoHelper()
		p := &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: v1alpha1.FederationPolicySpec{
				InstanceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"spec": "none"}},
			},
		}
		if selects != "" {
			p.Spec.InstanceSelector.MatchLabels["spec"] = selects
		}
		for _, d := range entries {
			p.Spec.Entries = append(p.Spec.Entries, v1alpha1.PolicyEntry{Domain: v1alpha1.Domain(d), Action: v1alpha1.ActionSuspend})
		}
		Expect(tenant.Create(ctx, p)).To(Succeed())
		return p
	}
	// addEntry adds a suspension to the policy, as the tenant.
	addEntry := func(tenant client.Client, ns, name, domain string) {
		GinkgoHelper()
		p := fedPolicy(ns, name)
		base := p.DeepCopy()
		p.Spec.Entries = append(p.Spec.Entries, v1alpha1.PolicyEntry{Domain: v1alpha1.Domain(domain), Action: v1alpha1.ActionSuspend})
		Expect(tenant.Patch(ctx, p, client.MergeFrom(base))).To(Succeed())
	}

	// Case 2. Checked by reverting: with invalid protected names failing
	// the merge and InvalidDomain Instances still protecting (main before
	// 90c29d1 and cf0eeac) both communities' policies go MergeFailed here.
	// Either layer alone keeps this spec green; each has its unit test
	// (moderation TestMergeSkipsInvalidProtected, tenancy limits_test).
	It("case 2: an Instance whose domain is not valid punycode stops no community's policy", func() {
		hillSrv, riverSrv := server(bobC, hill, "c2"), server(aliceC, river, "c2")
		policy(bobC, hill, "c2", "c2", "before.example")
		policy(aliceC, river, "c2", "c2", "before.example")
		waitSynced(hill, "c2", policyHash(hill, "c2"))
		waitSynced(river, "c2", policyHash(river, "c2"))

		By("alice creates an Instance the CRD pattern admits and IDNA refuses")
		Expect(aliceC.Create(ctx, &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "c2-punycode"},
			Spec: v1alpha1.InstanceSpec{
				Software: v1alpha1.SoftwareMastodon, Domain: "xn--zz.xt-river.example",
				External:   &v1alpha1.ExternalServer{URL: "https://xn--zz.xt-river.example", TokenSecretRef: v1alpha1.SecretKeyReference{Name: "none"}},
				Federation: &v1alpha1.InstanceFederation{Sync: new(false)},
			},
		})).To(Succeed())
		eventuallyCondition(river, "c2-punycode", v1alpha1.ConditionStalled, metav1.ConditionTrue, "InvalidDomain")

		By("both communities' next changes still reach their servers (before the fix: MergeFailed everywhere)")
		addEntry(bobC, hill, "c2", "after.example")
		addEntry(aliceC, river, "c2", "after.example")
		for _, s := range []struct {
			ns  string
			srv *fakeserver.Server
		}{{hill, hillSrv}, {river, riverSrv}} {
			waitSynced(s.ns, "c2", policyHash(s.ns, "c2"))
			Expect(managedDomains(s.srv)).To(ConsistOf("before.example=suspend", "after.example=suspend"))
			Expect(meta.IsStatusConditionTrue(fedPolicy(s.ns, "c2").Status.Conditions, v1alpha1.ConditionStalled)).To(BeFalse())
		}
	})

	// Case 3. Checked by reverting: when another community's Instance
	// refuses our local entries too (moderation.Protected without owners),
	// hill's xt-gab.example is rejected and deleted from its server.
	It("case 3: another community's Instance under a name we block lifts none of our own blocks", func() {
		hillSrv := server(bobC, hill, "c3")
		policy(bobC, hill, "c3", "c3", "xt-gab.example")
		waitSynced(hill, "c3", policyHash(hill, "c3"))
		Expect(managedDomains(hillSrv)).To(ConsistOf("xt-gab.example=suspend"))
		hillSrv.ResetCounters()

		By("alice's copycat under that name, refused: river was not given it")
		riverSrv := fakeserver.NewMastodon(fakeserver.Options{})
		DeferCleanup(riverSrv.Close)
		Expect(aliceC.Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "c3-token"},
			Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
		})).To(Succeed())
		Expect(aliceC.Create(ctx, &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "c3-gab"},
			Spec: v1alpha1.InstanceSpec{
				Software: v1alpha1.SoftwareMastodon, Domain: "x.xt-gab.example",
				External:   &v1alpha1.ExternalServer{URL: riverSrv.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: "c3-token"}},
				Federation: &v1alpha1.InstanceFederation{Sync: new(false)},
			},
		})).To(Succeed())
		eventuallyCondition(river, "c3-gab", v1alpha1.ConditionStalled, metav1.ConditionTrue, "DomainNotAllowed")

		By("the co-op gives river the name: alice's Instance is let in, and protects it")
		Eventually(func() error {
			c := &v1alpha1.Community{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: river}, c); err != nil {
				return err
			}
			c.Spec.Domains = append(c.Spec.Domains, "xt-gab.example")
			return k8sClient.Update(ctx, c)
		}).WithTimeout(10 * time.Second).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(meta.IsStatusConditionTrue(fedInstance(river, "c3-gab").Status.Conditions, v1alpha1.ConditionStalled)).To(BeFalse())
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("hill's own block stays (before the fix: 'parent of our instance', deleted from hill's server)")
		// A change of hill's policy makes sure it is computed with the
		// admitted Instance in view.
		addEntry(bobC, hill, "c3", "other.example")
		waitSynced(hill, "c3", policyHash(hill, "c3"))
		Consistently(func(g Gomega) {
			g.Expect(managedDomains(hillSrv)).To(ConsistOf("xt-gab.example=suspend", "other.example=suspend"))
			g.Expect(fedPolicy(hill, "c3").Status.Rejected).To(BeZero())
		}).WithTimeout(3 * time.Second).Should(Succeed())
		Expect(hillSrv.Writes()).To(Equal(1), "one write, other.example's: nothing deleted")
	})

	// Case 5. Checked by reverting: when delivery reads a selector it
	// cannot evaluate as "selects nothing" (internal/delivery resultFor),
	// the Instance syncs an empty policy and keep-a/keep-b are deleted.
	It("case 5: a selector typo retracts nothing from the tenant's servers, and the other community keeps converging", func() {
		riverSrv, hillSrv := server(aliceC, river, "c5"), server(bobC, hill, "c5")
		policy(aliceC, river, "c5", "c5", "keep-a.example", "keep-b.example")
		policy(bobC, hill, "c5", "c5", "hill.example")
		waitSynced(river, "c5", policyHash(river, "c5"))
		waitSynced(hill, "c5", policyHash(hill, "c5"))
		riverSrv.ResetCounters()

		// An In without values is refused at admission now (validation_test);
		// a label value the API server's schema cannot check (a leading
		// '-') still reaches the reconcilers, which must hold, not retract.
		By("alice writes a selector whose value is not a label value")
		p := fedPolicy(river, "c5")
		base := p.DeepCopy()
		p.Spec.InstanceSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "spec", Operator: metav1.LabelSelectorOpIn, Values: []string{"-gold"}}}}
		if err := aliceC.Patch(ctx, p, client.MergeFrom(base)); err != nil {
			// Refused at admission is as good: the typo never lands.
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want Invalid, got %v", err)
		} else {
			Eventually(func(g Gomega) {
				c := meta.FindStatusCondition(fedPolicy(river, "c5").Status.Conditions, v1alpha1.ConditionStalled)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Reason).To(Equal("InvalidSelector"))
				g.Expect(c.Message).To(ContainSubstring("spec.instanceSelector"))
			}).WithTimeout(30 * time.Second).Should(Succeed())
			touchInstance(river, "c5")
			Eventually(func(g Gomega) {
				c := meta.FindStatusCondition(fedInstance(river, "c5").Status.Conditions, v1alpha1.ConditionFederationSynced)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Reason).To(Equal("WaitingForPolicy"))
				g.Expect(c.Message).To(ContainSubstring("instanceSelector cannot be evaluated"))
			}).WithTimeout(30 * time.Second).Should(Succeed())
		}

		By("river's server keeps everything (before the fix: every entry deleted), hill's changes go through")
		addEntry(bobC, hill, "c5", "later.example")
		waitSynced(hill, "c5", policyHash(hill, "c5"))
		Expect(managedDomains(hillSrv)).To(ConsistOf("hill.example=suspend", "later.example=suspend"))
		Consistently(managedDomains).WithArguments(riverSrv).WithTimeout(3 * time.Second).
			Should(ConsistOf("keep-a.example=suspend", "keep-b.example=suspend"))
		Expect(riverSrv.Writes()).To(BeZero())
	})

	// Case 11 (transparency page, formula injection). Checked by reverting
	// each: with the name read from the policy's label the page says
	// xt-hill; without EscapeFormula the CSV cell starts with "=".
	It("case 11: the transparency page names the Community that owns the namespace, not a label the tenant sets, and CSV comments are escaped", func() {
		p := policy(aliceC, river, "c11-page", "")
		base := p.DeepCopy()
		p.Labels = map[string]string{v1alpha1.LabelCommunity: hill} // alice poses as hill
		p.Spec.Publish = &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityPublic}
		p.Spec.Entries = []v1alpha1.PolicyEntry{{Domain: "formula.example", Action: v1alpha1.ActionSuspend,
			PublicComment: `=HYPERLINK("https://evil.example","click")`}}
		Expect(aliceC.Patch(ctx, p, client.MergeFrom(base))).To(Succeed())
		policyHash(river, "c11-page")

		page := fetch(feedPublicURL + "/policies/xt-river/c11-page.html")
		Expect(page).To(ContainSubstring("River Commons: federation policy"))
		Expect(page).NotTo(ContainSubstring(hill))
		Expect(page).NotTo(ContainSubstring("Hill Co-op"))
		Expect(fetch(feedPublicURL + "/policies/")).To(MatchRegexp(`<td>River Commons</td><td data-label="Policy"><a href="xt-river/c11-page.html">`))
		Expect(fetch(feedPublicURL + "/policies/xt-river/c11-page.csv")).To(
			ContainSubstring(`formula.example,suspend,false,false,"'=HYPERLINK(""https://evil.example"",""click"")",false`))
	})

	// Case 11 (visibility laundering). Checked by reverting: without
	// federation.Result.Restrict, hill-secret.example is in river's
	// public CSV.
	It("case 11: a public policy does not re-publish what it reads from another community's cluster-only policy", func() {
		// No spec.publish: published to the cluster only, the default.
		policy(bobC, hill, "c11-internal", "", "hill-secret.example")
		relay := policy(aliceC, river, "c11-relay", "", "river-own.example")
		base := relay.DeepCopy()
		relay.Spec.Publish = &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityPublic}
		relay.Spec.Sources = []v1alpha1.PolicySource{{Name: "hill", PolicyRef: &v1alpha1.PolicyReference{Namespace: hill, Name: "c11-internal"}}}
		Expect(aliceC.Patch(ctx, relay, client.MergeFrom(base))).To(Succeed())
		Eventually(func() int32 { return fedPolicy(river, "c11-relay").Status.Entries }).WithTimeout(30 * time.Second).Should(BeEquivalentTo(2))

		publicCSV := func() string { return fetch(feedPublicURL + "/policies/xt-river/c11-relay.csv") }
		Eventually(publicCSV).WithTimeout(10 * time.Second).Should(ContainSubstring("river-own.example"))
		Expect(publicCSV()).NotTo(ContainSubstring("hill-secret"), "before the fix: re-published to the world")
		Expect(fetch(feedPublicURL + "/policies/xt-river/c11-relay.html")).NotTo(ContainSubstring("hill-secret"))
		Expect(fetch(feedClusterURL + "/policies/xt-river/c11-relay.csv")).To(ContainSubstring("hill-secret.example"))

		By("hill publishes its policy to the world: river's public feed may carry it")
		patchPolicy(hill, "c11-internal", func(p *v1alpha1.FederationPolicy) {
			p.Spec.Publish = &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityPublic}
		})
		Eventually(publicCSV).WithTimeout(30 * time.Second).Should(ContainSubstring("hill-secret.example"))

		By("and back to the cluster only: withheld again")
		patchPolicy(hill, "c11-internal", func(p *v1alpha1.FederationPolicy) { p.Spec.Publish.Visibility = v1alpha1.VisibilityCluster })
		Eventually(publicCSV).WithTimeout(30 * time.Second).ShouldNot(ContainSubstring("hill-secret"))
	})
})

// fetch GETs a feed listener's URL and returns the body of its 200.
func fetch(url string) string {
	GinkgoHelper()
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.StatusCode).To(Equal(http.StatusOK), "GET %s: %s", url, body)
	return string(body)
}
