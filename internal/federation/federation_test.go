package federation

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

func policy(name string, sel *metav1.LabelSelector, entries ...v1alpha1.PolicyEntry) *v1alpha1.FederationPolicy {
	return &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: name, Generation: 1},
		Spec:       v1alpha1.FederationPolicySpec{InstanceSelector: sel, Entries: entries},
	}
}

func instance(name string, lbls map[string]string) *v1alpha1.Instance {
	return &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: name, Labels: lbls}}
}

func compute(t *testing.T, p *v1alpha1.FederationPolicy, sources []ResolvedSource, protected ...moderation.Protected) *Result {
	t.Helper()
	eff, err := moderation.Merge(Input(p, sources, protected))
	if err != nil {
		t.Fatal(err)
	}
	return &Result{Policy: types.NamespacedName{Namespace: p.Namespace, Name: p.Name}, Generation: p.Generation,
		Effective: eff, Hash: eff.Hash(), ComputedAt: time.Now()}
}

func TestSelects(t *testing.T) {
	tiers := &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "main"}}
	cases := []struct {
		name string
		p    *v1alpha1.FederationPolicy
		i    *v1alpha1.Instance
		want bool
	}{
		{"unset selects all", policy("p", nil), instance("a", nil), true},
		{"empty selects all", policy("p", &metav1.LabelSelector{}), instance("a", nil), true},
		{"labels match", policy("p", tiers), instance("a", map[string]string{"tier": "main"}), true},
		{"labels differ", policy("p", tiers), instance("a", map[string]string{"tier": "test"}), false},
		{"other namespace", policy("p", nil), &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: "hillside", Name: "a"}}, false},
		{"invalid selector selects nothing", policy("p", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}}), instance("a", nil), false},
	}
	for _, c := range cases {
		if got := Selects(c.p, c.i); got != c.want {
			t.Errorf("%s: Selects = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestInputConvertsSpec(t *testing.T) {
	p := policy("p", nil, v1alpha1.PolicyEntry{Domain: "Spam.Example", Action: v1alpha1.ActionSilence, RejectReports: ptr.To(true)})
	p.Spec.Sources = []v1alpha1.PolicySource{
		{Name: "a", Weight: ptr.To[int32](2), MaxAction: "silence"},
		{Name: "b"},
	}
	p.Spec.Consensus = &v1alpha1.Consensus{Merge: v1alpha1.MergeMin, Threshold: &v1alpha1.Threshold{Count: ptr.To[int32](2)}}
	p.Spec.Exceptions = []v1alpha1.Domain{"friends.example"}
	in := Input(p, []ResolvedSource{{Name: "a", Entries: []moderation.Entry{{Domain: "x.example", Action: moderation.Suspend}}}}, []moderation.Protected{{Domain: "social.riverside.coop", Owner: "riverside"}})
	if len(in.Local) != 1 || in.Local[0].Action != moderation.Silence || !in.Local[0].RejectReports {
		t.Errorf("local = %+v", in.Local)
	}
	if len(in.Sources) != 2 || in.Sources[0].Weight != 2 || *in.Sources[0].MaxAction != moderation.Silence || len(in.Sources[0].Entries) != 1 {
		t.Errorf("source a = %+v", in.Sources[0])
	}
	if in.Sources[1].Weight != 1 || in.Sources[1].Entries != nil {
		t.Errorf("source b defaults to weight 1 and no entries: %+v", in.Sources[1])
	}
	if in.Rule != moderation.MergeMin || in.Threshold != (moderation.Threshold{Kind: moderation.ThresholdCount, Value: 2}) {
		t.Errorf("consensus = %v %v", in.Rule, in.Threshold)
	}
	if len(in.Exceptions) != 1 || len(in.Protected) != 1 || in.Owner != "riverside" {
		t.Errorf("exceptions %v protected %v owner %q", in.Exceptions, in.Protected, in.Owner)
	}
}

func TestProtectedDomainsNeverBlocked(t *testing.T) {
	insts := []v1alpha1.Instance{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "a"}, Spec: v1alpha1.InstanceSpec{Domain: "social.riverside.coop", AccountDomain: "riverside.coop"},
			Status: v1alpha1.InstanceStatus{ObservedGeneration: 1}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "b"}, Spec: v1alpha1.InstanceSpec{Domain: "social.riverside.coop"},
			Status: v1alpha1.InstanceStatus{ObservedGeneration: 1}},
	}
	prot := ProtectedDomains(insts)
	if len(prot) != 2 {
		t.Fatalf("protected = %v", prot)
	}
	p := policy("p", nil,
		v1alpha1.PolicyEntry{Domain: "riverside.coop", Action: v1alpha1.ActionSuspend},
		v1alpha1.PolicyEntry{Domain: "spam.example", Action: v1alpha1.ActionSuspend})
	r := compute(t, p, nil, prot...)
	if r.Effective.Lookup("riverside.coop") != nil || r.Effective.Lookup("spam.example") == nil || len(r.Effective.Rejected) != 1 {
		t.Errorf("entries %v rejected %v", r.Effective.Entries, r.Effective.Rejected)
	}
}

