package federation

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// ClaimHolder is the Instance that keeps a domain several claim: the
// oldest. Creation times have a resolution of one second, so on a tie the
// one that already holds the domain (reconciled, not refused, and not still
// settling a contested claim: see ClaimPending) keeps it: a newcomer
// created in the same second must not take the domain from a server
// already running. Only then does namespace/name decide, so the outcome
// never depends on reconcile order.
func ClaimHolder(claims []*v1alpha1.Instance) *v1alpha1.Instance {
	return slices.MinFunc(claims, func(a, b *v1alpha1.Instance) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		if ha, hb := Holds(a), Holds(b); ha != hb {
			if ha {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
}

// Holds reports whether the Instance holds the names it claims: it has
// been reconciled, was not refused as DomainTaken, and is not still
// settling a contested claim.
func Holds(i *v1alpha1.Instance) bool {
	stalled := meta.FindStatusCondition(i.Status.Conditions, v1alpha1.ConditionStalled)
	refused := stalled != nil && stalled.Status == metav1.ConditionTrue && stalled.Reason == v1alpha1.ReasonDomainTaken
	return i.Status.ObservedGeneration > 0 && !refused && !ClaimPending(i)
}

// ClaimPending reports whether the Instance won a contested claim but has
// not yet created anything for it: the Instance reconciler records this
// (Reconciling, DomainClaimPending) and decides again a few seconds later.
//
// Without that pause, a newcomer created in the same second as a server
// whose first pass is still under way (its status not yet written, so it
// does not hold yet) could win on namespace/name and create its children;
// on the next pass both would hold, and the running server would lose its
// domain. An Instance that is pending does not hold, so the server, once
// its status shows, keeps the domain and the newcomer stops having
// touched nothing.
func ClaimPending(inst *v1alpha1.Instance) bool {
	c := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionReconciling)
	return c != nil && c.Status == metav1.ConditionTrue && c.Reason == v1alpha1.ReasonDomainClaimPending
}

// ProtectedDomains lists what the cluster's Instances protect from blocks
// (moderation.Protected): the domain and account domain of each Instance
// that holds its domain claim, owned by the Instance's namespace, its
// community's, as Input names a policy's.
//
// Only claim holders protect: an Instance refused because another holds
// its domain (or not yet let in) serves nothing, and letting it protect
// would hand any tenant a way to lift blocks by creating one (issue 12,
// case 3). Instances being deleted do not claim (as for the Instance
// reconciler's check). Names are passed as written: the engine skips and
// reports those that are not domains rather than fail every merge.
func ProtectedDomains(instances []v1alpha1.Instance) []moderation.Protected {
	// Both names are claims: an Instance protects its names only if it
	// holds every one of them, so a copycat that loses its domain to an
	// older Instance cannot shield its accountDomain either, even before
	// the Instance reconciler has marked it DomainTaken.
	claims := map[v1alpha1.Domain][]*v1alpha1.Instance{}
	var candidates []*v1alpha1.Instance
	for i := range instances {
		inst := &instances[i]
		if !inst.DeletionTimestamp.IsZero() || refused(inst) {
			continue
		}
		candidates = append(candidates, inst)
		for _, d := range claimedNames(inst) {
			claims[d] = append(claims[d], inst)
		}
	}
	holder := make(map[v1alpha1.Domain]*v1alpha1.Instance, len(claims))
	for d, c := range claims {
		holder[d] = ClaimHolder(c)
	}
	var out []moderation.Protected
	for _, inst := range candidates {
		names := claimedNames(inst)
		if slices.ContainsFunc(names, func(d v1alpha1.Domain) bool { return holder[d] != inst }) {
			continue
		}
		for _, d := range names {
			// Until its reconciler has let it in, an Instance shields
			// its names from its own community's policies only.
			out = append(out, moderation.Protected{Domain: string(d), Owner: inst.Namespace, OwnerOnly: !Admitted(inst)})
		}
	}
	slices.SortFunc(out, func(a, b moderation.Protected) int {
		if c := strings.Compare(a.Domain, b.Domain); c != 0 {
			return c
		}
		return strings.Compare(a.Owner, b.Owner)
	})
	return slices.Compact(out)
}

// claimedNames are an Instance's domain and, if set and different, its
// accountDomain.
func claimedNames(inst *v1alpha1.Instance) []v1alpha1.Domain {
	names := []v1alpha1.Domain{inst.Spec.Domain}
	if a := inst.Spec.AccountDomain; a != "" && a != inst.Spec.Domain {
		names = append(names, a)
	}
	return names
}

// Admitted reports whether the Instance reconciler has looked at the
// Instance and let it in. Until then (a newcomer), an Instance protects its
// names from its own community's policies only (moderation.Protected's
// OwnerOnly): the community must not block its own new server, but no
// other community's lists may bend to a name that may yet be refused.
// Domains cannot change after creation, so a reconciled generation
// vouches for them.
func Admitted(inst *v1alpha1.Instance) bool {
	return inst.Status.ObservedGeneration > 0 && !refused(inst)
}

// refused reports whether the Instance reconciler refused the Instance for
// naming what its community was not given (a domain outside the
// Community's spec.domains, an invalid name, a missing Community, a limit
// of the co-op's) or a name another Instance holds. Such an Instance
// serves nothing, so it shields no name from anyone's blocks (issue 12,
// cases 3 and 10).
func refused(inst *v1alpha1.Instance) bool {
	stalled := meta.FindStatusCondition(inst.Status.Conditions, v1alpha1.ConditionStalled)
	if stalled == nil || stalled.Status != metav1.ConditionTrue {
		return false
	}
	return stalled.Reason == v1alpha1.ReasonDomainTaken || slices.Contains(tenancy.RefusalReasons, stalled.Reason)
}
