package resources

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

func TestCertificate(t *testing.T) {
	tests := []struct {
		name                string
		inst                *v1alpha1.Instance
		want                bool
		kind, group, issuer string
		secretName, dnsName string
	}{
		{name: "issuer defaults", inst: gotosocialSQLite(), want: true, kind: "ClusterIssuer", group: "cert-manager.io", issuer: "letsencrypt", secretName: "social-tls", dnsName: "social.riverside.example"},
		{name: "namespaced issuer", inst: func() *v1alpha1.Instance {
			i := gotosocialSQLite()
			i.Spec.TLS.IssuerRef = &v1alpha1.IssuerReference{Kind: "Issuer", Name: "selfsigned", Group: "cert-manager.io"}
			return i
		}(), want: true, kind: "Issuer", group: "cert-manager.io", issuer: "selfsigned", secretName: "social-tls", dnsName: "social.riverside.example"},
		{name: "accountDomain not on the certificate", inst: mastodonBundled(), want: true, kind: "ClusterIssuer", group: "cert-manager.io", issuer: "letsencrypt", secretName: "toot-tls", dnsName: "toot.riverside.example"},
		{name: "bring your own secret", inst: mastodonExternal(), want: false},
		{name: "no tls", inst: func() *v1alpha1.Instance { i := gotosocialSQLite(); i.Spec.TLS = nil; return i }(), want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Certificate(tt.inst, params)
			if (c != nil) != tt.want {
				t.Fatalf("certificate = %v, want present=%v", c, tt.want)
			}
			if c == nil {
				return
			}
			if c.APIVersion != "cert-manager.io/v1" || c.Kind != "Certificate" {
				t.Errorf("type = %s %s", c.APIVersion, c.Kind)
			}
			if c.Spec.SecretName != tt.secretName || len(c.Spec.DNSNames) != 1 || c.Spec.DNSNames[0] != tt.dnsName {
				t.Errorf("secret=%s dnsNames=%v", c.Spec.SecretName, c.Spec.DNSNames)
			}
			ref := c.Spec.IssuerRef
			if ref.Name != tt.issuer || ref.Kind != tt.kind || ref.Group != tt.group {
				t.Errorf("issuerRef = %+v", ref)
			}
			if c.Spec.SecretTemplate.Labels[v1alpha1.LabelInstance] != tt.inst.Name {
				t.Error("the issued Secret must carry the instance label (the cache is filtered by labels)")
			}
			if len(c.OwnerReferences) != 1 || !*c.OwnerReferences[0].Controller {
				t.Error("the Certificate is owned by the Instance")
			}
		})
	}
}

func TestIngressMastodon(t *testing.T) {
	inst := mastodonBundled()
	ing, err := Ingress(inst, profile(t, inst), "4.5.2", params)
	if err != nil {
		t.Fatal(err)
	}
	if ing.Name != "toot" || ing.Kind != "Ingress" || ing.APIVersion != "networking.k8s.io/v1" {
		t.Errorf("meta = %s %s %s", ing.Name, ing.APIVersion, ing.Kind)
	}
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("class = %v", ing.Spec.IngressClassName)
	}
	if ing.Annotations[AnnotationNginxBodySize] != "99m" {
		t.Errorf("body size = %q, want 99m (at least 40m)", ing.Annotations[AnnotationNginxBodySize])
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "toot.riverside.example" {
		t.Fatalf("rules = %+v", ing.Spec.Rules)
	}
	paths := ing.Spec.Rules[0].HTTP.Paths
	want := []struct{ path, svc, port string }{
		{"/api/v1/streaming", "toot-streaming", "streaming"},
		{"/", "toot-web", "http"},
	}
	if len(paths) != len(want) {
		t.Fatalf("paths = %+v", paths)
	}
	for i, w := range want {
		p := paths[i]
		if p.Path != w.path || *p.PathType != networkingv1.PathTypePrefix || p.Backend.Service.Name != w.svc || p.Backend.Service.Port.Name != w.port {
			t.Errorf("path %d = %s %s -> %s:%s, want %s -> %s:%s", i, p.Path, *p.PathType, p.Backend.Service.Name, p.Backend.Service.Port.Name, w.path, w.svc, w.port)
		}
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "toot-tls" || ing.Spec.TLS[0].Hosts[0] != "toot.riverside.example" {
		t.Errorf("tls = %+v", ing.Spec.TLS)
	}
}

func TestIngressGoToSocial(t *testing.T) {
	inst := gotosocialSQLite()
	inst.Spec.TLS = &v1alpha1.TLSSpec{SecretName: "wildcard-riverside"}
	inst.Spec.Ingress = &v1alpha1.IngressSpec{Annotations: map[string]string{AnnotationNginxBodySize: "200m", "example.org/x": "y"}}
	ing, err := Ingress(inst, profile(t, inst), "0.20.1", params)
	if err != nil {
		t.Fatal(err)
	}
	if ing.Spec.IngressClassName != nil {
		t.Error("no className: the cluster default")
	}
	if ing.Annotations[AnnotationNginxBodySize] != "200m" || ing.Annotations["example.org/x"] != "y" {
		t.Errorf("annotations = %v: the sysadmin's win", ing.Annotations)
	}
	if ing.Spec.TLS[0].SecretName != "wildcard-riverside" {
		t.Errorf("tls secret = %s, want the provided one", ing.Spec.TLS[0].SecretName)
	}
	paths := ing.Spec.Rules[0].HTTP.Paths
	if len(paths) != 1 || paths[0].Path != "/" || paths[0].Backend.Service.Name != "social-web" {
		t.Errorf("paths = %+v", paths)
	}
	inst.Spec.Ingress = nil
	ing, _ = Ingress(inst, profile(t, inst), "0.20.1", params)
	if ing.Annotations[AnnotationNginxBodySize] != "40m" {
		t.Errorf("gotosocial body size = %q, want 40m", ing.Annotations[AnnotationNginxBodySize])
	}
}

func TestHTTPRoute(t *testing.T) {
	inst := mastodonExternal()
	p := profile(t, inst)
	if ing, _ := Ingress(inst, p, "4.4.3", params); ing != nil {
		t.Error("no Ingress with a Gateway")
	}
	r, err := HTTPRoute(inst, p, "4.4.3", params)
	if err != nil {
		t.Fatal(err)
	}
	if r.APIVersion != "gateway.networking.k8s.io/v1" || r.Kind != "HTTPRoute" {
		t.Errorf("type = %s %s", r.APIVersion, r.Kind)
	}
	pr := r.Spec.ParentRefs
	if len(pr) != 1 || pr[0].Name != "public" || string(*pr[0].Namespace) != "gateways" || string(*pr[0].SectionName) != "https" {
		t.Errorf("parentRefs = %+v", pr)
	}
	if len(r.Spec.Hostnames) != 1 || r.Spec.Hostnames[0] != "ext.riverside.example" {
		t.Errorf("hostnames = %v", r.Spec.Hostnames)
	}
	if len(r.Spec.Rules) != 2 {
		t.Fatalf("rules = %+v", r.Spec.Rules)
	}
	first := r.Spec.Rules[0]
	if *first.Matches[0].Path.Value != "/api/v1/streaming" || first.BackendRefs[0].Name != "ext-streaming" || *first.BackendRefs[0].Port != 4000 {
		t.Errorf("first rule = %+v", first)
	}
	if route, _ := HTTPRoute(gotosocialSQLite(), gtsProfile(), "0.20.1", params); route != nil {
		t.Error("no HTTPRoute without spec.gateway")
	}
}