func TestCombineStrictestWinsWithProvenance(t *testing.T) {
	a := compute(t, policy("a", nil,
		v1alpha1.PolicyEntry{Domain: "spam.example", Action: v1alpha1.ActionSilence, RejectReports: ptr.To(true)},
		v1alpha1.PolicyEntry{Domain: "friend.example", Action: v1alpha1.ActionAllow},
		v1alpha1.PolicyEntry{Domain: "only-a.example", Action: v1alpha1.ActionSuspend}), nil)
	b := compute(t, policy("b", nil,
		v1alpha1.PolicyEntry{Domain: "spam.example", Action: v1alpha1.ActionSuspend},
		v1alpha1.PolicyEntry{Domain: "friend.example", Action: v1alpha1.ActionSilence}), nil)
	c, err := Combine([]*Result{a, b})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]CombinedEntry{}
	for _, e := range c.Entries {
		got[e.Domain] = e
	}
	if e := got["spam.example"]; e.Action != moderation.Suspend || !e.RejectReports || len(e.Policies) != 2 {
		t.Errorf("spam.example = %+v, want suspend with a's reject-reports, from both", e)
	}
	if e := got["friend.example"]; e.Action != moderation.Silence || e.Policies[0] != "b" {
		t.Errorf("friend.example = %+v, want b's silence over a's allow", e)
	}
	if e := got["only-a.example"]; e.PrivateComment[:3] != "a: " {
		t.Errorf("provenance names the policy: %q", e.PrivateComment)
	}
	if len(c.Policies) != 2 || c.Hash == a.Hash || c.Hash == b.Hash || c.Hash == "" {
		t.Errorf("policies %v hash %s", c.Policies, c.Hash)
	}
	// The same combination in the other order has the same hash.
	c2, _ := Combine([]*Result{b, a})
	if c2.Hash != c.Hash {
		t.Errorf("hash depends on order")
	}
}

func TestCombineSinglePolicyHashMatchesPolicy(t *testing.T) {
	a := compute(t, policy("a", nil,
		v1alpha1.PolicyEntry{Domain: "spam.example", Action: v1alpha1.ActionSilence},
		v1alpha1.PolicyEntry{Domain: "noop.example", Action: v1alpha1.ActionNoop}), nil)
	c, err := Combine([]*Result{a})
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash != a.Hash || len(c.Entries) != 1 {
		t.Errorf("hash %s (policy %s), entries %v", c.Hash, a.Hash, c.Entries)
	}
	// The engine's own definition gives the same hash, so the one- and
	// many-policy cases agree.
	p, _ := moderation.Merge(moderation.MergeInput{Local: c.Desired()})
	if p.Hash() != a.Hash {
		t.Errorf("re-merged hash %s != %s", p.Hash(), a.Hash)
	}
	empty, _ := Combine(nil)
	if len(empty.Entries) != 0 || empty.Hash == "" {
		t.Errorf("no policy: %+v", empty)
	}
}

func TestRegistry(t *testing.T) {
	g := NewRegistry()
	p := policy("a", nil, v1alpha1.PolicyEntry{Domain: "spam.example", Action: v1alpha1.ActionSuspend})
	key := types.NamespacedName{Namespace: "riverside", Name: "a"}
	if _, ok := g.Current(key, 1); ok {
		t.Fatal("empty registry has a result")
	}
	r := compute(t, p, nil)
	if !g.Put(r) {
		t.Error("first Put is a change")
	}
	again := compute(t, p, nil)
	again.Generation = 2
	if g.Put(again) {
		t.Error("same hash is no change")
	}
	if again.ChangedAt != r.ChangedAt {
		t.Error("ChangedAt carried over")
	}
	if _, ok := g.Current(key, 1); ok {
		t.Error("generation 1 is no longer current")
	}
	if _, ok := g.Current(key, 2); !ok {
		t.Error("generation 2 is current")
	}
	g.Delete(key)
	if _, ok := g.Get(key); ok {
		t.Error("deleted")
	}
}

func TestPublishedForDropsEchoesAndPrivateComments(t *testing.T) {
	reader := types.NamespacedName{Namespace: "hillside", Name: "shared"}
	p := policy("a", nil, v1alpha1.PolicyEntry{Domain: "own.example", Action: v1alpha1.ActionSuspend, PrivateComment: "secret"})
	p.Spec.Sources = []v1alpha1.PolicySource{{Name: "hill"}, {Name: "list"}}
	r := compute(t, p, []ResolvedSource{
		{Name: "hill", Entries: []moderation.Entry{{Domain: "echo.example", Action: moderation.Suspend}, {Domain: "both.example", Action: moderation.Suspend}}},
		{Name: "list", Entries: []moderation.Entry{{Domain: "both.example", Action: moderation.Suspend}}},
	})
	r.Refs = map[string]types.NamespacedName{"hill": reader}
	got := map[string]moderation.Entry{}
	for _, e := range r.PublishedFor(reader) {
		got[e.Domain] = e
	}
	if _, ok := got["echo.example"]; ok {
		t.Error("an entry only the reader gave us is not handed back")
	}
	if _, ok := got["both.example"]; !ok {
		t.Error("an entry another source also counts for is published")
	}
	if e, ok := got["own.example"]; !ok || e.PrivateComment != "" {
		t.Errorf("own entry without private comment: %+v", e)
	}
	if len(r.PublishedFor(types.NamespacedName{Namespace: "x", Name: "y"})) != 3 {
		t.Error("another reader gets everything")
	}
}
