package controllers

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// namedInMessage bounds how many domains or sources a condition or Event
// names before "…and N more": enough to act on, small enough for
// `kubectl describe`.
const namedInMessage = 5

// notices is what a computation leaves a person to read (issue 15: policy
// problems used to be silent): entries refused, sources that contribute
// nothing yet, sources that only watch.
type notices struct {
	// refusedOwn are the policy's own entries (spec.entries) that were
	// refused: the spec asks for something that will not happen.
	refusedOwn []moderation.Rejection
	// refusedSubscribed are subscribed entries refused (typically a list
	// naming one of the co-op's own servers): the protection working.
	refusedSubscribed []moderation.Rejection
	// neverFetched names the url sources never fetched successfully, with
	// their error: they have no last good copy, so nothing of theirs is in
	// force.
	neverFetched []string
	// watched names the weight-0 sources and how many entries they list:
	// those entries are shown in explanations and never applied.
	watched []string
}

func noticesOf(policy *v1alpha1.FederationPolicy, eff *moderation.Policy, sources resolvedSources) notices {
	var n notices
	for _, r := range eff.Rejected {
		if r.Source == moderation.LocalSource {
			n.refusedOwn = append(n.refusedOwn, r)
		} else {
			n.refusedSubscribed = append(n.refusedSubscribed, r)
		}
	}
	weights := map[string]int32{}
	for _, s := range policy.Spec.Sources {
		w := int32(1)
		if s.Weight != nil {
			w = *s.Weight
		}
		weights[s.Name] = w
	}
	for i, s := range sources.all {
		if sources.url[i] && s.Status.LastSuccessTime == nil && s.Status.Error != "" {
			n.neverFetched = append(n.neverFetched, s.Status.Name+" ("+s.Status.Error+")")
		}
		if w, ok := weights[s.Status.Name]; ok && w == 0 {
			n.watched = append(n.watched, fmt.Sprintf("%s (%s)", s.Status.Name, plural(len(s.Entries), "entry", "entries")))
		}
	}
	return n
}

// markReady sets Ready from the notices: True only when the policy is
// everything its spec asks for. An own entry refused or a url source never
// fetched makes it False, naming them; the rest of the policy is still
// computed and reaches the servers (Stalled is not set: it would hold
// back the whole policy).
func (n notices) markReady(policy *v1alpha1.FederationPolicy, summary string) {
	var problems []string
	reason := v1alpha1.ReasonComputed
	if len(n.refusedOwn) > 0 {
		reason = v1alpha1.ReasonEntriesRefused
		problems = append(problems, fmt.Sprintf("%s refused: %s", plural(len(n.refusedOwn), "entry of spec.entries", "entries of spec.entries"), describeRejections(n.refusedOwn)))
	}
	if len(n.neverFetched) > 0 {
		if reason == v1alpha1.ReasonComputed {
			reason = v1alpha1.ReasonSourceNeverFetched
		}
		problems = append(problems, fmt.Sprintf("never fetched successfully, so none of its entries are in force: %s", nameSome(n.neverFetched)))
	}
	if len(problems) == 0 {
		conditions.MarkReady(&policy.Status.Conditions, policy.Generation, reason, summary)
		return
	}
	conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionReady, metav1.ConditionFalse, reason,
		strings.Join(problems, "; ")+". The rest is in force: "+summary)
	meta.RemoveStatusCondition(&policy.Status.Conditions, v1alpha1.ConditionReconciling)
	meta.RemoveStatusCondition(&policy.Status.Conditions, v1alpha1.ConditionStalled)
}

// markEntries sets EntriesAccepted: False names every kind of refusal, so
// `kubectl describe` says which entry and why.
func (n notices) markEntries(policy *v1alpha1.FederationPolicy) {
	var parts []string
	if len(n.refusedOwn) > 0 {
		parts = append(parts, "own entries refused: "+describeRejections(n.refusedOwn))
	}
	if len(n.refusedSubscribed) > 0 {
		parts = append(parts, "subscribed entries refused: "+describeRejections(n.refusedSubscribed))
	}
	if len(n.watched) > 0 {
		parts = append(parts, "weight 0, watched and never applied: "+nameSome(n.watched))
	}
	switch {
	case len(n.refusedOwn)+len(n.refusedSubscribed) > 0:
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionEntriesAccepted, metav1.ConditionFalse, v1alpha1.ReasonEntriesRefused, strings.Join(parts, "; "))
	case len(n.watched) > 0:
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionEntriesAccepted, metav1.ConditionTrue, v1alpha1.ReasonSourcesWatched, "every entry was accepted; "+strings.Join(parts, "; "))
	default:
		conditions.Set(&policy.Status.Conditions, policy.Generation, v1alpha1.ConditionEntriesAccepted, metav1.ConditionTrue, v1alpha1.ReasonAccepted, "every entry was accepted")
	}
}

