package reviewcli

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
)

// Options say which cluster to talk to, as kubectl's flags do.
type Options struct {
	// Kubeconfig is a kubeconfig file; empty means kubectl's default
	// ($KUBECONFIG, else ~/.kube/config).
	Kubeconfig string
	// Context is the kubeconfig context; empty means its current one.
	Context string
	// Namespace overrides the context's namespace.
	Namespace string
}

// Session is a connection to the API server as the user.
type Session struct {
	Client client.Client
	// Namespace is the one to work in: -n, else the context's, else
	// "default".
	Namespace string
	// Server is the API server's address, for messages.
	Server string
}

// Connect reads the kubeconfig as kubectl does (client-go's default
// loading rules) and returns a client acting as its user.
func Connect(o Options) (*Session, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := loader.ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("cannot read the kubeconfig: %w", err)
	}
	ns := o.Namespace
	if ns == "" {
		if ns, _, err = loader.Namespace(); err != nil {
			return nil, fmt.Errorf("cannot read the kubeconfig's namespace: %w", err)
		}
	}
	return NewSession(cfg, ns)
}

// NewSession returns a Session for cfg working in namespace.
func NewSession(cfg *rest.Config, namespace string) (*Session, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to %s: %w", cfg.Host, err)
	}
	if namespace == "" {
		namespace = "default"
	}
	return &Session{Client: c, Namespace: namespace, Server: cfg.Host}, nil
}

// WhoAmI asks the API server who the session's user is, exactly as it
// authenticates every request (the name the admission policy compares
// spec.approver with). The CLI never derives it from the kubeconfig: a
// client certificate, a token and an OIDC login all end up here.
func (s *Session) WhoAmI(ctx context.Context) (string, error) {
	r := &authenticationv1.SelfSubjectReview{}
	if err := s.Client.Create(ctx, r); err != nil {
		return "", fmt.Errorf("cannot ask %s who you are (SelfSubjectReview): %w", s.Server, err)
	}
	if r.Status.UserInfo.Username == "" {
		return "", fmt.Errorf("%s did not say who you are: you seem to be anonymous, and an anonymous decision cannot be counted", s.Server)
	}
	return r.Status.UserInfo.Username, nil
}
