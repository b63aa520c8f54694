package review

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

func approval(name, user, hash string, d v1alpha1.Decision, at int) v1alpha1.PolicyApproval {
	return v1alpha1.PolicyApproval{
		ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(time.Unix(int64(at), 0))},
		Spec:       v1alpha1.PolicyApprovalSpec{Proposal: "p", Hash: hash, Decision: d, Approver: user},
	}
}

func TestCountOneVotePerPersonForThisHashOnly(t *testing.T) {
	A, R := v1alpha1.DecisionApprove, v1alpha1.DecisionReject
	spec := &v1alpha1.ReviewSpec{Required: 2}
	for _, tc := range []struct {
		name      string
		approvals []v1alpha1.PolicyApproval
		want      Verdict
		approvers string
	}{
		{"one approval is not enough", []v1alpha1.PolicyApproval{approval("a", "alice", "h", A, 1)}, Undecided, "alice"},
		{"two people approve", []v1alpha1.PolicyApproval{approval("a", "alice", "h", A, 1), approval("b", "bob", "h", A, 2)}, Approved, "alice, bob"},
		{"one person twice counts once", []v1alpha1.PolicyApproval{approval("a", "alice", "h", A, 1), approval("b", "alice", "h", A, 2)}, Undecided, "alice"},
		{"an approval of another hash does not count", []v1alpha1.PolicyApproval{approval("a", "alice", "h", A, 1), approval("b", "bob", "old", A, 2)}, Undecided, "alice"},
		{"a person's first decision counts", []v1alpha1.PolicyApproval{approval("b", "alice", "h", R, 1), approval("a", "alice", "h", A, 2), approval("c", "bob", "h", A, 3)}, Undecided, "bob"},
		{"two rejections drop it", []v1alpha1.PolicyApproval{approval("a", "alice", "h", R, 1), approval("b", "bob", "h", R, 2)}, Rejected, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Count(tc.approvals, "p", "h")
			if v := got.Decide(spec); v != tc.want {
				t.Errorf("verdict %d, want %d (%+v)", v, tc.want, got)
			}
			if u := Users(got.Approvals); u != tc.approvers {
				t.Errorf("approvers %q, want %q", u, tc.approvers)
			}
		})
	}
	// rejectionsRequired lowers the rejection quorum on its own.
	one := Count([]v1alpha1.PolicyApproval{approval("a", "alice", "h", R, 1)}, "p", "h")
	if one.Decide(&v1alpha1.ReviewSpec{Required: 2, RejectionsRequired: ptr.To[int32](1)}) != Rejected {
		t.Error("rejectionsRequired 1 ignored")
	}
}
