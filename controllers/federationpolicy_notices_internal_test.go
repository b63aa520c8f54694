package controllers

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// TestNoticesNameTheProblem: an own entry refused, a source never fetched
// and a weight-0 source each show in a condition that names them, and
// Ready is not True while the spec asks for what will not happen.
func TestNoticesNameTheProblem(t *testing.T) {
	policy := &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "shared", Generation: 3},
		Spec: v1alpha1.FederationPolicySpec{Sources: []v1alpha1.PolicySource{
			{Name: "down", URL: "https://lists.example/down.csv"},
			{Name: "watched", URL: "https://lists.example/w.csv", Weight: ptr.To[int32](0)},
		}},
	}
	eff, err := moderation.Merge(moderation.MergeInput{
		Local:     []moderation.Entry{{Domain: "social.riverside.example", Action: moderation.Suspend}, {Domain: "spam.example", Action: moderation.Suspend}},
		Sources:   []moderation.Source{{Name: "watched", Weight: 0, Entries: []moderation.Entry{{Domain: "w.example", Action: moderation.Suspend}}}},
		Owner:     "riverside",
		Protected: []moderation.Protected{{Domain: "social.riverside.example", Owner: "riverside"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	sources := resolvedSources{
		all: []federation.Resolution{
			{Status: v1alpha1.SourceStatus{Name: "down", Error: "GET https://lists.example/down.csv: HTTP 503"}},
			{ResolvedSource: federation.ResolvedSource{Name: "watched", Entries: []moderation.Entry{{Domain: "w.example", Action: moderation.Suspend}}},
				Status: v1alpha1.SourceStatus{Name: "watched", Entries: 1, LastSuccessTime: &metav1.Time{}}},
		},
		url: []bool{true, true},
	}
	n := noticesOf(policy, eff, sources)
	n.markEntries(policy)
	n.markReady(policy, "1 effective entry")

	ready := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != "EntriesRefused" {
		t.Fatalf("Ready = %+v, want False/EntriesRefused", ready)
	}
	for _, want := range []string{"social.riverside.example (spec.entries)", "down (GET https://lists.example/down.csv: HTTP 503)", "never fetched", "The rest is in force"} {
		if !strings.Contains(ready.Message, want) {
			t.Errorf("Ready message %q does not say %q", ready.Message, want)
		}
	}
	acc := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionEntriesAccepted)
	if acc == nil || acc.Status != metav1.ConditionFalse || !strings.Contains(acc.Message, "social.riverside.example") || !strings.Contains(acc.Message, "watched (1 entry)") {
		t.Errorf("EntriesAccepted = %+v, want False naming the refused entry and the watched source", acc)
	}
	if meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionStalled) != nil {
		t.Error("Stalled would hold back the rest of the policy")
	}

	// Fixed: Ready again, and the watched source still said.
	clean, _ := moderation.Merge(moderation.MergeInput{Local: []moderation.Entry{{Domain: "spam.example", Action: moderation.Suspend}}})
	sources.all[0].Status = v1alpha1.SourceStatus{Name: "down", LastSuccessTime: &metav1.Time{}}
	n = noticesOf(policy, clean, sources)
	n.markEntries(policy)
	n.markReady(policy, "1 effective entry")
	if c := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionReady); c.Status != metav1.ConditionTrue {
		t.Errorf("Ready = %+v, want True", c)
	}
	if c := meta.FindStatusCondition(policy.Status.Conditions, v1alpha1.ConditionEntriesAccepted); c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "watched (1 entry)") {
		t.Errorf("EntriesAccepted = %+v, want True, still naming the watched source", c)
	}
}

func TestDescribeChange(t *testing.T) {
	e := func(d string, a moderation.Action) moderation.EffectiveEntry {
		return moderation.EffectiveEntry{Entry: moderation.Entry{Domain: d, Action: a}}
	}
	old := []moderation.EffectiveEntry{e("a.example", moderation.Suspend), e("b.example", moderation.Silence), e("c.example", moderation.Suspend)}
	cur := []moderation.EffectiveEntry{e("b.example", moderation.Suspend), e("c.example", moderation.Suspend), e("d.example", moderation.Silence)}
	got := describeChange(old, cur)
	want := "1 entry added: d.example (silence); 1 entry removed: a.example; 1 entry changed: b.example (suspend)"
	if got != want {
		t.Errorf("describeChange = %q, want %q", got, want)
	}
	if got := describeChange(old, old); got != "" {
		t.Errorf("no change described as %q", got)
	}
	var many []moderation.EffectiveEntry
	for _, d := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		many = append(many, e(d+".example", moderation.Suspend))
	}
	if got := describeChange(nil, many); !strings.HasSuffix(got, "e.example (suspend) …and 2 more") || !strings.HasPrefix(got, "7 entries added") {
		t.Errorf("describeChange of 7 = %q, want the first 5 and …and 2 more", got)
	}
}
