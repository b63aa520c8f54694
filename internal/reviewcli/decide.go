package reviewcli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// MaxComment is the longest comment (bytes) an approval holds, as the API
// says (PolicyApprovalSpec.comment); a longer one is refused before
// anything is sent, rather than cut without the author knowing.
const MaxComment = 500

// Decided is what a decision recorded.
type Decided struct {
	// Approval is the PolicyApproval created.
	Approval v1alpha1.PolicyApproval
	// Policy is the proposal's FederationPolicy.
	Policy string
	// Before are the decisions of the same kind the proposal's status
	// counted before this one.
	Before []v1alpha1.Vote
	// Required is how many of that kind the policy requires (0: unknown).
	Required int32
}

// Decide records the user's decision on proposal name in the session's
// namespace: a PolicyApproval naming the proposal's current hash (what
// the user was shown), with the user as the API server authenticates
// them as the approver.
func (s *Session) Decide(ctx context.Context, name string, decision v1alpha1.Decision, comment string) (*Decided, error) {
	if len(comment) > MaxComment {
		return nil, fmt.Errorf("the comment is %d bytes long; an approval's comment holds %d at most", len(comment), MaxComment)
	}
	prop, err := s.getProposal(ctx, name)
	if err != nil {
		return nil, err
	}
	switch prop.Status.Phase {
	case v1alpha1.ProposalPending, "":
	case v1alpha1.ProposalSuperseded:
		next := ""
		if prop.Status.SupersededBy != "" {
			next = ": decide on " + prop.Status.SupersededBy + " instead"
		}
		return nil, fmt.Errorf("proposal %s was superseded by a newer change set%s", name, next)
	default:
		return nil, fmt.Errorf("proposal %s is already decided (%s): there is nothing left to decide", name, prop.Status.Phase)
	}
	user, err := s.WhoAmI(ctx)
	if err != nil {
		return nil, err
	}
	objName, err := approvalName(name, user)
	if err != nil {
		return nil, err
	}
	// NewApproval names it (v1alpha1.ApprovalName, the admission
	// policy's rule) and makes the proposal its owner, so that it goes
	// with the proposal when history is trimmed.
	a := *v1alpha1.NewApproval(prop, user, decision, comment)
	if err := s.Client.Create(ctx, &a); err != nil {
		switch {
		case apierrors.IsAlreadyExists(err):
			return nil, fmt.Errorf("you (%s) have already decided on proposal %s: one person counts once. "+
				"To change your decision, delete it (kubectl delete policyapproval %s -n %s) and decide again", user, name, objName, s.Namespace)
		case apierrors.IsForbidden(err), apierrors.IsInvalid(err):
			return nil, fmt.Errorf("the API server refused your %s of proposal %s: %s (you are authenticated as %s)",
				strings.ToLower(string(decision)), name, reason(err), user)
		}
		return nil, s.explain(ctx, err)
	}
	d := &Decided{Approval: a, Policy: prop.Spec.Policy, Before: prop.Status.Approvals}
	if decision == v1alpha1.DecisionReject {
		d.Before = prop.Status.Rejections
	}
	// What the policy requires is said if it can be read; the decision
	// is recorded either way.
	fp := &v1alpha1.FederationPolicy{}
	if s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: prop.Spec.Policy}, fp) == nil && fp.Spec.Review != nil {
		d.Required = fp.Spec.Review.Required
		if decision == v1alpha1.DecisionReject && fp.Spec.Review.RejectionsRequired != nil {
			d.Required = *fp.Spec.Review.RejectionsRequired
		}
	}
	return d, nil
}

// approvalName is the PolicyApproval's metadata.name
// (v1alpha1.ApprovalName: the proposal and the user, so that the API
// server itself refuses a second decision by the same person on the same
// proposal), checked here so that a username that cannot make a name is
// refused before any request, with the reason.
func approvalName(proposal, user string) (string, error) {
	name := v1alpha1.ApprovalName(proposal, user)
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", fmt.Errorf("cannot name your approval of %s after you (%q): %q is not a valid object name (%s); ask the co-op's admins",
			proposal, user, name, strings.Join(errs, "; "))
	}
	return name, nil
}

// reason is the API server's own message for err, without Go's wrapping.
func reason(err error) string {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Message != "" {
		return status.Status().Message
	}
	return err.Error()
}

// getProposal reads proposal name of the session's namespace.
func (s *Session) getProposal(ctx context.Context, name string) (*v1alpha1.PolicyProposal, error) {
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return nil, fmt.Errorf("%q is not the name of a proposal (%s): `fedcommons policy review` lists them", name, strings.Join(errs, "; "))
	}
	prop := &v1alpha1.PolicyProposal{}
	if err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: name}, prop); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("there is no proposal %s in namespace %s: `fedcommons policy review -n %s` lists those waiting", name, s.Namespace, s.Namespace)
		}
		return nil, s.explain(ctx, err)
	}
	return prop, nil
}

// explain turns an API error into a sentence: who the user is when they
// were refused, what the server said.
func (s *Session) explain(ctx context.Context, err error) error {
	switch {
	case apierrors.IsForbidden(err):
		who, werr := s.WhoAmI(ctx)
		if werr != nil {
			who = "a user the server would not name"
		}
		return fmt.Errorf("the API server refused: %s (you are authenticated as %s)", reason(err), who)
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("the API server at %s does not know you (%s): log in again, or check --kubeconfig and --context", s.Server, reason(err))
	case apierrors.IsNotFound(err) && strings.Contains(reason(err), "the server could not find the requested resource"):
		return fmt.Errorf("the cluster at %s has no PolicyProposal resource: the fedcommons CRDs are not installed, or older than reviewed moderation", s.Server)
	}
	return err
}
