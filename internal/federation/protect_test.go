package federation

import (
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

var claimTime = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// claimant is an Instance of namespace ns serving domain (and
// accountDomain, when given), created age seconds after claimTime.
func claimant(ns, name, domain, accountDomain string, age int) v1alpha1.Instance {
	return v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name),
			CreationTimestamp: metav1.NewTime(claimTime.Add(time.Duration(age) * time.Second))},
		Spec:   v1alpha1.InstanceSpec{Domain: v1alpha1.Domain(domain), AccountDomain: v1alpha1.Domain(accountDomain)},
		Status: v1alpha1.InstanceStatus{ObservedGeneration: 1},
	}
}

// TestProtectionInMerge is issue 12 cases 2 and 3 end to end, from the
// cluster's Instances to the riverside community's merged policy: which
// Instances protect what, and against which entries.
func TestProtectionInMerge(t *testing.T) {
	feed := []ResolvedSource{{Name: "feed", Entries: []moderation.Entry{
		{Domain: "gab.example", Action: moderation.Suspend},
		{Domain: "riverside.coop", Action: moderation.Suspend},
		{Domain: "spam.example", Action: moderation.Suspend},
	}}}
	tests := []struct {
		name      string
		instances []v1alpha1.Instance
		local     []v1alpha1.PolicyEntry
		blocked   []string // must be in the policy
		unblocked []string // must not be
	}{
		{
			// Case 3: hillside's instance must not unblock riverside's own decision.
			name:      "another community's instance never removes a local block",
			instances: []v1alpha1.Instance{claimant("hillside", "x", "x.gab.example", "", 0)},
			local:     []v1alpha1.PolicyEntry{{Domain: "gab.example", Action: v1alpha1.ActionSuspend}},
			blocked:   []string{"gab.example", "spam.example"},
		},
		{
			// ...but a published list still may not cut the co-op's servers.
			name:      "another community's instance refuses subscribed blocks",
			instances: []v1alpha1.Instance{claimant("hillside", "x", "x.gab.example", "", 0)},
			blocked:   []string{"spam.example"},
			unblocked: []string{"gab.example"},
		},
		{
			name:      "our own instance refuses local blocks too",
			instances: []v1alpha1.Instance{claimant("riverside", "social", "social.riverside.coop", "", 0)},
			local:     []v1alpha1.PolicyEntry{{Domain: "riverside.coop", Action: v1alpha1.ActionSuspend}},
			blocked:   []string{"gab.example", "spam.example"},
			unblocked: []string{"riverside.coop"},
		},
		{
			// Case 3, the refused copycat: an Instance refused with
			// DomainTaken protects nothing, not even its account domain.
			name: "a refused claim protects nothing",
			instances: []v1alpha1.Instance{
				claimant("hillside", "social", "social.hillside.coop", "", 0),
				claimant("mallory", "copy", "social.hillside.coop", "gab.example", 5),
			},
			blocked: []string{"gab.example", "spam.example"},
		},
		{
			// A newcomer its reconciler has not let in yet: it shields
			// nothing in another community's policy...
			name: "another community's unreconciled instance shields nothing",
			instances: []v1alpha1.Instance{func() v1alpha1.Instance {
				i := claimant("mallory", "gab", "x.gab.example", "", 0)
				i.Status.ObservedGeneration = 0
				return i
			}()},
			blocked: []string{"gab.example", "spam.example"},
		},
		{
			// ...but its own community's policies never block it.
			name: "our unreconciled instance is protected at once",
			instances: []v1alpha1.Instance{func() v1alpha1.Instance {
				i := claimant("riverside", "new", "social.riverside.coop", "", 0)
				i.Status.ObservedGeneration = 0
				return i
			}()},
			blocked:   []string{"gab.example", "spam.example"},
			unblocked: []string{"riverside.coop"},
		},
		{
			// Case 2: one bad name in the cluster fails no merge.
			name: "an invalid instance domain is skipped",
			instances: []v1alpha1.Instance{
				claimant("mallory", "bad", "xn--zz.example", "", 0),
				claimant("riverside", "social", "social.riverside.coop", "", 0),
			},
			blocked:   []string{"gab.example", "spam.example"},
			unblocked: []string{"riverside.coop"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := policy("p", nil, tt.local...)
			p.Spec.Sources = []v1alpha1.PolicySource{{Name: "feed"}}
			r := compute(t, p, feed, ProtectedDomains(tt.instances)...)
			for _, d := range tt.blocked {
				if e := r.Effective.Lookup(d); e == nil || !e.Action.IsBlock() {
					t.Errorf("%s not blocked; rejected %+v", d, r.Effective.Rejected)
				}
			}
			for _, d := range tt.unblocked {
				if e := r.Effective.Lookup(d); e != nil {
					t.Errorf("%s blocked: %+v", d, e.Entry)
				}
			}
		})
	}
}