// events records what changed since the previous result (nil on the first
// computation, and after a restart): refusals that are new, and the entries
// that now reach the selected servers. Repeated passes with the same result
// record nothing, so nothing is duplicated.
func (r *FederationPolicyReconciler) events(policy *v1alpha1.FederationPolicy, prev, res *federation.Result, n notices, selected int) {
	var before map[string]bool
	if prev != nil {
		before = map[string]bool{}
		for _, rej := range prev.Effective.Rejected {
			before[rej.Domain+"\x00"+rej.Source] = true
		}
	}
	var fresh []moderation.Rejection
	for _, rej := range res.Effective.Rejected {
		if !before[rej.Domain+"\x00"+rej.Source] {
			fresh = append(fresh, rej)
		}
	}
	if len(fresh) > 0 {
		r.Recorder.Eventf(policy, nil, corev1.EventTypeWarning, "EntriesRefused", "Merge", "%s refused: %s", plural(len(fresh), "entry", "entries"), describeRejections(fresh))
	}
	if prev != nil && prev.Hash == res.Hash {
		return
	}
	var old []moderation.EffectiveEntry
	if prev != nil {
		old = prev.Effective.Entries
	}
	if change := describeChange(old, res.Effective.Entries); change != "" {
		r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "EntriesChanged", "Publish", "%s; handed to %s", change, plural(selected, "selected Instance", "selected Instances"))
	}
	if prev == nil && len(n.watched) > 0 {
		r.Recorder.Eventf(policy, nil, corev1.EventTypeNormal, "SourcesWatched", "Merge", "weight 0, watched and never applied: %s", nameSome(n.watched))
	}
}

// describeChange says which domains were added, removed and changed
// between two effective entry lists (both sorted by domain).
func describeChange(old, cur []moderation.EffectiveEntry) string {
	var added, removed, changed []string
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j == len(cur) || i < len(old) && old[i].Domain < cur[j].Domain:
			removed = append(removed, old[i].Domain)
			i++
		case i == len(old) || cur[j].Domain < old[i].Domain:
			added = append(added, cur[j].Domain+" ("+cur[j].Action.String()+")")
			j++
		default:
			if old[i].Action != cur[j].Action || old[i].RejectMedia != cur[j].RejectMedia || old[i].RejectReports != cur[j].RejectReports {
				changed = append(changed, cur[j].Domain+" ("+cur[j].Action.String()+")")
			}
			i, j = i+1, j+1
		}
	}
	var parts []string
	for _, p := range []struct {
		what string
		list []string
	}{{"added", added}, {"removed", removed}, {"changed", changed}} {
		if len(p.list) > 0 {
			parts = append(parts, fmt.Sprintf("%s %s: %s", plural(len(p.list), "entry", "entries"), p.what, nameSome(p.list)))
		}
	}
	return strings.Join(parts, "; ")
}

// describeRejections names the first refusals: domain, whose entry, why.
func describeRejections(rs []moderation.Rejection) string {
	names := make([]string, 0, min(len(rs), namedInMessage))
	for _, r := range rs[:min(len(rs), namedInMessage)] {
		from := "spec.entries"
		if r.Source != moderation.LocalSource {
			from = "source " + r.Source
		}
		names = append(names, fmt.Sprintf("%s (%s): %s", r.Domain, from, r.Reason))
	}
	return strings.Join(names, "; ") + more(len(rs))
}

// nameSome joins the first names, then says how many more there are.
func nameSome(names []string) string {
	return strings.Join(names[:min(len(names), namedInMessage)], ", ") + more(len(names))
}

func more(n int) string {
	if n <= namedInMessage {
		return ""
	}
	return fmt.Sprintf(" …and %d more", n-namedInMessage)
}

// plural is "1 entry", "2 entries", "0 entries".
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
