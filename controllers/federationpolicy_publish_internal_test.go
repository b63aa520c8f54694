package controllers

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/conditions"
)

func computedPolicy(gen, computed int64, hash string, vis v1alpha1.Visibility, sel map[string]string) *v1alpha1.FederationPolicy {
	p := &v1alpha1.FederationPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "shared", Generation: gen},
		Spec:       v1alpha1.FederationPolicySpec{Publish: &v1alpha1.PublishSpec{Visibility: vis}},
		Status:     v1alpha1.FederationPolicyStatus{PolicyHash: hash},
	}
	if sel != nil {
		p.Spec.InstanceSelector = &metav1.LabelSelector{MatchLabels: sel}
	}
	if computed > 0 {
		conditions.Set(&p.Status.Conditions, computed, v1alpha1.ConditionApplied, metav1.ConditionTrue, "Computed", "")
	}
	return p
}

// What dependants act on changes with the hash, the visibility (issue 12:
// a policy turning to none kept its hash and its subscribers kept its
// entries) and the generation computed; not with anything else.
func TestPublishedChanged(t *testing.T) {
	base := computedPolicy(2, 2, "sha256:a", v1alpha1.VisibilityCluster, nil)
	tests := []struct {
		name string
		new  *v1alpha1.FederationPolicy
		want bool
	}{
		{"nothing", computedPolicy(2, 2, "sha256:a", v1alpha1.VisibilityCluster, nil), false},
		{"a new spec not computed yet", computedPolicy(3, 2, "sha256:a", v1alpha1.VisibilityCluster, map[string]string{"tier": "a"}), false},
		{"the hash", computedPolicy(2, 2, "sha256:b", v1alpha1.VisibilityCluster, nil), true},
		{"the visibility, same hash", computedPolicy(3, 2, "sha256:a", v1alpha1.VisibilityNone, nil), true},
		{"a new generation computed, same hash", computedPolicy(3, 3, "sha256:a", v1alpha1.VisibilityCluster, nil), true},
	}
	for _, tt := range tests {
		if got := publishedChanged.Update(event.UpdateEvent{ObjectOld: base, ObjectNew: tt.new}); got != tt.want {
			t.Errorf("%s: changed = %v, want %v", tt.name, got, tt.want)
		}
	}
	if publishedChanged.Create(event.CreateEvent{Object: base}) || !publishedChanged.Delete(event.DeleteEvent{Object: base}) {
		t.Error("a creation publishes nothing yet; a deletion withdraws everything")
	}
}

func TestSelectedInstancesWakesWhoIsConcerned(t *testing.T) {
	inst := func(name, tier string) *v1alpha1.Instance {
		return &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: name, Labels: map[string]string{"tier": tier}}}
	}
	other := inst("elsewhere", "a")
	other.Namespace = "hillside"
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(inst("a1", "a"), inst("a2", "a"), inst("b1", "b"), other).Build()
	h := selectedInstances(c)
	woken := func(do func(q workqueue.TypedRateLimitingInterface[reconcile.Request])) []string {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		defer q.ShutDown()
		do(q)
		var out []string
		for q.Len() > 0 {
			r, _ := q.Get()
			out = append(out, r.Name)
			q.Done(r)
		}
		slices.Sort(out)
		return out
	}
	ctx := context.Background()
	tierA := map[string]string{"tier": "a"}
	tierB := map[string]string{"tier": "b"}

	got := woken(func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Update(ctx, event.UpdateEvent{ObjectOld: computedPolicy(1, 1, "h1", "", tierA), ObjectNew: computedPolicy(1, 1, "h2", "", tierA)}, q)
	})
	if !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("new hash woke %v, want the selected a1 a2", got)
	}
	// The selector moves from tier a to b: a1 and a2 no longer get the
	// policy and are told now; b1 waits for the new generation's result.
	got = woken(func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Update(ctx, event.UpdateEvent{ObjectOld: computedPolicy(1, 1, "h1", "", tierA), ObjectNew: computedPolicy(2, 1, "h1", "", tierB)}, q)
	})
	if !slices.Equal(got, []string{"a1", "a2"}) {
		t.Errorf("selector change woke %v, want those left: a1 a2", got)
	}
	got = woken(func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Update(ctx, event.UpdateEvent{ObjectOld: computedPolicy(2, 1, "h1", "", tierB), ObjectNew: computedPolicy(2, 2, "h1", "", tierB)}, q)
	})
	if !slices.Equal(got, []string{"b1"}) {
		t.Errorf("the new generation computed woke %v, want b1", got)
	}
	got = woken(func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Update(ctx, event.UpdateEvent{ObjectOld: computedPolicy(1, 1, "h1", "", nil), ObjectNew: computedPolicy(1, 1, "h1", "", nil)}, q)
		h.Create(ctx, event.CreateEvent{Object: computedPolicy(1, 1, "h1", "", nil)}, q)
		// Who may read the policy changes nothing an Instance holds; waking
		// it before the new generation is computed would only make it wait.
		h.Update(ctx, event.UpdateEvent{ObjectOld: computedPolicy(1, 1, "h1", "", nil), ObjectNew: computedPolicy(2, 1, "h1", v1alpha1.VisibilityNone, nil)}, q)
	})
	if len(got) != 0 {
		t.Errorf("nothing published changed, yet %v were woken", got)
	}
	got = woken(func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		h.Delete(ctx, event.DeleteEvent{Object: computedPolicy(1, 1, "h1", "", nil)}, q)
	})
	if !slices.Equal(got, []string{"a1", "a2", "b1"}) {
		t.Errorf("deletion woke %v, want every Instance of the namespace it selected", got)
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
