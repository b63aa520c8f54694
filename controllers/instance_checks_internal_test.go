package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

func TestFirstClaim(t *testing.T) {
	second := metav1.NewTime(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC))
	claim := func(ns, name string, created metav1.Time, status v1alpha1.InstanceStatus) *v1alpha1.Instance {
		return &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, CreationTimestamp: created}, Status: status}
	}
	serving := v1alpha1.InstanceStatus{ObservedGeneration: 1}
	refused := v1alpha1.InstanceStatus{ObservedGeneration: 1, Conditions: []metav1.Condition{
		{Type: v1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: reasonDomainTaken},
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
		{"same second, neither reconciled: namespace/name decides", []*v1alpha1.Instance{
			claim("b", "x", second, v1alpha1.InstanceStatus{}), claim("a", "y", second, v1alpha1.InstanceStatus{}),
		}, "a/y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := firstClaim(tt.claims)
			if key := got.Namespace + "/" + got.Name; key != tt.want {
				t.Errorf("firstClaim = %s, want %s", key, tt.want)
			}
			// The answer must not depend on the order of the list.
			reversed := []*v1alpha1.Instance{tt.claims[1], tt.claims[0]}
			if again := firstClaim(reversed); again != got {
				t.Errorf("reversed list: %s/%s", again.Namespace, again.Name)
			}
		})
	}
}
