package delivery

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/software"
)

// Only a hosted Instance's own Services are trusted, by the names cluster
// DNS gives them, looked up as the absolute name; nothing a tenant could
// write to reach another namespace, another port or another host is.
func TestTrustedForOwnServicesOnly(t *testing.T) {
	profile, err := software.Lookup(v1alpha1.SoftwareGoToSocial)
	if err != nil {
		t.Fatal(err)
	}
	hosted := &v1alpha1.Instance{ObjectMeta: metav1.ObjectMeta{Namespace: "riverside", Name: "social"},
		Spec: v1alpha1.InstanceSpec{Software: v1alpha1.SoftwareGoToSocial, Version: "0.20.1", Domain: "social.riverside.example"}}
	external := hosted.DeepCopy()
	external.Spec.External = &v1alpha1.ExternalServer{URL: "http://social-web.riverside.svc:8080"}
	own := outbound.Trusted{Host: "social-web.riverside.svc:8080", Resolve: "social-web.riverside.svc.cluster.local"}
	ownFQDN := outbound.Trusted{Host: "social-web.riverside.svc.cluster.local:8080", Resolve: "social-web.riverside.svc.cluster.local"}
	s := &Syncer{}
	for _, tc := range []struct {
		inst   *v1alpha1.Instance
		apiURL string
		want   *outbound.Trusted
	}{
		{hosted, "http://social-web.riverside.svc:8080", &own},
		{hosted, "http://Social-Web.Riverside.SVC:8080/", &own},
		{hosted, "https://social-web.riverside.svc:8080", &own},
		{hosted, "http://social-web.riverside.svc.cluster.local:8080", &ownFQDN},
		{hosted, "http://social-web.hillside.svc:8080", nil},
		{hosted, "http://social-web.riverside.svc:9999", nil},
		{hosted, "http://social-web.riverside.svc", nil},
		{hosted, "http://social-web.riverside:8080", nil},
		{hosted, "http://social-web:8080", nil},
		{hosted, "http://social-web.riverside.svc.svc.cluster.local:8080", nil},
		{hosted, "http://social-web.riverside.svc.evil.example:8080", nil},
		{hosted, "http://other-web.riverside.svc:8080", nil},
		{hosted, "https://social.riverside.example", nil},
		{hosted, "http://10.96.0.12:8080", nil},
		{external, "http://social-web.riverside.svc:8080", nil},
	} {
		got := s.trustedFor(&pass{inst: tc.inst, profile: profile}, tc.apiURL)
		switch {
		case tc.want == nil && got != nil:
			t.Errorf("%s (external %v): trusted %+v", tc.apiURL, tc.inst.Spec.External != nil, got)
		case tc.want != nil && (len(got) != 1 || got[0] != *tc.want):
			t.Errorf("%s: trusted %+v, want %+v", tc.apiURL, got, *tc.want)
		}
	}
	// Another cluster domain names other absolute names.
	s.Options.ClusterDomain = "coop.internal."
	got := s.trustedFor(&pass{inst: hosted, profile: profile}, "http://social-web.riverside.svc:8080")
	if len(got) != 1 || got[0].Resolve != "social-web.riverside.svc.coop.internal" {
		t.Errorf("cluster domain coop.internal: %+v", got)
	}
}
