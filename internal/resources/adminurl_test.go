package resources

import (
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/internal/software"
)

// TestAdminEndpointOf: a hosted Instance is reached through its own
// Service, so it answers before public DNS and its certificate exist;
// only an external server (or an explicit apiURL) is reached by its URL.
func TestAdminEndpointOf(t *testing.T) {
	external := &v1alpha1.Instance{ObjectMeta: meta("old"), Spec: v1alpha1.InstanceSpec{
		Software: v1alpha1.SoftwareMastodon, Domain: "old.example",
		External: &v1alpha1.ExternalServer{URL: "https://old.example/", TokenSecretRef: v1alpha1.SecretKeyReference{Name: "old-admin-token"}},
	}}
	overridden := gotosocialSQLite()
	overridden.Spec.Federation = &v1alpha1.InstanceFederation{APIURL: "http://10.0.0.7:8080/"}

	for _, tt := range []struct {
		name string
		inst *v1alpha1.Instance
		want AdminEndpoint
	}{
		{"hosted GoToSocial", gotosocialSQLite(), AdminEndpoint{URL: "http://social-web.riverside.svc:8080", Host: "social.riverside.example", InCluster: true}},
		{"hosted Mastodon", mastodonBundled(), AdminEndpoint{URL: "http://toot-web.riverside.svc:3000", Host: "toot.riverside.example", InCluster: true}},
		{"external", external, AdminEndpoint{URL: "https://old.example"}},
		{"apiURL set", overridden, AdminEndpoint{URL: "http://10.0.0.7:8080"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AdminEndpointOf(tt.inst)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("AdminEndpointOf = %+v, want %+v", got, tt.want)
			}
			url, err := AdminURL(tt.inst)
			if err != nil || url != tt.want.URL {
				t.Errorf("AdminURL = %q, %v, want %q", url, err, tt.want.URL)
			}
		})
	}
}

// TestAdminURLIsTheServiceBuilt: the in-cluster URL names a Service the
// builders create, on the port it exposes, and that the NetworkPolicy
// opens to the operator's namespace.
func TestAdminURLIsTheServiceBuilt(t *testing.T) {
	for _, inst := range []*v1alpha1.Instance{gotosocialSQLite(), mastodonBundled()} {
		p, err := software.Lookup(inst.Spec.Software)
		if err != nil {
			t.Fatal(err)
		}
		svcs, err := Services(inst, p, inst.Spec.Version, params)
		if err != nil {
			t.Fatal(err)
		}
		ep, err := AdminEndpointOf(inst)
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, s := range svcs {
			for _, port := range s.Spec.Ports {
				if "http://"+s.Name+"."+s.Namespace+".svc:"+itoa(port.Port) == ep.URL {
					found = true
				}
			}
		}
		if !found {
			t.Errorf("%s: admin URL %s is not a Service port the builders create", inst.Name, ep.URL)
		}
		nps, err := NetworkPolicies(inst, p, inst.Spec.Version, params)
		if err != nil {
			t.Fatal(err)
		}
		var open bool
		for _, r := range nps[0].Spec.Ingress {
			for _, from := range r.From {
				if from.NamespaceSelector != nil && from.NamespaceSelector.MatchLabels[corev1.LabelMetadataName] == params.OperatorNamespace {
					for _, port := range r.Ports {
						if "http://"+ComponentName(inst, mustAdmin(t, p).Name)+"."+inst.Namespace+".svc:"+itoa(port.Port.IntVal) == ep.URL {
							open = true
						}
					}
				}
			}
		}
		if !open {
			t.Errorf("%s: the NetworkPolicy does not admit the operator's namespace to %s", inst.Name, ep.URL)
		}
	}
}

// TestAdminComponentStableAcrossSeries: AdminComponent needs no version
// because every supported series serves the admin API from the same
// component on the same port.
func TestAdminComponentStableAcrossSeries(t *testing.T) {
	for _, name := range software.Names() {
		p, err := software.Lookup(v1alpha1.Software(name))
		if err != nil {
			t.Fatal(err)
		}
		want := mustAdmin(t, p)
		for _, s := range p.Series {
			var got []string
			for _, c := range p.Components(software.Version{Major: s.Major, Minor: s.Minor}) {
				if c.AdminAPI {
					got = append(got, c.Name+":"+itoa(c.Port.Port))
				}
			}
			if len(got) != 1 || got[0] != want.Name+":"+itoa(want.Port.Port) {
				t.Errorf("%s %s: admin API components %v, want exactly [%s:%d]", name, s, got, want.Name, want.Port.Port)
			}
		}
	}
}

func mustAdmin(t *testing.T, p *software.Profile) software.Component {
	t.Helper()
	c, ok := AdminComponent(p)
	if !ok {
		t.Fatalf("%s: no admin API component", p.Software)
	}
	return c
}
