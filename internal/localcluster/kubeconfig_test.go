package localcluster

import (
	"bytes"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

func TestRenderKubeconfig(t *testing.T) {
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	tests := []struct {
		name, server, user, token string
	}{
		{"admin", "https://127.0.0.1:6443", "fedcommons-admin", "s3cret"},
		{"component", "https://127.0.0.1:40001", "system:kube-scheduler", "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := renderKubeconfig(tc.server, ca, tc.user, tc.token)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := clientcmd.Load(data)
			if err != nil {
				t.Fatalf("kubeconfig does not load: %v\n%s", err, data)
			}
			if cfg.CurrentContext != contextName {
				t.Errorf("current context %q", cfg.CurrentContext)
			}
			ctx := cfg.Contexts[cfg.CurrentContext]
			if ctx == nil || ctx.AuthInfo != tc.user {
				t.Fatalf("context %+v", ctx)
			}
			cl := cfg.Clusters[ctx.Cluster]
			if cl.Server != tc.server || !bytes.Equal(cl.CertificateAuthorityData, ca) || cl.CertificateAuthority != "" {
				t.Errorf("cluster %+v: want the server and an embedded CA", cl)
			}
			if ai := cfg.AuthInfos[tc.user]; ai.Token != tc.token || ai.TokenFile != "" {
				t.Errorf("user %+v: want an embedded token", ai)
			}
			// The same thing through the client-go path kubectl uses.
			rc, err := clientcmd.RESTConfigFromKubeConfig(data)
			if err != nil {
				t.Fatal(err)
			}
			if rc.Host != tc.server || rc.BearerToken != tc.token {
				t.Errorf("rest config host %q token %q", rc.Host, rc.BearerToken)
			}
			in := restConfig(tc.server, ca, tc.token)
			if in.Host != rc.Host || in.BearerToken != rc.BearerToken || !bytes.Equal(in.CAData, rc.CAData) {
				t.Errorf("RESTConfig and kubeconfig disagree: %+v vs %+v", in, rc)
			}
		})
	}
}
