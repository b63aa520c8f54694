package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fedcommons/fedcommons/controllers"
	"github.com/fedcommons/fedcommons/internal/manager"
	"github.com/fedcommons/fedcommons/internal/memlimit"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

func runManager(args []string) error {
	opts, zapOpts, err := parseManagerFlags(args)
	if err != nil {
		return err
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	// A pod with a memory limit collects garbage before it is OOM-killed.
	limit, why := memlimit.Set()
	ctrl.Log.WithName("setup").Info("Go memory limit", "bytes", limit, "from", why)
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no cluster to talk to: %w", err)
	}
	mgr, err := manager.New(cfg, opts)
	if err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting the operator", "version", version, "operatorNamespace", opts.LeaderElectionNamespace)
	return mgr.Start(ctrl.SetupSignalHandler())
}

// parseManagerFlags turns the manager's flags into the operator's options,
// without touching a cluster (the tests call it).
func parseManagerFlags(args []string) (manager.Options, zap.Options, error) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	fs.Usage = managerUsage(fs)
	var (
		metricsAddr      = fs.String("metrics-bind-address", ":8443", "address of the metrics endpoint (\"0\" disables it)")
		secureMetrics    = fs.Bool("metrics-secure", true, "serve metrics over HTTPS behind Kubernetes authentication and authorization")
		pprofAddr        = fs.String("pprof-bind-address", "", "address serving Go's /debug/pprof/ profiles, unauthenticated: bind it to 127.0.0.1 and reach it with kubectl port-forward (default \"\": off)")
		probeAddr        = fs.String("health-probe-bind-address", ":8081", "address of /healthz and /readyz")
		leaderElect      = fs.Bool("leader-elect", true, "elect a leader so that only one replica reconciles")
		operatorNS       = fs.String("operator-namespace", envOr("POD_NAMESPACE", "fedcommons-system"), "namespace the operator runs in (leader lease; admitted by community isolation policies)")
		ingressNamespace = fs.String("ingress-namespace", "ingress-nginx", "namespace of the ingress controller, admitted by community isolation policies unless a Community names its own selector")
		driftInterval    = fs.Duration("drift-check-interval", 30*time.Minute, "default interval between comparisons of a server's moderation entries with its policy")
		feedPublicAddr   = fs.String("feed-public-bind-address", ":8090", "address serving policies published with visibility public, for the world (\"0\" disables it)")
		feedClusterAddr  = fs.String("feed-cluster-bind-address", ":8091", "address serving policies published with visibility public or cluster, for the cluster only (\"0\" disables it)")
		sourceAllow      = fs.String("source-allow-cidrs", "", "comma-separated private address ranges that subscribed source URLs may reach, on top of --outbound-allow-cidrs (default none: only public addresses)")
		outboundAllow    = fs.String("outbound-allow-cidrs", "", "comma-separated private address ranges that feeds and admin APIs named by communities may reach: the co-op's own network (default none: only public addresses; a hosted server's own Service is always reached)")
		outboundDeny     = fs.String("outbound-deny-cidrs", "", "comma-separated address ranges never reached at a URL a community names, even inside --outbound-allow-cidrs: e.g. the cluster's pod and Service ranges when they are public addresses")
		outboundProxy    = fs.String("outbound-proxy", "", "http(s)://host:port of a proxy for feeds and external admin APIs (default none; HTTP_PROXY and the like are never read)")
		clusterDomain    = fs.String("cluster-domain", "cluster.local", "the cluster's DNS domain, under which a hosted server's own Service is reached")
		feedClusterURL   = fs.String("feed-cluster-url", "", "the cluster feed listener as pods reach it, for links the operator writes such as a PolicyProposal's changesURL (default http://fedcommons-feeds-cluster.OPERATOR-NAMESPACE.svc:8091)")
		workers          = fs.Int("workers", controllers.DefaultWorkers, "objects of each kind reconciled at once; work is shared out between namespaces in turn")
		instanceWorkers  = fs.Int("instance-workers", controllers.DefaultInstanceWorkers, "Instances reconciled at once (each pass mostly waits on a server's admin API); work is shared out between namespaces in turn")
		tenantAnnots     = fs.String("tenant-ingress-annotations", "", "comma-separated Ingress annotation keys a community's Instances may set (a key ending in /* allows a prefix; default none)")
		tenantIssuers    = fs.String("tenant-cluster-issuers", "", "comma-separated ClusterIssuers a community's Instances may use (default any; an Issuer in the community's own namespace is always allowed)")
		agentImage       = fs.String("agent-image", envOr("AGENT_IMAGE", "ghcr.io/fedcommons/fedcommons:"+version), "the operator's own image, whose binary runs as the backup agent in the Jobs of backups to an S3 bucket (default: the image of this release; the chart passes the image it deploys)")
		tenantGateways   = fs.String("tenant-gateways", "", "comma-separated namespace/name of Gateways in other namespaces a community's Instances may attach to (default none)")
	)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(fs)
	if err := fs.Parse(args); err != nil {
		return manager.Options{}, zapOpts, err
	}
	allow, err := parsePrefixes("source-allow-cidrs", *sourceAllow)
	if err != nil {
		return manager.Options{}, zapOpts, err
	}
	out, err := outboundConfig(*outboundAllow, *outboundDeny, *outboundProxy)
	if err != nil {
		return manager.Options{}, zapOpts, err
	}
	if *instanceWorkers < 1 || *instanceWorkers > 256 {
		return manager.Options{}, zapOpts, fmt.Errorf("--instance-workers=%d: want 1 to 256", *instanceWorkers)
	}
	return manager.Options{
		MetricsAddr:             *metricsAddr,
		PprofAddr:               *pprofAddr,
		SecureMetrics:           *secureMetrics,
		ProbeAddr:               *probeAddr,
		LeaderElection:          *leaderElect,
		LeaderElectionNamespace: *operatorNS,
		FeedPublicAddr:          *feedPublicAddr,
		FeedClusterAddr:         *feedClusterAddr,
		Controllers: controllers.Options{
			OperatorNamespace: *operatorNS,
			IngressNamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{
				"kubernetes.io/metadata.name": *ingressNamespace,
			}},
			DriftCheckInterval:  *driftInterval,
			SourceAllowPrefixes: allow,
			Outbound:            out,
			ClusterDomain:       *clusterDomain,
			FeedClusterURL:      *feedClusterURL,
			Workers:             *workers,
			InstanceWorkers:     *instanceWorkers,
			AgentImage:          *agentImage,
			Tenancy: tenancy.Limits{
				IngressAnnotations: splitList(*tenantAnnots),
				ClusterIssuers:     splitList(*tenantIssuers),
				Gateways:           splitList(*tenantGateways),
			},
		},
	}, zapOpts, nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
