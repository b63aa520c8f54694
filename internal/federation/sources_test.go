package federation

import (
	"context"
	"reflect"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/moderation"
)

// recording resolves every url source to one entry and every policyRef to
// none, and records what it was asked.
type recording struct{ calls []string }

func (r *recording) URL(_ context.Context, sub feeds.Subscription) Resolution {
	r.calls = append(r.calls, "url "+sub.Name+" "+sub.URL)
	return Resolution{ResolvedSource: ResolvedSource{Entries: []moderation.Entry{{Domain: sub.Name + ".example"}}}}
}

func (r *recording) PolicyRef(_ context.Context, name string, ref types.NamespacedName) Resolution {
	r.calls = append(r.calls, "ref "+name+" "+ref.String())
	return Resolution{Waiting: ref.String()}
}

func TestResolveSourcesDispatchesInSpecOrder(t *testing.T) {
	p := policy("shared", nil)
	p.Spec.Sources = []v1alpha1.PolicySource{
		{Name: "dni", URL: "https://iftas.example/dni.csv", Format: v1alpha1.FormatMastodonCSV},
		{Name: "hill", PolicyRef: &v1alpha1.PolicyReference{Namespace: "hillside", Name: "published"}},
		{Name: "plain", URL: "https://lists.example/plain.txt", Format: v1alpha1.FormatPlain},
	}
	r := &recording{}
	got := ResolveSources(context.Background(), p, r)
	want := []string{"url dni https://iftas.example/dni.csv", "ref hill hillside/published", "url plain https://lists.example/plain.txt"}
	if !reflect.DeepEqual(r.calls, want) {
		t.Fatalf("calls %v, want %v", r.calls, want)
	}
	for i, s := range p.Spec.Sources {
		if got[i].Name != s.Name || got[i].Status.Name != s.Name {
			t.Errorf("resolution %d is named %q/%q, want %q", i, got[i].Name, got[i].Status.Name, s.Name)
		}
	}
	if names := Resolved(got); len(names) != 2 || names[0].Name != "dni" || names[1].Name != "plain" {
		t.Errorf("Resolved kept %+v: a source without entries contributes nothing", names)
	}
	if w := Waiting(got); !reflect.DeepEqual(w, []string{"hillside/published"}) {
		t.Errorf("Waiting = %v", w)
	}
	if refs := Refs(p); len(refs) != 1 || refs["hill"] != (types.NamespacedName{Namespace: "hillside", Name: "published"}) {
		t.Errorf("Refs = %v", refs)
	}
	if !RefersTo(p, types.NamespacedName{Namespace: "hillside", Name: "published"}) || RefersTo(p, types.NamespacedName{Namespace: "hillside", Name: "other"}) {
		t.Error("RefersTo")
	}
}

func TestSubscriptionCarriesThePolicysRules(t *testing.T) {
	p := policy("shared", nil)
	p.Spec.Retraction = &v1alpha1.RetractionSpec{MinCleanFetches: 4, MaxShrinkPercent: 5}
	p.Spec.Sources = []v1alpha1.PolicySource{
		{Name: "dni", URL: "https://iftas.example/dni.csv", Format: v1alpha1.FormatMastodonCSV, RefreshInterval: &metav1.Duration{Duration: time.Hour}},
		{Name: "hill", PolicyRef: &v1alpha1.PolicyReference{Namespace: "hillside", Name: "published"}},
	}
	subs := Subscriptions(p)
	want := []feeds.Subscription{{
		Source:   feeds.Source{Name: "dni", URL: "https://iftas.example/dni.csv", Format: moderation.FormatMastodonCSV, Retraction: feeds.Retraction{MinCleanFetches: 4, MaxShrinkPercent: 5}},
		Interval: time.Hour,
	}}
	if !reflect.DeepEqual(subs, want) {
		t.Fatalf("Subscriptions = %+v, want %+v", subs, want)
	}
	p.Spec.Retraction = nil
	if got := Subscription(p, p.Spec.Sources[0]).Retraction; got != feeds.DefaultRetraction {
		t.Fatalf("default retraction = %+v", got)
	}
}
