// Package manager assembles the operator: the scheme, a cache that only
// holds what fedcommons manages, the reconcilers, health probes and the
// secured metrics endpoint. The `manager` command, `fedcommons-dev` and the
// envtest suite all start the operator through New, so what the tests run
// is what ships.
package manager

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"slices"
	"time"

	certmanagerv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/selection"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	gatewayv1 "sigs.k8s.io/gateway-api/apis/v1"

	v1alpha1 "github.com/fedcommons/fedcommons/api/v1alpha1"
	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/apply"
	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/federation"
	"github.com/fedcommons/fedcommons/internal/feeds"
	"github.com/fedcommons/fedcommons/internal/outbound"
)

// Options configure the operator process.
type Options struct {
	// MetricsAddr is where metrics are served ("0" disables them).
	MetricsAddr string
	// SecureMetrics serves metrics over HTTPS behind Kubernetes authn/authz.
	SecureMetrics bool
	// PprofAddr serves Go's /debug/pprof/ profiles ("" or "0": off, the
	// default). Unauthenticated, and a CPU or trace profile costs CPU
	// while it runs: for 127.0.0.1 and a port-forward, never a Service.
	PprofAddr string
	// ProbeAddr serves /healthz and /readyz ("0" disables them).
	ProbeAddr string
	// LeaderElection makes only one replica reconcile at a time.
	LeaderElection bool
	// LeaderElectionNamespace holds the lease; the operator's namespace.
	LeaderElectionNamespace string
	// Controllers are the settings the reconcilers share.
	Controllers controllers.Options
	// SkipControllerNameValidation lets a second manager run in the same
	// process (tests that restart the operator); metrics names then clash,
	// which a real process never sees.
	SkipControllerNameValidation bool
	// NewClient, when set, replaces the manager's client (tests count writes with it).
	NewClient client.NewClientFunc
	// FeedPublicAddr serves published policies whose visibility is public
	// (exposed to the world behind an Ingress); "0" or "" disables it.
	FeedPublicAddr string
	// FeedClusterAddr serves public and cluster policies to the cluster
	// only (a ClusterIP Service, never exposed); "0" or "" disables it.
	FeedClusterAddr string
}

// Scheme knows every kind the operator reads or writes.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(s))
	utilruntime.Must(v1alpha1.AddToScheme(s))
	utilruntime.Must(certmanagerv1.AddToScheme(s))
	utilruntime.Must(gatewayv1.Install(s))
	return s
}

// managedSelector selects the objects fedcommons created.
func managedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{v1alpha1.LabelManagedBy: v1alpha1.ManagedByValue})
}

// communitySelector selects namespaces that belong to a community.
func communitySelector() labels.Selector {
	req, err := labels.NewRequirement(v1alpha1.LabelCommunity, selection.Exists, nil)
	utilruntime.Must(err)
	return labels.NewSelector().Add(*req)
}

// CacheOptions keep the informer cache to what fedcommons manages: on a big
// cluster the operator must not hold every Pod and Namespace in memory.
// Objects it did not create (a sysadmin's SMTP secret, an external database
// password) are read uncached through the manager's APIReader. Secrets and
// ConfigMaps are not cached at all (ClientOptions).
func CacheOptions(served func(schema.GroupVersionKind) bool) cache.Options {
	managed := cache.ByObject{Label: managedSelector()}
	opts := cache.Options{
		// managedFields, pod templates and kubectl's last-applied copy
		// are read by nobody (slimTransform says who reads what).
		DefaultTransform: slimTransform(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Namespace{}:             {Label: communitySelector()},
			&corev1.Service{}:               managed,
			&corev1.PersistentVolumeClaim{}: managed,
			&corev1.ResourceQuota{}:         managed,
			&corev1.LimitRange{}:            managed,
			&corev1.ServiceAccount{}:        managed,
			&appsv1.Deployment{}:            managed,
			&appsv1.StatefulSet{}:           managed,
			&batchv1.Job{}:                  managed,
			&batchv1.CronJob{}:              managed,
			&networkingv1.Ingress{}:         managed,
			&networkingv1.NetworkPolicy{}:   managed,
			&rbacv1.RoleBinding{}:           managed,
			&rbacv1.Role{}:                  managed,
		},
	}
	// Optional integrations: a filter for a kind the API server does not
	// serve would stop the cache from starting at all, and fedcommons must
	// run on clusters without cert-manager or Gateway API.
	if served(certmanagerv1.SchemeGroupVersion.WithKind("Certificate")) {
		opts.ByObject[&certmanagerv1.Certificate{}] = managed
	}
	if served(gatewayv1.SchemeGroupVersion.WithKind("HTTPRoute")) {
		opts.ByObject[&gatewayv1.HTTPRoute{}] = managed
	}
	return opts
}

// ClientOptions make the manager's client read Secrets and ConfigMaps from
// the API server by name instead of from an informer. An informer needs
// list and watch on its kind in every namespace, whatever label selector
// it uses (RBAC cannot grant by label), and list on Secrets is the power to
// read every Secret of the cluster. The operator reads a handful of them by
// name (generated keys, admin tokens, the saved source state of a policy),
// so a GET each time costs little and the ClusterRole grants get alone.
func ClientOptions() client.Options {
	return client.Options{Cache: &client.CacheOptions{
		DisableFor: []client.Object{&corev1.Secret{}, &corev1.ConfigMap{}},
	}}
}

