package resources

import (
	"testing"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

func TestAdminTokenSecret(t *testing.T) {
	tests := []struct {
		name      string
		policy    v1alpha1.DeletionPolicy
		community string
		owned     bool
	}{
		{name: "default policy (Retain): kept with the data", owned: false, community: "riverside"},
		{name: "explicit Retain", policy: v1alpha1.DeletionRetain, owned: false, community: "riverside"},
		{name: "Delete: goes with the Instance", policy: v1alpha1.DeletionDelete, owned: true, community: "riverside"},
		{name: "no community label when there is none", owned: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := gotosocialSQLite()
			inst.Spec.DeletionPolicy = tt.policy
			s := AdminTokenSecret(inst, Params{Community: tt.community}, "tok-123")
			if s.Name != inst.Name+"-admin-token" || s.Namespace != inst.Namespace || s.Kind != "Secret" || s.APIVersion != "v1" {
				t.Errorf("meta = %s/%s %s %s", s.Namespace, s.Name, s.APIVersion, s.Kind)
			}
			if string(s.Data[AdminTokenKey]) != "tok-123" || len(s.Data) != 1 {
				t.Errorf("data = %v", s.Data)
			}
			if s.Immutable != nil && *s.Immutable {
				t.Error("immutable: a revoked token could never be replaced")
			}
			for k, v := range map[string]string{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue, v1alpha1.LabelInstance: inst.Name, v1alpha1.LabelComponent: "admin"} {
				if s.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, s.Labels[k], v)
				}
			}
			if got, ok := s.Labels[v1alpha1.LabelCommunity]; ok != (tt.community != "") || got != tt.community {
				t.Errorf("community label = %q (present %v), want %q", got, ok, tt.community)
			}
			if owned := len(s.OwnerReferences) == 1 && s.OwnerReferences[0].Name == inst.Name; owned != tt.owned || (!tt.owned && len(s.OwnerReferences) != 0) {
				t.Errorf("owner references = %v, want owned=%v", s.OwnerReferences, tt.owned)
			}
		})
	}
}
