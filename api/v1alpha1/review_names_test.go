package v1alpha1

import "testing"

// The names the admission policy computes in CEL for the same users; the
// envtest specs in controllers/review_admission_test.go check that the API
// server agrees.
func TestApprovalName(t *testing.T) {
	for user, want := range map[string]string{
		"alice":                               "p-1.alice",
		"alice@riverside.coop":                "p-1.alice.riverside.coop",
		"system:serviceaccount:riverside:bot": "p-1.system.serviceaccount.riverside.bot",
		"Ada_Lovelace@Riverside.COOP":         "p-1.ada-lovelace.riverside.coop",
		"oidc:kelvin\u212a@x":                 "p-1.oidc.kelvin\u212a.x", // only ASCII folds, as lowerAscii
		"https://id.example#4711":             "p-1.https.//id.example#4711",
	} {
		if got := ApprovalName("p-1", user); got != want {
			t.Errorf("ApprovalName(p-1, %q) = %q, want %q", user, got, want)
		}
	}
}

func TestNewApproval(t *testing.T) {
	p := &PolicyProposal{Spec: PolicyProposalSpec{Hash: "sha256:ab"}}
	p.Namespace, p.Name, p.UID = "riverside", "weekly-ab", "uid-1"
	a := NewApproval(p, "alice@riverside.coop", DecisionReject, "not this one")
	if a.Namespace != "riverside" || a.Name != "weekly-ab.alice.riverside.coop" || a.Spec.Proposal != "weekly-ab" ||
		a.Spec.Hash != "sha256:ab" || a.Spec.Approver != "alice@riverside.coop" || a.Spec.Decision != DecisionReject {
		t.Errorf("approval %+v", a)
	}
	if len(a.OwnerReferences) != 1 || a.OwnerReferences[0].UID != "uid-1" || a.OwnerReferences[0].BlockOwnerDeletion != nil {
		t.Errorf("owner references %+v: want the proposal, not blocking its deletion", a.OwnerReferences)
	}
}
