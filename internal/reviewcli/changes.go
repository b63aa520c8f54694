package reviewcli

// `fedcommons policy review NAME --changes`: every change of a pending
// proposal. A PolicyProposal lists at most a few hundred (it must fit
// etcd); the whole change set is in the operator's saved review state, in
// ConfigMaps of the policy's namespace (laid out by review.ReadState).
// Reading it there, rather than from the feed server, works from outside
// the cluster with the user's own credentials and RBAC.

import (
	"bufio"
	"context"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/review"
	"github.com/fedcommons/fedcommons/internal/textcut"
)

// MaxChangeLines bounds what --changes prints: a terminal (or a pipe to
// less) gains nothing from more, and a runaway set must not fill a disk.
const MaxChangeLines = 200_000

// WriteChanges prints every change of proposal name, streaming, from the
// operator's saved state, provided that state still holds exactly this
// proposal (its name and hash): otherwise it says the state has moved on
// and prints only the changes the proposal lists.
func (s *Session) WriteChanges(ctx context.Context, w io.Writer, name string) error {
	prop, err := s.getProposal(ctx, name)
	if err != nil {
		return err
	}
	get := func(cm string) (map[string]string, map[string][]byte, bool, error) {
		obj := &corev1.ConfigMap{}
		err := s.Client.Get(ctx, client.ObjectKey{Namespace: s.Namespace, Name: cm}, obj)
		if apierrors.IsNotFound(err) {
			return nil, nil, false, nil
		}
		return obj.Data, obj.BinaryData, err == nil, err
	}
	saved, found, err := review.ReadState(get, prop.Spec.Policy)
	if apierrors.IsForbidden(err) {
		return fmt.Errorf("cannot read the full change set of proposal %s: the operator keeps it in ConfigMap %s, and you may not read ConfigMaps in namespace %s (that takes the Community's moderator or admin role; a viewer sees only the listed changes, with `fedcommons policy review -n %s`): %w",
			clean(name), review.HeadName(prop.Spec.Policy), s.Namespace, s.Namespace, s.explain(ctx, err))
	}
	if err != nil {
		return fmt.Errorf("cannot read the operator's saved review state of policy %s: %w", clean(prop.Spec.Policy), err)
	}
	bw := bufio.NewWriter(w)
	defer bw.Flush()
	fmt.Fprintf(bw, "%s/%s  policy %s\n  hash %s\n", clean(prop.Namespace), clean(prop.Name), clean(prop.Spec.Policy), clean(prop.Spec.Hash))
	p := saved.State.Pending
	if !found || p == nil || p.Proposal != prop.Name || p.Hash != prop.Spec.Hash {
		fmt.Fprintf(bw, "  the operator's saved state has moved on (%s): the full set of this proposal is no longer kept; the %d changes it lists:\n",
			movedOn(found, p), len(prop.Spec.Changes))
		for _, c := range prop.Spec.Changes {
			fmt.Fprintln(bw, changeLine(c))
		}
		return bw.Flush()
	}
	// Load checked the changes against their hash, and the hash is the
	// proposal's: what is printed is exactly what an approval applies.
	writeChangeSet(bw, p.Changes, MaxChangeLines)
	return bw.Flush()
}

// writeChangeSet prints changes, at most limit of them.
func writeChangeSet(w io.Writer, changes []review.Change, limit int) {
	fmt.Fprintf(w, "  all %d changes:\n", len(changes))
	for i, c := range changes {
		if i == limit {
			fmt.Fprintf(w, "  only the first %d of %d changes are printed\n", limit, len(changes))
			return
		}
		// Why as the proposal holds it (512 bytes at most).
		fmt.Fprintln(w, changeLine(v1alpha1.PolicyChange{Domain: c.Domain, Before: review.Describe(c.Before), After: review.Describe(c.After), Why: textcut.Truncate(c.Why, 512)}))
	}
}

// movedOn says what the saved state holds instead.
func movedOn(found bool, p *review.Pending) string {
	switch {
	case !found:
		return "there is none"
	case p == nil:
		return "no change set is pending"
	}
	return fmt.Sprintf("it now holds proposal %s, hash %s", clean(p.Proposal), clean(p.Hash))
}
