package localcluster

import (
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// contextName names the cluster, user and context in the kubeconfigs, so
// `kubectl --kubeconfig ... config view` says where it points.
const contextName = "fedcommons-local"

// renderKubeconfig returns a self-contained kubeconfig (CA and token
// embedded, no paths) for server, authenticating as user with token.
func renderKubeconfig(server string, caPEM []byte, user, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[contextName] = &clientcmdapi.Cluster{
		Server:                   server,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[contextName] = &clientcmdapi.Context{Cluster: contextName, AuthInfo: user}
	cfg.CurrentContext = contextName
	return clientcmd.Write(*cfg)
}

// restConfig is the in-process equivalent of the admin kubeconfig.
func restConfig(server string, caPEM []byte, token string) *rest.Config {
	return &rest.Config{
		Host:            server,
		BearerToken:     token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM},
		// client-go's defaults (5 QPS) make tests and the demo crawl; this
		// server has one client that matters.
		QPS:   50,
		Burst: 100,
	}
}
