package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// TestApprovalsGoWithTheirProposal: the garbage collector (the
// controller-manager's, as its own ServiceAccount) deletes a proposal's
// approvals when the proposal goes (history retention), although the
// admission policy refuses to delete someone else's approval: it lets
// through whoever may delete proposals. envtest has no garbage collector,
// hence this test here.
func TestApprovalsGoWithTheirProposal(t *testing.T) {
	ctx := context.Background()
	c := shared.client
	ns := "review-gc"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	proposal := &v1alpha1.PolicyProposal{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "weekly-5e1f"},
		Spec:       v1alpha1.PolicyProposalSpec{Policy: "weekly", Hash: "sha256:5e1f", ProposedAt: metav1.Now()},
	}
	if err := c.Create(ctx, proposal); err != nil {
		t.Fatal(err)
	}
	// The test's admin decides, in its own name as the policy requires.
	me := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, me); err != nil {
		t.Fatal(err)
	}
	approval := v1alpha1.NewApproval(proposal, me.Status.UserInfo.Username, v1alpha1.DecisionApprove, "")
	if err := c.Create(ctx, approval); err != nil {
		t.Fatalf("the admin's own approval: %v", err)
	}
	if err := c.Delete(ctx, proposal); err != nil {
		t.Fatal(err)
	}
	// The garbage collector notices a CRD installed after it started on
	// its 30 s rediscovery.
	eventually(t, 90*time.Second, "the garbage collector deletes the approval", func() (bool, string) {
		err := c.Get(ctx, client.ObjectKeyFromObject(approval), &v1alpha1.PolicyApproval{})
		return apierrors.IsNotFound(err), fmt.Sprint("get approval: ", err)
	})
}
