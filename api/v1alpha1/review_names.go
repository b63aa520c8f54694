package v1alpha1

import (
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApprovalName is the name a PolicyApproval must have: the proposal's
// name, a dot, and the approver's user name in lower case with '@' and ':'
// written '.' and '_' written '-' (alice@riverside.coop on proposal p is
// "p.alice.riverside.coop"; system:serviceaccount:ns:bot is
// "p.system.serviceaccount.ns.bot").
//
// The admission policy (config/admission/policyapprovals.yaml) computes
// the same name in CEL and refuses any other, so a second decision by the
// same person on the same proposal is refused by the API server as
// AlreadyExists: one person counts once. A user name that does not make a
// valid object name this way (e.g. an OIDC "https://issuer#subject") is
// refused with a message saying so. Keep both in step.
//
// username must be the name the API server authenticates the caller as,
// not what a kubeconfig calls its user: a client asks with a
// SelfSubjectReview (what `kubectl auth whoami` does), which every
// authenticated user may create.
func ApprovalName(proposal, username string) string {
	return proposal + "." + approvalNameReplacer.Replace(lowerASCII(username))
}

// lowerASCII is CEL's lowerAscii: only A-Z change. strings.ToLower would
// also fold non-ASCII letters (the Kelvin sign becomes "k"), giving names
// the admission policy does not compute.
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// approvalNameReplacer is CEL's replace('@', '.').replace(':', '.').replace('_', '-').
var approvalNameReplacer = strings.NewReplacer("@", ".", ":", ".", "_", "-")

// NewApproval is the PolicyApproval a user creates to decide on p, named
// by ApprovalName and owned by p, so that the garbage collector deletes it
// with its proposal (history retention). The owner reference does not
// block the owner's deletion: that would take update on
// policyproposals/finalizers, which moderators do not have.
func NewApproval(p *PolicyProposal, username string, decision Decision, comment string) *PolicyApproval {
	return &PolicyApproval{
		TypeMeta: metav1.TypeMeta{APIVersion: GroupVersion.String(), Kind: "PolicyApproval"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: p.Namespace,
			Name:      ApprovalName(p.Name, username),
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: GroupVersion.String(), Kind: "PolicyProposal", Name: p.Name, UID: p.UID,
			}},
		},
		Spec: PolicyApprovalSpec{
			Proposal: p.Name,
			Hash:     p.Spec.Hash,
			Decision: decision,
			Approver: username,
			Comment:  comment,
		},
	}
}
