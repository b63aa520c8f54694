package controllers_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers/fakeserver"
)

// reviewedSetup makes an upstream community publishing a.example, and a
// community whose policy "shared" subscribes to it with spec.review
// required 2, applied to a fake Mastodon server. Review starts from the
// first computation (own.example and a.example), which the server gets.
func reviewedSetup(review *v1alpha1.ReviewSpec) (ns, up string, mast *fakeserver.Server) {
	GinkgoHelper()
	ns, up = newNamespace(), newNamespace()
	mast = fakeserver.NewMastodon(fakeserver.Options{})
	DeferCleanup(mast.Close)
	Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: up, Name: "upstream"},
		Spec: v1alpha1.FederationPolicySpec{
			Entries: []v1alpha1.PolicyEntry{{Domain: "a.example", Action: v1alpha1.ActionSuspend}},
			Publish: &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityCluster},
		},
	})).To(Succeed())
	policyHash(up, "upstream")
	externalFake(ns, "toot", v1alpha1.SoftwareMastodon, mast)
	Expect(k8sClient.Create(ctx, &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
		Spec: v1alpha1.FederationPolicySpec{
			Entries: []v1alpha1.PolicyEntry{{Domain: "own.example", Action: v1alpha1.ActionSuspend}},
			Sources: []v1alpha1.PolicySource{{Name: "upstream", PolicyRef: &v1alpha1.PolicyReference{Namespace: up, Name: "upstream"}, Weight: ptr.To[int32](1)}},
			Publish: &v1alpha1.PublishSpec{Visibility: v1alpha1.VisibilityCluster},
			Review:  review,
		},
	})).To(Succeed())
	waitSynced(ns, "toot", policyHash(ns, "shared"))
	Expect(managedDomains(mast)).To(ConsistOf("a.example=suspend", "own.example=suspend"))
	return ns, up, mast
}

// setUpstream replaces what the upstream community publishes.
func setUpstream(up string, domains ...string) {
	GinkgoHelper()
	p := fedPolicy(up, "upstream")
	base := p.DeepCopy()
	p.Spec.Entries = nil
	for _, d := range domains {
		p.Spec.Entries = append(p.Spec.Entries, v1alpha1.PolicyEntry{Domain: v1alpha1.Domain(d), Action: v1alpha1.ActionSuspend})
	}
	Expect(k8sClient.Patch(ctx, p, client.MergeFrom(base))).To(Succeed())
}

// pendingProposal waits for the policy to name a pending proposal other
// than those given, and returns it.
func pendingProposal(ns string, not ...string) *v1alpha1.PolicyProposal {
	GinkgoHelper()
	prop := &v1alpha1.PolicyProposal{}
	Eventually(func(g Gomega) {
		p := fedPolicy(ns, "shared")
		g.Expect(p.Status.Review).NotTo(BeNil())
		g.Expect(p.Status.Review.PendingProposal).NotTo(BeEmpty())
		g.Expect(not).NotTo(ContainElement(p.Status.Review.PendingProposal))
		c := condition(g, p, v1alpha1.ConditionReviewPending)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		g.Expect(c.Message).To(ContainSubstring(p.Status.Review.PendingProposal))
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: p.Status.Review.PendingProposal}, prop)).To(Succeed())
		g.Expect(prop.Status.Phase).To(Equal(v1alpha1.ProposalPending))
	}).WithTimeout(60 * time.Second).Should(Succeed())
	return prop
}

// decide makes user's approval or rejection of prop as user (impersonated),
// through the shipped admission policy: user is bound to the community
// moderator role in ns, as a Community's member would be.
func decide(ns, user string, prop *v1alpha1.PolicyProposal, d v1alpha1.Decision) {
	GinkgoHelper()
	err := k8sClient.Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "moderator-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "fedcommons-community-moderator"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	})
	if !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	// RBAC caches bindings for a moment: retry a refusal by RBAC, never
	// one by the admission policy.
	Eventually(func() error {
		err := as(user).Create(ctx, v1alpha1.NewApproval(prop, user, d, "looked at it"))
		if err != nil && strings.Contains(err.Error(), "ValidatingAdmissionPolicy") {
			return StopTrying(err.Error())
		}
		return err
	}).WithTimeout(10 * time.Second).Should(Succeed())
}

// withdraw deletes user's decision on prop, as user.
func withdraw(ns, user string, prop *v1alpha1.PolicyProposal) {
	GinkgoHelper()
	Expect(as(user).Delete(ctx, &v1alpha1.PolicyApproval{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v1alpha1.ApprovalName(prop.Name, user)}})).To(Succeed())
}

