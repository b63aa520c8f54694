package controllers_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// externalFake connects a fake admin server as an external Instance.
func externalFake(ns, name string, software v1alpha1.Software, srv *fakeserver.Server) *v1alpha1.Instance {
	GinkgoHelper()
	Expect(k8sClient.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name + "-token"},
		Data:       map[string][]byte{"token": []byte(fakeserver.DefaultToken)},
	})).To(Succeed())
	inst := &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.InstanceSpec{
			Software: software,
			Domain:   v1alpha1.Domain(name + "." + ns + ".example"),
			External: &v1alpha1.ExternalServer{URL: srv.URL, TokenSecretRef: v1alpha1.SecretKeyReference{Name: name + "-token"}},
			Federation: &v1alpha1.InstanceFederation{
				DriftCheckInterval: &metav1.Duration{Duration: 60 * 60 * 1e9},
			},
		},
	}
	Expect(k8sClient.Create(ctx, inst)).To(Succeed())
	return inst
}

func fedInstance(ns, name string) *v1alpha1.Instance {
	GinkgoHelper()
	inst := &v1alpha1.Instance{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst)).To(Succeed())
	return inst
}

func fedPolicy(ns, name string) *v1alpha1.FederationPolicy {
	GinkgoHelper()
	p := &v1alpha1.FederationPolicy{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, p)).To(Succeed())
	return p
}

// waitSynced waits until the Instance reports the policy hash applied at
// its current generation and returns it.
func waitSynced(ns, name, hash string) *v1alpha1.Instance {
	GinkgoHelper()
	var inst *v1alpha1.Instance
	Eventually(func(g Gomega) {
		inst = &v1alpha1.Instance{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, inst)).To(Succeed())
		c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionFederationSynced)
		g.Expect(c).NotTo(BeNil(), "conditions: %v", inst.Status.Conditions)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "%s: %s", c.Reason, c.Message)
		g.Expect(c.ObservedGeneration).To(Equal(inst.Generation))
		g.Expect(inst.Status.Federation).NotTo(BeNil())
		g.Expect(inst.Status.Federation.PolicyHash).To(Equal(hash))
	}).WithTimeout(90 * 1e9).Should(Succeed())
	return inst
}