func TestClaimHolder(t *testing.T) {
	second := metav1.NewTime(claimTime)
	claim := func(ns, name string, created metav1.Time, status v1alpha1.InstanceStatus) *v1alpha1.Instance {
		return &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: created}, Status: status}
	}
	serving := v1alpha1.InstanceStatus{ObservedGeneration: 1}
	refused := v1alpha1.InstanceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
		{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonDomainTaken},
	}}
	pending := v1alpha1.InstanceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
		{Type: v1alpha1.ConditionReconciling, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonDomainClaimPending},
	}}
	later := metav1.NewTime(second.Add(time.Second))

	tests := []struct {
		name   string
		claims []*v1alpha1.Instance
		want   string
	}{
		{"the oldest wins, whatever it holds", []*v1alpha1.Instance{
			claim("a", "new", later, serving), claim("z", "old", second, v1alpha1.InstanceStatus{}),
		}, "z/old"},
		// "t-1-100" sorts before "t-1-99": the name alone would hand the
		// domain to the newcomer.
		{"same second: the one already serving keeps it", []*v1alpha1.Instance{
			claim("t-1-100", "copycat", second, v1alpha1.InstanceStatus{}), claim("t-1-99", "social", second, serving),
		}, "t-1-99/social"},
		{"same second: a refused claim does not count as serving", []*v1alpha1.Instance{
			claim("b", "first", second, refused), claim("a", "second", second, refused),
		}, "a/second"},
		// The newcomer won the first decision on its name while the
		// server's first pass was still under way, and waits
		// (DomainClaimPending); once the server's status shows, the
		// server keeps the domain.
		{"same second: a claim still settling does not count as serving", []*v1alpha1.Instance{
			claim("t-1-100", "copycat", second, pending), claim("t-1-99", "social", second, serving),
		}, "t-1-99/social"},
		{"same second, neither reconciled: namespace/name decides", []*v1alpha1.Instance{
			claim("b", "x", second, v1alpha1.InstanceStatus{}), claim("a", "y", second, v1alpha1.InstanceStatus{}),
		}, "a/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ClaimHolder(tt.claims)
			if key := got.Namespace + "/" + got.Name; key != tt.want {
				t.Errorf("ClaimHolder = %s, want %s", key, tt.want)
			}
			// The answer must not depend on the order of the list.
			reversed := []*v1alpha1.Instance{tt.claims[1], tt.claims[0]}
			if again := ClaimHolder(reversed); again != got {
				t.Errorf("reversed list: %s/%s", again.Namespace, again.Name)
			}
		})
	}
}

// TestProtectedDomains: which Instances protect what, and for whom.
func TestProtectedDomains(t *testing.T) {
	deleting := claimant("hillside", "gone", "gone.hillside.coop", "", 0)
	deleting.DeletionTimestamp = &metav1.Time{Time: claimTime.Add(time.Hour)}
	deleting.Finalizers = []string{"fedcommons.io/finalizer"}
	tests := []struct {
		name      string
		instances []v1alpha1.Instance
		want      []moderation.Protected
	}{
		{"none", nil, nil},
		{
			"domain and account domain, owned by the namespace",
			[]v1alpha1.Instance{claimant("riverside", "social", "social.riverside.coop", "riverside.coop", 0)},
			[]moderation.Protected{{Domain: "riverside.coop", Owner: "riverside"}, {Domain: "social.riverside.coop", Owner: "riverside"}},
		},
		{
			"only the claim holder protects, not a later copy nor its account domain",
			[]v1alpha1.Instance{
				claimant("mallory", "copy", "social.hillside.coop", "gab.example", 5),
				claimant("hillside", "social", "social.hillside.coop", "", 0),
			},
			[]moderation.Protected{{Domain: "social.hillside.coop", Owner: "hillside"}},
		},
		{
			"an Instance being deleted holds no claim",
			[]v1alpha1.Instance{deleting},
			nil,
		},
		{
			// accountDomain is claimed like the domain: of two Instances
			// with the same one, only the holder protects (the other is
			// refused DomainTaken), and the loser protects nothing at all.
			"one account domain, two communities: only the holder protects",
			[]v1alpha1.Instance{
				claimant("riverside", "a", "a.coop.example", "coop.example", 1),
				claimant("hillside", "b", "b.coop.example", "coop.example", 0),
			},
			[]moderation.Protected{{Domain: "b.coop.example", Owner: "hillside"}, {Domain: "coop.example", Owner: "hillside"}},
		},
		{
			// Before its reconciler has let it in, an Instance shields
			// its name from its own community's policies only.
			"not yet reconciled: protects for its own community only",
			[]v1alpha1.Instance{func() v1alpha1.Instance {
				i := claimant("mallory", "new", "x.gab.example", "", 0)
				i.Status.ObservedGeneration = 0
				return i
			}()},
			[]moderation.Protected{{Domain: "x.gab.example", Owner: "mallory", OwnerOnly: true}},
		},
		{
			"refused for a domain outside its community's: protects nothing",
			[]v1alpha1.Instance{func() v1alpha1.Instance {
				i := claimant("mallory", "gab", "x.gab.example", "", 0)
				i.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: "DomainNotAllowed"}}
				return i
			}()},
			nil,
		},
		{
			"an account domain equal to the domain is listed once",
			[]v1alpha1.Instance{claimant("riverside", "social", "riverside.coop", "riverside.coop", 0)},
			[]moderation.Protected{{Domain: "riverside.coop", Owner: "riverside"}},
		},
		{
			"invalid names are passed on for the engine to report",
			[]v1alpha1.Instance{claimant("mallory", "bad", "xn--zz.example", "", 0)},
			[]moderation.Protected{{Domain: "xn--zz.example", Owner: "mallory"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ProtectedDomains(tt.instances)
			if !slices.Equal(got, tt.want) {
				t.Errorf("ProtectedDomains =\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}
