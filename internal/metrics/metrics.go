// Package metrics holds fedcommons' own Prometheus metrics: what each
// server holds of its moderation policy and how its syncs go, how each
// subscribed feed fetches, and what each policy computes. They are
// registered with controller-runtime's registry, so the manager serves them
// on its metrics endpoint (behind authentication and authorization) next to
// the controller built-ins.
//
// Every series is labelled by the object's namespace and name and is
// removed when the object goes, so a cluster's series count follows its
// objects rather than its history.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Sync results, the result label of fedcommons_moderation_syncs_total.
const (
	// SyncComplete: the server holds the whole effective policy.
	SyncComplete = "complete"
	// SyncPartial: the server's rate limit stopped the sync part way; the
	// rest is pending and resumes on the next pass.
	SyncPartial = "partial"
	// SyncFailed: the server could not be reached, listed or written.
	SyncFailed = "failed"
)

// Fetch results, the result label of fedcommons_feed_fetches_total.
const (
	// FetchApplied: a clean fetch (or 304 Not Modified) the copy in force
	// now follows.
	FetchApplied = "applied"
	// FetchHeld: a list that shrank too much at once, held back.
	FetchHeld = "held"
	// FetchError: the fetch or the parse failed; the last good copy stays.
	FetchError = "error"
)

var (
	moderationSyncs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fedcommons_moderation_syncs_total",
		Help: "Moderation syncs that contacted an Instance's server, by result (complete, partial, failed).",
	}, []string{"namespace", "instance", "result"})
	moderationWrites = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fedcommons_moderation_changes_total",
		Help: "Domain entries changed on an Instance's server through its admin API, by operation (create, update, delete).",
	}, []string{"namespace", "instance", "operation"})
	moderationEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_moderation_entries",
		Help: "Domain entries fedcommons manages on an Instance's server, after the last sync.",
	}, []string{"namespace", "instance"})
	moderationPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_moderation_pending_changes",
		Help: "Changes an Instance's server still has to receive (its rate limit stopped the last sync part way).",
	}, []string{"namespace", "instance"})
	moderationLastComplete = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_moderation_last_complete_sync_timestamp_seconds",
		Help: "When an Instance's server last held the whole effective policy (Unix time). Alert on its age.",
	}, []string{"namespace", "instance"})

	feedFetches = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fedcommons_feed_fetches_total",
		Help: "Fetches of a FederationPolicy's subscribed list, by result (applied, held, error).",
	}, []string{"namespace", "policy", "source", "result"})
	feedEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_feed_entries",
		Help: "Entries in force from a FederationPolicy's subscribed list (its last good copy).",
	}, []string{"namespace", "policy", "source"})
	policyEntries = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_policy_effective_entries",
		Help: "Entries of a FederationPolicy's effective policy after the merge.",
	}, []string{"namespace", "policy"})
	policyRejected = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "fedcommons_policy_rejected_entries",
		Help: "Entries a FederationPolicy's merge refused (public suffixes, our own domains, exceptions, invalid names).",
	}, []string{"namespace", "policy"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(
		moderationSyncs, moderationWrites, moderationEntries, moderationPending, moderationLastComplete,
		feedFetches, feedEntries, policyEntries, policyRejected,
	)
}

// Sync is what one moderation sync of an Instance did.
type Sync struct {
	Result                    string
	Created, Updated, Deleted int
	// Entries and Pending are recorded unless the sync failed, when the
	// server's state is not known.
	Entries, Pending int
	At               time.Time
}

// RecordSync records one sync that contacted the Instance's server.
func RecordSync(namespace, instance string, s Sync) {
	moderationSyncs.WithLabelValues(namespace, instance, s.Result).Inc()
	for op, n := range map[string]int{"create": s.Created, "update": s.Updated, "delete": s.Deleted} {
		if n > 0 {
			moderationWrites.WithLabelValues(namespace, instance, op).Add(float64(n))
		}
	}
	switch s.Result {
	case SyncComplete:
		RecordState(namespace, instance, s.Entries, s.Pending, s.At)
	case SyncPartial:
		moderationEntries.WithLabelValues(namespace, instance).Set(float64(s.Entries))
		moderationPending.WithLabelValues(namespace, instance).Set(float64(s.Pending))
	}
}

// RecordState sets an Instance's gauges from what its status says the
// server held after its last complete sync. Between drift checks the
// server is not contacted; recording the state then means the series exist
// from the operator's first pass after a restart, not from the next check.
func RecordState(namespace, instance string, entries, pending int, lastComplete time.Time) {
	moderationEntries.WithLabelValues(namespace, instance).Set(float64(entries))
	moderationPending.WithLabelValues(namespace, instance).Set(float64(pending))
	moderationLastComplete.WithLabelValues(namespace, instance).Set(float64(lastComplete.Unix()))
}

// ForgetInstance removes every series of a deleted Instance.
func ForgetInstance(namespace, instance string) {
	labels := prometheus.Labels{"namespace": namespace, "instance": instance}
	for _, v := range []*prometheus.MetricVec{
		moderationSyncs.MetricVec, moderationWrites.MetricVec, moderationEntries.MetricVec,
		moderationPending.MetricVec, moderationLastComplete.MetricVec,
	} {
		v.DeletePartialMatch(labels)
	}
	ForgetBackups(namespace, instance)
}

// RecordFetch records one fetch of a subscribed list.
func RecordFetch(namespace, policy, source, result string) {
	feedFetches.WithLabelValues(namespace, policy, source, result).Inc()
}

// RecordFeedEntries records the entries in force from a subscribed list,
// fetched on this pass or earlier.
func RecordFeedEntries(namespace, policy, source string, inForce int) {
	feedEntries.WithLabelValues(namespace, policy, source).Set(float64(inForce))
}

// RecordPolicy records what a policy's merge computed.
func RecordPolicy(namespace, policy string, entries, rejected int) {
	policyEntries.WithLabelValues(namespace, policy).Set(float64(entries))
	policyRejected.WithLabelValues(namespace, policy).Set(float64(rejected))
}

// ForgetSource removes the series of a subscribed list the policy no
// longer has (removed or renamed).
func ForgetSource(namespace, policy, source string) {
	labels := prometheus.Labels{"namespace": namespace, "policy": policy, "source": source}
	feedFetches.DeletePartialMatch(labels)
	feedEntries.DeletePartialMatch(labels)
}

// ForgetPolicy removes every series of a deleted FederationPolicy.
func ForgetPolicy(namespace, policy string) {
	labels := prometheus.Labels{"namespace": namespace, "policy": policy}
	for _, v := range []*prometheus.MetricVec{
		feedFetches.MetricVec, feedEntries.MetricVec, policyEntries.MetricVec, policyRejected.MetricVec,
	} {
		v.DeletePartialMatch(labels)
	}
}