// servedKinds asks the API server which kinds it serves, once, at start.
func servedKinds(cfg *rest.Config) (func(schema.GroupVersionKind) bool, error) {
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, err
	}
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("discover the API server's kinds: %w", err)
	}
	return func(gvk schema.GroupVersionKind) bool {
		_, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		return err == nil
	}, nil
}

// New builds the manager with every reconciler registered.
func New(cfg *rest.Config, opts Options) (ctrl.Manager, error) {
	scheme := Scheme()
	metricsOpts := metricsserver.Options{BindAddress: opts.MetricsAddr}
	if opts.SecureMetrics {
		metricsOpts.SecureServing = true
		metricsOpts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	served, err := servedKinds(cfg)
	if err != nil {
		return nil, err
	}
	renew := 10 * time.Second
	mgrOpts := ctrl.Options{
		Scheme:                 scheme,
		Cache:                  CacheOptions(served),
		Client:                 ClientOptions(),
		Metrics:                metricsOpts,
		HealthProbeBindAddress: opts.ProbeAddr,
		PprofBindAddress:       opts.PprofAddr,
		LeaderElection:         opts.LeaderElection,
		// The leader-election Role grants get/update on this Lease name
		// only (config/rbac/leader_election_role.yaml and the chart).
		LeaderElectionID:              "fedcommons.io",
		LeaderElectionNamespace:       opts.LeaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		RenewDeadline:                 &renew,
	}
	if opts.NewClient != nil {
		mgrOpts.NewClient = opts.NewClient
	}
	if opts.SkipControllerNameValidation {
		mgrOpts.Controller.SkipNameValidation = ptr.To(true)
	}
	mgr, err := ctrl.NewManager(cfg, mgrOpts)
	if err != nil {
		return nil, fmt.Errorf("create manager: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		// Ready once the informers have synced: before that, reconcilers
		// would act on an empty view of the cluster.
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("informer caches not synced")
		}
		return nil
	}); err != nil {
		return nil, err
	}
	store := feeds.NewMemoryStore()
	if err := Register(mgr, opts.Controllers.WithDefaults(), store); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		addr     string
		audience feeds.Audience
	}{{opts.FeedPublicAddr, feeds.PublicAudience}, {opts.FeedClusterAddr, feeds.ClusterAudience}} {
		if f.addr == "" || f.addr == "0" {
			continue
		}
		if err := mgr.Add(&feedServer{addr: f.addr, handler: feeds.NewServer(store, f.audience, 0)}); err != nil {
			return nil, err
		}
	}
	return mgr, nil
}

// Register adds every reconciler to mgr. Published policies go to store,
// which the feed servers read.
func Register(mgr ctrl.Manager, opts controllers.Options, store *feeds.MemoryStore) error {
	// One outbound stack for admin APIs and sign-ins; the feed Fetcher
	// builds its own from the same policy (plus the source-only ranges).
	stack, err := outbound.New(opts.Outbound)
	if err != nil {
		return err
	}
	applier := apply.New(mgr.GetClient(), mgr.GetScheme())
	registry := federation.NewRegistry()
	if err := (&controllers.CommunityReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Applier:   applier,
		Recorder:  mgr.GetEventRecorder("fedcommons-community"),
		Options:   opts,
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up community controller: %w", err)
	}
	if err := (&controllers.InstanceReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Applier:   applier,
		Recorder:  mgr.GetEventRecorder("fedcommons-instance"),
		Options:   opts,
		Random:    rand.Reader,
		Federation: &delivery.Syncer{
			Client:    mgr.GetClient(),
			APIReader: mgr.GetAPIReader(),
			Results:   delivery.RegistryResults{Registry: registry},
			Tokens:    &controllers.AdminTokenStore{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader()},
			Options: delivery.Options{
				DriftCheckInterval: opts.DriftCheckInterval,
				SyncTimeout:        opts.SyncTimeout,
				AdminRateLimit:     opts.AdminRateLimit,
				Outbound:           stack,
				ClusterDomain:      opts.ClusterDomain,
				ServiceOrigins:     opts.ServiceOrigins,
			},
		},
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up instance controller: %w", err)
	}
	if err := (&controllers.FederationPolicyReconciler{
		Client:   mgr.GetClient(),
		Applier:  applier,
		Recorder: mgr.GetEventRecorder("fedcommons-federationpolicy"),
		Options:  opts,
		Registry: registry,
		Store:    store,
		Fetcher: &feeds.Fetcher{
			Allow:    append(slices.Clone(opts.Outbound.Allow), opts.SourceAllowPrefixes...),
			Deny:     opts.Outbound.Deny,
			Proxy:    opts.Outbound.Proxy,
			Resolver: opts.Outbound.Resolver,
		},
	}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("set up federationpolicy controller: %w", err)
	}
	return nil
}
