package localcluster

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"testing"
	"time"

	"k8s.io/client-go/util/keyutil"
)

func TestServingCert(t *testing.T) {
	now := time.Now()
	ca, err := newCA("test-ca", now)
	if err != nil {
		t.Fatal(err)
	}
	serving, err := newServingCert(ca, "kube-apiserver", []string{"localhost", "kubernetes.default.svc"},
		[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP(kubernetesServiceIP)}, now)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.Cert.IsCA || ca.Cert.CheckSignatureFrom(ca.Cert) != nil {
		t.Fatal("CA is not a self-signed CA")
	}
	if _, err := tls.X509KeyPair(serving.CertPEM, serving.KeyPEM); err != nil {
		t.Fatalf("serving cert and key do not match: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.CertPEM)
	tests := []struct {
		name    string
		host    string
		at      time.Time
		wantErr bool
	}{
		{"loopback IP", "127.0.0.1", now, false},
		{"localhost", "localhost", now, false},
		{"in-cluster name", "kubernetes.default.svc", now, false},
		{"kubernetes Service IP", kubernetesServiceIP, now, false},
		{"a little clock skew", "127.0.0.1", now.Add(-30 * time.Minute), false},
		{"another host", "example.com", now, true},
		{"another IP", "10.1.2.3", now, true},
		{"expired", "127.0.0.1", now.Add(certValidity + time.Hour), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serving.Cert.Verify(x509.VerifyOptions{
				DNSName:     tc.host,
				Roots:       roots,
				CurrentTime: tc.at,
				KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if (err != nil) != tc.wantErr {
				t.Errorf("verify %s at %s: err = %v, wantErr %v", tc.host, tc.at, err, tc.wantErr)
			}
		})
	}
}

// The components parse keys with client-go's keyutil; check ours the same way.
func TestKeysParseLikeTheComponents(t *testing.T) {
	priv, pub, err := newServiceAccountKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyutil.ParsePrivateKeyPEM(priv); err != nil {
		t.Errorf("service-account private key: %v", err)
	}
	keys, err := keyutil.ParsePublicKeysPEM(pub)
	if err != nil || len(keys) != 1 {
		t.Errorf("service-account public key: %d keys, %v", len(keys), err)
	}
	ca, err := newCA("test-ca", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keyutil.ParsePrivateKeyPEM(ca.KeyPEM); err != nil {
		t.Errorf("CA key (used by the CSR signer): %v", err)
	}
	if b, _ := pem.Decode(ca.CertPEM); b == nil || b.Type != "CERTIFICATE" {
		t.Errorf("CA cert PEM: %v", b)
	}
	a, _ := newToken()
	b, _ := newToken()
	if len(a) != 48 || a == b {
		t.Errorf("tokens %q and %q", a, b)
	}
}
