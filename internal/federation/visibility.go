package federation

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// A policy published to the cluster only (visibility: cluster) may be read
// by another community's policy through a policyRef. If that subscriber is
// public, it would re-publish to the world what the first community shared
// with the co-op only ("visibility laundering"). So every entry keeps the
// most restrictive visibility of the sources that listed it: an entry that
// came from a cluster-only policy, directly or through any chain of
// policyRefs, is served by the cluster feed listener only, never by the
// public one, whatever the visibility of the policy that holds it.
// A community's own entries (spec.entries) are its own to publish.

// ReadBy is what a subscriber (reader) receives when it reads r through a
// policyRef: the entries of PublishedFor, marked cluster-only as a whole
// when the policy read is not public (visibility is its current one), and
// one by one where r itself holds them from a cluster-only source.
func (r *Result) ReadBy(reader types.NamespacedName, visibility v1alpha1.Visibility) ResolvedSource {
	return ResolvedSource{
		Entries:            r.PublishedFor(reader),
		ClusterOnly:        visibility != v1alpha1.VisibilityPublic,
		ClusterOnlyDomains: r.ClusterOnly,
	}
}

// Restrict records in r.ClusterOnly which effective entries came from a
// cluster-only source among resolved. For a public policy that holds any,
// it folds them into r.Hash: what the public feed serves changes with
// them, and the hash is what the policy's subscribers and feed readers
// watch, so a source that turns cluster-only is withheld downstream too.
func (r *Result) Restrict(resolved []ResolvedSource) {
	r.RestrictTo(ClusterOnlyEntries(r.Effective, resolved))
}

// RestrictTo is Restrict with the cluster-only domains already known (a
// reviewed policy's applied state records them, since the sources that
// made an entry cluster-only may have changed since it was applied).
// r.Hash must still be r.Effective.Hash().
func (r *Result) RestrictTo(clusterOnly map[string]bool) {
	r.ClusterOnly = clusterOnly
	if len(r.ClusterOnly) == 0 || r.Visibility != v1alpha1.VisibilityPublic {
		return
	}
	domains := make([]string, 0, len(r.ClusterOnly))
	for d := range r.ClusterOnly {
		domains = append(domains, d)
	}
	slices.Sort(domains)
	sum := sha256.Sum256([]byte(r.Hash + "\x00cluster-only\x00" + strings.Join(domains, "\n")))
	r.Hash = "sha256:" + hex.EncodeToString(sum[:])
}

// ClusterOnlyEntries returns the domains of eff's entries that a
// cluster-only source listed (nil when there are none). An entry the
// community decided itself is not restricted.
func ClusterOnlyEntries(eff *moderation.Policy, resolved []ResolvedSource) map[string]bool {
	if eff == nil {
		return nil
	}
	restricted := map[string]*ResolvedSource{}
	for i := range resolved {
		if s := &resolved[i]; s.ClusterOnly || len(s.ClusterOnlyDomains) > 0 {
			restricted[s.Name] = s
		}
	}
	if len(restricted) == 0 {
		return nil
	}
	var out map[string]bool
	for i := range eff.Entries {
		e := &eff.Entries[i]
		if e.Provenance.Decision.Kind == moderation.DecidedLocally {
			continue
		}
		for _, c := range e.Provenance.Sources {
			if c.Source == nil || c.Said == nil {
				continue
			}
			if s := restricted[c.Source.Name]; s != nil && (s.ClusterOnly || s.ClusterOnlyDomains[e.Domain]) {
				if out == nil {
					out = map[string]bool{}
				}
				out[e.Domain] = true
				break
			}
		}
	}
	return out
}
