package tenancy

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

func inst(domain, account string) *v1alpha1.Instance {
	return &v1alpha1.Instance{
		ObjectMeta: metav1.ObjectMeta{Name: "social", Namespace: "riverside"},
		Spec:       v1alpha1.InstanceSpec{Domain: v1alpha1.Domain(domain), AccountDomain: v1alpha1.Domain(account)},
	}
}

func TestCheckDomains(t *testing.T) {
	riverside := &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "riverside"},
		Spec: v1alpha1.CommunitySpec{Domains: []v1alpha1.Domain{"riverside.example", "rs.example"}}}
	none := &v1alpha1.Community{ObjectMeta: metav1.ObjectMeta{Name: "hillside"}}
	tests := []struct {
		name      string
		c         *v1alpha1.Community
		inst      *v1alpha1.Instance
		reason    string // "" admitted
		mentioned string
	}{
		{"the suffix itself", riverside, inst("riverside.example", ""), "", ""},
		{"a subdomain", riverside, inst("social.riverside.example", ""), "", ""},
		{"the second suffix", riverside, inst("a.b.rs.example", ""), "", ""},
		{"account domain under a suffix", riverside, inst("social.riverside.example", "riverside.example"), "", ""},
		// Case 3 of the tenant-proofing review: a tenant naming a
		// subdomain of a server another community blocks.
		{"another community's blocked domain", riverside, inst("x.gab.example", ""), "DomainNotAllowed", "x.gab.example"},
		{"suffix without a dot boundary", riverside, inst("evilriverside.example", ""), "DomainNotAllowed", "evilriverside.example"},
		{"account domain outside", riverside, inst("social.riverside.example", "example"), "DomainNotAllowed", "spec.accountDomain"},
		{"account domain of someone else", riverside, inst("riverside.example.org", "example.org"), "DomainNotAllowed", "spec.domain"},
		{"a community without domains", none, inst("social.hillside.example", ""), "DomainNotAllowed", "declares no domains"},
		// Case 2: passes the CRD pattern, fails IDNA.
		{"invalid punycode", riverside, inst("xn--zz.riverside.example", ""), "InvalidDomain", "xn--zz"},
		{"valid punycode", riverside, inst("xn--bcher-kva.riverside.example", ""), "", ""},
		{"no community, valid name", nil, inst("anything.example", ""), "", ""},
		{"no community, invalid name", nil, inst("xn--zz.example", ""), "InvalidDomain", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := CheckDomains(tt.c, tt.inst)
			if tt.reason == "" {
				if got != nil {
					t.Fatalf("refused: %v", got)
				}
				return
			}
			if got == nil || got.Reason != tt.reason {
				t.Fatalf("got %v, want reason %s", got, tt.reason)
			}
			if !strings.Contains(got.Message, tt.mentioned) {
				t.Fatalf("message %q does not mention %q", got.Message, tt.mentioned)
			}
		})
	}
}

func TestCheckLimits(t *testing.T) {
	limits := Limits{
		IngressAnnotations: []string{"nginx.ingress.kubernetes.io/proxy-body-size", "example.com/*"},
		ClusterIssuers:     []string{"letsencrypt"},
		Gateways:           []string{"gateways/public"},
	}
	withAnnotations := func(a map[string]string) *v1alpha1.Instance {
		i := inst("social.riverside.example", "")
		i.Spec.Ingress = &v1alpha1.IngressSpec{Annotations: a}
		return i
	}
	withIssuer := func(kind, name string) *v1alpha1.Instance {
		i := inst("social.riverside.example", "")
		i.Spec.TLS = &v1alpha1.TLSSpec{IssuerRef: &v1alpha1.IssuerReference{Kind: kind, Name: name}}
		return i
	}
	withGateway := func(ns, name string) *v1alpha1.Instance {
		i := inst("social.riverside.example", "")
		i.Spec.Gateway = &v1alpha1.GatewaySpec{ParentRefs: []v1alpha1.GatewayParentReference{{Name: name, Namespace: ns}}}
		return i
	}
	tests := []struct {
		name      string
		limits    Limits
		inst      *v1alpha1.Instance
		reason    string
		mentioned string
	}{
		{"allowed annotation", limits, withAnnotations(map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "1g"}), "", ""},
		{"allowed by prefix", limits, withAnnotations(map[string]string{"example.com/anything": "x"}), "", ""},
		{"prefix is a whole segment", limits, withAnnotations(map[string]string{"example.com.evil/x": "x"}), "AnnotationNotAllowed", "example.com.evil/x"},
		// The review's cases: a configuration snippet, and a client
		// certificate Secret from another namespace.
		{"snippet", limits, withAnnotations(map[string]string{"nginx.ingress.kubernetes.io/configuration-snippet": "return 200;"}), "AnnotationNotAllowed", "configuration-snippet"},
		{"auth-tls-secret", limits, withAnnotations(map[string]string{"nginx.ingress.kubernetes.io/auth-tls-secret": "other/ca"}), "AnnotationNotAllowed", "auth-tls-secret"},
		{"no annotation allowed by default", Limits{}, withAnnotations(map[string]string{"nginx.ingress.kubernetes.io/proxy-body-size": "1g"}), "AnnotationNotAllowed", "allows: none"},
		{"allowed ClusterIssuer", limits, withIssuer("ClusterIssuer", "letsencrypt"), "", ""},
		{"default kind is ClusterIssuer", limits, withIssuer("", "internal-ca"), "IssuerNotAllowed", "internal-ca"},
		{"other ClusterIssuer", limits, withIssuer("ClusterIssuer", "internal-ca"), "IssuerNotAllowed", "letsencrypt"},
		{"own Issuer always", limits, withIssuer("Issuer", "mine"), "", ""},
		{"any ClusterIssuer when unset", Limits{}, withIssuer("ClusterIssuer", "anything"), "", ""},
		{"gateway in own namespace", Limits{}, withGateway("", "mine"), "", ""},
		{"gateway named in own namespace", Limits{}, withGateway("riverside", "mine"), "", ""},
		{"allowed shared gateway", limits, withGateway("gateways", "public"), "", ""},
		{"other namespace's gateway", limits, withGateway("hillside", "private"), "GatewayNotAllowed", "hillside/private"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.limits.CheckLimits(tt.inst)
			if tt.reason == "" {
				if got != nil {
					t.Fatalf("refused: %v", got)
				}
				return
			}
			if got == nil || got.Reason != tt.reason {
				t.Fatalf("got %v, want reason %s", got, tt.reason)
			}
			if !strings.Contains(got.Message, tt.mentioned) {
				t.Fatalf("message %q does not mention %q", got.Message, tt.mentioned)
			}
		})
	}
}
