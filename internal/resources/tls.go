package resources

import (
	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Certificate returns the cert-manager Certificate of the server's domain,
// or nil when the sysadmin brings the certificate (spec.tls.secretName) or
// none is asked for.
//
// Only the domain is on the certificate: an accountDomain is served by
// whatever answers on it (a redirect of /.well-known), not by this server.
func Certificate(inst *v1alpha1.Instance, params Params) *certmanagerv1.Certificate {
	if inst.Spec.TLS == nil || inst.Spec.TLS.IssuerRef == nil {
		return nil
	}
	ref := inst.Spec.TLS.IssuerRef
	kind, group := ref.Kind, ref.Group
	if kind == "" {
		kind = "ClusterIssuer"
	}
	if group == "" {
		group = "cert-manager.io"
	}
	return &certmanagerv1.Certificate{
		TypeMeta:   typeMeta(certmanagerv1.SchemeGroupVersion.String(), "Certificate"),
		ObjectMeta: objectMeta(inst, TLSSecretName(inst), "tls", params),
		Spec: certmanagerv1.CertificateSpec{
			SecretName: TLSSecretName(inst),
			DNSNames:   []string{string(inst.Spec.Domain)},
			IssuerRef:  cmmeta.IssuerReference{Name: ref.Name, Kind: kind, Group: group},
			// Labelled like every child of the Instance, so that a
			// selector on the Instance's labels finds it with the rest.
			SecretTemplate: &certmanagerv1.CertificateSecretTemplate{Labels: Labels(inst, "tls", params)},
		},
	}
}
