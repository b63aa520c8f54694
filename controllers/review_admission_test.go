package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Approvals that cannot be forged (issue 17 item 3): the API server
// itself, through config/admission's ValidatingAdmissionPolicy and the
// community roles, decides who may approve, and in whose name. Every
// request here is made as a community member, impersonated, bound the way
// the product binds members (the Community's spec.members).
var _ = Describe("Approvals cannot be forged", Ordered, ContinueOnFailure, func() {
	const (
		river   = "ad-river"
		hill    = "ad-hill"
		alice   = "alice@ad-river.example"  // moderator of river
		bob     = "bob"                     // admin of river, a plain user name
		vera    = "vera@ad-river.example"   // viewer of river
		mallory = "mallory@ad-hill.example" // moderator of hill
		// An OIDC user name without a username claim: no object name can
		// carry it.
		oidc = "https://id.ad-river.example#4711"
		bot  = "system:serviceaccount:" + river + ":reviewbot"
		// Upper case and '_': the API server's CEL and ApprovalName must
		// write it the same way.
		ada = "Ada_Lovelace@AD-River.example"
		// Allowed to create approvals by a hand-written Role, not to approve.
		clerk = "clerk@ad-river.example"
	)
	var proposal *v1alpha1.PolicyProposal

	decide := func(user string, d v1alpha1.Decision) error {
		return as(user).Create(ctx, v1alpha1.NewApproval(proposal, user, d, "checked the sources"))
	}
	// expectRefusedG asserts the API server's refusal by the policy, with
	// its message.
	expectRefusedG := func(g Gomega, err error, message string) {
		g.Expect(err).To(HaveOccurred())
		g.Expect(apierrors.IsForbidden(err)).To(BeTrue(), "want 403 Forbidden, got %v", err)
		g.Expect(err.Error()).To(ContainSubstring("ValidatingAdmissionPolicy 'fedcommons-policyapprovals'"))
		g.Expect(err.Error()).To(ContainSubstring(message))
	}
	expectRefused := func(err error, message string) {
		GinkgoHelper()
		expectRefusedG(Default, err, message)
	}

	BeforeAll(func() {
		member := func(kind v1alpha1.SubjectKind, name string, role v1alpha1.CommunityRole) v1alpha1.CommunityMember {
			return v1alpha1.CommunityMember{Kind: kind, Name: name, Role: role}
		}
		for _, c := range []*v1alpha1.Community{
			{ObjectMeta: metav1.ObjectMeta{Name: river}, Spec: v1alpha1.CommunitySpec{Members: []v1alpha1.CommunityMember{
				member(v1alpha1.SubjectUser, alice, v1alpha1.RoleModerator),
				member(v1alpha1.SubjectUser, bob, v1alpha1.RoleAdmin),
				member(v1alpha1.SubjectUser, vera, v1alpha1.RoleViewer),
				member(v1alpha1.SubjectUser, oidc, v1alpha1.RoleModerator),
				member(v1alpha1.SubjectServiceAccount, "reviewbot", v1alpha1.RoleModerator),
				member(v1alpha1.SubjectUser, ada, v1alpha1.RoleModerator),
			}}},
			{ObjectMeta: metav1.ObjectMeta{Name: hill}, Spec: v1alpha1.CommunitySpec{Members: []v1alpha1.CommunityMember{
				member(v1alpha1.SubjectUser, mallory, v1alpha1.RoleModerator),
			}}},
		} {
			Expect(k8sClient.Create(ctx, c)).To(Succeed())
			readyCommunity(c.Name)
		}
		// The operator writes proposals; here the test's admin does.
		proposal = &v1alpha1.PolicyProposal{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "weekly-3f2a9c"},
			Spec: v1alpha1.PolicyProposalSpec{Policy: "weekly", Hash: "sha256:3f2a9c", ProposedAt: metav1.Now(),
				Summary: v1alpha1.ChangeSummary{Added: 2}},
		}
		Expect(k8sClient.Create(ctx, proposal)).To(Succeed())
	})

	It("lets a community's moderators and admins decide, each in their own name", func() {
		// The CLI learns who it is as the admission policy will: a
		// SelfSubjectReview (kubectl auth whoami), open to every user.
		for _, user := range []string{alice, bot, ada} {
			review := &authenticationv1.SelfSubjectReview{}
			Expect(as(user).Create(ctx, review)).To(Succeed())
			Expect(review.Status.UserInfo.Username).To(Equal(user))
		}
		// RBAC's informers take a moment to see new RoleBindings.
		Eventually(func() error { return decide(alice, v1alpha1.DecisionApprove) }).WithTimeout(10 * time.Second).Should(Succeed())
		Expect(decide(bob, v1alpha1.DecisionReject)).To(Succeed())
		Expect(decide(bot, v1alpha1.DecisionApprove)).To(Succeed())
		Expect(decide(ada, v1alpha1.DecisionApprove)).To(Succeed())

		list := &v1alpha1.PolicyApprovalList{}
		// A viewer reads them: decisions are visible to the community.
		Expect(as(vera).List(ctx, list, client.InNamespace(river))).To(Succeed())
		names := map[string]string{}
		for _, a := range list.Items {
			names[a.Name] = a.Spec.Approver
			Expect(a.OwnerReferences).To(ConsistOf(HaveField("UID", proposal.UID)), "approvals go with their proposal")
		}
		Expect(names).To(Equal(map[string]string{
			"weekly-3f2a9c.alice.ad-river.example":                   alice,
			"weekly-3f2a9c.bob":                                      bob,
			"weekly-3f2a9c.ada-lovelace.ad-river.example":            ada,
			"weekly-3f2a9c.system.serviceaccount.ad-river.reviewbot": bot,
		}))
	})

	It("refuses a viewer, and a moderator of another community", func() {
		// RBAC refuses them first: their roles have no create on
		// policyapprovals in this namespace.
		for _, user := range []string{vera, mallory} {
			err := decide(user, v1alpha1.DecisionApprove)
			expectForbidden(err)
			Expect(err.Error()).To(ContainSubstring(`User "` + user + `" cannot create resource "policyapprovals" in API group "fedcommons.io" in the namespace "ad-river"`))
		}
	})

	It("refuses whoever may create approvals but not approve", func() {
		// A role a co-op sysadmin wrote by hand, for a bot that files
		// paperwork: create on policyapprovals, not approve. The policy's
		// check of the approve verb is what still stands between it and a
		// counted decision.
		Expect(k8sClient.Create(ctx, &rbacv1.Role{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "approval-clerk"},
			Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"fedcommons.io"}, Resources: []string{"policyapprovals"}, Verbs: []string{"create"}}},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "approval-clerk"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "approval-clerk"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: clerk}},
		})).To(Succeed())
		Eventually(func(g Gomega) {
			expectRefusedG(g, decide(clerk, v1alpha1.DecisionApprove),
				"you are clerk@ad-river.example and may not approve or reject moderation changes in namespace ad-river: "+
					"that takes the moderator or admin role in the Community of that namespace "+
					"(the verb approve on federationpolicies.fedcommons.io there)")
		}).WithTimeout(10 * time.Second).Should(Succeed())
	})

	It("refuses an approval in someone else's name", func() {
		forged := v1alpha1.NewApproval(proposal, "carol@ad-river.example", v1alpha1.DecisionApprove, "")
		expectRefused(as(alice).Create(ctx, forged),
			"you are alice@ad-river.example; an approval can only be made in your own name: spec.approver must be alice@ad-river.example")
		// Nor can someone who may not approve get one in by naming a
		// moderator who has not decided yet.
		forged = v1alpha1.NewApproval(proposal, "dana@ad-river.example", v1alpha1.DecisionApprove, "")
		expectRefused(as(clerk).Create(ctx, forged), "you are clerk@ad-river.example; an approval can only be made in your own name")
	})

	It("counts one person once: a second decision on the same proposal is refused", func() {
		err := decide(alice, v1alpha1.DecisionReject)
		Expect(apierrors.IsAlreadyExists(err)).To(BeTrue(), "want AlreadyExists, got %v", err)
		Expect(err.Error()).To(ContainSubstring(`"weekly-3f2a9c.alice.ad-river.example" already exists`))

		// Under another name, the policy says which name it must have.
		second := v1alpha1.NewApproval(proposal, alice, v1alpha1.DecisionApprove, "")
		second.Name = "weekly-3f2a9c.alice-again"
		err = as(alice).Create(ctx, second)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want 422 Invalid, got %v", err)
		Expect(err.Error()).To(ContainSubstring("an approval by alice@ad-river.example of proposal weekly-3f2a9c must be named " +
			"weekly-3f2a9c.alice.ad-river.example, not weekly-3f2a9c.alice-again: one name per person and proposal"))
	})

	It("refuses a user name no approval name can carry, saying why", func() {
		a := v1alpha1.NewApproval(proposal, oidc, v1alpha1.DecisionApprove, "")
		a.Name = "weekly-3f2a9c.oidc"
		expectRefused(as(oidc).Create(ctx, a),
			"your user name https://id.ad-river.example#4711 cannot be written in an approval's name")
	})

	It("lets only its author withdraw a decision", func() {
		alices := &v1alpha1.PolicyApproval{ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "weekly-3f2a9c.alice.ad-river.example"}}
		expectRefused(as(bob).Delete(ctx, alices),
			"you are bob; approval weekly-3f2a9c.alice.ad-river.example is the decision of alice@ad-river.example, and only they can withdraw it")
		Expect(as(alice).Delete(ctx, alices)).To(Succeed())
		// Withdrawn, she may decide again.
		Expect(decide(alice, v1alpha1.DecisionReject)).To(Succeed())
		// Whoever may delete proposals (the garbage collector, the
		// operator's history retention, a cluster admin) may delete any.
		Expect(k8sClient.Delete(ctx, &v1alpha1.PolicyApproval{ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "weekly-3f2a9c.bob"}})).To(Succeed())
	})

	It("leaves proposals to the operator: members read them", func() {
		Expect(as(vera).Get(ctx, client.ObjectKeyFromObject(proposal), &v1alpha1.PolicyProposal{})).To(Succeed())
		for _, user := range []string{alice, bob} {
			own := &v1alpha1.PolicyProposal{ObjectMeta: metav1.ObjectMeta{Namespace: river, Name: "mine"}, Spec: proposal.Spec}
			expectForbidden(as(user).Create(ctx, own))
			expectForbidden(as(user).Delete(ctx, proposal))
		}
	})
})