func proposal(ns, name string) *v1alpha1.PolicyProposal {
	GinkgoHelper()
	prop := &v1alpha1.PolicyProposal{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, prop)).To(Succeed())
	return prop
}

// serverStays checks for a while that the server holds exactly domains,
// after making its Instance compare it with the policy.
func serverStays(ns string, mast *fakeserver.Server, domains ...any) {
	GinkgoHelper()
	touchInstance(ns, "toot")
	waitSynced(ns, "toot", fedPolicy(ns, "shared").Status.PolicyHash)
	Consistently(managedDomains).WithArguments(mast).WithTimeout(3 * time.Second).Should(ConsistOf(domains...))
}

func getBody(url string) (int, string) {
	GinkgoHelper()
	resp, err := http.Get(url)
	Expect(err).NotTo(HaveOccurred())
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	Expect(err).NotTo(HaveOccurred())
	return resp.StatusCode, string(body)
}

var _ = Describe("Reviewed moderation (spec.review)", func() {
	It("holds a subscribed addition until two people approve it, applies exactly that, and never counts a superseded proposal's approvals", func() {
		ns, up, mast := reviewedSetup(&v1alpha1.ReviewSpec{Required: 2, HistoryLimit: 1})
		Eventually(func(g Gomega) {
			g.Expect(policyEvents(g, ns, "shared")).To(ContainElement(ContainSubstring("ReviewStarted: review starts from the first computation (2 entries)")))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("the upstream adds b.example: a proposal, and the server does not get it")
		setUpstream(up, "a.example", "b.example")
		first := pendingProposal(ns)
		Expect(first.Spec.Policy).To(Equal("shared"))
		Expect(first.Name).To(HavePrefix("shared-"))
		Expect(first.Spec.Summary).To(Equal(v1alpha1.ChangeSummary{Added: 1}))
		Expect(first.Spec.Changes).To(ConsistOf(And(HaveField("Domain", "b.example"), HaveField("Before", ""), HaveField("After", "suspend"),
			HaveField("Why", ContainSubstring("upstream suspend")))))
		Expect(first.Spec.ProposedBy).To(Equal("source upstream (1 domain)"))
		Expect(first.OwnerReferences).To(ConsistOf(HaveField("Name", "shared")))
		Expect(first.Spec.BaseHash).To(Equal(fedPolicy(ns, "shared").Status.PolicyHash))
		Expect(first.Spec.EffectiveHash).NotTo(Equal(first.Spec.BaseHash))
		serverStays(ns, mast, "a.example=suspend", "own.example=suspend")

		By("the whole change set is served by the cluster feed listener")
		Expect(first.Spec.ChangesURL).To(HavePrefix(feedClusterURL + "/" + ns + "/shared/proposals/"))
		code, body := getBody(first.Spec.ChangesURL)
		Expect(code).To(Equal(http.StatusOK))
		var set struct {
			Hash    string
			Changes []struct{ Domain, After, Kind string }
		}
		Expect(json.Unmarshal([]byte(body), &set)).To(Succeed())
		Expect(set.Hash).To(Equal(first.Spec.Hash))
		Expect(set.Changes).To(ConsistOf(HaveField("Domain", "b.example")))
		code, _ = getBody(feedPublicURL + "/" + ns + "/shared/proposals/" + first.Name + ".json")
		Expect(code).To(Equal(http.StatusNotFound), "the public listener does not serve change sets")

		By("one approval is not enough")
		decide(ns, "alice", first, v1alpha1.DecisionApprove)
		Eventually(func() []v1alpha1.Vote { return proposal(ns, first.Name).Status.Approvals }).WithTimeout(30 * time.Second).Should(ConsistOf(HaveField("User", "alice")))
		Expect(proposal(ns, first.Name).Status.Phase).To(Equal(v1alpha1.ProposalPending))
		serverStays(ns, mast, "a.example=suspend", "own.example=suspend")

		By("a newer computation supersedes it; approvals of the old hash do not count for the new one")
		setUpstream(up, "a.example", "b.example", "c.example")
		second := pendingProposal(ns, first.Name)
		Expect(second.Spec.Summary).To(Equal(v1alpha1.ChangeSummary{Added: 2}))
		old := proposal(ns, first.Name)
		Expect(old.Status.Phase).To(Equal(v1alpha1.ProposalSuperseded))
		Expect(old.Status.SupersededBy).To(Equal(second.Name))
		Expect(old.Status.DecidedAt).NotTo(BeNil())
		Expect(old.Status.Message).To(ContainSubstring("approvals of this one do not carry over"))
		decide(ns, "bob", old, v1alpha1.DecisionApprove)
		decide(ns, "alice", second, v1alpha1.DecisionApprove)
		// Bob read the old change set and approves the new name with the
		// hash he read: that approves nothing.
		stale := second.DeepCopy()
		stale.Spec.Hash = first.Spec.Hash
		decide(ns, "bob", stale, v1alpha1.DecisionApprove)
		Eventually(func() []v1alpha1.Vote { return proposal(ns, second.Name).Status.Approvals }).WithTimeout(30 * time.Second).Should(ConsistOf(HaveField("User", "alice")))
		serverStays(ns, mast, "a.example=suspend", "own.example=suspend")
		Expect(proposal(ns, second.Name).Status.Phase).To(Equal(v1alpha1.ProposalPending), "bob's approval of the superseded hash counted")

		By("bob withdraws it and approves what he now reads: the servers get exactly the approved change set")
		withdraw(ns, "bob", second)
		decide(ns, "bob", second, v1alpha1.DecisionApprove)
		Eventually(func(g Gomega) {
			prop := proposal(ns, second.Name)
			g.Expect(prop.Status.Phase).To(Equal(v1alpha1.ProposalApplied))
			g.Expect(prop.Status.Approvals).To(HaveLen(2))
			g.Expect(prop.Status.DecidedAt).NotTo(BeNil())
			p := fedPolicy(ns, "shared")
			g.Expect(p.Status.Review.PendingProposal).To(BeEmpty())
			g.Expect(p.Status.Review.AppliedHash).To(Equal(second.Spec.EffectiveHash))
			g.Expect(p.Status.PolicyHash).To(Equal(second.Spec.EffectiveHash))
			g.Expect(condition(g, p, v1alpha1.ConditionReviewPending).Reason).To(Equal(v1alpha1.ReasonNothingToReview))
		}).WithTimeout(60 * time.Second).Should(Succeed())
		waitSynced(ns, "toot", second.Spec.EffectiveHash)
		Expect(managedDomains(mast)).To(ConsistOf("a.example=suspend", "b.example=suspend", "c.example=suspend", "own.example=suspend"))
		Eventually(func(g Gomega) {
			g.Expect(policyEvents(g, ns, "shared")).To(ContainElements(
				ContainSubstring("ProposalCreated: PolicyProposal "+second.Name+" waits for 2 approvals: 2 added"),
				ContainSubstring("ProposalSuperseded: PolicyProposal "+first.Name+": superseded by PolicyProposal "+second.Name),
				ContainSubstring("ProposalApplied: PolicyProposal "+second.Name+" (2 added) approved by alice, bob"),
			))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("the transparency page's history says what was applied, who approved it and their comments")
		Eventually(func(g Gomega) {
			code, page := getBody(feedClusterURL + "/policies/" + ns + "/shared")
			g.Expect(code).To(Equal(http.StatusOK))
			g.Expect(page).To(ContainSubstring("<h2>History</h2>"))
			g.Expect(page).To(ContainSubstring("Approved by alice: <q>looked at it</q>; bob: <q>looked at it</q>."))
			g.Expect(page).To(ContainSubstring("c.example"))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("history keeps historyLimit (1) decided proposals: the superseded one goes")
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: first.Name}, &v1alpha1.PolicyProposal{})
		}).WithTimeout(30 * time.Second).Should(Satisfy(apierrors.IsNotFound))
		Expect(proposal(ns, second.Name).Status.Phase).To(Equal(v1alpha1.ProposalApplied))

		By("a late approval wakes the policy and writes nothing: steady state costs no write")
		mine := func(namespace, name string) bool {
			return namespace == ns && (name == "shared" || name == "shared-review" || name == first.Name || name == second.Name)
		}
		before := writes.count(mine)
		decide(ns, "carol", second, v1alpha1.DecisionApprove)
		Consistently(func() int64 { return writes.count(mine) }).WithTimeout(3 * time.Second).Should(Equal(before))
		Expect(proposal(ns, second.Name).Status.Approvals).To(HaveLen(2), "a decided proposal's votes are final")
	})

	It("drops a proposal at the rejection quorum and does not propose the same change set again until it changes", func() {
		ns, up, mast := reviewedSetup(&v1alpha1.ReviewSpec{Required: 2, RejectionsRequired: ptr.To[int32](2)})

		By("the upstream retracts a.example: the server keeps it while the retraction waits")
		setUpstream(up)
		prop := pendingProposal(ns)
		Expect(prop.Spec.Summary).To(Equal(v1alpha1.ChangeSummary{Removed: 1}))
		Expect(prop.Spec.ProposedBy).To(Equal("retractions (1 domain)"))
		serverStays(ns, mast, "a.example=suspend", "own.example=suspend")

		By("two people reject it")
		decide(ns, "carol", prop, v1alpha1.DecisionReject)
		decide(ns, "dan", prop, v1alpha1.DecisionReject)
		Eventually(func(g Gomega) {
			g.Expect(proposal(ns, prop.Name).Status.Phase).To(Equal(v1alpha1.ProposalRejected))
			p := fedPolicy(ns, "shared")
			g.Expect(p.Status.Review.PendingProposal).To(BeEmpty())
			c := condition(g, p, v1alpha1.ConditionReviewPending)
			g.Expect(c.Reason).To(Equal(v1alpha1.ReasonChangeRejected))
			g.Expect(c.Message).To(ContainSubstring("not proposed again until it changes"))
		}).WithTimeout(60 * time.Second).Should(Succeed())
		serverStays(ns, mast, "a.example=suspend", "own.example=suspend")
		list := &v1alpha1.PolicyProposalList{}
		Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		Expect(list.Items).To(HaveLen(1), "the rejected change set was proposed again")

		By("once the change set differs, it is proposed again")
		setUpstream(up, "z.example")
		next := pendingProposal(ns, prop.Name)
		Expect(next.Spec.Summary).To(Equal(v1alpha1.ChangeSummary{Added: 1, Removed: 1}))
	})

	It("keeps a pending proposal pending across an operator restart: nothing applied, nothing retracted", func() {
		ns, up, mast := reviewedSetup(&v1alpha1.ReviewSpec{Required: 2})
		setUpstream(up, "b.example")
		prop := pendingProposal(ns)
		Expect(prop.Spec.Summary).To(Equal(v1alpha1.ChangeSummary{Added: 1, Removed: 1}))

		By("the saved state, deleted by hand, is written again at the next pass")
		Expect(k8sClient.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared-review"}})).To(Succeed())
		decide(ns, "erin", prop, v1alpha1.DecisionApprove)
		Eventually(func() []v1alpha1.Vote { return proposal(ns, prop.Name).Status.Approvals }).WithTimeout(30 * time.Second).Should(HaveLen(1))
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "shared-review"}, &corev1.ConfigMap{})
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("a second operator starts with empty memory, and reads the applied state back")
		clusterAddr := freeLoopbackAddr()
		stop := startSecondOperator(clusterAddr)
		defer stop()
		// The restarted operator serves what it computed: the applied
		// entries (a.example kept, b.example not added) and the pending
		// change set, which it can only know from the saved state.
		Eventually(func(g Gomega) {
			resp, err := http.Get("http://" + clusterAddr + "/policies/" + ns + "/shared.txt")
			g.Expect(err).NotTo(HaveOccurred())
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			g.Expect(resp.StatusCode).To(Equal(http.StatusOK))
			g.Expect(string(body)).To(And(ContainSubstring("a.example"), ContainSubstring("own.example"), Not(ContainSubstring("b.example"))))
			resp2, err := http.Get("http://" + clusterAddr + "/" + ns + "/shared/proposals/" + prop.Name + ".json")
			g.Expect(err).NotTo(HaveOccurred())
			defer resp2.Body.Close()
			g.Expect(resp2.StatusCode).To(Equal(http.StatusOK))
		}).WithTimeout(60 * time.Second).Should(Succeed())
		serverStays(ns, mast, "a.example=suspend", "own.example=suspend")
		p := fedPolicy(ns, "shared")
		Expect(p.Status.Review.PendingProposal).To(Equal(prop.Name))
		Expect(proposal(ns, prop.Name).Status.Phase).To(Equal(v1alpha1.ProposalPending))
		Expect(proposal(ns, prop.Name).Status.Approvals).To(HaveLen(1))
		Consistently(func(g Gomega) {
			g.Expect(policyEvents(g, ns, "shared")).NotTo(ContainElement(ContainSubstring("review starts from the first computation (1 entry)")))
		}).WithTimeout(2 * time.Second).Should(Succeed())
		stop()
	})

	It("without spec.review applies a subscribed addition at once and makes no proposal", func() {
		ns, up, mast := reviewedSetup(nil)
		setUpstream(up, "a.example", "b.example")
		Eventually(managedDomains).WithArguments(mast).WithTimeout(60 * time.Second).Should(ConsistOf("a.example=suspend", "b.example=suspend", "own.example=suspend"))
		p := fedPolicy(ns, "shared")
		Expect(p.Status.Review).To(BeNil())
		Expect(p.Status.Conditions).NotTo(ContainElement(HaveField("Type", v1alpha1.ConditionReviewPending)))
		list := &v1alpha1.PolicyProposalList{}
		Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
		Expect(list.Items).To(BeEmpty())
	})
})