// policyHash waits for the policy to be computed at its generation.
func policyHash(ns, name string) string {
	GinkgoHelper()
	var hash string
	Eventually(func(g Gomega) {
		p := fedPolicy(ns, name)
		g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
		g.Expect(p.Status.PolicyHash).NotTo(BeEmpty())
		// Computed and handed to the Instances at this generation; Ready
		// may still be False for a refused entry or a failing source.
		applied := meta.FindStatusCondition(p.Status.Conditions, v1alpha1.ConditionApplied)
		g.Expect(applied).NotTo(BeNil(), "conditions: %v", p.Status.Conditions)
		g.Expect(applied.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(applied.ObservedGeneration).To(Equal(p.Generation))
		hash = p.Status.PolicyHash
	}).WithTimeout(60 * 1e9).Should(Succeed())
	return hash
}

func conditionTrue(conds []metav1.Condition, t string) bool {
	c := meta.FindStatusCondition(conds, t)
	return c != nil && c.Status == metav1.ConditionTrue
}

// touchInstance changes the Instance's spec (its drift interval) so that
// it is reconciled, and the server compared with the policy, at once.
func touchInstance(ns, name string) {
	GinkgoHelper()
	inst := fedInstance(ns, name)
	base := inst.DeepCopy()
	inst.Spec.Federation.DriftCheckInterval.Duration += 60 * 1e9
	Expect(k8sClient.Patch(ctx, inst, client.MergeFrom(base))).To(Succeed())
}

func managedDomains(srv *fakeserver.Server) []string {
	var out []string
	for _, b := range srv.Blocks() {
		if strings.HasPrefix(b.PrivateComment, drivers.Marker) {
			out = append(out, b.Domain+"="+b.Severity)
		}
	}
	return out
}

// deleteByHand removes an entry with the admin API, as a human would.
func deleteByHand(srv *fakeserver.Server, id string) {
	GinkgoHelper()
	req, err := http.NewRequest(http.MethodDelete, srv.URL+"/api/v1/admin/domain_blocks/"+id, nil)
	Expect(err).NotTo(HaveOccurred())
	req.Header.Set("Authorization", "Bearer "+fakeserver.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	Expect(err).NotTo(HaveOccurred())
	Expect(resp.Body.Close()).To(Succeed())
	Expect(resp.StatusCode).To(Equal(http.StatusOK))
}

var _ = Describe("Federation", func() {
	It("pushes a policy into external Mastodon and GoToSocial servers with one call per change, leaves hand-made entries alone and restores drift", func() {
		ns := newNamespace()
		mast := fakeserver.NewMastodon(fakeserver.Options{})
		gts := fakeserver.NewGoToSocial(fakeserver.Options{})
		DeferCleanup(mast.Close)
		DeferCleanup(gts.Close)
		mast.AddBlock(fakeserver.Record{Domain: "handmade.example", Severity: "silence", PrivateComment: "a human decided"})

		externalFake(ns, "toot", v1alpha1.SoftwareMastodon, mast)
		externalFake(ns, "gts", v1alpha1.SoftwareGoToSocial, gts)
		policy := &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: v1alpha1.FederationPolicySpec{Entries: []v1alpha1.PolicyEntry{
				{Domain: "spam.example", Action: v1alpha1.ActionSuspend, PublicComment: "spam"},
				{Domain: "bad.example", Action: v1alpha1.ActionSuspend},
				// Our own server: the protected-domain rule refuses it.
				{Domain: v1alpha1.Domain("toot." + ns + ".example"), Action: v1alpha1.ActionSuspend},
			}},
		}
		Expect(k8sClient.Create(ctx, policy)).To(Succeed())
		hash := policyHash(ns, "shared")
		p := fedPolicy(ns, "shared")
		Expect(p.Status.Entries).To(BeEquivalentTo(2))
		Expect(p.Status.Rejected).To(BeEquivalentTo(1), "our own Instance's domain is never blocked")
		Expect(p.Status.Instances).To(BeEquivalentTo(2))

		By("both servers get exactly the entries, one write call each")
		toot := waitSynced(ns, "toot", hash)
		waitSynced(ns, "gts", hash)
		Expect(managedDomains(mast)).To(ConsistOf("bad.example=suspend", "spam.example=suspend"))
		Expect(managedDomains(gts)).To(ConsistOf("bad.example=", "spam.example="))
		Expect(mast.Writes()).To(Equal(2))
		Expect(gts.Writes()).To(Equal(2))
		Expect(toot.Status.Federation.Entries).To(BeEquivalentTo(2))
		Expect(toot.Status.Federation.UnmanagedEntries).To(BeEquivalentTo(1), "the hand-made block is reported")
		Expect(toot.Status.Federation.LastSyncTime).NotTo(BeNil())
		Expect(mast.Blocks()).To(ContainElement(HaveField("Domain", "handmade.example")), "and left alone")
		GinkgoWriter.Printf("initial sync: mastodon %d writes %v, gotosocial %d writes %v\n", mast.Writes(), mast.Calls(), gts.Writes(), gts.Calls())

		By("removing an entry removes it from both, one call each")
		mast.ResetCounters()
		gts.ResetCounters()
		p = fedPolicy(ns, "shared")
		base := p.DeepCopy()
		p.Spec.Entries = p.Spec.Entries[1:]
		Expect(k8sClient.Patch(ctx, p, client.MergeFrom(base))).To(Succeed())
		Eventually(func() string { return fedPolicy(ns, "shared").Status.PolicyHash }).ShouldNot(Equal(hash))
		hash = policyHash(ns, "shared")
		waitSynced(ns, "toot", hash)
		waitSynced(ns, "gts", hash)
		Expect(managedDomains(mast)).To(ConsistOf("bad.example=suspend"))
		Expect(managedDomains(gts)).To(ConsistOf("bad.example="))
		Expect(mast.Writes()).To(Equal(1))
		Expect(gts.Writes()).To(Equal(1))

		By("an entry deleted by hand is restored at the next check")
		for _, b := range mast.Blocks() {
			if b.Domain == "bad.example" {
				deleteByHand(mast, b.ID)
			}
		}
		mast.ResetCounters()
		touchInstance(ns, "toot")
		Eventually(managedDomains).WithArguments(mast).Should(ConsistOf("bad.example=suspend"))
		waitSynced(ns, "toot", hash)
		Expect(mast.Writes()).To(Equal(1))

		By("a re-sync of an unchanged policy makes zero write calls")
		mast.ResetCounters()
		touchInstance(ns, "toot")
		Eventually(func() int { return mast.Calls()["GET /api/v1/admin/domain_blocks"] }).Should(BeNumerically(">", 0))
		waitSynced(ns, "toot", hash)
		Expect(mast.Writes()).To(BeZero())
	})

	It("delivers a policy of 5,000 entries with no more write calls than entries, and re-syncs it with none", func() {
		ns := newNamespace()
		mast := fakeserver.NewMastodon(fakeserver.Options{})
		gts := fakeserver.NewGoToSocial(fakeserver.Options{})
		DeferCleanup(mast.Close)
		DeferCleanup(gts.Close)
		externalFake(ns, "toot", v1alpha1.SoftwareMastodon, mast)
		externalFake(ns, "gts", v1alpha1.SoftwareGoToSocial, gts)
		entries := make([]v1alpha1.PolicyEntry, 5000)
		for i := range entries {
			entries[i] = v1alpha1.PolicyEntry{Domain: v1alpha1.Domain(fmt.Sprintf("spam%04d.example", i)), Action: v1alpha1.ActionSuspend}
		}
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "big"},
			Spec:       v1alpha1.FederationPolicySpec{Entries: entries},
		})).To(Succeed())
		hash := policyHash(ns, "big")
		waitSynced(ns, "toot", hash)
		waitSynced(ns, "gts", hash)
		Expect(managedDomains(mast)).To(HaveLen(5000))
		Expect(managedDomains(gts)).To(HaveLen(5000))
		GinkgoWriter.Printf("5,000 entries: mastodon %d write calls, gotosocial %d write calls\n", mast.Writes(), gts.Writes())
		Expect(mast.Writes()).To(BeNumerically("<=", 5000))
		Expect(gts.Writes()).To(BeNumerically("<", 5000), "GoToSocial gets bulk imports")

		mast.ResetCounters()
		gts.ResetCounters()
		touchInstance(ns, "toot")
		touchInstance(ns, "gts")
		Eventually(func() int { return mast.Calls()["GET /api/v1/admin/domain_blocks"] }).Should(BeNumerically(">", 0))
		Eventually(func() int { return gts.Calls()["GET /api/v1/admin/domain_blocks"] }).Should(BeNumerically(">", 0))
		waitSynced(ns, "toot", hash)
		waitSynced(ns, "gts", hash)
		Expect(mast.Writes()).To(BeZero())
		Expect(gts.Writes()).To(BeZero())
	})

	It("merges url sources by weight and threshold, reads published policies of other namespaces and keeps our own domains out", func() {
		hill := newNamespace()
		ns := newNamespace()
		feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/a.txt":
				fmt.Fprintln(w, "both.example\nonly-a.example")
			case "/b.txt":
				// Lists one of our own Instance domains: refused.
				fmt.Fprintf(w, "both.example\nonly-b.example\nsocial.%s.example\n", hill)
			default:
				http.NotFound(w, r)
			}
		}))
		DeferCleanup(feed.Close)

		Expect(k8sClient.Create(ctx, &v1alpha1.Instance{
			ObjectMeta: metav1.ObjectMeta{Namespace: hill, Name: "social"},
			Spec: v1alpha1.InstanceSpec{
				Software: v1alpha1.SoftwareGoToSocial, Domain: v1alpha1.Domain("social." + hill + ".example"),
				External:   &v1alpha1.ExternalServer{URL: "https://social." + hill + ".example", TokenSecretRef: v1alpha1.SecretKeyReference{Name: "none"}},
				Federation: &v1alpha1.InstanceFederation{Sync: ptr.To(false)},
			},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: hill, Name: "published"},
			Spec: v1alpha1.FederationPolicySpec{
				Entries: []v1alpha1.PolicyEntry{{Domain: "hill.example", Action: v1alpha1.ActionSilence, PrivateComment: "not for others"}},
				Publish: &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityCluster},
			},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: hill, Name: "private"},
			Spec: v1alpha1.FederationPolicySpec{
				Entries: []v1alpha1.PolicyEntry{{Domain: "private.example", Action: v1alpha1.ActionSuspend}},
				Publish: &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityNone},
			},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "subscriber"},
			Spec: v1alpha1.FederationPolicySpec{
				Sources: []v1alpha1.PolicySource{
					{Name: "list-a", URL: feed.URL + "/a.txt", Format: v1alpha1.FormatPlain, Weight: ptr.To[int32](1)},
					{Name: "list-b", URL: feed.URL + "/b.txt", Format: v1alpha1.FormatPlain, Weight: ptr.To[int32](1)},
					{Name: "hillside", PolicyRef: &v1alpha1.PolicyReference{Namespace: hill, Name: "published"}, Weight: ptr.To[int32](2)},
					{Name: "hidden", PolicyRef: &v1alpha1.PolicyReference{Namespace: hill, Name: "private"}, Weight: ptr.To[int32](2)},
				},
				Consensus: &v1alpha1.Consensus{Threshold: &v1alpha1.Threshold{Weight: ptr.To[int32](2)}},
			},
		})).To(Succeed())
		policyHash(ns, "subscriber")
		p := fedPolicy(ns, "subscriber")
		// both.example: 1+1 ≥ 2; hill.example: 2 ≥ 2; only-a, only-b: 1 < 2.
		Expect(p.Status.Entries).To(BeEquivalentTo(2), "status: %+v", p.Status)
		Expect(p.Status.Rejected).To(BeEquivalentTo(1), "our own Instance's domain is refused")
		byName := map[string]v1alpha1.SourceStatus{}
		for _, s := range p.Status.Sources {
			byName[s.Name] = s
		}
		Expect(byName["list-a"].Entries).To(BeEquivalentTo(2))
		Expect(byName["list-a"].LastFetchTime).NotTo(BeNil())
		Expect(byName["list-a"].LastSuccessTime).NotTo(BeNil())
		Expect(byName["list-a"].Error).To(BeEmpty())
		Expect(byName["list-b"].Entries).To(BeEquivalentTo(3))
		Expect(byName["hillside"].Entries).To(BeEquivalentTo(1))
		Expect(byName["hillside"].Error).To(BeEmpty())
		Expect(byName["hidden"].Error).To(ContainSubstring("not published"))
		Expect(conditionTrue(p.Status.Conditions, v1alpha1.ConditionSourcesHealthy)).To(BeFalse())

		By("the source state is kept in a labelled, owned ConfigMap")
		cm := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "subscriber-sources"}, cm)).To(Succeed())
		Expect(cm.Labels).To(HaveKeyWithValue(v1alpha1.LabelManagedBy, v1alpha1.ManagedByValue))
		Expect(cm.BinaryData).To(HaveKey("state.json.gz"))
		Expect(cm.OwnerReferences).To(HaveLen(1))

		By("steady state writes nothing")
		count := func() int64 {
			return writes.count(func(namespace, _ string) bool { return namespace == ns })
		}
		n := count()
		Consistently(count).WithTimeout(3 * 1e9).Should(Equal(n))
	})
})
