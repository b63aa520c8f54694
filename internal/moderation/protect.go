package moderation

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Protected is a domain one of the co-op's servers answers on, and the
// community whose server it is.
//
// Protection keeps a published list from cutting the co-op off from its
// own servers: no subscribed entry may block a protected domain or any
// parent of it (a block on example.org covers social.example.org). Whose
// server it is decides how far that goes:
//
//   - a domain of the policy's own community (Owner == MergeInput.Owner)
//     refuses every block, the community's own local entries included:
//     a community must not cut itself off from its own server by a typo;
//   - a domain of another community refuses subscribed blocks only. The
//     community's local entries are its own decisions about whom it
//     federates with, and no other community may overrule them: otherwise
//     any tenant could lift another's block on gab.example by creating an
//     Instance x.gab.example (issue 12, case 3).
type Protected struct {
	Domain string
	// Owner names the community whose Instance serves the domain, in the
	// terms MergeInput.Owner uses (fedcommons uses the namespace). Empty
	// equals empty: an input that names no owners protects as one
	// community.
	Owner string
	// OwnerOnly limits the protection to the owner's own policies. The
	// caller uses it for a name it cannot vouch for yet (an Instance its
	// reconciler has not let in): the owner's policies must not block its
	// own new server in the meantime, but another community's lists must
	// not bend to a name that may yet be refused.
	OwnerOnly bool
}

// SkippedProtected is a protected name that is not a domain. It protects
// nothing and is reported instead of failing the merge: every Instance
// domain of the cluster is protected in every community's merge, so one
// bad name would otherwise stop every policy of the cluster (issue 12,
// case 2).
type SkippedProtected struct {
	Protected
	Reason string
}

// protection answers "may this domain be blocked?" for the co-op's
// instances, exceptions and locally allowed domains, including their
// parents, in one map lookup per domain.
type protection struct {
	// refused maps a domain to why blocks on it are refused.
	refused map[string]refusal
	// allowed maps a parent of a locally allowed domain to that domain.
	allowed map[string]string
	// lengths has bit n set when a key of either map is n bytes long:
	// nearly every domain of a merge is answered by one bit test instead
	// of hashing it.
	lengths [256 / 64]uint64
}

// refusal is why blocks on a domain are refused, and which.
type refusal struct {
	reason string
	// sourcesOnly is set when only other communities' instances protect
	// the domain: the policy's own local entries still apply.
	sourcesOnly bool
}

// refuses reports whether the refusal applies to an entry from a
// subscribed source (fromSource) or to a local one.
func (r refusal) refuses(fromSource bool) bool {
	return r.reason != "" && (fromSource || !r.sourcesOnly)
}

func (g *protection) mayHold(domain string) bool {
	n := len(domain)
	return n < 256 && g.lengths[n/64]&(1<<(n%64)) != 0
}

func (g *protection) noteLength(domain string) {
	if n := len(domain); n < 256 {
		g.lengths[n/64] |= 1 << (n % 64)
	}
}

// newProtection builds the refusals for the protected domains (those of
// owner refuse every block, those of others subscribed blocks only) and
// the exceptions (every block). Protected names that are not domains are
// returned as skipped; an exception that is not one is an error, as it is
// the policy's own spec.
func newProtection(owner string, protected []Protected, exceptions []string) (protection, []SkippedProtected, error) {
	g := protection{refused: map[string]refusal{}, allowed: map[string]string{}}
	// A refusal that covers local entries is never replaced by one that
	// does not, whatever the input order; among equals the first stays,
	// except that an instance's own name beats "parent of" texts.
	put := func(d string, r refusal, instance bool) {
		old, ok := g.refused[d]
		if !ok || (old.sourcesOnly && !r.sourcesOnly) || (instance && old.sourcesOnly == r.sourcesOnly) {
			g.refused[d] = r
		}
	}
	add := func(d, what string, sourcesOnly, instance bool) {
		put(d, refusal{what + " " + d, sourcesOnly}, instance)
		g.noteLength(d)
		parentDomains(d, func(parent string) bool {
			g.noteLength(parent)
			put(parent, refusal{"parent of " + what + " " + d + ": a block would cover it", sourcesOnly}, false)
			return true
		})
	}
	var skipped []SkippedProtected
	var theirs []string
	for _, p := range protected {
		d, _, err := NormalizeDomain(p.Domain)
		switch {
		case err != nil:
			skipped = append(skipped, SkippedProtected{Protected: p, Reason: err.Error()})
		case p.Owner == owner:
			add(d, "our instance", false, true)
		case p.OwnerOnly:
			// not ours to heed
		default:
			theirs = append(theirs, d)
		}
	}
	// Ours first: for an input with one owner, the same refusals in the
	// same order as before owners existed.
	for _, d := range theirs {
		add(d, "another community's instance", true, true)
	}
	var errs []error
	for _, raw := range exceptions {
		d, _, err := NormalizeDomain(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("exception %q: %w", raw, err))
			continue
		}
		add(d, "exception", false, false)
	}
	slices.SortFunc(skipped, func(a, b SkippedProtected) int {
		if c := strings.Compare(a.Domain, b.Domain); c != 0 {
			return c
		}
		return strings.Compare(a.Owner, b.Owner)
	})
	return g, skipped, errors.Join(errs...)
}

func (g *protection) addAllowed(domain string) {
	parentDomains(domain, func(parent string) bool {
		g.noteLength(parent)
		if _, ok := g.allowed[parent]; !ok {
			g.allowed[parent] = domain
		}
		return true
	})
}

func (g *protection) refuse(domain string) refusal {
	if len(g.refused) == 0 || !g.mayHold(domain) {
		return refusal{}
	}
	return g.refused[domain]
}

func (g *protection) allowedChild(domain string) string {
	if len(g.allowed) == 0 || !g.mayHold(domain) {
		return ""
	}
	return g.allowed[domain]
}
