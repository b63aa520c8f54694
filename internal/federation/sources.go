package federation

import (
	"context"

	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// Resolution is one source of a policy, resolved.
type Resolution struct {
	// ResolvedSource holds the entries in force; nil Entries contribute
	// nothing (the source still counts in percent thresholds).
	ResolvedSource
	// Status is what the policy's status.sources says of the source.
	Status v1alpha1.SourceStatus
	// Note says, for people, where the entries came from.
	Note string
	// Waiting, when set, says why the policy must not be computed yet:
	// merging without this source would retract its entries for nothing.
	Waiting string
}

// SourceResolver reads the two kinds of source. The operator reads url
// sources from its feeds.Subscriptions (the last good copies) and policyRef
// sources from the Registry; `fedcommons policy` fetches each url once and
// reads files. Everything else about a source (which kind it is, how the
// spec translates) is ResolveSources', the same for both.
type SourceResolver interface {
	// URL resolves a url source.
	URL(ctx context.Context, sub feeds.Subscription) Resolution
	// PolicyRef resolves a source reading another FederationPolicy.
	PolicyRef(ctx context.Context, name string, ref types.NamespacedName) Resolution
}

// ResolveSources resolves every source of p, in spec order.
func ResolveSources(ctx context.Context, p *v1alpha1.FederationPolicy, r SourceResolver) []Resolution {
	out := make([]Resolution, 0, len(p.Spec.Sources))
	for _, s := range p.Spec.Sources {
		var res Resolution
		if s.URL == "" {
			res = r.PolicyRef(ctx, s.Name, RefOf(s))
		} else {
			res = r.URL(ctx, Subscription(p, s))
		}
		res.Name, res.Status.Name = s.Name, s.Name
		out = append(out, res)
	}
	return out
}

// Subscriptions translates the url sources of p, in spec order.
func Subscriptions(p *v1alpha1.FederationPolicy) []feeds.Subscription {
	var out []feeds.Subscription
	for _, s := range p.Spec.Sources {
		if s.URL != "" {
			out = append(out, Subscription(p, s))
		}
	}
	return out
}

// Subscription translates one url source with its policy's retraction rules.
func Subscription(p *v1alpha1.FederationPolicy, s v1alpha1.PolicySource) feeds.Subscription {
	retraction := feeds.DefaultRetraction
	if rs := p.Spec.Retraction; rs != nil {
		retraction = feeds.Retraction{MinCleanFetches: int(rs.MinCleanFetches), MaxShrinkPercent: int(rs.MaxShrinkPercent)}
	}
	sub := feeds.Subscription{Source: feeds.Source{
		// The schema's enum keeps the format valid; offline (the CLI reads
		// unadmitted manifests) Parse names an unknown one.
		Name: s.Name, URL: s.URL, Format: moderation.Format(s.Format), Retraction: retraction,
	}}
	if s.RefreshInterval != nil {
		sub.Interval = s.RefreshInterval.Duration
	}
	return sub
}

// RefOf names the policy a policyRef source reads (empty without one).
func RefOf(s v1alpha1.PolicySource) types.NamespacedName {
	if s.PolicyRef == nil {
		return types.NamespacedName{}
	}
	return types.NamespacedName{Namespace: s.PolicyRef.Namespace, Name: s.PolicyRef.Name}
}

// Refs maps the policyRef sources of p to the policies they read.
func Refs(p *v1alpha1.FederationPolicy) map[string]types.NamespacedName {
	refs := map[string]types.NamespacedName{}
	for _, s := range p.Spec.Sources {
		if s.PolicyRef != nil {
			refs[s.Name] = RefOf(s)
		}
	}
	return refs
}

// RefersTo reports whether p reads key through a policyRef.
func RefersTo(p *v1alpha1.FederationPolicy, key types.NamespacedName) bool {
	for _, s := range p.Spec.Sources {
		if s.PolicyRef != nil && RefOf(s) == key {
			return true
		}
	}
	return false
}

// Resolved returns what the engine merges: the sources with entries.
func Resolved(rs []Resolution) []ResolvedSource {
	out := make([]ResolvedSource, 0, len(rs))
	for _, r := range rs {
		if r.Entries != nil {
			out = append(out, r.ResolvedSource)
		}
	}
	return out
}

// Waiting returns why the policy cannot be computed yet, source by source.
func Waiting(rs []Resolution) []string {
	var out []string
	for _, r := range rs {
		if r.Waiting != "" {
			out = append(out, r.Waiting)
		}
	}
	return out
}
