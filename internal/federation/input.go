package federation

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// ResolvedSource is one subscription after the controller fetched it (url
// sources) or read it from the Registry (policyRef sources).
type ResolvedSource struct {
	Name    string
	Entries []moderation.Entry
	// ClusterOnly: every entry must stay inside the cluster (the source
	// reads a policy published with visibility cluster; see ReadBy).
	ClusterOnly bool
	// ClusterOnlyDomains are entries that must stay inside the cluster
	// although the policy read is public: it holds them from a
	// cluster-only source. Shared, read only.
	ClusterOnlyDomains map[string]bool
}

// LocalEntries converts the community's own decisions. Domains are passed
// as written: Merge normalises them and records refusals, so a malformed
// name shows up in status.rejected instead of vanishing here.
func LocalEntries(spec *v1alpha1.FederationPolicySpec) []moderation.Entry {
	out := make([]moderation.Entry, 0, len(spec.Entries))
	for _, e := range spec.Entries {
		action, err := moderation.ParseAction(string(e.Action))
		if err != nil {
			// The schema's enum makes this unreachable; a noop is the one
			// reading that imposes nothing if it ever is reached.
			action = moderation.Noop
		}
		out = append(out, moderation.Entry{
			Domain:         string(e.Domain),
			Action:         action,
			RejectMedia:    deref(e.RejectMedia),
			RejectReports:  deref(e.RejectReports),
			Obfuscate:      deref(e.Obfuscate),
			PublicComment:  e.PublicComment,
			PrivateComment: e.PrivateComment,
		})
	}
	return out
}

// Input builds the engine's merge input from a policy, its resolved
// sources (matched to the spec by name; a source without a resolution
// contributes nothing but still counts in percent thresholds) and the
// protected domains (see ProtectedDomains). The policy's community is its
// namespace, as ProtectedDomains names the owner of each Instance's.
func Input(p *v1alpha1.FederationPolicy, resolved []ResolvedSource, protected []moderation.Protected) moderation.MergeInput {
	byName := make(map[string][]moderation.Entry, len(resolved))
	for _, r := range resolved {
		byName[r.Name] = r.Entries
	}
	in := moderation.MergeInput{
		Local:     LocalEntries(&p.Spec),
		Owner:     p.Namespace,
		Protected: protected,
	}
	for _, s := range p.Spec.Sources {
		src := moderation.Source{Name: s.Name, Weight: 1, Entries: byName[s.Name]}
		if s.Weight != nil {
			src.Weight = int(*s.Weight)
		}
		if s.MaxAction != "" {
			if a, err := moderation.ParseAction(string(s.MaxAction)); err == nil {
				src.MaxAction = &a
			}
		}
		in.Sources = append(in.Sources, src)
	}
	for _, d := range p.Spec.Exceptions {
		in.Exceptions = append(in.Exceptions, string(d))
	}
	if c := p.Spec.Consensus; c != nil {
		if c.Merge == v1alpha1.MergeMin {
			in.Rule = moderation.MergeMin
		} else {
			in.Rule = moderation.MergeMax
		}
		if t := c.Threshold; t != nil {
			switch {
			case t.Weight != nil:
				in.Threshold = moderation.Threshold{Kind: moderation.ThresholdWeight, Value: int(*t.Weight)}
			case t.Count != nil:
				in.Threshold = moderation.Threshold{Kind: moderation.ThresholdCount, Value: int(*t.Count)}
			case t.Percent != nil:
				in.Threshold = moderation.Threshold{Kind: moderation.ThresholdPercent, Value: int(*t.Percent)}
			}
		}
	}
	return in
}

// Selector returns the policy's instance selector; unset selects every
// Instance of the namespace (the API's documented default), unlike
// metav1.LabelSelectorAsSelector(nil), which selects nothing.
func Selector(p *v1alpha1.FederationPolicy) (labels.Selector, error) {
	if p.Spec.InstanceSelector == nil {
		return labels.Everything(), nil
	}
	return metav1.LabelSelectorAsSelector(p.Spec.InstanceSelector)
}

// Selects reports whether the policy applies to the Instance: same
// namespace and matching labels. A policy with an invalid selector selects
// nothing (the policy reconciler reports it).
func Selects(p *v1alpha1.FederationPolicy, inst *v1alpha1.Instance) bool {
	if p.Namespace != inst.Namespace {
		return false
	}
	sel, err := Selector(p)
	if err != nil {
		return false
	}
	return sel.Matches(labels.Set(inst.Labels))
}

// Visibility is the policy's publish visibility with the API default
// (cluster) applied.
func Visibility(p *v1alpha1.FederationPolicy) v1alpha1.Visibility {
	if p.Spec.Publish == nil || p.Spec.Publish.Visibility == "" {
		return v1alpha1.VisibilityCluster
	}
	return p.Spec.Publish.Visibility
}

func deref(b *bool) bool { return b != nil && *b }
