package controllers

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// The premise of policiesConcerned: another community's Instance bends
// subscribed entries only. A policy of local entries computes the same
// with or without it, one with a source does not.
func TestOtherCommunitiesInstancesBendOnlySubscribedEntries(t *testing.T) {
	block := moderation.Entry{Domain: "toot.riverside.example", Action: moderation.Suspend}
	theirs := []moderation.Protected{{Domain: "toot.riverside.example", Owner: "riverside"}}
	merge := func(in moderation.MergeInput) string {
		t.Helper()
		p, err := moderation.Merge(in)
		if err != nil {
			t.Fatal(err)
		}
		return p.Hash()
	}
	local := moderation.MergeInput{Owner: "hillside", Local: []moderation.Entry{block}}
	without := merge(local)
	local.Protected = theirs
	if with := merge(local); with != without {
		t.Errorf("local entries changed by another community's Instance: %s → %s", without, with)
	}
	subscribed := moderation.MergeInput{Owner: "hillside", Sources: []moderation.Source{{Name: "shared", Weight: 1, Entries: []moderation.Entry{block}}}}
	without = merge(subscribed)
	subscribed.Protected = theirs
	if with := merge(subscribed); with == without {
		t.Error("a subscribed block on another community's Instance was not bent: the premise is gone")
	}
}

// An Instance event wakes its own namespace's policies, those of
// namespaces whose Instances claim the same names, and policies with
// sources; not other communities' policies of local entries.
func TestInstanceEventsWakeThePoliciesConcerned(t *testing.T) {
	pol := func(ns, name string, sources ...v1alpha1.PolicySource) *v1alpha1.FederationPolicy {
		return &v1alpha1.FederationPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.FederationPolicySpec{Sources: sources}}
	}
	inst := func(ns, name, domain string) *v1alpha1.Instance {
		return &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: v1alpha1.InstanceSpec{Domain: v1alpha1.Domain(domain)}}
	}
	toot := inst("riverside", "toot", "toot.riverside.example")
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).
		WithIndex(&v1alpha1.Instance{}, domainIndex, func(o client.Object) []string { return claimedNames(o.(*v1alpha1.Instance)) }).
		WithObjects(toot, inst("meadow", "copycat", "toot.riverside.example"), inst("hillside", "social", "social.hillside.example"),
			pol("riverside", "own"), pol("hillside", "local"), pol("hillside", "subscribed", v1alpha1.PolicySource{Name: "shared", URL: "https://lists.example/b.csv"}),
			pol("meadow", "contested"), pol("orchard", "local")).Build()
	r := &FederationPolicyReconciler{Client: c}

	var got []string
	for _, req := range r.policiesConcerned(context.Background(), toot) {
		got = append(got, req.String())
	}
	slices.Sort(got)
	want := []string{"hillside/subscribed", "meadow/contested", "riverside/own"}
	if !slices.Equal(got, want) {
		t.Errorf("woke %v, want %v", got, want)
	}
}
