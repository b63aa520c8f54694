package controllers

import (
	"net/netip"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller"

	"github.com/fedcommons/fedcommons/internal/delivery"
	"github.com/fedcommons/fedcommons/internal/fairqueue"
	"github.com/fedcommons/fedcommons/internal/moderation/drivers"
	"github.com/fedcommons/fedcommons/internal/outbound"
	"github.com/fedcommons/fedcommons/internal/tenancy"
)

// Options are the operator-wide settings the reconcilers share.
type Options struct {
	// OperatorNamespace is where the operator runs (admitted by every
	// community's isolation policy so it can reach admin APIs).
	OperatorNamespace string

	// IngressNamespaceSelector selects the ingress controller's namespaces
	// for communities that do not name their own.
	IngressNamespaceSelector *metav1.LabelSelector

	// DriftCheckInterval is how often servers are compared with their
	// policy when an Instance does not say (jittered).
	DriftCheckInterval time.Duration

	// SyncTimeout bounds one push of a policy into one server; what is
	// left is reported as pending and resumed on the next pass.
	SyncTimeout time.Duration

	// AdminRateLimit is the client-side budget for each server's admin API
	// (zero: the driver's default, Mastodon's 300 requests per 5 minutes).
	AdminRateLimit drivers.RateLimit

	// SourceAllowPrefixes are private address ranges that subscribed
	// source URLs may nevertheless reach (loopback in tests, a feed inside
	// the cluster), on top of Outbound.Allow. Empty, the default, refuses
	// every non-public address.
	SourceAllowPrefixes []netip.Prefix

	// Outbound is the policy of every outbound HTTP call: feeds, admin
	// APIs, OAuth sign-ins (internal/outbound). The zero value refuses
	// every non-public address and uses no proxy; a hosted Instance's own
	// Service is reached by construction all the same.
	Outbound outbound.Config

	// ClusterDomain is the cluster's DNS domain (default cluster.local):
	// a hosted Instance's own Services are trusted under
	// <name>.<namespace>.svc.<ClusterDomain>.
	ClusterDomain string

	// ServiceOrigins replaces cluster DNS as the way to a hosted
	// Instance's Services, for test harnesses whose servers run
	// in-process; nil in the operator.
	ServiceOrigins delivery.ServiceOrigins

	// Workers is how many objects of one kind are reconciled at once
	// (controller-runtime's MaxConcurrentReconciles, for each controller).
	Workers int

	// InstanceWorkers is how many Instances are reconciled at once
	// (default DefaultInstanceWorkers). It is apart from Workers because
	// an Instance's reconcile is where policies reach servers: mostly
	// waiting on a remote admin API, not using the operator's CPU.
	InstanceWorkers int

	// Tenancy bounds what a community's Instances may ask for beyond their
	// Community's domains: Ingress annotations, ClusterIssuers, Gateways.
	Tenancy tenancy.Limits

	// FeedClusterURL is the cluster feed listener as pods reach it, for
	// the links the operator writes, such as a PolicyProposal's
	// changesURL (default: the shipped Service,
	// http://fedcommons-feeds-cluster.<OperatorNamespace>.svc:8091).
	FeedClusterURL string

	// AgentImage is the operator's own image: the backup and restore Jobs
	// of an s3 destination run its binary as the backup agent
	// (`fedcommons backup-agent`). Empty, backups to S3 are not scheduled
	// and say why (BackupNotScheduled).
	AgentImage string
}

// WithDefaults fills unset options.
func (o Options) WithDefaults() Options {
	if o.OperatorNamespace == "" {
		o.OperatorNamespace = "fedcommons-system"
	}
	if o.IngressNamespaceSelector == nil {
		o.IngressNamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{
			"kubernetes.io/metadata.name": "ingress-nginx",
		}}
	}
	if o.DriftCheckInterval == 0 {
		o.DriftCheckInterval = 30 * time.Minute
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.InstanceWorkers <= 0 {
		o.InstanceWorkers = DefaultInstanceWorkers
	}
	if o.SyncTimeout == 0 {
		o.SyncTimeout = 2 * time.Minute
	}
	if o.FeedClusterURL == "" {
		o.FeedClusterURL = "http://fedcommons-feeds-cluster." + o.OperatorNamespace + ".svc:8091"
	}
	return o
}

// DefaultWorkers is how many objects of one kind are reconciled at once.
// Reconciles of Instances and FederationPolicies wait on the network (an
// admin API, a published list), so one worker lets one community's slow
// server hold up every other community; four keep the others moving while
// costing little on a two-core operator.
const DefaultWorkers = 4

// DefaultInstanceWorkers is how many Instances are reconciled at once. A
// policy change wakes every Instance it selects, and each pass is a
// handful of calls in a row to that Instance's admin API (probe, list,
// write: 6 to 8 round trips), so the time to reach every server is about
// servers / workers × a pass. make bench-propagation (200 servers 20 ms
// away, median of 3 runs, on a loaded 2-core machine): p99 18.0 s with 4
// workers, 5.5 s with 32. The operator's CPU is not what limits it: 5 s of
// CPU over a 73 s run. The fair queue still takes turns between
// communities.
const DefaultInstanceWorkers = 32

// controllerOptions are the options every controller is built with: its
// workers, and a queue that takes turns between namespaces, so that one
// community's backlog (many policies, servers that never answer) delays
// another community's change by at most one item per worker, not by the
// whole backlog. controller-runtime's default queue hands out work by
// priority and arrival; its initial-list low priority is given up for this.
func (o Options) controllerOptions() controller.Options {
	return controller.Options{MaxConcurrentReconciles: max(o.Workers, 1), NewQueue: fairqueue.New}
}

// instanceControllerOptions are controllerOptions with InstanceWorkers.
func (o Options) instanceControllerOptions() controller.Options {
	opts := o.controllerOptions()
	opts.MaxConcurrentReconciles = max(o.InstanceWorkers, 1)
	return opts
}
